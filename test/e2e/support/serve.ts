/**
 * What the crash-and-resume tests share: `drivebay serve` as a child process (so it can be
 * SIGKILLed), the operator API with the data directory's key, and waiting for a job to
 * leave Transferring after the restart.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { StorageImportExport } from "@azure/arm-storageimportexport";
import type { OperatorCall } from "../../support/shipping.ts";

const BIN = new URL("../../../bin/drivebay.js", import.meta.url).pathname;

/**
 * Starts `drivebay serve` on `dataDir` (autopilot off, import concurrency 2), or the
 * process `args` name; resolves with its URL once it listens.
 */
export async function serve(
  dataDir: string,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    options.args ?? [BIN, "serve", "--port", "0", "--data-dir", dataDir, "--log-level", "silent"],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        DRIVEBAY_AUTOPILOT: "off",
        DRIVEBAY_BLOB_PORT: "0",
        DRIVEBAY_IMPORT_CONCURRENCY: "2",
        ...options.env,
      },
    },
  );
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (c: Buffer) => {
      stderr += c.toString();
      const m = /^drivebay listening on (http:\/\/\S+)$/m.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  return { child, url };
}

/**
 * A call to the operator API of the server at `url` that keeps its data in `dataDir` (the
 * key read once, on first use), answered with its status and body.
 */
export function operatorAt(dataDir: string, url: string): OperatorCall {
  let key: string | undefined;
  return async (method, path, body) => {
    key ??= readFileSync(join(dataDir, "operator.key"), "utf8").trim();
    const res = await fetch(`${url}/operator/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
}

/** Calls to the operator API of the server on `dataDir` that must succeed; their answers. */
export function operatorOf(dataDir: string) {
  return async (url: string, method: string, path: string, body?: unknown) => {
    const res = await operatorAt(dataDir, url)(method, path, body);
    assert.ok(res.status >= 200 && res.status < 300, JSON.stringify(res.body));
    return res.body as Record<string, unknown>;
  };
}

/** The job once it has left Transferring (polled every 100 ms, for two minutes at most). */
export async function afterTransferring(client: StorageImportExport, name: string, rg: string) {
  let job = await client.jobs.get(name, rg);
  for (let i = 0; i < 1200 && job.properties?.state === "Transferring"; i++) {
    await new Promise((r) => setTimeout(r, 100));
    job = await client.jobs.get(name, rg);
  }
  return job;
}
