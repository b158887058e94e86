/**
 * The source side of the export copier's e2e tests: a test server with an in-memory blob
 * endpoint, one of its storage accounts and the container `src` in it, and large block
 * blobs written as Put Block + Put Block List (no Content-MD5 unless one is given).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BlockBlobCommitBlockListOptions, ContainerClient } from "@azure/storage-blob";
import { BlobServiceClient } from "@azure/storage-blob";
import type { Job } from "../../../src/domain/job/model.ts";
import type { CopyRecord } from "../../../src/transfer/copier.ts";
import { RANGE_SIZE } from "../../../src/transfer/manifest-types.ts";
import { sampleJob } from "../../support/job-factory.ts";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../../support/server.ts";

export async function exportSource(
  account: string,
): Promise<{ server: TestServer; service: BlobServiceClient; cc: ContainerClient }> {
  const server = await startTestServer({ blob: "memory" });
  const r = await server.operator("GET", `/storage/${account}`);
  const service = BlobServiceClient.fromConnectionString(r.body.connectionString);
  const cc = service.getContainerClient("src");
  await cc.create();
  return { server, service, cc };
}

/** `bytes` as the block blob `name`, staged in blocks of `blockSize` bytes. */
export async function stageBlob(
  cc: ContainerClient,
  name: string,
  bytes: Buffer,
  blockSize: number,
  options: BlockBlobCommitBlockListOptions = {},
): Promise<void> {
  const blob = cc.getBlockBlobClient(name);
  const ids: string[] = [];
  for (let at = 0; at < bytes.length; at += blockSize) {
    const id = Buffer.from(String(ids.length).padStart(6, "0")).toString("base64");
    const part = bytes.subarray(at, at + blockSize);
    await blob.stageBlock(id, part, part.length);
    ids.push(id);
  }
  await blob.commitBlockList(ids, options);
}

/**
 * An export job of everything in `src` of `account`, with one drive, Received and attached
 * at `driveDir` (1 GB): what the copier's e2e tests hand to `exportOnce`.
 */
export function srcExportJob(account: string, driveId: string, driveDir: string): Job {
  return sampleJob({
    jobType: "Export",
    storageAccountId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/${account}`,
    export: { blobList: { blobPathPrefix: ["/src/"] } },
    driveList: [
      {
        driveId,
        bitLockerKey: "k",
        manifestFile: `\\${driveId}.manifest`,
        state: "Received",
        contentPath: driveDir,
        capacityBytes: 1e9,
      },
    ],
  } as never);
}

/**
 * `with-md5.bin` (with a Content-MD5 of its bytes: the copier checks the whole file's MD5)
 * and `without-md5.bin` (none), each staged in 8 MiB blocks.
 */
export async function stageWithAndWithoutMd5(
  cc: ContainerClient,
  withMd5: Buffer,
  withoutMd5: Buffer,
): Promise<void> {
  await stageBlob(cc, "with-md5.bin", withMd5, 8 * 1024 * 1024, {
    blobHTTPHeaders: { blobContentMD5: createHash("md5").update(withMd5).digest() },
  });
  await stageBlob(cc, "without-md5.bin", withoutMd5, 8 * 1024 * 1024);
}

/**
 * The two blobs of stageWithAndWithoutMd5 as exported onto `driveDir` (under `src/`): each
 * file is its blob's bytes, its record done, with the whole-file MD5 only where the blob had
 * a Content-MD5, and one MD5 per range, each of the blob's bytes in that range.
 */
export function checkWithAndWithoutMd5(
  driveDir: string,
  records: ReadonlyMap<string, CopyRecord>,
  withMd5: Buffer,
  withoutMd5: Buffer,
): void {
  const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex").toUpperCase();
  for (const [name, bytes, whole] of [
    ["with-md5.bin", withMd5, true],
    ["without-md5.bin", withoutMd5, false],
  ] as const) {
    assert.equal(md5(readFileSync(join(driveDir, "src", name))), md5(bytes), name);
    const record = [...records.values()].find((r) => r.finalPath === `src/${name}`)!;
    assert.equal(record.status, "done", name);
    assert.equal(record.detail.md5, whole ? md5(bytes) : undefined, `${name}: whole-file MD5`);
    const ranges = (
      record.detail.manifest as { ranges: { offset: number; length: number; hash: string }[] }
    ).ranges;
    assert.equal(ranges.length, Math.ceil(bytes.length / RANGE_SIZE), name);
    for (const r of ranges) {
      assert.equal(
        r.hash,
        md5(bytes.subarray(r.offset, r.offset + r.length)),
        `${name} at ${r.offset}`,
      );
    }
  }
}
