/**
 * What every reader of a drive folder shares: the import copier, the export copier and
 * `drivebay drive verify`. Reading a drive's manifest (and checking it against the job's
 * `manifestHash`), resolving its files, splitting blob paths. One implementation, so the
 * copiers and verify accept the same manifests and the same hashes.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ManifestError, parseManifest, resolveDriveFile } from "./manifest.ts";
import type { DriveManifest } from "./manifest-types.ts";
import { hexUpper, md5Hex } from "./md5.ts";

export { resolveDriveFile };

/** Why a drive's manifest cannot be used (the drive log's status words, reference/domain.md §5.4). */
export type ManifestReadStatus = "ManifestNotFound" | "ManifestCorrupted" | "ManifestFormatInvalid";

export class ManifestReadError extends Error {
  constructor(
    readonly status: ManifestReadStatus,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The manifest's hash in the form `expected` is written in: 64 hex digits are a SHA-256
 * (one of Azure's examples carries one), anything else an MD5 ("Base16 MD5" in the API).
 * Upper-case hex.
 */
export function manifestHashLike(bytes: Buffer, expected: string): string {
  return expected.trim().length === 64
    ? hexUpper(createHash("sha256").update(bytes).digest())
    : md5Hex(bytes);
}

/**
 * Whether the manifest's bytes match the job's `manifestHash`: an empty or absent hash is
 * not checked; otherwise case and surrounding spaces do not matter. Returns the problem.
 */
export function manifestHashProblem(
  bytes: Buffer,
  expected: string | undefined,
): string | undefined {
  const want = expected?.trim().toUpperCase();
  if (!want) return undefined;
  const actual = manifestHashLike(bytes, want);
  return actual === want ? undefined : `the manifest's hash is ${actual}; the job says ${want}`;
}

export interface DriveManifestRead {
  /** The manifest file on this machine. */
  path: string;
  bytes: Buffer;
  manifest: DriveManifest;
  /** Upper-case hex MD5 of the manifest file (what `drive prepare` puts in the driveList). */
  md5: string;
}

/**
 * Reads the manifest `manifestFile` (relative to the drive root, `\<driveId>.manifest`)
 * of the drive at `driveDir`, checks it against `expectedHash` when one is given, and
 * parses it. Throws ManifestReadError with the status to report.
 */
export async function readDriveManifest(
  driveDir: string,
  manifestFile: string,
  expectedHash?: string,
): Promise<DriveManifestRead> {
  const path = resolveDriveFile(driveDir, manifestFile);
  if (!path) {
    throw new ManifestReadError(
      "ManifestNotFound",
      `the manifest path '${manifestFile}' leaves the drive or names nothing`,
    );
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new ManifestReadError(
      "ManifestNotFound",
      `the manifest '${manifestFile}' cannot be read: ${(e as Error).message}`,
    );
  }
  const problem = manifestHashProblem(bytes, expectedHash);
  if (problem) throw new ManifestReadError("ManifestCorrupted", problem);
  try {
    return { path, bytes, manifest: parseManifest(bytes.toString("utf8")), md5: md5Hex(bytes) };
  } catch (e) {
    if (e instanceof ManifestError) throw new ManifestReadError("ManifestFormatInvalid", e.message);
    throw e;
  }
}

/** `container/name/with/slashes` → its container and blob name. */
export function splitBlobPath(blobPath: string): { container: string; name: string } {
  const slash = blobPath.indexOf("/");
  return { container: blobPath.slice(0, slash), name: blobPath.slice(slash + 1) };
}
