/** Shared by the transfer tests: temporary folders, data files, and independent MD5s. */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { after } from "node:test";

export const MiB = 1024 * 1024;

/** A fresh temporary folder, removed after the test file. */
export function tempDir(prefix = "drivebay-transfer-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `bytes` (or that many random bytes) at `root/rel`, creating folders. */
export function writeData(root: string, rel: string, bytes: number | Buffer | string): string {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, typeof bytes === "number" ? randomBytes(bytes) : bytes);
  return path;
}

export function md5(bytes: Buffer | string): string {
  return createHash("md5").update(bytes).digest("hex").toUpperCase();
}

/** The block MD5s of a file as the manifest should list them: one per 4 MiB. */
export function blockHashes(bytes: Buffer): { offset: number; length: number; hash: string }[] {
  const out = [];
  for (let offset = 0; offset < bytes.length; offset += 4 * MiB) {
    const part = bytes.subarray(offset, offset + 4 * MiB);
    out.push({ offset, length: part.length, hash: md5(part) });
  }
  return out;
}

/** Every file under `root` → its MD5, by `/`-separated relative path. */
export function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(root, p).split("\\").join("/")] = md5(readFileSync(p));
    }
  };
  walk(root);
  return out;
}

export const METADATA_XML =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Metadata>\n  <Owner>Jane</Owner>\n  <Project>Atlas &amp; Co</Project>\n</Metadata>\n';
export const PROPERTIES_XML =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Properties>\n  <Content-Type>application/octet-stream</Content-Type>\n  <Cache-Control>no-cache</Cache-Control>\n</Properties>\n';

/** A page blob image: 3 MiB + 5 pages, mostly zeros with a few written pages. */
export function pageImage(): Buffer {
  const image = Buffer.alloc(3 * MiB + 5 * 512);
  randomBytes(1024).copy(image, 0);
  randomBytes(512).copy(image, 2 * MiB);
  randomBytes(100).copy(image, 3 * MiB + 4 * 512 + 7);
  return image;
}

/**
 * The dataset of the prepare tests: files of several sizes (empty, 1 byte, exactly 4 MiB,
 * 9 MiB), nested folders, unicode names, a metadata and a properties file, one page blob.
 * Returns the CSV's path.
 */
export function sampleDataset(root: string): string {
  const src = join(root, "src");
  writeData(src, "photos/empty.txt", "");
  writeData(src, "photos/one.txt", "x");
  writeData(src, "photos/2026/exact-4mib.bin", 4 * MiB);
  writeData(src, "photos/2026/nine-mib.bin", 9 * MiB);
  writeData(src, "photos/2026/deep/er/note.md", "# note\n");
  writeData(src, "photos/ünïcödé ✓/日本語.txt", "こんにちは\n");
  writeData(src, "single file.dat", 1000);
  writeData(src, "disks/disk.vhd", pageImage());
  writeData(root, "meta/metadata.xml", METADATA_XML);
  writeData(root, "meta/properties.xml", PROPERTIES_XML);
  return writeData(
    root,
    "dataset.csv",
    [
      "BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile",
      `"src/photos/",photos/2026/,BlockBlob,rename,meta/metadata.xml,meta/properties.xml`,
      `"src/single file.dat",files/renamed.dat,,no-overwrite,None,None`,
      `src/disks/disk.vhd,vhds/,,overwrite,,`,
      "",
    ].join("\r\n"),
  );
}
