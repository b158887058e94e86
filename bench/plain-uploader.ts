/**
 * The plain-Node baseline of bench:import, in its own process (so its CPU is its own): the
 * dataset uploaded with @azure/storage-blob as a careful script would, 16 files in
 * parallel, each file read once with its MD5 computed while it is uploaded (one Put Blob
 * for a file up to 4 MiB, else 8 MiB blocks staged 4 at a time and a Put Block List), the
 * MD5 set as the blob's Content-MD5. No store, no manifest, no resume: the floor of what
 * an uploader costs.
 *
 * Usage: plain-uploader.ts <datasetDir> <containerUrlWithSas> < list (one `size name` a
 * line, then an empty line). Prints `READY` once loaded, waits for `GO` on stdin, prints
 * `DONE <ms>` (the upload's own time) and exits.
 */
import { createHash } from "node:crypto";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ContainerClient } from "@azure/storage-blob";

const PARALLEL_FILES = 16;
const SINGLE_PUT_MAX = 4 * 1024 * 1024;
const BLOCK = 8 * 1024 * 1024;
const BLOCKS_IN_FLIGHT = 4;

const [datasetDir, containerUrl] = process.argv.slice(2);
const cc = new ContainerClient(containerUrl!);

async function upload(name: string, size: number): Promise<void> {
  const blob = cc.getBlockBlobClient(name);
  const path = join(datasetDir!, name);
  if (size <= SINGLE_PUT_MAX) {
    const data = await readFile(path);
    const md5 = createHash("md5").update(data).digest();
    await blob.upload(data, data.length, { blobHTTPHeaders: { blobContentMD5: md5 } });
    return;
  }
  const fh = await open(path, "r");
  const hash = createHash("md5");
  const ids: string[] = [];
  const inFlight: Promise<unknown>[] = [];
  try {
    for (let offset = 0, i = 0; offset < size; offset += BLOCK, i++) {
      const buf = Buffer.allocUnsafe(Math.min(BLOCK, size - offset));
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      if (bytesRead !== buf.length) throw new Error(`${name}: short read at ${offset}`);
      hash.update(buf);
      const id = Buffer.from(`block-${String(i).padStart(6, "0")}`).toString("base64");
      ids.push(id);
      inFlight.push(blob.stageBlock(id, buf, buf.length));
      if (inFlight.length >= BLOCKS_IN_FLIGHT) await inFlight.shift();
    }
    await Promise.all(inFlight);
  } finally {
    await fh.close();
  }
  await blob.commitBlockList(ids, { blobHTTPHeaders: { blobContentMD5: hash.digest() } });
}

const files: { name: string; size: number }[] = [];
const lines = createInterface({ input: process.stdin });
let go: () => void;
const started = new Promise<void>((resolve) => (go = resolve));
let listed = false;
lines.on("line", (line) => {
  if (!listed) {
    if (line === "") {
      listed = true;
      console.log("READY");
      return;
    }
    const space = line.indexOf(" ");
    files.push({ size: Number(line.slice(0, space)), name: line.slice(space + 1) });
  } else if (line === "GO") go();
});
await started;
const t0 = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: PARALLEL_FILES }, async () => {
    for (let i = next++; i < files.length; i = next++) await upload(files[i]!.name, files[i]!.size);
  }),
);
console.log(`DONE ${performance.now() - t0}`);
process.exit(0);
