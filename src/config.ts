/**
 * One typed, validated, frozen configuration. Sources in order of precedence:
 * command-line flags > environment (DRIVEBAY_*) > config file (JSON) > defaults.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { DEFAULT_TIMERS, type Timers } from "./domain/job/lifecycle.ts";
import { parseDuration } from "./domain/duration.ts";
import { parseDriveSize } from "./domain/export/sizes.ts";
import type { LocationInfo } from "./domain/locations.ts";
import type { StorageAccountConfig } from "./domain/storage-accounts.ts";
import { storageAccountConfigProblem } from "./storage/account-config.ts";
import type { AuthSettings, Grant } from "./auth/access.ts";
import { jwksUriProblem, type TokenSettings } from "./auth/tokens.ts";

export type Profile = "emulator" | "service";

/**
 * What a process does (ADR 0013): `all` is the single process; `api` serves the ARM API,
 * the operator API and the portal; `worker` runs transfers, timers and the autopilot.
 */
export type Role = "all" | "api" | "worker";
export const ROLES: readonly Role[] = ["all", "api", "worker"];

/** The embedded Azurite (SPEC §4.3). */
export interface BlobSettings {
  /** Start it (default: on in the emulator profile, off in the service profile). */
  embedded: boolean;
  /** Where it listens (default: the service's host). */
  host: string;
  /** The first port tried; a busy one moves on to the next free one; 0 picks any. */
  port: number;
  /** Keep blobs in memory only (lost when drivebay stops). */
  inMemory: boolean;
  /** Its data folder: `<dataDir>/azurite`. */
  location: string;
}

/** Where jobs are kept: a PostgreSQL database, or (no URL) SQLite in the data directory. */
export interface StoreSettings {
  /** `postgres://…` (also `postgresql://`); absent: `<dataDir>/drivebay.sqlite`. */
  url?: string;
}

export interface Config {
  profile: Profile;
  /** What this process does (default `all`); `api` and `worker` need a PostgreSQL store. */
  role: Role;
  store: StoreSettings;
  host: string;
  port: number;
  dataDir: string;
  timers: Timers;
  /** How often the engine looks for due deadlines. */
  tickIntervalMs: number;
  /**
   * How long a worker's claim on a drive lasts unless renewed: a worker that dies is
   * replaced by another within about this long (default 30 s).
   */
  driveLeaseMs: number;
  /** Blobs of one drive the transfer runner copies at once. */
  importConcurrency: number;
  /** Drives one worker copies at once (default 2; docs/deploying.md, sizing). */
  driveConcurrency: number;
  storageAccounts: StorageAccountConfig[];
  blob: BlobSettings;
  locations: Partial<LocationInfo>[];
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  sqliteSynchronous: "FULL" | "NORMAL";
  /** The operator surface's key; when absent the emulator keeps one in <dataDir>/operator.key. */
  operatorKey?: string;
  /** The simulated datacenter (on in the emulator profile, off in the service profile). */
  autopilot: {
    enabled: boolean;
    arrivalDelayMs: number;
    stepDelayMs: number;
    /** The capacity of the empty dock drives the autopilot brings for export jobs. */
    exportDriveCapacityBytes: number;
  };
  /** Serve https with this certificate and key (PEM files); plain http when absent. */
  tls?: { certFile: string; keyFile: string };
  /** ARM API auth: development (any token; the emulator's default) or token (verified JWTs). */
  auth: AuthSettings & { token?: TokenSettings };
  /** Per-subscription request limits (service profile: on; emulator: off). */
  rateLimit: { enabled: boolean; reads: number; writes: number; windowMs: number };
}

export class ConfigError extends Error {}

