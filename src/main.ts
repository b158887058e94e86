/**
 * Wires the concrete parts (store, clock, engine, API) and starts listening. The role
 * (ADR 0013) decides which parts run here: `api` serves the ARM API, the operator API and
 * the portal; `worker` runs the transfers, the timers and the autopilot (and answers only
 * /healthz and /readyz); `all` is both, the single process.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import type { FastifyInstance } from "fastify";
import { createServer } from "node:net";
import { buildApp } from "./app.ts";
import { performance } from "node:perf_hooks";
import { createSecureContext } from "node:tls";
import { Access } from "./auth/access.ts";
import { loadStaticKeys, TokenVerifier } from "./auth/tokens.ts";
import { ConfigError, type Config } from "./config.ts";
import { OffsetClock, SystemClock } from "./domain/clock.ts";
import type { Timers } from "./domain/job/lifecycle.ts";
import { LocationCatalogue } from "./domain/locations.ts";
import { StorageAccountRegistry } from "./domain/storage-accounts.ts";
import { Engine } from "./engine/engine.ts";
import { ClockService, CLOCK_OFFSET_SETTING } from "./service/clock-service.ts";
import { DatacenterService } from "./service/datacenter-service.ts";
import { JobService } from "./service/job-service.ts";
import { PostgresJobStore } from "./store/postgres/postgres-job-store.ts";
import { SqliteJobStore } from "./store/sqlite/sqlite-job-store.ts";
import { PageTokens } from "./api/arm/paging.ts";
import { EmbeddedAzurite } from "./storage/azurite.ts";
import { StorageAccounts } from "./storage/registry.ts";
import { ExportCopier } from "./transfer/export/export-copier.ts";
import { ImportCopier } from "./transfer/import/import-copier.ts";
import { TransferRunner } from "./transfer/runner.ts";
import type { JobStore } from "./store/ports.ts";
import type { Effect } from "./domain/job/lifecycle.ts";
import Fastify from "fastify";

export interface RunningService {
  url: string;
  app: FastifyInstance;
  /** The timers' engine (on workers and single processes). */
  engine?: Engine;
  store: JobStore;
  clock: OffsetClock;
  jobs: JobService;
  datacenter: DatacenterService;
  /** The operator API's key, and the file it was read from or written to (if any). */
  operatorKey: string;
  operatorKeyFile?: string;
  /** The key was made by the first node and is kept in the shared store (split roles). */
  operatorKeyInStore?: boolean;
  /** The autopilot's dock: `<dock>/<driveId>/` is a drive that arrives with its package. */
  dockDir: string;
  /** The storage account registry: endpoints and credentials by account name. */
  storage: StorageAccounts;
  /** The transfer runner, when there is blob storage to copy drives to and from. */
  runner?: TransferRunner;
  /** The embedded Azurite, when it runs (config `blob.embedded`). */
  azurite?: EmbeddedAzurite;
  close(): Promise<void>;
}

/**
 * ARM auth: development, or token auth with the configured keys. Keys at a URL are fetched
 * from now on (an unreachable URL is logged, and fetched again when a token needs it).
 */
function accessOf(config: Readonly<Config>, logger: pino.Logger): Access {
  const token = config.auth.token;
  if (config.auth.mode !== "token") return new Access(config.auth, undefined);
  if (!token) throw new ConfigError("auth: token auth needs its token settings.");
  let keys;
  try {
    keys = loadStaticKeys(token);
  } catch (e) {
    throw new ConfigError(`auth: the signing keys cannot be read: ${(e as Error).message}`);
  }
  const clock = new SystemClock();
  const verifier = new TokenVerifier(
    token,
    keys,
    () => clock.now().getTime(),
    () => performance.now(),
    (message) => logger.warn(message),
  );
  void verifier.refresh();
  return new Access(config.auth, verifier, token.issuers);
}

