/**
 * The export copier's MD5s of large blobs, computed on the MD5 worker over the shared read
 * buffers while the same buffers are written (ADR 0016, addendum). A buffer given back
 * before the worker had hashed it would be refilled by the next read under the hash: two
 * large blobs of many ranges copied at once (more reads than the copier has buffers), one
 * with a Content-MD5 (whole-file MD5 checked) and one without, must get every manifest
 * range's MD5 and the whole-file MD5 of the blob's bytes.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BlobServiceClient } from "@azure/storage-blob";
import type { CopyRecord } from "../../src/transfer/copier.ts";
import type { TestServer } from "../support/server.ts";
import { tempDir } from "../transfer/helpers.ts";
import { exportOnce } from "./support/export-once.ts";
import {
  checkWithAndWithoutMd5,
  exportSource,
  srcExportJob,
  stageWithAndWithoutMd5,
} from "./support/export-source.ts";

const MiB = 1024 * 1024;
const ACCOUNT = "exportmd5worker";

let server: TestServer;
let service: BlobServiceClient;
// 11 and 9 reads of 8 MiB: more than the copier's 4 read buffers, so each is reused.
const withMd5 = randomBytes(86 * MiB + 4321);
const withoutMd5 = randomBytes(70 * MiB + 17);

before(async () => {
  let cc;
  ({ server, service, cc } = await exportSource(ACCOUNT));
  await stageWithAndWithoutMd5(cc, withMd5, withoutMd5);
  const props = await cc.getBlockBlobClient("with-md5.bin").getProperties();
  assert.ok(props.contentMD5, "the first blob has a Content-MD5");
  assert.equal(
    (await cc.getBlockBlobClient("without-md5.bin").getProperties()).contentMD5,
    undefined,
  );
});

after(() => server?.close());

test("large blobs copied at once: every range MD5 and the whole-file MD5 are of the blob's bytes", async () => {
  const root = tempDir("drivebay-export-md5-worker-");
  const driveDir = join(root, "drive");
  mkdirSync(driveDir, { recursive: true });
  const job = srcExportJob(ACCOUNT, "MD5WORK1", driveDir);
  const records = new Map<string, CopyRecord>();
  await exportOnce(service, job, new Map(), records);
  checkWithAndWithoutMd5(driveDir, records, withMd5, withoutMd5);
});