export interface ConfigSources {
  flags?: Partial<
    Record<
      | "port"
      | "host"
      | "dataDir"
      | "profile"
      | "config"
      | "logLevel"
      | "blobPort"
      | "store"
      | "role",
      string | number | undefined
    >
  >;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

export const DEFAULT_PORT = 8080;
/** Azurite's own default Blob port, so tools that assume it find the embedded one. */
export const DEFAULT_BLOB_PORT = 10000;

function pick<T>(...values: (T | undefined)[]): T | undefined {
  return values.find((v) => v !== undefined && v !== "");
}

function sizeSetting(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const bytes = parseDriveSize(String(value));
  if (bytes === undefined) {
    throw new ConfigError(
      `${name}: '${String(value)}' is not a size; use a number of bytes or a size like 500GB or 2TB (1 GB = 10^9 bytes).`,
    );
  }
  return bytes;
}

function durationSetting(name: string, value: unknown, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  if (typeof value === "number" && value >= 0) return value;
  const ms = typeof value === "string" ? parseDuration(value) : undefined;
  if (ms === undefined)
    throw new ConfigError(
      `${name}: '${String(value)}' is not a duration (examples: P14D, 14d, 12h).`,
    );
  return ms;
}

/** An on/off setting (on, true, 1, yes / off, false, 0, no). */
function onOff(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === "") return fallback;
  const v = String(value).toLowerCase();
  if (["on", "true", "1", "yes"].includes(v)) return true;
  if (["off", "false", "0", "no"].includes(v)) return false;
  throw new ConfigError(`${name}: '${String(value)}' is not on or off.`);
}