/** The certificate and key to serve https with, read now (errors name the file). */
function httpsOf(config: Readonly<Config>): { cert: Buffer; key: Buffer } | undefined {
  if (!config.tls) return undefined;
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new ConfigError(`tls: the ${what} ${path} cannot be read: ${(e as Error).message}`);
    }
  };
  const https = {
    cert: read("certificate", config.tls.certFile),
    key: read("key", config.tls.keyFile),
  };
  try {
    createSecureContext(https);
  } catch (e) {
    throw new ConfigError(
      `tls: ${config.tls.certFile} and ${config.tls.keyFile} are not a PEM certificate and its key: ${(e as Error).message}`,
    );
  }
  return https;
}

/**
 * The configured key, or the one kept in `<dataDir>/operator.key` (created on first
 * start); nodes of a split deployment share one, kept in the store.
 */
async function operatorKeyOf(
  config: Readonly<Config>,
  store: JobStore,
): Promise<{ key: string; file?: string; inStore?: boolean }> {
  if (config.operatorKey) return { key: config.operatorKey };
  if (config.role !== "all") {
    const key = await store.setSettingIfAbsent(
      "operator-key",
      randomBytes(24).toString("base64url"),
    );
    return { key, inStore: true };
  }
  const file = join(config.dataDir, "operator.key");
  if (existsSync(file)) return { key: readFileSync(file, "utf8").trim(), file };
  const key = randomBytes(24).toString("base64url");
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return { key, file };
}

/** A worker answers only whether it is alive and ready (for load balancers and systemd). */
function workerApp(
  ready: () => boolean,
  https: { cert: Buffer; key: Buffer } | undefined,
): FastifyInstance {
  const app = Fastify({ ...(https ? { https } : {}), logger: false }) as FastifyInstance;
  app.get("/healthz", async () => ({ status: "ok", role: "worker" }));
  app.get("/readyz", async (_req, reply) => {
    const ok = ready();
    reply.code(ok ? 200 : 503);
    return { status: ok ? "ready" : "starting", role: "worker" };
  });
  return app;
}

/**
 * Fails with the listen error (EADDRINUSE, EACCES, …) when `host:port` cannot be listened
 * on now. Port 0 always can. A port taken between this probe and the real listen still
 * fails there, with the same error.
 */
async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen({ host, port, exclusive: true }, () => resolve());
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

/** The file in the dock that tells a client it sees the same folder as this server. */
export const DOCK_MARKER = ".drivebay-dock";

/**
 * The dock's identity: a random id kept in `<dock>/.drivebay-dock` (made on first start).
 * A CLI that finds the same id in the folder the operator API names writes to the very dock
 * this server reads (`drivebay drive prepare --dock`).
 */
function dockMarker(dockDir: string): string {
  const file = join(dockDir, DOCK_MARKER);
  try {
    writeFileSync(file, `${randomBytes(16).toString("hex")}\n`, { flag: "wx" });
  } catch (e) {
    if ((e as { code?: string }).code !== "EEXIST") throw e;
  }
  return readFileSync(file, "utf8").trim();
}

