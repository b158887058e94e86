/** Test wiring: a real service on port 0 with a fresh data directory, and official SDK clients for it. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageImportExport } from "@azure/arm-storageimportexport";
import { loadConfig, type Config } from "../../src/config.ts";
import type { OffsetClock } from "../../src/domain/clock.ts";
import { startService, type RunningService } from "../../src/main.ts";
import { recordingPolicy, type Exchange } from "./spec-validator.ts";

export interface TestServer extends RunningService {
  dataDir: string;
  clock: OffsetClock;
  /** Every response the SDK clients of this server saw, for spec validation. */
  exchanges: Exchange[];
  client(options?: {
    subscriptionId?: string;
    apiVersion?: string;
    token?: string;
  }): StorageImportExport;
  /** A call to the operator API with the operator key (or `key` to test credentials). */
  operator(
    method: string,
    path: string,
    body?: unknown,
    key?: string | null,
  ): Promise<OperatorResponse>;
}

export interface OperatorResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of any shape
  body: any;
}

export const SUBSCRIPTION = "8a1b2c3d-0000-4000-8000-000000000001";

export function freshDataDir(): string {
  return mkdtempSync(join(tmpdir(), "drivebay-test-"));
}

export async function startTestServer(
  options: {
    dataDir?: string;
    clock?: OffsetClock;
    config?: Partial<Config>;
    env?: Record<string, string>;
    /** The simulated datacenter is off in tests unless asked for. */
    autopilot?: {
      arrivalDelayMs: number;
      stepDelayMs: number;
      exportDriveCapacityBytes?: number;
    };
    /**
     * The embedded Azurite (on a free port), with its blobs in memory or on disk in the
     * data directory. Off unless asked for, so tests that need no blobs stay fast.
     */
    blob?: "memory" | "disk";
  } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? freshDataDir();
  const ownsDir = options.dataDir === undefined;
  const base = loadConfig({
    flags: { port: 0, dataDir, logLevel: "silent" },
    env: options.env ?? {},
  });
  const config = {
    ...base,
    tickIntervalMs: 3_600_000,
    blob: {
      ...base.blob,
      embedded: options.blob !== undefined,
      inMemory: options.blob === "memory",
      port: 0,
    },
    autopilot: {
      ...base.autopilot,
      enabled: options.autopilot !== undefined,
      arrivalDelayMs: 1000,
      stepDelayMs: 1000,
      ...options.autopilot,
    },
    ...options.config,
  };
  const running = await startService(config, options.clock ? { clock: options.clock } : {});
  const exchanges: Exchange[] = [];
  const server: TestServer = {
    ...running,
    dataDir,
    clock: running.clock,
    exchanges,
    client: (o = {}) => armClient(running.url, { ...o, exchanges }),
    async operator(method, path, body, key) {
      const res = await fetch(`${running.url}/operator/v1${path}`, {
        method,
        headers: {
          ...(key === null ? {} : { authorization: `Bearer ${key ?? running.operatorKey}` }),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async close() {
      await running.close();
      if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** The official SDK pointed at a local http endpoint (recipe: shared/reference/clients-and-deps.md). */
export function armClient(
  url: string,
  options: {
    subscriptionId?: string;
    apiVersion?: string;
    exchanges?: Exchange[];
    /** The bearer token sent (default: a development token). */
    token?: string;
  } = {},
): StorageImportExport {
  const token = options.token ?? "dummy";
  const credential = {
    getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
  const client = new StorageImportExport(credential, options.subscriptionId ?? SUBSCRIPTION, {
    endpoint: url,
    allowInsecureConnection: true,
    retryOptions: { maxRetries: 0 },
    ...(options.apiVersion ? { apiVersion: options.apiVersion } : {}),
  });
  client.pipeline.removePolicy({ name: "bearerTokenAuthenticationPolicy" });
  client.pipeline.addPolicy(
    {
      name: "fakeBearer",
      async sendRequest(req, next) {
        req.headers.set("Authorization", `Bearer ${token}`);
        return next(req);
      },
    },
    { phase: "Sign" },
  );
  if (options.exchanges)
    client.pipeline.addPolicy(recordingPolicy(options.exchanges), { afterPhase: "Retry" });
  return client;
}
