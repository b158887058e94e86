/**
 * The embedded Azurite (SPEC §4.3): the Blob endpoint `npm start` imports into with no
 * configuration. It runs in a child process (`azurite-child.mjs`), so Azurite's request
 * handling and hashing never share drivebay's event loop.
 *
 * Accounts: every account the emulator serves gets a generated key, kept in
 * `<dataDir>/storage-accounts.json`. Azurite reads its accounts from `AZURITE_ACCOUNTS` in
 * its own environment; the child takes the list over IPC (at start, and again whenever an
 * account is added) and makes Azurite re-read it, so a new account is served at once,
 * without a restart (a restart would cut transfers in flight and, in memory, lose
 * every blob).
 *
 * The child ends with drivebay: `close()` stops it in order (Azurite saves its on-disk
 * index), and if drivebay dies the child sees its IPC channel close and stops itself.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { ACCOUNT_NAME } from "./account-config.ts";
import { AccountKeyFile, AccountKeyFileError } from "./account-keys.ts";

export interface AzuriteLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface EmbeddedAzuriteOptions {
  /** The address Azurite listens on. */
  host: string;
  /** The first port tried; a busy one moves on to the next free one. 0: any free port. */
  port: number;
  /** Keep blobs in memory only (lost when Azurite stops). */
  inMemory: boolean;
  /** Azurite's data folder (`<dataDir>/azurite`); its working directory when in memory. */
  location: string;
  /** Where the account keys are kept (`<dataDir>/storage-accounts.json`). */
  accountsFile: string;
  logger?: AzuriteLogger;
  /** How long Azurite may take to listen (default 60 s: a large on-disk index loads slowly). */
  startTimeoutMs?: number;
}

/** Azurite did not start (or could not be reached); the message says why, with its output. */
export class EmbeddedAzuriteError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "EmbeddedAzuriteError";
  }
}

const CHILD_ENTRY = fileURLToPath(new URL("./azurite-child.mjs", import.meta.url));
/** Ports tried after a busy one before giving up. */
const PORT_SCAN = 100;
const TAIL_BYTES = 16 * 1024;
const ACK_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;
const MAX_RESTARTS = 5;
/** Environment passed through to Azurite; nothing else (AZURITE_DB would switch it to SQL). */
const PASSED_ENV = ["PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL"];

type ChildMessage =
  | { type: "listening"; port: number }
  | { type: "accounts-ok"; id: number }
  | { type: "failed"; code?: string; message: string };

/** The account list in Azurite's `AZURITE_ACCOUNTS` format: `name1:key1;name2:key2`. */
function accountsVariable(keys: AccountKeyFile): string {
  return keys
    .entries()
    .map(([name, key]) => `${name}:${key}`)
    .join(";");
}

/** The host a client uses to reach a server listening on `bindHost`. */
export function advertisedHost(bindHost: string): string {
  if (bindHost === "" || bindHost === "0.0.0.0" || bindHost === "::") return "127.0.0.1";
  return bindHost.includes(":") ? `[${bindHost}]` : bindHost;
}

/** True when nothing listens on host:port (Azurite may still lose a race for it). */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** Checks that the azurite package is installed (it is a dependency, but may be pruned). */
function checkInstalled(): void {
  try {
    createRequire(import.meta.url).resolve("azurite/dist/src/blob/BlobServerFactory.js");
  } catch {
    throw new EmbeddedAzuriteError(
      "the embedded Azurite needs the 'azurite' package: run `npm install` in drivebay's folder, " +
        "or turn the embedded Azurite off (DRIVEBAY_BLOB_EMBEDDED=off) and configure storageAccounts.",
      "EAZURITEMISSING",
    );
  }
}

export class EmbeddedAzurite {
  private readonly keys: AccountKeyFile;
  private child: ChildProcess | undefined;
  private currentPort = 0;
  private tail = "";
  private nextId = 1;
  private readonly acks = new Map<number, (ok: boolean) => void>();
  /** Account additions run one at a time, in order. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Set while the child is (re)starting after an unexpected exit. */
  private restarting: Promise<void> | undefined;
  private closing = false;

  private constructor(private readonly options: EmbeddedAzuriteOptions) {
    this.keys = new AccountKeyFile(options.accountsFile);
  }