function tcpPort(name: string, value: string | number, hint: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${name}: '${value}' is not a TCP port (0–65535; ${hint}).`);
  }
  return port;
}

export function loadConfig(sources: ConfigSources = {}): Readonly<Config> {
  const env = sources.env ?? process.env;
  const flags = sources.flags ?? {};
  const cwd = sources.cwd ?? process.cwd();
  const configPath = pick(flags.config as string | undefined, env.DRIVEBAY_CONFIG);
  let file: Record<string, unknown> = {};
  if (configPath) {
    try {
      file = JSON.parse(readFileSync(resolve(cwd, configPath), "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`config file '${configPath}': ${(e as Error).message}`);
    }
    if (typeof file !== "object" || file === null || Array.isArray(file)) {
      throw new ConfigError(`config file '${configPath}' must hold a JSON object.`);
    }
  }
  const profile =
    pick(
      flags.profile as string | undefined,
      env.DRIVEBAY_PROFILE,
      file.profile as string | undefined,
    ) ?? "emulator";
  if (profile !== "emulator" && profile !== "service") {
    throw new ConfigError(`profile: '${profile}' is not a profile; use 'emulator' or 'service'.`);
  }
  const portRaw =
    pick<string | number>(flags.port, env.DRIVEBAY_PORT, file.port as number | undefined) ??
    DEFAULT_PORT;
  const port = Number(portRaw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`port: '${portRaw}' is not a TCP port (0–65535; 0 picks a free one).`);
  }
  const host =
    pick(flags.host as string | undefined, env.DRIVEBAY_HOST, file.host as string | undefined) ??
    "127.0.0.1";
  const dataDir = resolve(
    cwd,
    pick(
      flags.dataDir as string | undefined,
      env.DRIVEBAY_DATA_DIR,
      file.dataDir as string | undefined,
    ) ?? ".drivebay",
  );
  const store = storeSettings(
    pick(
      flags.store as string | undefined,
      env.DRIVEBAY_STORE,
      ((file.store ?? {}) as Record<string, unknown>).url as string | undefined,
    ),
  );
  const role = (pick(
    flags.role as string | undefined,
    env.DRIVEBAY_ROLE,
    file.role as string | undefined,
  ) ?? "all") as Role;
  if (!ROLES.includes(role)) {
    throw new ConfigError(
      `role: '${String(role)}' is not a role; use 'all' (one process does everything), 'api' or 'worker'.`,
    );
  }
  const timersFile = (file.timers ?? {}) as Record<string, unknown>;
  const timers: Timers = {
    creatingExpiryMs: durationSetting(
      "timers.creatingExpiry",
      pick(env.DRIVEBAY_CREATING_EXPIRY, timersFile.creatingExpiry as string),
      DEFAULT_TIMERS.creatingExpiryMs,
    ),
    shippingAlertMs: durationSetting(
      "timers.shippingAlert",
      pick(env.DRIVEBAY_SHIPPING_ALERT, timersFile.shippingAlert as string),
      DEFAULT_TIMERS.shippingAlertMs,
    ),
    shippingCloseMs: durationSetting(
      "timers.shippingClose",
      pick(env.DRIVEBAY_SHIPPING_CLOSE, timersFile.shippingClose as string),
      DEFAULT_TIMERS.shippingCloseMs,
    ),
    retentionMs: durationSetting(
      "timers.retention",
      pick(env.DRIVEBAY_RETENTION, timersFile.retention as string),
      DEFAULT_TIMERS.retentionMs,
    ),
  };
  const tickIntervalMs = durationSetting(
    "tickInterval",
    pick(env.DRIVEBAY_TICK_INTERVAL, file.tickInterval as string),
    1000,
  );
  if (tickIntervalMs < 10) throw new ConfigError("tickInterval: must be at least 10ms.");
  const driveLeaseMs = durationSetting(
    "driveLease",
    pick(env.DRIVEBAY_DRIVE_LEASE, file.driveLease as string),
    30_000,
  );
  if (driveLeaseMs < 1000) {
    throw new ConfigError(
      "driveLease: must be at least 1s (workers renew it three times a lease; a short one is lost to a pause).",
    );
  }
  const importConcurrency = Number(
    pick(env.DRIVEBAY_IMPORT_CONCURRENCY, file.importConcurrency as string) ?? 8,
  );
  if (!Number.isInteger(importConcurrency) || importConcurrency < 1 || importConcurrency > 64) {
    throw new ConfigError("importConcurrency: use a whole number from 1 to 64.");
  }
  const driveConcurrency = Number(
    pick(env.DRIVEBAY_DRIVE_CONCURRENCY, file.driveConcurrency as string) ?? 2,
  );
  if (!Number.isInteger(driveConcurrency) || driveConcurrency < 1 || driveConcurrency > 16) {
    throw new ConfigError(
      "driveConcurrency: use a whole number from 1 to 16 (drives one worker copies at once).",
    );
  }
  const blobFile = (file.blob ?? {}) as Record<string, unknown>;
  const blob: BlobSettings = {
    embedded: onOff(
      "blob.embedded",
      pick(env.DRIVEBAY_BLOB_EMBEDDED, blobFile.embedded as string | undefined),
      profile === "emulator",
    ),
    host:
      pick(env.DRIVEBAY_BLOB_HOST, blobFile.host as string | undefined) ??
      (host === "localhost" ? "127.0.0.1" : host),
    port: tcpPort(
      "blob.port",
      pick<string | number>(flags.blobPort, env.DRIVEBAY_BLOB_PORT, blobFile.port as number) ??
        DEFAULT_BLOB_PORT,
      "a busy port moves on to the next free one; 0 picks any",
    ),
    inMemory: onOff(
      "blob.inMemory",
      pick(env.DRIVEBAY_BLOB_IN_MEMORY, blobFile.inMemory as string | undefined),
      false,
    ),
    location: resolve(dataDir, "azurite"),
  };
  const storageAccounts = (file.storageAccounts ?? []) as StorageAccountConfig[];
  if (!Array.isArray(storageAccounts)) {
    throw new ConfigError("storageAccounts: must be an array of objects with a 'name'.");
  }
  const names = new Set<string>();
  for (const a of storageAccounts) {
    const problem = storageAccountConfigProblem(a, blob.embedded);
    if (problem) throw new ConfigError(`storageAccounts: ${problem}.`);
    if (names.has(a.name)) throw new ConfigError(`storageAccounts: '${a.name}' is listed twice.`);
    names.add(a.name);
  }
  roleProblem(role, store, blob);
  const locations = (file.locations ?? []) as Partial<LocationInfo>[];
  if (!Array.isArray(locations) || locations.some((l) => typeof l?.name !== "string")) {
    throw new ConfigError("locations: must be an array of objects with a 'name'.");
  }
  const logLevel = (pick(
    flags.logLevel as string | undefined,
    env.DRIVEBAY_LOG_LEVEL,
    file.logLevel as string | undefined,
  ) ?? "info") as Config["logLevel"];
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) {
    throw new ConfigError(`logLevel: '${logLevel}' is not a log level.`);
  }
  const sqliteSynchronous = (
    pick(env.DRIVEBAY_SQLITE_SYNCHRONOUS, file.sqliteSynchronous as string) ?? "FULL"
  ).toUpperCase();
  if (sqliteSynchronous !== "FULL" && sqliteSynchronous !== "NORMAL") {
    throw new ConfigError("sqliteSynchronous: use FULL or NORMAL.");
  }
  const autopilotFile = (file.autopilot ?? {}) as Record<string, unknown>;
  const autopilotSetting = pick(
    env.DRIVEBAY_AUTOPILOT,
    autopilotFile.enabled as string | undefined,
  );
  const autopilotEnabled =
    autopilotSetting === undefined
      ? profile === "emulator"
      : ["on", "true", "1", "yes"].includes(String(autopilotSetting).toLowerCase())
        ? true
        : ["off", "false", "0", "no"].includes(String(autopilotSetting).toLowerCase())
          ? false
          : (() => {
              throw new ConfigError(`autopilot: '${String(autopilotSetting)}' is not on or off.`);
            })();
  const autopilot = {
    enabled: autopilotEnabled,
    arrivalDelayMs: durationSetting(
      "autopilot.arrivalDelay",
      pick(env.DRIVEBAY_AUTOPILOT_ARRIVAL_DELAY, autopilotFile.arrivalDelay as string),
      5000,
    ),
    stepDelayMs: durationSetting(
      "autopilot.stepDelay",
      pick(env.DRIVEBAY_AUTOPILOT_STEP_DELAY, autopilotFile.stepDelay as string),
      5000,
    ),
    exportDriveCapacityBytes: sizeSetting(
      "autopilot.exportDriveCapacity",
      pick(
        env.DRIVEBAY_AUTOPILOT_EXPORT_DRIVE_CAPACITY,
        autopilotFile.exportDriveCapacity as string | undefined,
      ),
      1e12,
    ),
  };
  const operatorKey = pick(env.DRIVEBAY_OPERATOR_KEY, file.operatorKey as string | undefined);
  if (operatorKey !== undefined && (typeof operatorKey !== "string" || operatorKey.length < 16)) {
    throw new ConfigError("operatorKey: use at least 16 characters.");
  }
  if (profile === "service" && operatorKey === undefined) {
    throw new ConfigError(
      "operatorKey: the service profile needs an operator key (DRIVEBAY_OPERATOR_KEY or 'operatorKey' in the config file).",
    );
  }
  const auth = authSettings(profile, env, (file.auth ?? {}) as Record<string, unknown>, cwd);
  if (auth.mode === "token") {
    const unowned = storageAccounts.filter((a) => !a.subscriptionId || !a.resourceGroup);
    if (unowned.length > 0) {
      throw new ConfigError(
        `storageAccounts: under token auth every account names the subscriptionId and resourceGroup it belongs to, so only that subscription's jobs can use it (missing for ${unowned.map((a) => a.name).join(", ")}).`,
      );
    }
  }
  const rateFile = (file.rateLimit ?? {}) as Record<string, unknown>;
  const count = (name: string, value: unknown, fallback: number) => {
    if (value === undefined || value === "") return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) {
      throw new ConfigError(
        `${name}: '${String(value)}' is not a whole number of requests (1 or more).`,
      );
    }
    return n;
  };
  const rateLimit = Object.freeze({
    enabled: onOff(
      "rateLimit.enabled",
      pick(env.DRIVEBAY_RATE_LIMIT, rateFile.enabled as string | undefined),
      profile === "service",
    ),
    // ARM's documented per-subscription, per-hour limits.
    reads: count(
      "rateLimit.reads",
      pick(env.DRIVEBAY_RATE_LIMIT_READS, rateFile.reads as string),
      12000,
    ),
    writes: count(
      "rateLimit.writes",
      pick(env.DRIVEBAY_RATE_LIMIT_WRITES, rateFile.writes as string),
      1200,
    ),
    windowMs: durationSetting(
      "rateLimit.window",
      pick(env.DRIVEBAY_RATE_LIMIT_WINDOW, rateFile.window as string),
      60 * 60 * 1000,
    ),
  });
  const tlsFile = (file.tls ?? {}) as Record<string, unknown>;
  const certFile = pick(env.DRIVEBAY_TLS_CERT_FILE, tlsFile.certFile as string | undefined);
  const keyFile = pick(env.DRIVEBAY_TLS_KEY_FILE, tlsFile.keyFile as string | undefined);
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(
      "tls: give both the certificate and its key (DRIVEBAY_TLS_CERT_FILE and DRIVEBAY_TLS_KEY_FILE, or tls.certFile and tls.keyFile).",
    );
  }
  const tls =
    certFile && keyFile
      ? Object.freeze({ certFile: resolve(cwd, certFile), keyFile: resolve(cwd, keyFile) })
      : undefined;
  return Object.freeze({
    profile,
    role,
    store,
    operatorKey,
    auth,
    rateLimit,
    ...(tls ? { tls } : {}),
    autopilot: Object.freeze(autopilot),
    host,
    port,
    dataDir,
    timers: Object.freeze(timers),
    tickIntervalMs,
    driveLeaseMs,
    importConcurrency,
    driveConcurrency,
    storageAccounts,
    blob: Object.freeze(blob),
    locations,
    logLevel,
    sqliteSynchronous,
  });
}

