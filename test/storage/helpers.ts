/** Shared by the storage tests: blob round trips through the official Blob SDK, and process checks. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import type { ContainerClient } from "@azure/storage-blob";

export function md5(data: Buffer): string {
  return createHash("md5").update(data).digest("base64");
}

/**
 * Uploads random bytes to `container/name` (creating the container), downloads them
 * again and checks the MD5 both ways (Azurite's Content-MD5 and the bytes read back).
 */
export async function roundTrip(
  container: ContainerClient,
  name: string,
  size = 256 * 1024,
): Promise<string> {
  await container.createIfNotExists();
  const data = randomBytes(size);
  const blob = container.getBlockBlobClient(name);
  await blob.uploadData(data, {
    blobHTTPHeaders: { blobContentMD5: createHash("md5").update(data).digest() },
  });
  const props = await blob.getProperties();
  assert.equal(Buffer.from(props.contentMD5!).toString("base64"), md5(data));
  const back = await blob.downloadToBuffer();
  assert.equal(md5(back), md5(data));
  return md5(data);
}

/** MD5 of a blob as read back. */
export async function blobMd5(container: ContainerClient, name: string): Promise<string> {
  return md5(await container.getBlockBlobClient(name).downloadToBuffer());
}

/** True while a process with this id exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/** Waits (polling) until the process is gone; fails after `timeoutMs`. */
export async function waitGone(pid: number, timeoutMs = 15_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (alive(pid)) {
    if (performance.now() > until) assert.fail(`process ${pid} still runs after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Ids of the running processes whose command line contains `marker` (from `ps`). */
export function processesWith(marker: string): number[] {
  const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((line) => line.includes(marker) && !line.includes("ps -eo"))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}