  /** Starts Azurite on the configured port, or the next free one; resolves once it listens. */
  static async start(options: EmbeddedAzuriteOptions): Promise<EmbeddedAzurite> {
    checkInstalled();
    mkdirSync(options.location, { recursive: true });
    let azurite: EmbeddedAzurite;
    try {
      azurite = new EmbeddedAzurite(options);
    } catch (e) {
      if (!(e instanceof AccountKeyFileError)) throw e;
      throw new EmbeddedAzuriteError(
        `the embedded Azurite's account keys: ${e.message}`,
        "EKEYFILE",
      );
    }
    await azurite.startScanning();
    return azurite;
  }

  /** The port Azurite listens on. */
  get port(): number {
    return this.currentPort;
  }

  /** The host clients use in URLs. */
  get host(): string {
    return advertisedHost(this.options.host);
  }

  /** The Azurite process id (undefined while it is not running). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.restarting === undefined;
  }

  get inMemory(): boolean {
    return this.options.inMemory;
  }

  /** The Blob service root: `http://127.0.0.1:<port>` (accounts are its first path segment). */
  get serviceUrl(): string {
    return `http://${this.host}:${this.currentPort}`;
  }

  /** An account's Blob endpoint (path style, as Azurite serves it). */
  blobEndpoint(account: string): string {
    return `${this.serviceUrl}/${account}`;
  }

  /** The accounts created so far. */
  accountNames(): string[] {
    return this.keys.names();
  }

