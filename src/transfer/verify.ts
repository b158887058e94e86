/**
 * Checks a drive folder against its manifest (SPEC §4.6): every blob file's size and every
 * block / page range MD5, and the metadata and properties files' MD5s. Problems carry the
 * drive log's status vocabulary (reference/domain.md §5.4).
 */
import { open, readFile, stat } from "node:fs/promises";
import { ManifestReadError, readDriveManifest, resolveDriveFile } from "./drive-files.ts";
import {
  RANGE_SIZE,
  type DriveManifest,
  type HashedPath,
  type ManifestBlob,
} from "./manifest-types.ts";
import { md5Hex as md5 } from "./md5.ts";
import { parseMetadataFile, parsePropertiesFile } from "./xml-files.ts";

export type VerifyStatus =
  | "ManifestNotFound"
  | "ManifestCorrupted"
  | "ManifestFormatInvalid"
  | "FileNameInvalid"
  | "FileNotFound"
  | "FileUnexpectedEnd"
  | "Corrupted"
  | "XmlReadFailed"
  | "IOFailed";

export interface VerifyProblem {
  /** As the manifest names it (`\session-1\photos\a.jpg`); the manifestFile for drive problems. */
  filePath: string;
  status: VerifyStatus;
  message: string;
  /** The blob, for blob files. */
  blobPath?: string;
}

export interface VerifyResult {
  ok: boolean;
  problems: VerifyProblem[];
  /** The manifest read (absent when it could not be read). */
  manifest?: DriveManifest;
  /** Upper-case hex MD5 of the manifest file. */
  manifestHash?: string;
  blobs: number;
  bytes: number;
}

export interface VerifyProgress {
  blobs: number;
  blobsTotal: number;
  bytes: number;
  bytesTotal: number;
}

export interface VerifyOptions {
  onProgress?: (progress: VerifyProgress) => void;
  /**
   * The job's `manifestHash` for this drive: the manifest must match it (MD5, or SHA-256
   * when 64 hex digits), as the import copier checks it (drive-files.ts).
   */
  manifestHash?: string;
}

/** One blob file: its size against Length, then every range against its hash. */
async function verifyBlob(
  path: string,
  blob: ManifestBlob,
  buffer: Buffer,
  onBytes: (n: number) => void,
): Promise<VerifyProblem | undefined> {
  const problem = (status: VerifyStatus, message: string): VerifyProblem => ({
    filePath: blob.filePath,
    blobPath: blob.blobPath,
    status,
    message: `${blob.blobPath}: ${message}`,
  });
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) return problem("FileNotFound", `${path} is not a file`);
    size = s.size;
  } catch {
    return problem("FileNotFound", `${path} does not exist`);
  }
  const bad: string[] = [];
  const what = blob.blobType === "PageBlob" ? "page range" : "block";
  const file = await open(path, "r");
  try {
    for (const r of blob.ranges) {
      // Ranges past the end are what FileUnexpectedEnd reports below.
      if (r.offset + r.length > size) continue;
      const { bytesRead } = await file.read(buffer, 0, r.length, r.offset);
      onBytes(r.length);
      if (bytesRead < r.length) continue;
      const actual = md5(buffer.subarray(0, r.length));
      if (actual !== r.hash.toUpperCase()) {
        bad.push(
          `${what} at offset ${r.offset} (length ${r.length}) has MD5 ${actual}, the manifest says ${r.hash}`,
        );
      }
    }
  } catch (e) {
    return problem("IOFailed", `reading ${path}: ${(e as Error).message}`);
  } finally {
    await file.close();
  }
  if (size < blob.length) {
    return problem(
      "FileUnexpectedEnd",
      `${path} has ${size} bytes, the manifest says ${blob.length}` +
        (bad.length > 0 ? `; besides, ${bad.length} ${what}(s) are corrupted` : ""),
    );
  }
  if (bad.length > 0) {
    return problem(
      "Corrupted",
      bad.length === 1 ? bad[0]! : `${bad.length} ${what}s are corrupted; the first: ${bad[0]}`,
    );
  }
  if (size > blob.length) {
    return problem("Corrupted", `${path} has ${size} bytes, the manifest says ${blob.length}`);
  }
  return undefined;
}

