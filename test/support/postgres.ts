/**
 * A throwaway PostgreSQL cluster for the tests: `initdb -A trust` and `pg_ctl start` into a
 * temporary folder (as user `postgres` when the tests run as root, since PostgreSQL refuses
 * to run as root), on a free port with its unix socket in that folder. It starts once per
 * test process, on first use; each test gets a fresh database of its own.
 *
 * The cluster never outlives the process: an exit handler stops it and removes its folder,
 * and a watchdog shell started beside it does the same if the process dies without running
 * its handlers (SIGKILL, a test-runner timeout).
 *
 * Without PostgreSQL installed, `postgresSkip()` says why the PostgreSQL variants are
 * skipped; under `CI=true` a missing PostgreSQL is an error instead (CI must run them).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export interface Cluster {
  /** `postgres://postgres@127.0.0.1:<port>` (no database). */
  base: string;
  port: number;
  dir: string;
}

/** Where Debian puts the server binaries; PATH is tried first. */
function binDir(): string | undefined {
  const onPath = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" });
  if (onPath.status === 0 && onPath.stdout.trim()) {
    const initdb = onPath.stdout.trim();
    // Debian's /usr/bin/initdb is missing; /usr/local/bin may hold links to the real ones.
    return initdb.slice(0, initdb.lastIndexOf("/"));
  }
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : undefined;
}

const BIN = binDir();

/**
 * Why the PostgreSQL variants cannot run here (undefined: they can). Under `CI=true`
 * a missing PostgreSQL throws, so the suite fails instead of skipping.
 */
export function postgresSkip(): string | undefined {
  if (BIN) return undefined;
  const reason =
    "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin); install it with `apt-get install postgresql` to run the PostgreSQL variants";
  if (process.env.CI === "true") throw new Error(`CI=true: ${reason}`);
  return reason;
}

const asRoot = process.getuid?.() === 0;

/** Runs a server binary as `postgres` when we are root (PostgreSQL refuses to run as root). */
function pgCommand(binary: string, args: string[]): [string, string[]] {
  const path = join(BIN!, binary);
  return asRoot ? ["runuser", ["-u", "postgres", "--", path, ...args]] : [path, args];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

let started: Promise<Cluster> | undefined;

/** The process's cluster for tests (fsync off), started on first use. */
export function cluster(): Promise<Cluster> {
  started ??= startCluster();
  return started;
}

/**
 * A new cluster, stopped and removed when the process ends. `durable`: PostgreSQL's own
 * crash-safe defaults (fsync, full-page writes), as the benchmarks need; the tests' cluster
 * runs without them.
 */
export async function startCluster(options: { durable?: boolean } = {}): Promise<Cluster> {
  if (!BIN) throw new Error(postgresSkip() ?? "PostgreSQL is not installed");
  const dir = mkdtempSync(join(tmpdir(), "drivebay-pg-"));
  if (asRoot) execFileSync("chown", ["postgres:", dir]);
  const data = join(dir, "data");
  const stopNow = () => {
    if (existsSync(join(data, "postmaster.pid"))) {
      const [cmd, args] = pgCommand("pg_ctl", ["stop", "-D", data, "-m", "immediate", "-s"]);
      spawnSync(cmd, args, { stdio: "ignore" });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", stopNow);
  watchdog(dir, data);
  try {
    const [initCmd, initArgs] = pgCommand("initdb", [
      "-D",
      data,
      "-A",
      "trust",
      "-U",
      "postgres",
      "--no-sync",
      "-E",
      "UTF8",
      "--locale=C",
    ]);
    execFileSync(initCmd, initArgs, { stdio: "pipe" });
    // A free port can be taken by someone else before the server binds it: try again.
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const [cmd, args] = pgCommand("pg_ctl", [
        "start",
        "-D",
        data,
        "-w",
        "-s",
        "-l",
        join(dir, "server.log"),
        "-o",
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200` +
          // Tests need no crash safety from their throwaway cluster; fsync off keeps them fast.
          (options.durable ? "" : " -c fsync=off -c full_page_writes=off"),
      ]);
      const r = spawnSync(cmd, args, { encoding: "utf8" });
      if (r.status === 0) {
        return { base: `postgres://postgres@127.0.0.1:${port}`, port, dir };
      }
      if (attempt >= 3) {
        throw new Error(`pg_ctl start failed: ${r.stderr || r.stdout} (log in ${dir}/server.log)`);
      }
    }
  } catch (e) {
    stopNow();
    throw e;
  }
}

/**
 * A detached shell that waits for this process to end and then stops the cluster (if it
 * runs) and removes its folder, so a test process killed outright, even while the
 * cluster is being made, leaves nothing behind.
 */
function watchdog(dir: string, data: string): void {
  const [cmd, args] = pgCommand("pg_ctl", ["stop", "-D", data, "-m", "immediate", "-s"]);
  const stop = [cmd, ...args].map((a) => `'${a}'`).join(" ");
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; [ -f '${data}/postmaster.pid' ] && ${stop}; rm -rf '${dir}'`;
  spawn("sh", ["-c", script], { detached: true, stdio: "ignore" }).unref();
}

let serial = 0;

/** A fresh, empty database in `inCluster` (default: the process's test cluster); its URL. */
export async function freshDatabase(inCluster?: Cluster): Promise<string> {
  const c = inCluster ?? (await cluster());
  const name = `t${process.pid}_${++serial}`;
  const admin = new pg.Client({ connectionString: `${c.base}/postgres` });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
  } finally {
    await admin.end();
  }
  return `${c.base}/${name}`;
}
