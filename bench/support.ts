/**
 * What the benchmarks share: the server child process, seeding a data directory straight
 * through the SQLite store (before the server opens it — one store owns the file at a
 * time) or a PostgreSQL database, temporary directories and number formatting.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_TIMERS, initialDeadline } from "../src/domain/job/lifecycle.ts";
import type { HistoryEntry, Job } from "../src/domain/job/model.ts";
import { LocationCatalogue } from "../src/domain/locations.ts";
import { newJobUid } from "../src/service/job-uid.ts";
import type { JobStore } from "../src/store/ports.ts";
import { PostgresJobStore } from "../src/store/postgres/postgres-job-store.ts";
import { SqliteJobStore } from "../src/store/sqlite/sqlite-job-store.ts";

export const SUB = "00000000-0000-0000-0000-0000000000b1";
export const V = "api-version=2021-01-01";
export const AUTH = { authorization: "Bearer bench" };

/**
 * Starts `bench/server-child.ts` with `args`; resolves with its URL once it listens. With
 * `cpu`, the child runs pinned to that CPU (Linux `taskset`; see pinCpus()). With
 * BENCH_CPU_PROF=<dir>, it writes a CPU profile there when it exits.
 */
export function startChild(
  args: string[],
  options: { cpu?: number } = {},
): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const profile = process.env.BENCH_CPU_PROF;
    const node = [
      process.execPath,
      ...(profile ? ["--cpu-prof", "--cpu-prof-dir", profile] : []),
      "--import",
      "tsx",
      join(import.meta.dirname, "server-child.ts"),
      ...args,
    ];
    const [command, ...rest] =
      options.cpu === undefined ? node : ["taskset", "-c", String(options.cpu), ...node];
    const child = spawn(command!, rest, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, child });
    });
    child.on("exit", (code) => reject(new Error(`server child exited with ${code}`)));
  });
}

