/**
 * The export copier's resume check of a large blob that has no Content-MD5 (issue 11, ADR
 * 0016 addendum): such a blob is hashed once, per manifest range, and its `done` record
 * carries no whole-file MD5, so a resume re-checks its file by length and range MD5s. The
 * copier runs on its own (DriveCopy built here, records kept in a map) against a real
 * embedded Azurite; the file is damaged between two runs, as a crash or a bad disk would.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, openSync, readFileSync, statSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import type { BlobServiceClient } from "@azure/storage-blob";
import type { CopyRecord } from "../../src/transfer/copier.ts";
import type { TestServer } from "../support/server.ts";
import { tempDir } from "../transfer/helpers.ts";
import { exportOnce } from "./support/export-once.ts";
import { exportSource, srcExportJob, stageBlob } from "./support/export-source.ts";

const MiB = 1024 * 1024;
const ACCOUNT = "exportrecheck";
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex").toUpperCase();

let server: TestServer;
let service: BlobServiceClient;
const big = randomBytes(9 * MiB + 123);

before(async () => {
  let cc;
  ({ server, service, cc } = await exportSource(ACCOUNT));
  // Put Block + Put Block List: the blob gets no Content-MD5.
  await stageBlob(cc, "big.bin", big, 4 * MiB);
  const blob = cc.getBlockBlobClient("big.bin");
  assert.equal((await blob.getProperties()).contentMD5, undefined, "the blob has no Content-MD5");
  await cc.getBlockBlobClient("small.txt").upload("small", 5);
});

after(() => server?.close());

test("a large blob without Content-MD5: one MD5 per range, and a resume re-checks its file by them", async () => {
  const root = tempDir("drivebay-export-recheck-");
  const driveDir = join(root, "drive");
  mkdirSync(driveDir, { recursive: true });
  const job = srcExportJob(ACCOUNT, "RECHECK1", driveDir);
  const plans = new Map<string, string>();
  const records = new Map<string, CopyRecord>();
  const file = join(driveDir, "src", "big.bin");

  await exportOnce(service, job, plans, records);
  assert.equal(md5(readFileSync(file)), md5(big));
  const bigRecord = [...records.values()].find((r) => r.finalPath === "src/big.bin")!;
  assert.equal(bigRecord.status, "done");
  assert.equal(bigRecord.detail.md5, undefined, "no whole-file MD5 without a Content-MD5");
  const ranges = (bigRecord.detail.manifest as { ranges: { hash: string }[] }).ranges;
  assert.deepEqual(
    ranges.map((r) => r.hash),
    [0, 1, 2].map((i) => md5(big.subarray(i * 4 * MiB, (i + 1) * 4 * MiB))),
  );

  // A resume with the file intact copies nothing again.
  const again = await exportOnce(service, job, plans, records);
  assert.deepEqual(again, [], "nothing rewritten when every file checks out");

  // One byte changed in the middle range: the resume finds it and writes the blob again.
  const fd = openSync(file, "r+");
  writeSync(fd, Buffer.from([big[5 * MiB]! ^ 0xff]), 0, 1, 5 * MiB);
  closeSync(fd);
  assert.notEqual(md5(readFileSync(file)), md5(big));
  const redo = await exportOnce(service, job, plans, records);
  assert.ok(redo.includes(`${bigRecord.blobKey}:done`), `rewritten: ${redo.join(", ")}`);
  assert.equal(md5(readFileSync(file)), md5(big));
  assert.equal(statSync(file).size, big.length);
});
