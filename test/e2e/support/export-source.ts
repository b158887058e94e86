/**
 * The source side of the export copier's e2e tests: a test server with an in-memory blob
 * endpoint, one of its storage accounts and the container `src` in it, and large block
 * blobs written as Put Block + Put Block List (no Content-MD5 unless one is given).
 */
import type { BlockBlobCommitBlockListOptions, ContainerClient } from "@azure/storage-blob";
import { BlobServiceClient } from "@azure/storage-blob";
import { startTestServer, type TestServer } from "../../support/server.ts";

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