/**
 * Split roles share their work through a PostgreSQL store (SQLite belongs to one process),
 * and their blobs through storage every node reaches: the embedded Azurite is private to
 * the process that starts it, so a worker would write blobs that no other node sees.
 */
function roleProblem(role: Role, store: StoreSettings, blob: BlobSettings): void {
  if (role === "all") return;
  if (!store.url) {
    throw new ConfigError(
      `role: '${role}' shares the work with other drivebay processes through a PostgreSQL store, and none is configured; ` +
        "give --store postgres://user:password@host:5432/database (DRIVEBAY_STORE or store.url) to every node, or run one process with --role all.",
    );
  }
  if (blob.embedded) {
    throw new ConfigError(
      `role: a '${role}' node cannot use the embedded Azurite: it is private to this process, so blobs written by one worker would not be seen by the other nodes. ` +
        "Turn it off (DRIVEBAY_BLOB_EMBEDDED=off or blob.embedded: false) and list the storage accounts every node reaches in the config file's storageAccounts " +
        "(Azure Storage, or one Azurite started on its own, each with blobEndpoint and a credential); see docs/deploying.md.",
    );
  }
}

/** The store URL: PostgreSQL's URL form, checked now so a typo fails at start, not later. */
function storeSettings(url: unknown): Readonly<StoreSettings> {
  if (url === undefined) return Object.freeze({});
  const hint =
    "use postgres://user:password@host:5432/database, or leave it unset for SQLite in the data directory";
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    // Shown without its password, if it has one.
    const shown = String(url).replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
    throw new ConfigError(`store.url: '${shown}' is not a URL; ${hint}.`);
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new ConfigError(
      `store.url: '${parsed.protocol}' is not a store drivebay knows (only PostgreSQL); ${hint}.`,
    );
  }
  return Object.freeze({ url: String(url) });
}

