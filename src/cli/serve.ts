/**
 * `drivebay serve`: load the config (flags > env > file > defaults), start the service,
 * print where it listens and how to connect (stderr; stdout carries the JSON request logs),
 * and shut down gracefully on SIGINT/SIGTERM.
 */
import { realpathSync } from "node:fs";
import { delimiter, join } from "node:path";
import { ConfigError, loadConfig, type Config, type ConfigSources } from "../config.ts";
// The service itself (Fastify, the stores, Azurite …) is loaded only by `serve` (see serve()).
import type { RunningService } from "../main.ts";
import { CliFailure, DEFAULT_SUBSCRIPTION } from "./client.ts";
import { formatDuration, type Io } from "./output.ts";

export type ServeFlags = NonNullable<ConfigSources["flags"]>;

/** Resolves with the first SIGINT/SIGTERM; a second one ends the process at once. */
export interface StopSignal {
  received: Promise<string>;
  dispose(): void;
}

export function processSignals(io: Io): StopSignal {
  let first = true;
  let resolve!: (s: string) => void;
  const received = new Promise<string>((r) => (resolve = r));
  const onSignal = (signal: NodeJS.Signals) => {
    if (first) {
      first = false;
      resolve(signal);
      return;
    }
    io.err(`received ${signal} again; exiting without waiting\n`);
    process.exit(1);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    received,
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

function configFrom(flags: ServeFlags): Readonly<Config> {
  try {
    return loadConfig({ flags });
  } catch (e) {
    if (e instanceof ConfigError) throw new CliFailure(`drivebay serve: ${e.message}`, 2);
    throw e;
  }
}

/** A listen or data-directory error the user can fix with a flag, as a usage failure (exit 2). */
function listenFailure(e: unknown, config: Readonly<Config>): CliFailure | undefined {
  const { code, syscall, path } = e as { code?: string; syscall?: string; path?: string };
  const where = `${config.host}:${config.port}`;
  // A file the service cannot create or open (EACCES, EROFS, ENOTDIR, ENOSPC …).
  if (path !== undefined && syscall !== "listen" && syscall !== "bind") {
    return new CliFailure(
      `drivebay serve: cannot use the data directory ${config.dataDir}: ${syscall ?? "access"} ` +
        `${path} failed (${code}); fix its permissions or pick another with --data-dir or DRIVEBAY_DATA_DIR`,
      2,
    );
  }
  switch (code) {
    case "EADDRINUSE":
      return new CliFailure(
        `drivebay serve: port ${config.port} is in use; pick another with --port or DRIVEBAY_PORT`,
        2,
      );
    case "EACCES":
      return new CliFailure(
        `drivebay serve: not permitted to listen on ${where}; pick a port above 1023 with --port or DRIVEBAY_PORT`,
        2,
      );
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new CliFailure(
        `drivebay serve: cannot listen on host '${config.host}' (${code}); pick another with --host or DRIVEBAY_HOST`,
        2,
      );
    default:
      return undefined;
  }
}

/** Where the operator key comes from; a configured key is printed only in the emulator profile. */
function operatorKeyLine(
  running: Pick<RunningService, "operatorKey" | "operatorKeyFile" | "operatorKeyInStore">,
  config: Readonly<Config>,
): string {
  if (running.operatorKeyInStore) {
    return `${running.operatorKey} (kept in the store: the same on every node)`;
  }
  if (running.operatorKeyFile) {
    return `${running.operatorKey} (saved in ${running.operatorKeyFile})`;
  }
  if (config.profile === "emulator") return `${running.operatorKey} (configured)`;
  return "configured (DRIVEBAY_OPERATOR_KEY or the config file's operatorKey; not shown)";
}

/** How the ARM API authenticates callers. */
function authLine(config: Readonly<Config>): string {
  const token = config.auth.token;
  if (config.auth.mode !== "token" || !token) {
    return "development (any bearer token, every subscription; trusted networks only)";
  }
  const keys = token.jwksUri ?? token.jwksFile ?? token.publicKeyFile;
  return `token (issuer ${token.issuers.join(", ")}; audience ${token.audiences.join(", ")}; keys ${keys})`;
}

/** The emulator's simulated datacenter: the dock folder and whether the autopilot runs. */
function datacenterLines(dockDir: string, config: Readonly<Config>): string {
  if (config.profile !== "emulator") return "";
  const { enabled, arrivalDelayMs, stepDelayMs } = config.autopilot;
  const autopilot = enabled
    ? `on (packages arrive ${formatDuration(arrivalDelayMs)} after Shipping, ` +
      `then a step every ${formatDuration(stepDelayMs)}; DRIVEBAY_AUTOPILOT=off to stop it)`
    : "off (move jobs with drivebay operator …)";
  return `  dock:         ${dockDir} (<dock>/<driveId>/ is a drive that arrives)
  autopilot:    ${autopilot}
`;
}

/** Where imported blobs go: the embedded Azurite's endpoint, or the configured accounts. */
function blobLines(
  running: Partial<Pick<RunningService, "azurite" | "storage">>,
  config: Readonly<Config>,
): string {
  const { azurite } = running;
  if (azurite) {
    const kept = azurite.inMemory ? "in memory" : `on disk in ${config.blob.location}`;
    const busy =
      config.blob.port !== 0 && azurite.port !== config.blob.port
        ? `; port ${config.blob.port} was busy`
        : "";
    return `  blob storage: ${azurite.blobEndpoint("<account>")} (embedded Azurite, ${kept}${busy})
`;
  }
  const count = running.storage?.list().length ?? 0;
  return `  blob storage: ${count} configured storage account${count === 1 ? "" : "s"} (no embedded Azurite)
`;
}

/** What this process does, when it is one of several. */
function roleLine(config: Readonly<Config>): string {
  switch (config.role) {
    case "api":
      return "  role:         api (ARM API, operator API, portal; the workers run transfers and timers)\n";
    case "worker":
      return "  role:         worker (transfers, timers, autopilot; only /healthz and /readyz are served)\n";
    default:
      return "";
  }
}

const BIN = join(import.meta.dirname, "..", "..", "bin", "drivebay.js");

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/**
 * How to run this CLI from a shell, as printed: `drivebay` when that name on the PATH is
 * this very program (npm link, a global install); otherwise `npx drivebay`, which finds
 * the project's own binary from inside the project folder.
 */
export function cliCommand(path = process.env.PATH ?? ""): { name: string; note: string } {
  const self = realOrUndefined(BIN);
  for (const dir of path.split(delimiter)) {
    if (dir && self && realOrUndefined(join(dir, "drivebay")) === self) {
      return { name: "drivebay", note: "" };
    }
  }
  return {
    name: "npx drivebay",
    note: " (in the project folder; `npm link` there puts `drivebay` on your PATH)",
  };
}

export function banner(
  running: Pick<RunningService, "url" | "operatorKey" | "operatorKeyFile" | "dockDir"> &
    Partial<Pick<RunningService, "azurite" | "storage" | "operatorKeyInStore">>,
  config: Readonly<Config>,
  redactUrl: (url: string) => string,
): string {
  const { url } = running;
  if (config.role === "worker") {
    return `drivebay worker listening on ${url} (only /healthz and /readyz)
${roleLine(config)}  profile:      ${config.profile}
  data dir:     ${config.dataDir}
  store:        PostgreSQL ${redactUrl(config.store.url ?? "")}
${blobLines(running, config)}${datacenterLines(running.dockDir, config)}Stop with Ctrl+C (SIGINT) or SIGTERM; a drive being copied is resumed by another worker.
`;
  }
  const command = cliCommand();
  const dataDirFlag = running.operatorKeyFile ? ` --data-dir ${config.dataDir}` : "";
  return `drivebay listening on ${url}
${roleLine(config)}  profile:      ${config.profile}
  data dir:     ${config.dataDir}
  store:        ${config.store.url ? `PostgreSQL ${redactUrl(config.store.url)}` : "SQLite in the data dir"}
  operator key: ${operatorKeyLine(running, config)}
  auth:         ${authLine(config)}
${blobLines(running, config)}${datacenterLines(running.dockDir, config)}
Portal: ${url}/portal/ (open it in a browser)

${connectLines(url, config)}Or from a shell${command.note}:
  ${command.name} job list --endpoint ${url}
  ${command.name} operator inbound --endpoint ${url}${dataDirFlag}   (the datacenter side)
  ${command.name} storage show <account> --output json --endpoint ${url}${dataDirFlag}   (imported blobs)
Stop with Ctrl+C (SIGINT) or SIGTERM.
`;
}

/** How to connect: the SDK snippet with a development token, or what token auth expects. */
function connectLines(url: string, config: Readonly<Config>): string {
  const token = config.auth.token;
  if (config.auth.mode === "token" && token) {
    return `Connect with the Azure SDKs and a credential for audience ${token.audiences[0]}
(issued by ${token.issuers[0]}); the CLI takes the token with --token or DRIVEBAY_TOKEN.

`;
  }
  return `Connect with the JS SDK (@azure/arm-storageimportexport):

  import { StorageImportExport } from "@azure/arm-storageimportexport";
  const client = new StorageImportExport(
    { getToken: async () => ({ token: "dev", expiresOnTimestamp: Date.now() + 3_600_000 }) },
    "${DEFAULT_SUBSCRIPTION}",
    { endpoint: "${url}", allowInsecureConnection: ${url.startsWith("http:")} },
  );
  // The stock bearer policy refuses http; send the token with a plain one instead.
  client.pipeline.removePolicy({ name: "bearerTokenAuthenticationPolicy" });
  client.pipeline.addPolicy(
    {
      name: "devBearer",
      sendRequest: (req, next) => (req.headers.set("Authorization", "Bearer dev"), next(req)),
    },
    { phase: "Sign" },
  );

`;
}

export async function serve(flags: ServeFlags, io: Io, stop: StopSignal): Promise<void> {
  try {
    const config = configFrom(flags);
    const [
      { startService },
      { EmbeddedAzuriteError },
      { redactUrl, StoreUnavailableError },
      { StoreInUseError },
    ] = await Promise.all([
      import("../main.ts"),
      import("../storage/azurite.ts"),
      import("../store/postgres/postgres-job-store.ts"),
      import("../store/sqlite/sqlite-job-store.ts"),
    ]);
    const running = await startService(config).catch((e: unknown) => {
      if (e instanceof EmbeddedAzuriteError) {
        throw new CliFailure(`drivebay serve: ${e.message}`, e.code === "EADDRINUSE" ? 2 : 1);
      }
      if (
        e instanceof StoreInUseError ||
        e instanceof StoreUnavailableError ||
        e instanceof ConfigError
      ) {
        throw new CliFailure(`drivebay serve: ${e.message}`, 2);
      }
      throw listenFailure(e, config) ?? e;
    });
    io.err(banner(running, config, redactUrl));
    const signal = await stop.received;
    io.err(`received ${signal}; shutting down after in-flight requests finish\n`);
    await running.close();
    io.err("drivebay stopped\n");
  } finally {
    stop.dispose();
  }
}
