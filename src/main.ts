/** Wires the concrete parts (SQLite store, clock, engine, API) and starts listening. */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import pino from "pino";
import type { FastifyInstance } from "fastify";
import { buildApp } from "./app.ts";
import type { Config } from "./config.ts";
import { OffsetClock, type Clock } from "./domain/clock.ts";
import { LocationCatalogue } from "./domain/locations.ts";
import { StorageAccountRegistry } from "./domain/storage-accounts.ts";
import { Engine } from "./engine/engine.ts";
import { JobService } from "./service/job-service.ts";
import { SqliteJobStore } from "./store/sqlite/sqlite-job-store.ts";
import { PageTokens } from "./api/arm/paging.ts";
import type { JobStore } from "./store/ports.ts";

export interface RunningService {
  url: string;
  app: FastifyInstance;
  engine: Engine;
  store: JobStore;
  clock: Clock;
  jobs: JobService;
  close(): Promise<void>;
}

export async function startService(
  config: Readonly<Config>,
  options: { clock?: Clock; listen?: boolean } = {},
): Promise<RunningService> {
  const logger = pino({
    level: config.logLevel,
    redact: {
      paths: ["req.headers.authorization", "*.bitLockerKey", "*.connectionString"],
      censor: "[redacted]",
    },
  });
  const clock = options.clock ?? new OffsetClock();
  const store = new SqliteJobStore({
    file: join(config.dataDir, "drivebay.sqlite"),
    synchronous: config.sqliteSynchronous,
  });
  const secret = await store.setSettingIfAbsent(
    "paging-token-secret",
    randomBytes(32).toString("base64"),
  );
  const locations = new LocationCatalogue(undefined, config.locations);
  const storageAccounts = new StorageAccountRegistry(
    config.profile === "emulator",
    config.storageAccounts,
  );
  const jobs = new JobService({ store, clock, timers: config.timers, locations, storageAccounts });
  const engine = new Engine({ store, clock, timers: config.timers, logger });
  let ready = false;
  const app = buildApp({
    jobs,
    store,
    locations,
    tokens: new PageTokens(Buffer.from(secret, "base64")),
    logger,
    ready: () => ready,
  });
  let address: string;
  try {
    // Deadlines that passed while the service was down fire before the first request.
    await engine.tick();
    address = await app.listen({ port: config.port, host: config.host });
  } catch (e) {
    await app.close().catch(() => undefined);
    await store.close();
    throw e;
  }
  engine.start(config.tickIntervalMs);
  ready = true;
  const url = address.replace("[::1]", "localhost");
  let closed = false;
  return {
    url,
    app,
    engine,
    store,
    clock,
    jobs,
    async close() {
      if (closed) return;
      closed = true;
      ready = false;
      await engine.stop();
      // Fastify's close waits for in-flight requests to finish.
      await app.close();
      await store.close();
    },
  };
}