  /**
   * The account's key. An account seen for the first time gets a generated key, stored
   * before Azurite learns it; the promise resolves once Azurite serves the account.
   */
  ensureAccount(name: string): Promise<string> {
    // The name goes into Azurite's `name:key;…` list: nothing but Azure's characters.
    if (!ACCOUNT_NAME.test(name)) {
      return Promise.reject(new RangeError(`'${name}' is not a storage account name`));
    }
    const existing = this.keys.get(name);
    if (existing !== undefined && !this.restarting) return Promise.resolve(existing);
    const run = this.queue.then(async () => {
      await this.restarting;
      const { key, created } = this.keys.getOrCreate(name);
      if (created) {
        await this.pushAccounts();
        this.options.logger?.info(
          { account: name },
          "storage account created in the embedded Azurite",
        );
      }
      return key;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Stops Azurite (it saves its on-disk index first); safe to call twice. */
  async close(): Promise<void> {
    this.closing = true;
    await this.restarting?.catch(() => undefined);
    const child = this.child;
    this.child = undefined;
    if (child) await stopChild(child);
  }

  private async startScanning(): Promise<void> {
    const { host, port } = this.options;
    const last = port === 0 ? 0 : Math.min(port + PORT_SCAN, 65535);
    let candidate = port;
    for (;;) {
      if (candidate !== 0 && !(await isPortFree(host, candidate))) {
        if (candidate >= last) break;
        candidate += 1;
        continue;
      }
      try {
        await this.spawnOn(candidate);
        if (port !== 0 && candidate !== port) {
          this.options.logger?.info(
            { port: candidate, busy: port },
            "blob port was busy; the embedded Azurite took the next free one",
          );
        }
        return;
      } catch (e) {
        // Another process took the port between the probe and Azurite's listen: go on.
        if ((e as EmbeddedAzuriteError).code !== "EADDRINUSE" || candidate === 0) throw e;
        if (candidate >= last) break;
        candidate += 1;
      }
    }
    throw new EmbeddedAzuriteError(
      `the embedded Azurite found no free port from ${port} to ${last} on ${host}; ` +
        `pick another with --blob-port or DRIVEBAY_BLOB_PORT`,
      "EADDRINUSE",
    );
  }

  /** Spawns the child on `port` and resolves once it listens. */
  private async spawnOn(port: number): Promise<void> {
    const { host, inMemory, location } = this.options;
    const args = [
      CHILD_ENTRY,
      "--blobHost",
      host,
      "--blobPort",
      String(port),
      "--skipApiVersionCheck",
      "--disableTelemetry",
      "--loose",
      "--silent",
      // Accounts are always the first path segment, whatever host name clients use.
      "--disableProductStyleUrl",
      ...(inMemory ? ["--inMemoryPersistence"] : ["--location", location]),
    ];
    const env: Record<string, string> = {};
    for (const name of PASSED_ENV) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    this.tail = "";
    const child = spawn(process.execPath, args, {
      cwd: location,
      env,
      // Its own process group: a terminal's Ctrl+C goes to drivebay, which stops it in order.
      detached: true,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const keep = (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString("utf8")).slice(-TAIL_BYTES);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    child.on("message", (m: ChildMessage) => {
      if (m?.type === "accounts-ok") {
        this.acks.get(m.id)?.(true);
        this.acks.delete(m.id);
      }
    });
    child.once("exit", () => {
      for (const resolve of this.acks.values()) resolve(false);
      this.acks.clear();
    });
    const where = `${host}:${port}`;
    const data = inMemory ? "" : ` (data in ${location})`;
    const timeoutMs = this.options.startTimeoutMs ?? 60_000;
    try {
      const listening = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(this.failure(`did not listen on ${where} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        const done = () => {
          clearTimeout(timer);
          child.off("message", onMessage);
          child.off("exit", onExit);
          child.off("error", onError);
        };
        const onMessage = (m: ChildMessage) => {
          if (m?.type === "listening") {
            done();
            resolve(m.port);
          } else if (m?.type === "failed") {
            done();
            // Its output (the stack) arrives on stderr after this message: wait for it.
            const why = `did not start on ${where}${data}: ${m.message}`;
            const settle = () => reject(this.failure(why, m.code));
            const timer = setTimeout(settle, 2000);
            child.once("close", () => {
              clearTimeout(timer);
              settle();
            });
          }
        };
        const onExit = (code: number | null, signal: string | null) => {
          done();
          reject(this.failure(`exited (${signal ?? `code ${code}`}) before listening on ${where}`));
        };
        const onError = (e: Error) => {
          done();
          reject(this.failure(`could not be started: ${e.message}`));
        };
        child.on("message", onMessage);
        child.once("exit", onExit);
        child.once("error", onError);
        // The accounts go over IPC, not in the environment: no size limit, not in /proc.
        child.send({ type: "start", accounts: accountsVariable(this.keys) });
      });
      this.child = child;
      this.currentPort = listening;
      child.once("exit", (code, signal) => this.onUnexpectedExit(child, code, signal));
      this.options.logger?.info(
        { port: listening, inMemory, azuritePid: child.pid },
        "embedded Azurite listening",
      );
    } catch (e) {
      await stopChild(child);
      throw e;
    }
  }

  private failure(what: string, code?: string): EmbeddedAzuriteError {
    const output = this.tail.trim();
    return new EmbeddedAzuriteError(
      `the embedded Azurite ${what}${output ? `\nAzurite's output:\n${output}` : ""}`,
      code,
    );
  }

  /** Sends the whole account list and waits until Azurite has re-read it. */
  private async pushAccounts(): Promise<void> {
    const child = this.child;
    if (!child?.connected) throw this.failure("is not running");
    const id = this.nextId++;
    // Resolved by the child's answer, its exit (see spawnOn) or the timeout.
    let timer: NodeJS.Timeout | undefined;
    const acked = new Promise<boolean>((resolve) => {
      this.acks.set(id, resolve);
      timer = setTimeout(() => resolve(false), ACK_TIMEOUT_MS);
    });
    child.send({ type: "accounts", id, value: accountsVariable(this.keys) });
    const ok = await acked;
    clearTimeout(timer);
    this.acks.delete(id);
    if (!ok) throw this.failure("did not take the new account list");
  }

  /** Azurite died on its own: log it and start it again on the same port (URLs stay valid). */
  private onUnexpectedExit(child: ChildProcess, code: number | null, signal: string | null): void {
    if (this.closing || this.child !== child) return;
    this.child = undefined;
    const output = this.tail.trim().slice(-2000);
    this.options.logger?.error(
      { code, signal, output },
      "the embedded Azurite stopped unexpectedly; restarting it",
    );
    this.restarting = (async () => {
      for (let attempt = 1; attempt <= MAX_RESTARTS && !this.closing; attempt++) {
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
        if (this.closing) return;
        try {
          await this.spawnOn(this.currentPort);
          return;
        } catch (e) {
          this.options.logger?.error(
            { err: e, attempt },
            "the embedded Azurite could not be restarted",
          );
        }
      }
    })().finally(() => {
      this.restarting = undefined;
    });
  }
}

/** Asks the child to stop, then kills it if it does not within STOP_TIMEOUT_MS. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  if (child.connected) child.send({ type: "shutdown" });
  else child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
    if (child.connected) child.disconnect();
  }
}