async function verifyXmlFile(
  driveDir: string,
  file: HashedPath,
  kind: "metadata" | "properties",
): Promise<VerifyProblem | undefined> {
  const problem = (status: VerifyStatus, message: string): VerifyProblem => ({
    filePath: file.path,
    status,
    message: `${kind} file ${file.path}: ${message}`,
  });
  const path = resolveDriveFile(driveDir, file.path);
  if (!path) return problem("FileNameInvalid", "the path leaves the drive or names nothing");
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    return problem("FileNotFound", `${path} does not exist`);
  }
  const actual = md5(bytes);
  if (actual !== file.hash.toUpperCase()) {
    return problem("Corrupted", `MD5 ${actual}, the manifest says ${file.hash}`);
  }
  try {
    (kind === "metadata" ? parseMetadataFile : parsePropertiesFile)(bytes.toString("utf8"));
  } catch (e) {
    return problem("XmlReadFailed", (e as Error).message);
  }
  return undefined;
}

/**
 * Verifies the drive at `driveDir` against the manifest at `manifestFile` (a path relative
 * to the drive root, `\<driveId>.manifest` as in the job's driveList).
 */
export async function verifyDrive(
  driveDir: string,
  manifestFile: string,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const result: VerifyResult = { ok: false, problems: [], blobs: 0, bytes: 0 };
  try {
    const read = await readDriveManifest(driveDir, manifestFile, options.manifestHash);
    result.manifest = read.manifest;
    result.manifestHash = read.md5;
  } catch (e) {
    if (!(e instanceof ManifestReadError)) throw e;
    result.problems.push({ filePath: manifestFile, status: e.status, message: e.message });
    return result;
  }
  const blobs = result.manifest.blobLists.flatMap((l) => l.blobs);
  const progress: VerifyProgress = {
    blobs: 0,
    blobsTotal: blobs.length,
    bytes: 0,
    bytesTotal: blobs.reduce((n, b) => n + b.ranges.reduce((m, r) => m + r.length, 0), 0),
  };
  const xmlFiles = new Map<string, { file: HashedPath; kind: "metadata" | "properties" }>();
  for (const list of result.manifest.blobLists) {
    for (const [file, kind] of [
      [list.metadata, "metadata"],
      [list.properties, "properties"],
      ...list.blobs.flatMap((b) => [
        [b.metadata, "metadata"],
        [b.properties, "properties"],
      ]),
    ] as [HashedPath | undefined, "metadata" | "properties"][]) {
      if (file) xmlFiles.set(`${kind}:${file.path}:${file.hash}`, { file, kind });
    }
  }
  for (const { file, kind } of xmlFiles.values()) {
    const p = await verifyXmlFile(driveDir, file, kind);
    if (p) result.problems.push(p);
  }
  const buffer = Buffer.alloc(RANGE_SIZE);
  for (const blob of blobs) {
    const path = resolveDriveFile(driveDir, blob.filePath);
    const p = path
      ? await verifyBlob(path, blob, buffer, (n) => {
          progress.bytes += n;
          options.onProgress?.({ ...progress });
        })
      : {
          filePath: blob.filePath,
          blobPath: blob.blobPath,
          status: "FileNameInvalid" as const,
          message: `${blob.blobPath}: the FilePath '${blob.filePath}' leaves the drive or names nothing`,
        };
    if (p) result.problems.push(p);
    result.blobs++;
    result.bytes += blob.length;
    progress.blobs++;
    options.onProgress?.({ ...progress });
  }
  result.ok = result.problems.length === 0;
  return result;
}
