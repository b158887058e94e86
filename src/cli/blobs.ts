/**
 * Reading a storage account from the CLI: its connection string comes from the operator API
 * (`GET /operator/v1/storage/{account}`, as `drivebay storage show` prints it) or is given;
 * blobs are read with @azure/storage-blob, loaded when a command needs it.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { BlobServiceClient } from "@azure/storage-blob";
import { CliFailure } from "./client.ts";

export type Send = (path: string) => Promise<unknown>;

/** A client of the account, from a connection string. */
export async function serviceFromConnectionString(cs: string): Promise<BlobServiceClient> {
  const { BlobServiceClient } = await import("@azure/storage-blob");
  try {
    return BlobServiceClient.fromConnectionString(cs);
  } catch (e) {
    throw new CliFailure(`error: the connection string is not usable: ${(e as Error).message}`, 2);
  }
}

/** A client of the account `name`, with the connection string the operator API gives. */
export async function accountService(send: Send, name: string): Promise<BlobServiceClient> {
  const account = (await send(`storage/${encodeURIComponent(name)}`)) as {
    connectionString?: string;
  };
  if (!account.connectionString) {
    throw new CliFailure(`error: the server gave no connection string for account ${name}.`, 1);
  }
  return serviceFromConnectionString(account.connectionString);
}

/** `container/blob/name` → its parts; "" blob when only a container (or container/) is given. */
export function splitBlobPath(path: string): { container: string; blob: string } {
  const trimmed = path.replace(/^\/+/, "");
  const slash = trimmed.indexOf("/");
  return slash < 0
    ? { container: trimmed, blob: "" }
    : { container: trimmed.slice(0, slash), blob: trimmed.slice(slash + 1) };
}

/** The hex MD5 (upper case, as manifests write it) of base64 Content-MD5 bytes. */
export function hexOf(md5: Uint8Array | undefined): string | undefined {
  return md5 && md5.length > 0 ? Buffer.from(md5).toString("hex").toUpperCase() : undefined;
}

/** MD5 of a stream's bytes, and how many there were. */
export async function md5OfStream(
  stream: AsyncIterable<Buffer | string>,
): Promise<{ md5: string; length: number }> {
  const hash = createHash("md5");
  let length = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    hash.update(b);
    length += b.length;
  }
  return { md5: hash.digest("hex").toUpperCase(), length };
}

export function md5OfFile(path: string): Promise<{ md5: string; length: number }> {
  return md5OfStream(createReadStream(path, { highWaterMark: 1 << 20 }));
}

/** True when the error is the Blob service's 404 (no such container or blob). */
export function isNotFound(e: unknown): boolean {
  return (e as { statusCode?: number }).statusCode === 404;
}

/** A Blob service error as one line for the user. */
export function blobFailure(e: unknown, what: string): CliFailure {
  const err = e as { statusCode?: number; code?: string; message?: string };
  if (err.statusCode !== undefined) {
    const code = err.code ?? (err as { details?: { errorCode?: string } }).details?.errorCode;
    return new CliFailure(
      `error: ${what}: Blob service answered ${err.statusCode}${code ? ` ${code}` : ""}`,
      1,
      err.statusCode,
    );
  }
  return new CliFailure(`error: ${what}: ${err.message ?? String(e)}`, 1);
}
