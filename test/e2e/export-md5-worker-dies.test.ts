/**
 * The export copier when its MD5 worker dies mid-copy (ADR 0016, addendum): a real worker,
 * made to call process.exit on its third range message (`md5WorkerExitsForTests`), while two
 * large blobs are being hashed, one with a whole-file MD5 (it has a Content-MD5) and one
 * without. The hash states die with the worker, so the blobs it was hashing are written
 * again, hashed on the calling thread: no blob is lost, every file and the manifest are
 * right. (Its own process: once the worker is gone, the copier hashes inline for good.)
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BlobServiceClient } from "@azure/storage-blob";
import type { CopyRecord } from "../../src/transfer/copier.ts";
import { md5WorkerExitsForTests } from "../../src/transfer/md5.ts";
import type { TestServer } from "../support/server.ts";
import { tempDir } from "../transfer/helpers.ts";
import { checkExportDrive } from "./support/export-drive.ts";
import { exportOnce } from "./support/export-once.ts";
import {
  checkWithAndWithoutMd5,
  exportSource,
  srcExportJob,
  stageWithAndWithoutMd5,
} from "./support/export-source.ts";

const MiB = 1024 * 1024;
const ACCOUNT = "exportmd5dies";

let server: TestServer;
let service: BlobServiceClient;
// Three and four reads of 8 MiB: the worker dies with both blobs' hashes under way.
const withMd5 = randomBytes(20 * MiB + 4321);
const withoutMd5 = randomBytes(26 * MiB + 17);

before(async () => {
  let cc;
  ({ server, service, cc } = await exportSource(ACCOUNT));
  await stageWithAndWithoutMd5(cc, withMd5, withoutMd5);
  await cc.getBlockBlobClient("small.txt").upload("small", 5);
});

after(() => server?.close());

test("the MD5 worker dies mid-copy: the blobs it was hashing are written again inline, none lost, the drive is right", async () => {
  const driveDir = join(tempDir("drivebay-export-md5-dies-"), "drive");
  mkdirSync(driveDir, { recursive: true });
  const job = srcExportJob(ACCOUNT, "MD5DIES1", driveDir);
  const records = new Map<string, CopyRecord>();
  md5WorkerExitsForTests(3);
  let puts: string[];
  try {
    // exportOnce asserts the drive finished Completed: no blob failed.
    puts = await exportOnce(service, job, new Map(), records);
  } finally {
    md5WorkerExitsForTests(undefined);
  }
  // The worker died under a blob: that blob was started again (a second `writing`).
  const writings = new Map<string, number>();
  for (const p of puts.filter((p) => p.endsWith(":writing"))) {
    writings.set(p, (writings.get(p) ?? 0) + 1);
  }
  assert.ok(
    [...writings.values()].some((n) => n > 1),
    `a blob was written again: ${puts.join(" ")}`,
  );
  checkWithAndWithoutMd5(driveDir, records, withMd5, withoutMd5);
  // The manifest lists every blob, verifies, and nothing else is on the drive.
  const manifest = await checkExportDrive(service, driveDir, "MD5DIES1");
  assert.deepEqual(manifest.blobLists[0]!.blobs.map((b) => b.blobPath).sort(), [
    "src/small.txt",
    "src/with-md5.bin",
    "src/without-md5.bin",
  ]);
});
