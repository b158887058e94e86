/**
 * The export copier's fallback from O_DIRECT to buffered writes (ADR 0016, addendum): large
 * block and append blobs are written with O_DIRECT, and a file system that refuses it — the
 * open, or a write later in the file — makes the copy write through the page cache, the
 * blob being written written again whole.
 *
 * ext4 and tmpfs, the file systems a test can use here, accept O_DIRECT, and no other can be
 * mounted without root. So the copier is given an open (its only seam, `OpenForWrite`) that
 * does what a file system without O_DIRECT does: the kernel creates and truncates the file,
 * then fails the open with EINVAL (`do_dentry_open`); or, for the write case, a real
 * O_DIRECT file whose second write fails with EINVAL (as a misaligned one does), after the
 * first reached the disk. The errors have Node's shape for a refused syscall (code, errno,
 * syscall, path). Everything else is real: an embedded Azurite, the drive folder on disk.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { constants as fsConstants, mkdirSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import type { BlobServiceClient } from "@azure/storage-blob";
import type { CopyRecord } from "../../src/transfer/copier.ts";
import type { OpenForWrite } from "../../src/transfer/export/export-copier.ts";
import type { TestServer } from "../support/server.ts";
import { tempDir } from "../transfer/helpers.ts";
import { checkExportDrive } from "./support/export-drive.ts";
import { exportOnce } from "./support/export-once.ts";
import { exportSource, srcExportJob, stageBlob } from "./support/export-source.ts";

const MiB = 1024 * 1024;
const ACCOUNT = "exportdirectrefused";
const { O_DIRECT } = fsConstants;

let server: TestServer;
let service: BlobServiceClient;
// Large blobs: more than one 8 MiB write each, none a multiple of 4 KiB.
const blobs: Record<string, Buffer> = {
  "with-md5.bin": randomBytes(19 * MiB + 4321),
  "without-md5.bin": randomBytes(17 * MiB + 17),
  "append.log": randomBytes(10 * MiB + 3),
  "small.txt": Buffer.from("a small blob, one buffered write"),
};

before(async () => {
  let cc;
  ({ server, service, cc } = await exportSource(ACCOUNT));
  const withMd5 = blobs["with-md5.bin"]!;
  await stageBlob(cc, "with-md5.bin", withMd5, 8 * MiB, {
    blobHTTPHeaders: { blobContentMD5: createHash("md5").update(withMd5).digest() },
  });
  await stageBlob(cc, "without-md5.bin", blobs["without-md5.bin"]!, 8 * MiB);
  const append = cc.getAppendBlobClient("append.log");
  await append.create();
  const log = blobs["append.log"]!;
  for (let at = 0; at < log.length; at += 4 * MiB) {
    const part = log.subarray(at, at + 4 * MiB);
    await append.appendBlock(part, part.length);
  }
  const small = blobs["small.txt"]!;
  await cc.getBlockBlobClient("small.txt").upload(small, small.length);
});

after(() => server?.close());

/** The error Node gives for a syscall the kernel refused with EINVAL. */
function einval(syscall: "open" | "write", path?: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(
    `EINVAL: invalid argument, ${syscall}${path ? ` '${path}'` : ""}`,
  );
  return Object.assign(e, {
    errno: -osConstants.errno.EINVAL,
    code: "EINVAL",
    syscall,
    ...(path ? { path } : {}),
  });
}

const isDirect = (flags: number | string) => typeof flags === "number" && (flags & O_DIRECT) !== 0;

/** Opens as the copier asked, counted: `direct` O_DIRECT opens, `buffered` the others. */
function counted(
  refuse: (path: string, flags: number) => Promise<FileHandle>,
): OpenForWrite & { direct: number; buffered: string[] } {
  const f = Object.assign(
    async (path: string, flags: number | string) => {
      if (isDirect(flags)) {
        f.direct++;
        return refuse(path, flags as number);
      }
      f.buffered.push(path);
      return open(path, flags);
    },
    { direct: 0, buffered: [] as string[] },
  );
  return f;
}

async function exportDrive(driveId: string, openForWrite: OpenForWrite): Promise<string> {
  const driveDir = join(tempDir("drivebay-export-direct-"), "drive");
  mkdirSync(driveDir, { recursive: true });
  const job = srcExportJob(ACCOUNT, driveId, driveDir);
  const records = new Map<string, CopyRecord>();
  await exportOnce(service, job, new Map(), records, { openForWrite });
  // Every blob done, none failed or skipped.
  assert.deepEqual(
    [...records.values()].map((r) => `${r.finalPath}:${r.status}`).sort(),
    Object.keys(blobs)
      .map((name) => `src/${name}:done`)
      .sort(),
  );
  // Each file is its blob's bytes, the manifest (every blob, its range MD5s) verifies, the
  // side files are the blob's, and nothing else is on the drive (no half-written file).
  const manifest = await checkExportDrive(service, driveDir, driveId);
  assert.deepEqual(
    manifest.blobLists[0]!.blobs.map((b) => b.blobPath).sort(),
    Object.keys(blobs)
      .map((name) => `src/${name}`)
      .sort(),
  );
  return driveDir;
}

const LARGE = ["with-md5.bin", "without-md5.bin", "append.log"];

test("the file system refuses O_DIRECT at open: every large blob is written buffered, the drive is right", async () => {
  const opener = counted(async (path, flags) => {
    // As the kernel does: the file is created (and truncated), then the open fails.
    await (await open(path, flags & ~O_DIRECT)).close();
    throw einval("open", path);
  });
  const driveDir = await exportDrive("DIRECTNO1", opener);
  assert.ok(opener.direct >= 1, "the copier tried O_DIRECT");
  // Off for the rest of the copy once refused: at most the blobs started meanwhile try it.
  assert.ok(opener.direct <= 2, `${opener.direct} O_DIRECT opens`);
  assert.deepEqual(
    opener.buffered.map((p) => p.slice(driveDir.length + 1)).sort(),
    LARGE.map((name) => join("src", name)).sort(),
    "each large blob written once, buffered",
  );
});

test("the file system refuses a direct write mid-file: the blob is written again whole, buffered, the drive is right", async () => {
  let refused = 0;
  const opener = counted(async (path, flags) => {
    const fh = await open(path, flags);
    const write = fh.write.bind(fh) as (...args: unknown[]) => Promise<unknown>;
    let writes = 0;
    // The first write (8 MiB at offset 0) reaches the disk; the next is refused.
    (fh as unknown as { write: unknown }).write = (...args: unknown[]) => {
      if (++writes === 1) return write(...args);
      refused++;
      return Promise.reject(einval("write"));
    };
    return fh;
  });
  const driveDir = await exportDrive("DIRECTNO2", opener);
  assert.ok(refused >= 1, "a direct write was refused");
  assert.ok(opener.direct >= 1 && opener.direct <= 2, `${opener.direct} O_DIRECT opens`);
  // Each blob whose direct write was refused is written again buffered, the others buffered
  // from the start: one buffered open per large blob.
  assert.deepEqual(
    opener.buffered.map((p) => p.slice(driveDir.length + 1)).sort(),
    LARGE.map((name) => join("src", name)).sort(),
  );
});
