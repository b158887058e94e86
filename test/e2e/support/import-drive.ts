/**
 * The two ends of an import the e2e tests check: a drive prepared from a folder of the test's
 * files, with the MD5 of every blob it carries, and the blobs an import wrote, with theirs.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ContainerClient } from "@azure/storage-blob";
import type { DriveManifest } from "../../../src/transfer/manifest-types.ts";
import { parseManifest, resolveDriveFile } from "../../../src/transfer/manifest.ts";
import { prepareDrive, type PrepareResult } from "../../../src/transfer/prepare.ts";

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

/**
 * Drive `driveId` prepared in `<root>/drive` from every file under `src`, imported under
 * `prefix` (the container, or container/folder) with rename; each blob's MD5 by its path.
 */
export async function preparedDrive(
  root: string,
  src: string,
  prefix: string,
  driveId: string,
): Promise<{
  driveDir: string;
  prepared: PrepareResult;
  manifest: DriveManifest;
  expected: Map<string, string>;
}> {
  const csv = join(root, "dataset.csv");
  writeFileSync(
    csv,
    `BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile\n"${src}/",${prefix}/,,rename,,\n`,
  );
  const driveDir = join(root, "drive");
  const prepared = await prepareDrive({ datasetCsv: csv, driveDir, driveId });
  const manifest = parseManifest(readFileSync(prepared.manifestPath, "utf8"));
  const expected = new Map(
    manifest.blobLists
      .flatMap((l) => l.blobs)
      .map((b) => [b.blobPath, md5(readFileSync(resolveDriveFile(driveDir, b.filePath)!))]),
  );
  return { driveDir, prepared, manifest, expected };
}

/** Every blob of `container` with the MD5 of its content, by its path (`container/name`). */
export async function blobHashes(container: ContainerClient): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for await (const b of container.listBlobsFlat()) {
    const body = await container.getBlobClient(b.name).downloadToBuffer();
    found.set(`${container.containerName}/${b.name}`, md5(body));
  }
  return found;
}