export async function startService(
  config: Readonly<Config>,
  options: { clock?: OffsetClock } = {},
): Promise<RunningService> {
  const logger = pino({
    level: config.logLevel,
    redact: {
      paths: ["req.headers.authorization", "*.bitLockerKey", "*.connectionString"],
      censor: "[redacted]",
    },
  });
  // Bad key or certificate settings stop the start before anything is opened.
  const access = accessOf(config, logger);
  const https = httpsOf(config);
  // Under token auth every storage account belongs to a subscription (checked before anything starts).
  if (config.auth.mode === "token") {
    const unowned = config.storageAccounts.filter((a) => !a.subscriptionId || !a.resourceGroup);
    if (unowned.length > 0) {
      throw new ConfigError(
        `storageAccounts: under token auth every account names its subscriptionId and resourceGroup (missing for ${unowned.map((a) => a.name).join(", ")}).`,
      );
    }
  }
  // A busy port or a data directory in use stops the start before anything is created or
  // started: the port is probed first, then the store (it holds the data directory's lock)
  // opens before Azurite starts.
  await checkPortFree(config.host, config.port);
  mkdirSync(config.dataDir, { recursive: true });
  const store: JobStore = config.store.url
    ? await PostgresJobStore.open({
        url: config.store.url,
        onError: (err) => logger.warn({ err }, "an idle PostgreSQL connection failed"),
      })
    : new SqliteJobStore({
        file: join(config.dataDir, "drivebay.sqlite"),
        synchronous: config.sqliteSynchronous,
      });
  let azurite: EmbeddedAzurite | undefined;
  try {
    azurite = config.blob.embedded
      ? await EmbeddedAzurite.start({
          host: config.blob.host,
          port: config.blob.port,
          inMemory: config.blob.inMemory,
          location: config.blob.location,
          accountsFile: join(config.dataDir, "storage-accounts.json"),
          logger,
        })
      : undefined;
  } catch (e) {
    await store.close();
    throw e;
  }
  // The service clock keeps any advance made through clock control across restarts.
  const storedOffset = Number((await store.getSetting(CLOCK_OFFSET_SETTING)) ?? 0);
  const clock =
    options.clock ??
    new OffsetClock({ offsetMs: config.profile === "emulator" ? storedOffset : 0 });
  const secret = await store.setSettingIfAbsent(
    "paging-token-secret",
    randomBytes(32).toString("base64"),
  );
  const timers: Timers = {
    ...config.timers,
    ...(config.autopilot.enabled
      ? {
          autopilot: {
            arrivalMs: config.autopilot.arrivalDelayMs,
            stepMs: config.autopilot.stepDelayMs,
          },
        }
      : {}),
  };
  const locations = new LocationCatalogue(undefined, config.locations);
  // Under development auth the emulator serves every account name to everyone (shared by
  // name); under token auth only registered accounts, each in its own subscription.
  const storageAccounts = new StorageAccountRegistry(
    config.profile === "emulator" && config.auth.mode !== "token",
    config.storageAccounts,
  );
  const storage = new StorageAccounts({
    configured: config.storageAccounts,
    embedded: azurite,
    createOnFirstUse: config.profile === "emulator",
  });
  const works = config.role !== "api";
  const serves = config.role !== "worker";
  // With blob storage to write to, attached drives are copied by the transfer runner.
  const transfers = azurite !== undefined || config.storageAccounts.length > 0;
  const runner =
    transfers && works
      ? new TransferRunner({
          store,
          clock,
          timers,
          storage,
          logger,
          copiers: [new ImportCopier(), new ExportCopier(store)],
          blobConcurrency: config.importConcurrency,
          driveConcurrency: config.driveConcurrency,
          leaseMs: config.driveLeaseMs,
        })
      : undefined;
  // Every use case hands the effects of what it stored (drives to copy or stop) to the
  // runners: this process's and every other worker's, through the store's wake-ups.
  // A wake-up that is lost is made up by the runners' polling.
  const effects = transfers
    ? (job: { uid: string }, all: readonly Effect[]) => {
        const drives = all.filter((e) => e.kind === "startCopy" || e.kind === "stopCopy");
        if (drives.length === 0) return;
        store.wakeups
          .publish("effects", JSON.stringify({ uid: job.uid, effects: drives }))
          .catch((err: unknown) => logger.warn({ err }, "the workers were not woken"));
      }
    : undefined;
  const unsubscribe: (() => void)[] = [];
  if (runner) {
    unsubscribe.push(
      store.wakeups.subscribe("effects", (payload) => {
        const { uid, effects: drives } = JSON.parse(payload) as { uid: string; effects: Effect[] };
        runner.carryOut({ uid }, drives);
      }),
    );
  }
  // The service clock follows advances made on other nodes: woken at once, and read
  // again before every sweep and every few seconds in case a wake-up was lost.
  const syncClock = async () => {
    if (options.clock || config.profile !== "emulator") return;
    clock.catchUp(Number((await store.getSetting(CLOCK_OFFSET_SETTING)) ?? 0));
  };
  if (!options.clock && config.profile === "emulator") {
    unsubscribe.push(store.wakeups.subscribe("clock", (offset) => clock.catchUp(Number(offset))));
  }
  const jobs = new JobService({ store, clock, timers, locations, storageAccounts, effects });
  const datacenter = new DatacenterService({
    store,
    clock,
    timers,
    autoTransfer: transfers,
    autoExportTransfer: transfers,
    effects,
  });
  const dockDir = join(config.dataDir, "dock");
  mkdirSync(dockDir, { recursive: true });
  const dockId = dockMarker(dockDir);
  const engine = works
    ? new Engine({
        store,
        clock,
        timers,
        logger,
        dockDir,
        transfers,
        exportTransfers: transfers,
        exportDriveCapacityBytes: config.autopilot.exportDriveCapacityBytes,
        effects,
        beforeSweep: syncClock,
      })
    : undefined;
  const clockService = new ClockService({
    clock,
    store,
    enabled: config.profile === "emulator",
    ...(engine ? { tick: () => engine.tick() } : {}),
  });
  let operatorKey: Awaited<ReturnType<typeof operatorKeyOf>>;
  try {
    operatorKey = await operatorKeyOf(config, store);
  } catch (e) {
    await store.close();
    await azurite?.close();
    throw e;
  }
  let ready = false;
  const isReady = () => ready && (azurite?.running ?? true);
  const app = serves
    ? buildApp({
        jobs,
        store,
        locations,
        tokens: new PageTokens(Buffer.from(secret, "base64")),
        logger,
        ready: isReady,
        operator: {
          datacenter,
          clock: clockService,
          operatorKey: operatorKey.key,
          storage,
          // The dock is this process's when it runs the autopilot (role all); an API node's
          // workers read their own data directories' docks.
          dock: { path: dockDir, local: works, id: dockId },
        },
        blobs: storage,
        access,
        ...(https ? { https } : {}),
        ...(config.rateLimit.enabled
          ? {
              rateLimit: {
                reads: config.rateLimit.reads,
                writes: config.rateLimit.writes,
                windowMs: config.rateLimit.windowMs,
              },
            }
          : {}),
      })
    : workerApp(isReady, https);
  let address: string;
  try {
    // Deadlines that passed while the service was down fire before the first request.
    await engine?.tick();
    address = await app.listen({ port: config.port, host: config.host });
  } catch (e) {
    for (const stop of unsubscribe) stop();
    await app.close().catch(() => undefined);
    await store.close();
    await azurite?.close();
    throw e;
  }
  engine?.start(config.tickIntervalMs);
  // API nodes have no sweep to read the clock before: they read it now and then.
  const clockPoll = engine
    ? undefined
    : setInterval(
        () => void syncClock().catch(() => undefined),
        Math.max(config.tickIntervalMs, 1000),
      );
  clockPoll?.unref();
  // Drives left Transferring by a stop or a crash resume here.
  runner?.start(Math.min(config.tickIntervalMs, 500));
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
    datacenter,
    operatorKey: operatorKey.key,
    operatorKeyFile: operatorKey.file,
    ...(operatorKey.inStore ? { operatorKeyInStore: true } : {}),
    dockDir,
    runner,
    storage,
    ...(azurite ? { azurite } : {}),
    async close() {
      if (closed) return;
      closed = true;
      ready = false;
      if (clockPoll) clearInterval(clockPoll);
      for (const stop of unsubscribe) stop();
      await engine?.stop();
      // The runner stops at a blob boundary; what is left resumes on the next start.
      await runner?.stop();
      // Fastify's close waits for in-flight requests to finish.
      await app.close();
      await store.close();
      await azurite?.close();
    },
  };
}