export function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners("exit");
    if (child.exitCode !== null) return resolve();
    child.on("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** The path of a job under `/subscriptions/{SUB}/resourceGroups/{rg}/…`, with the api-version. */
export const jobPath = (rg: string, name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.ImportExport/jobs/${name}?${V}`;

/** A JSON request to the service; throws with the status and body on anything but 2xx. */
export async function call(url: string, method: string, body?: unknown, headers = AUTH) {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of any shape
  return (text ? JSON.parse(text) : undefined) as any;
}

/**
 * The customer's and the datacenter's steps before a drive is attached: the job created in
 * `rg` with `properties` (its storage account, type, blob list or drives), marked Shipping
 * with a return address and a package of `driveIds.length` drives, and that package
 * received with `driveIds` through the operator API.
 */
export async function createShippedAndReceived(
  url: string,
  operatorKey: string,
  rg: string,
  name: string,
  properties: Record<string, unknown>,
  driveIds: string[],
): Promise<void> {
  const job = `${url}${jobPath(rg, name)}`;
  await call(job, "PUT", { location: "westus", properties });
  await call(job, "PATCH", {
    properties: {
      state: "Shipping",
      returnAddress: {
        recipientName: "Bench",
        streetAddress1: "1 Loopback Way",
        city: "Localhost",
        postalCode: "12345",
        countryOrRegion: "USA",
        phone: "+1 555 0100",
        email: "bench@example.com",
      },
      returnShipping: { carrierName: "FedEx", carrierAccountNumber: "123456789" },
      deliveryPackage: {
        carrierName: "FedEx",
        trackingNumber: `TN-${name}`,
        driveCount: driveIds.length,
      },
    },
  });
  await call(
    `${url}/operator/v1/packages/receive`,
    "POST",
    { trackingNumber: `TN-${name}`, driveIds },
    { authorization: `Bearer ${operatorKey}` },
  );
}

export const jobName = (i: number) => `job-${String(i).padStart(6, "0")}`;

export interface SeedGroup {
  rg: string;
  count: number;
  /**
   * `Creating` (the default): a job just created. `Completed`: a finished import with its
   * packages and history, as the retention sweep finds it.
   */
  state?: "Creating" | "Completed";
  /** When the job entered its state (ISO); default now. Its deadline follows from it. */
  enteredAt?: string;
}

const location = new LocationCatalogue().find("westus")!;
const shippingInformation = new LocationCatalogue().shippingInformationFor(location);

function seedJob(g: SeedGroup, i: number, now: string): { job: Job; history: HistoryEntry[] } {
  const at = g.enteredAt ?? now;
  const completed = g.state === "Completed";
  const job: Job = {
    uid: newJobUid(new Date(at)),
    subscriptionId: SUB,
    resourceGroup: g.rg,
    name: jobName(i),
    location: "westus",
    tags: { batch: String(i % 10) },
    jobType: "Import",
    storageAccountId: `/subscriptions/${SUB}/resourceGroups/${g.rg}/providers/Microsoft.Storage/storageAccounts/benchdata`,
    shippingInformation,
    diagnosticsPath: "waimportexport",
    logLevel: "Error",
    backupDriveManifest: false,
    state: completed ? "Completed" : "Creating",
    cancelRequested: false,
    driveList: [
      {
        driveId: `${g.rg.toUpperCase()}${i}`,
        bitLockerKey: "k",
        manifestFile: "\\DriveManifest.xml",
        state: completed ? "Completed" : "Specified",
        ...(completed ? { copyStatus: "Completed", percentComplete: 100 } : {}),
      },
    ],
    encryptionKey: { kekType: "MicrosoftManaged" },
    identity: { type: "None" },
    systemData: {
      createdBy: "bench",
      createdByType: "User",
      createdAt: at,
      lastModifiedBy: "bench",
      lastModifiedByType: "User",
      lastModifiedAt: at,
    },
    stateEnteredAt: at,
    lastCustomerUpdateAt: at,
    version: 1,
  };
  if (!completed) {
    const history = [step(at, "customer", "create", null, "Creating")];
    return { job: initialDeadline(job, DEFAULT_TIMERS), history };
  }
  const tracking = `${g.rg.toUpperCase()}TRACK${i}`;
  job.deliveryPackage = { carrierName: "FedEx", trackingNumber: tracking, driveCount: 1 };
  job.returnPackage = { carrierName: "FedEx", trackingNumber: `R${tracking}`, driveCount: 1 };
  job.percentComplete = 100;
  // The way a job comes to be Completed: six transitions, as the purge finds them.
  const history = [
    step(at, "customer", "create", null, "Creating"),
    step(at, "customer", "markShipping", "Creating", "Shipping"),
    step(at, "operator", "receivePackage", "Shipping", "Received"),
    step(at, "operator", "startTransfer", "Received", "Transferring"),
    step(at, "operator", "package", "Transferring", "Packaging"),
    step(at, "operator", "shipBack", "Packaging", "Completed"),
  ];
  return { job: initialDeadline(job, DEFAULT_TIMERS), history };
}

function step(
  at: string,
  actor: HistoryEntry["actor"],
  event: string,
  from: HistoryEntry["from"],
  to: HistoryEntry["to"],
): HistoryEntry {
  return { at, actor, event, from, to, reason: `bench: ${event}` };
}

/**
 * Seeds `dataDir` through the store with NORMAL sync (setup, not the thing measured; the
 * service reopens it with FULL).
 */
export async function seed(dataDir: string, groups: SeedGroup[]): Promise<void> {
  const store = new SqliteJobStore({
    file: join(dataDir, "drivebay.sqlite"),
    synchronous: "NORMAL",
  });
  try {
    await seedStore(store, groups);
  } finally {
    await store.close();
  }
}

/**
 * Seeds a PostgreSQL database, its commits asynchronous (setup; the service's own
 * connections commit durably).
 */
export async function seedPostgres(url: string, groups: SeedGroup[]): Promise<void> {
  const u = new URL(url);
  u.searchParams.set("options", "-c synchronous_commit=off");
  const store = await PostgresJobStore.open({ url: u.toString(), poolSize: 8 });
  try {
    await seedStore(store, groups);
  } finally {
    await store.close();
  }
}

/** Inserts go 1,000 at a time, so they share group commits. */
async function seedStore(store: JobStore, groups: SeedGroup[]): Promise<void> {
  const now = new Date().toISOString();
  for (const g of groups) {
    for (let from = 0; from < g.count; from += 1_000) {
      const inserts: Promise<boolean>[] = [];
      for (let i = from; i < Math.min(from + 1_000, g.count); i++) {
        const { job, history } = seedJob(g, i, now);
        inserts.push(store.insert(job, history));
      }
      if ((await Promise.all(inserts)).includes(false)) {
        throw new Error(`seeding ${g.rg}: a job already existed`);
      }
    }
  }
}

/**
 * On Linux with two or more CPUs and `taskset`, pins this process (the load generator, all
 * its threads) to CPU 0 and returns 1 for the server child; otherwise undefined. Left to
 * the scheduler, the two processes sometimes share one CPU for a whole run, which halves
 * the readers' throughput and would make a before/after comparison compare two placements.
 */
export function pinCpus(): number | undefined {
  if (process.env.BENCH_PIN === "0" || process.platform !== "linux") return undefined;
  if (availableParallelism() < 2) return undefined;
  const r = spawnSync("taskset", ["-a", "-p", "-c", "0", String(process.pid)], {
    stdio: "ignore",
  });
  return r.status === 0 ? 1 : undefined;
}

export const fmt = (n: number, d = 0) => n.toFixed(d);

/** Temporary data directories, removed by `removeAll()`. */
export class TempDirs {
  private readonly dirs: string[] = [];
  make(): string {
    const d = mkdtempSync(join(tmpdir(), "drivebay-bench-"));
    this.dirs.push(d);
    return d;
  }
  removeAll(): void {
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}