function stringList(name: string, value: unknown): string[] {
  if (value === undefined || value === "") return [];
  const list = Array.isArray(value)
    ? value
    : String(value)
        .split(",")
        .map((v) => v.trim());
  if (list.some((v) => typeof v !== "string" || v === "")) {
    throw new ConfigError(`${name}: use a non-empty string or a list of them.`);
  }
  return list as string[];
}

/** `auth`: token auth is the service profile's default and needs issuer, audience and keys. */
function authSettings(
  profile: Profile,
  env: Record<string, string | undefined>,
  file: Record<string, unknown>,
  cwd: string,
): Readonly<Config["auth"]> {
  const mode =
    pick(env.DRIVEBAY_AUTH_MODE, file.mode as string | undefined) ??
    (profile === "service" ? "token" : "development");
  if (mode !== "development" && mode !== "token") {
    throw new ConfigError(`auth.mode: '${mode}' is not a mode; use 'development' or 'token'.`);
  }
  const grantsRaw = file.grants ?? [];
  if (
    !Array.isArray(grantsRaw) ||
    grantsRaw.some(
      (g: Partial<Grant>) =>
        typeof g?.principal !== "string" ||
        g.principal === "" ||
        !Array.isArray(g.subscriptions) ||
        g.subscriptions.some((s) => typeof s !== "string" || s === "") ||
        (g.kind !== undefined && g.kind !== "user" && g.kind !== "app") ||
        (g.issuer !== undefined && (typeof g.issuer !== "string" || g.issuer === "")),
    )
  ) {
    throw new ConfigError(
      'auth.grants: use a list of { "principal": "<object id, or application id>", "kind": "user" (default) or "app", "issuer": "<issuer>" (needed with several issuers), "subscriptions": ["<id>" or "*"] }.',
    );
  }
  for (const g of grantsRaw as Grant[]) {
    // A mail address or user name is a display claim: mutable, never proof of who calls.
    if (g.principal.includes("@")) {
      throw new ConfigError(
        `auth.grants: '${g.principal}' looks like a mail address or user name; grant the user's object id (oid) instead (display claims such as upn and email never authorize).`,
      );
    }
  }
  const grants = grantsRaw as Grant[];
  const subscriptionsClaim = pick(
    env.DRIVEBAY_AUTH_SUBSCRIPTIONS_CLAIM,
    file.subscriptionsClaim as string | undefined,
  );
  if (mode === "development") return Object.freeze({ mode, grants, subscriptionsClaim });
  const path = (v: string | undefined) => (v === undefined ? undefined : resolve(cwd, v));
  const token: TokenSettings = {
    issuers: stringList("auth.issuer", pick(env.DRIVEBAY_AUTH_ISSUER, file.issuer as string)),
    audiences: stringList(
      "auth.audience",
      pick(env.DRIVEBAY_AUTH_AUDIENCE, file.audience as string),
    ),
    jwksFile: path(pick(env.DRIVEBAY_AUTH_JWKS_FILE, file.jwksFile as string | undefined)),
    jwksUri: pick(env.DRIVEBAY_AUTH_JWKS_URI, file.jwksUri as string | undefined),
    publicKeyFile: path(
      pick(env.DRIVEBAY_AUTH_PUBLIC_KEY_FILE, file.publicKeyFile as string | undefined),
    ),
    clockSkewMs: durationSetting("auth.clockSkew", file.clockSkew, 5 * 60 * 1000),
  };
  const missing = [
    token.issuers.length === 0 ? "auth.issuer (DRIVEBAY_AUTH_ISSUER)" : undefined,
    token.audiences.length === 0 ? "auth.audience (DRIVEBAY_AUTH_AUDIENCE)" : undefined,
    !token.jwksFile && !token.jwksUri && !token.publicKeyFile
      ? "auth.jwksUri, auth.jwksFile or auth.publicKeyFile (DRIVEBAY_AUTH_JWKS_URI, …)"
      : undefined,
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new ConfigError(
      `auth: token auth${profile === "service" ? " (the service profile's default)" : ""} needs ${missing.join(", ")}. ` +
        "To accept any bearer token instead (trusted networks only), set auth.mode to 'development' (DRIVEBAY_AUTH_MODE=development).",
    );
  }
  const uriProblem = token.jwksUri === undefined ? undefined : jwksUriProblem(token.jwksUri);
  if (uriProblem) throw new ConfigError(`auth.jwksUri: ${uriProblem}.`);
  for (const g of grants) {
    if (g.issuer === undefined && token.issuers.length > 1) {
      throw new ConfigError(
        `auth.grants: the grant for '${g.principal}' must name its issuer, since several issuers are configured (the same id from another issuer is another principal).`,
      );
    }
    if (g.issuer !== undefined && !token.issuers.includes(g.issuer)) {
      throw new ConfigError(
        `auth.grants: the grant for '${g.principal}' names issuer '${g.issuer}', which is not one of auth.issuer (${token.issuers.join(", ")}).`,
      );
    }
  }
  if (grants.length === 0 && subscriptionsClaim === undefined) {
    throw new ConfigError(
      "auth: with token auth nobody could use any subscription: list auth.grants in the config file, or name the token claim that lists them (auth.subscriptionsClaim).",
    );
  }
  return Object.freeze({ mode, grants, subscriptionsClaim, token: Object.freeze(token) });
}
