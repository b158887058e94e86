/**
 * Shared by the CLI tests: the real binary as a child process, a real `drivebay serve` on
 * port 0 with a fresh data directory, and in-process runs of `run()`.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../../src/cli/index.ts";

export const BIN = fileURLToPath(new URL("../../bin/drivebay.js", import.meta.url));

// The developer's own DRIVEBAY_* settings must not leak into these runs (or the children).
for (const key of Object.keys(process.env)) {
  if (key.startsWith("DRIVEBAY_")) delete process.env[key];
}

export interface Result {
  code: number | null;
  out: string;
  err: string;
}

/** The real binary as a child process (extra environment and a working directory optional). */
export function bin(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: options.cwd, env: { ...process.env, ...options.env } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
        resolve({ code, out: stdout, err: stderr });
      },
    );
  });
}

/** `run()` in-process, capturing what it prints. */
export async function runCli(args: string[]): Promise<Result> {
  let out = "";
  let err = "";
  const code = await run(args, {
    io: { out: (t) => void (out += t), err: (t) => void (err += t) },
  });
  return { code, out, err };
}

export interface Served {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  dataDir: string;
  /** The temporary directory holding the data directory (removed by stop). */
  root: string;
}

/**
 * `drivebay serve --port 0`; resolves once it has printed where it listens. The data
 * directory is a fresh temporary one, or `<fresh temporary>/<dataDirName>` when named.
 */
export async function startServe(
  options: { args?: string[]; env?: Record<string, string>; dataDirName?: string } = {},
): Promise<Served> {
  const root = mkdtempSync(join(tmpdir(), "drivebay-cli-"));
  const dataDir = options.dataDirName ? join(root, options.dataDirName) : root;
  mkdirSync(dataDir, { recursive: true });
  const child = spawn(
    process.execPath,
    [
      BIN,
      "serve",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--log-level",
      "silent",
      ...(options.args ?? []),
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
      // No fixed ports in tests: the embedded Azurite takes a free one too.
      env: { ...process.env, DRIVEBAY_BLOB_PORT: "0", ...options.env },
    },
  );
  child.stdout!.resume();
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /^drivebay (?:worker )?listening on (http:\/\/\S+)/m.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr, dataDir, root };
}

export async function stop(served: Served): Promise<number | null> {
  const exited = once(served.child, "exit");
  served.child.kill("SIGTERM");
  const [code] = (await exited) as [number | null];
  rmSync(served.root, { recursive: true, force: true });
  return code;
}

/** A port nothing listens on: bound, then released. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

/** A command line: words split on whitespace; a `${value}` never splits its word. */
export function argv(strings: TemplateStringsArray, ...values: string[]): string[] {
  const line = strings.reduce((acc, s, i) => `${acc}\uE000${i - 1}\uE000${s}`);
  return line
    .split(/\s+/)
    .filter((w) => w !== "")
    .map((w) => w.replace(/\uE000(\d+)\uE000/g, (_, i: string) => values[Number(i)]!));
}

export const quiet = { io: { out: () => {}, err: () => {} } };

/** A server whose autopilot and timers move a job through its states in a few seconds. */
export const fastAutopilot = (operatorKey: string): Record<string, string> => ({
  DRIVEBAY_OPERATOR_KEY: operatorKey,
  DRIVEBAY_AUTOPILOT_ARRIVAL_DELAY: "200ms",
  DRIVEBAY_AUTOPILOT_STEP_DELAY: "200ms",
  DRIVEBAY_TICK_INTERVAL: "100ms",
});

/** Job fields for the customer commands. */
export const RETURN_ADDRESS =
  "recipientName=Jane Doe,streetAddress1=1 Main St\\, Apt 2,city=Redmond,postalCode=98052," +
  "countryOrRegion=USA,phone=4250000000,email=jane@example.com";
export const RETURN_SHIPPING = "carrierName=FedEx,carrierAccountNumber=123456789";
export const BITLOCKER_KEY = "238810-662376-448998-450120-652806-203390-606320-483076";

/**
 * Sets job `name` to Shipping (delivery package `trackingNumber`, the return details above)
 * through `run`, then waits with `job wait` until the autopilot has Completed it.
 */
export async function shipAndComplete(
  run: (args: string[]) => Promise<Result>,
  name: string,
  trackingNumber: string,
): Promise<void> {
  const shipped = await run(argv`job update -n ${name} --state Shipping
    --delivery-package carrierName=FedEx,trackingNumber=${trackingNumber},driveCount=1,shipDate=2024-01-15
    --return-address ${RETURN_ADDRESS} --return-shipping ${RETURN_SHIPPING}`);
  assert.equal(shipped.code, 0, shipped.err);
  const done = await run(argv`job wait -n ${name} --for-state Completed --interval 100ms`);
  assert.equal(done.code, 0, done.err);
}

/** A `--drive` value for `job create`. */
export function driveSpec(driveId: string): string {
  return (
    `driveId=${driveId},bitLockerKey=${BITLOCKER_KEY},` +
    "manifestFile=\\DriveManifest.xml,manifestHash=109B21108597EF36D5785F08303F3638"
  );
}

export interface Running {
  /** Resolves once the process has written text matching `pattern` (stdout or stderr). */
  printed(pattern: RegExp): Promise<void>;
  /** Resolves with what it printed and its exit code. */
  done: Promise<Result>;
}

/** The real binary as a child process that the test can act on while it runs. */
export function spawnBin(
  args: string[],
  options: { env?: Record<string, string>; terminal?: boolean } = {},
): Running {
  const argv = [process.execPath, BIN, ...args];
  // On a terminal: util-linux's `script` runs the command on a pseudo-terminal of its own.
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const child = options.terminal
    ? spawn("script", ["-qec", quoted, "/dev/null"], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...options.env },
      })
    : spawn(argv[0]!, argv.slice(1), {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...options.env },
      });
  let out = "";
  let err = "";
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const check = () => {
    for (const w of waiters.filter((w) => w.pattern.test(out + err))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  child.stdout!.on("data", (c: Buffer) => {
    out += c.toString();
    check();
  });
  child.stderr!.on("data", (c: Buffer) => {
    err += c.toString();
    check();
  });
  const done = new Promise<Result>((resolve) => {
    child.once("close", (code) => resolve({ code, out, err }));
  });
  return {
    printed: (pattern) =>
      pattern.test(out + err)
        ? Promise.resolve()
        : Promise.race([
            new Promise<void>((resolve) => waiters.push({ pattern, resolve })),
            done.then((r) => {
              throw new Error(`exited (${r.code}) before ${pattern}: ${r.err}`);
            }),
          ]),
    done,
  };
}
