/**
 * Checks of an exported drive folder, shared by the export e2e tests: drive verify passes,
 * every file the manifest lists is its blob's bytes (read back through the SDK by the
 * manifest's BlobPath), its metadata and properties files are the blob's, and the folder
 * holds no file the manifest does not list.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { BlobServiceClient } from "@azure/storage-blob";
import { parseManifest, resolveDriveFile } from "../../../src/transfer/manifest.ts";
import { verifyDrive } from "../../../src/transfer/verify.ts";
import { parseMetadataFile } from "../../../src/transfer/xml-files.ts";

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex").toUpperCase();

/** Every file under `root`, `/`-separated, sorted. */
export function driveFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(root, p).split("\\").join("/"));
    }
  };
  walk(root);
  return out.sort();
}

/**
 * Checks the drive `driveId` in `dir` against the blobs of `service`; `snapshot`: the
 * snapshot a manifest entry with a Snapshot element was exported from. Returns the manifest.
 */
export async function checkExportDrive(
  service: BlobServiceClient,
  dir: string,
  driveId: string,
  snapshot?: string,
) {
  const verified = await verifyDrive(dir, `\\${driveId}.manifest`);
  assert.ok(verified.ok, JSON.stringify(verified.problems));
  const xml = readFileSync(join(dir, `${driveId}.manifest`), "utf8");
  const manifest = parseManifest(xml);
  const expected = new Set([`${driveId}.manifest`]);
  for (const b of manifest.blobLists.flatMap((l) => l.blobs)) {
    const file = resolveDriveFile(dir, b.filePath)!;
    const bytes = readFileSync(file);
    const [container, ...rest] = b.blobPath.split("/");
    // The Snapshot element, if any, is this blob's.
    const snap = xml.includes(`<FilePath>${b.filePath}</FilePath>\n        <Snapshot>`)
      ? snapshot
      : undefined;
    let client = service.getContainerClient(container!).getBlobClient(rest.join("/"));
    if (snap) client = client.withSnapshot(snap);
    assert.equal(md5(bytes), md5(await client.downloadToBuffer()), b.blobPath);
    const props = await client.getProperties();
    const metadata = parseMetadataFile(
      readFileSync(resolveDriveFile(dir, b.metadata!.path)!, "utf8"),
    );
    assert.deepEqual(metadata, props.metadata ?? {});
    const properties = readFileSync(resolveDriveFile(dir, b.properties!.path)!, "utf8");
    assert.match(properties, new RegExp(`<Content-Length>${props.contentLength}</Content-Length>`));
    if (props.contentType)
      assert.ok(properties.includes(`<Content-Type>${props.contentType}</Content-Type>`));
    for (const p of [b.filePath, b.metadata!.path, b.properties!.path]) {
      expected.add(relative(dir, resolveDriveFile(dir, p)!).split("\\").join("/"));
    }
  }
  assert.deepEqual(driveFiles(dir), [...expected].sort(), "no file the manifest does not list");
  return manifest;
}
