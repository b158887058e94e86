/**
 * npm run bench:import — drivebay's import (the transfer runner and its import copier)
 * against AzCopy and against a plain-Node uploader, into the same kind of Blob endpoint.
 *
 * Two datasets ("sets"), each made once in a temporary folder with a drive prepared from it
 * by `prepareDrive` (timed separately): `mixed`, about 1,000 files of 4 KiB–1 MiB, a few
 * 128 MiB files and a 1 GiB file; and `small`, 5,000 files of 1–16 KiB (where per-blob
 * costs, not bytes, decide). Then for each set, alternating, for BENCH_ROUNDS rounds:
 *
 *   - drivebay: a fresh service (bench/server-child.ts `import`: emulator profile, embedded
 *     Azurite in memory, autopilot off). A job is created and marked Shipping through the
 *     ARM API; the package is received and the drive attached through the operator API
 *     (the attach starts the copy). Timed from the attach until Jobs_Get shows Packaging.
 *     Peak RSS: VmHWM of the drivebay process (not of its Azurite child).
 *   - AzCopy (`@azure-tools/azcopy-linux` 10.32.2): a fresh embedded Azurite, in memory, in
 *     its own process as drivebay's is; `azcopy copy <dataset>/* <container SAS URL>
 *     --recursive --put-md5 --from-to LocalBlob`, stdin an open pipe. Timed from the spawn
 *     until its last read (file or socket, /proc/<pid>/io rchar sampled every 10 ms): AzCopy
 *     only exits on its 2 s status tick, so its wall time is reported but not compared.
 *   - plain: bench/plain-uploader.ts in its own process against a fresh embedded Azurite
 *     as AzCopy's: @azure/storage-blob, 16 files in parallel, each file read once with its
 *     MD5 computed while uploading (the floor of a Node uploader: no store, no resume).
 *     Timed by the uploader from its start signal to its last response.
 *
 * Every run is checked: the blob count, each blob's length and Content-MD5 against the
 * source files, and a sample of blobs downloaded and hashed. Each run also reports the CPU
 * seconds of the uploader and of its Azurite (Azurite near 100 % of the time: the endpoint
 * is the limit), and the CPU other processes used meanwhile (from /proc/stat): a run where
 * they used more than 0.5 s is marked NOISY and left out of the medians.
 *
 * Targets, on every set: throughput ratio drivebay / AzCopy ≥ 1.0 and drivebay / plain
 * ≥ 1.0 (medians); drivebay peak RSS ≤ 300 MB.
 *
 * BENCH_SETS=workers adds the multi-node scenario (issue 12): two drives imported by 1 and
 * by 2 worker processes on one PostgreSQL and one Azurite, beside AzCopy (see
 * workersScenario below).
 *
 * Options (env): BENCH_SETS (mixed,small; also workers), BENCH_SMALL_FILES (1000), BENCH_SMALL_MIN_KB
 * (4), BENCH_SMALL_MAX_KB (1024), BENCH_LARGE_FILES (3), BENCH_LARGE_MB (128),
 * BENCH_HUGE_MB (1024; 0 for none) for `mixed`; BENCH_TINY_FILES (5000), BENCH_TINY_MIN_KB
 * (1), BENCH_TINY_MAX_KB (16) for `small`; BENCH_ROUNDS (2), BENCH_ONLY (a comma list of
 * drivebay, azcopy, plain), BENCH_CPU_PROF (a folder: the drivebay process runs with
 * --cpu-prof there). Linux only (/proc, the AzCopy binary).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statfsSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import {
  freshAzurite,
  median,
  NOISY_CPU_S,
  quietOnes,
  ratioLine,
  type TimedRun,
} from "./compare.ts";
import { prepareDrive, type PrepareResult } from "../src/transfer/prepare.ts";
import {
  freshDatabase,
  postgresSkip,
  startCluster,
  type Cluster,
} from "../test/support/postgres.ts";
import { makeMixed, smallFiles, writeRandomFile, type DataFile } from "./dataset.ts";
import {
  azcopyBinary,
  cpuBusy,
  cpuSeconds,
  traceCpu,
  cpuSplit,
  machineCpu,
  ownCpu,
  procStatus,
  rchar,
} from "./proc.ts";
import { call, createShippedAndReceived, fmt, jobPath, stop, SUB, TempDirs } from "./support.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const SMALL_FILES = env("BENCH_SMALL_FILES", 1000);
const SMALL_MIN = env("BENCH_SMALL_MIN_KB", 4) * KiB;
const SMALL_MAX = env("BENCH_SMALL_MAX_KB", 1024) * KiB;
const LARGE_FILES = env("BENCH_LARGE_FILES", 3);
const LARGE = env("BENCH_LARGE_MB", 128) * MiB;
const HUGE = env("BENCH_HUGE_MB", 1024) * MiB;
const TINY_FILES = env("BENCH_TINY_FILES", 5000);
const TINY_MIN = env("BENCH_TINY_MIN_KB", 1) * KiB;
const TINY_MAX = env("BENCH_TINY_MAX_KB", 16) * KiB;
const SETS = (process.env.BENCH_SETS ?? "mixed,small").split(",").map((x) => x.trim());
const ROUNDS = env("BENCH_ROUNDS", 2);
const ONLY = process.env.BENCH_ONLY?.toLowerCase().split(",");
const runs = (who: string) => !ONLY || ONLY.includes(who.toLowerCase());
const CPU_PROF = process.env.BENCH_CPU_PROF;
/** BENCH_TRACE=1: when in each run Azurite's thread was busy (see traceCpu). */
const TRACE = process.env.BENCH_TRACE === "1";

function printTrace(trace: ReturnType<typeof traceCpu> | undefined): void {
  if (!trace) return;
  const t = trace();
  console.log(
    `                Azurite busy from ${fmt(t.firstBusyMs, 0)} ms after the start until ${fmt(t.lastBusyMs, 0)} ms before the end; below half a CPU for ${fmt(t.idleMs, 0)} of ${fmt(t.totalMs, 0)} ms`,
  );
}
const RSS_TARGET_MB = 300;

const RG = "bench";
const ACCOUNT = "benchimport";
const CONTAINER = "bench";
const DRIVE_ID = "BENCH-DRIVE-0001";
const BITLOCKER_KEY = "111111-222222-333333-444444-555555-666666-777777-888888";

const mib = (bytes: number) => bytes / MiB;
const sec = (ms: number) => fmt(ms / 1000, 2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the dataset

/** The `mixed` set: the small files, then the big ones. */
const makeMixedSet = (root: string): DataFile[] =>
  makeMixed(root, {
    small: SMALL_FILES,
    smallMin: SMALL_MIN,
    smallMax: SMALL_MAX,
    large: LARGE_FILES,
    largeBytes: LARGE,
    hugeBytes: HUGE,
  });

/** The `small` set: many files of a few KiB, where the cost per blob decides. */
const makeSmall = (root: string) => smallFiles(root, TINY_FILES, TINY_MIN, TINY_MAX, 20261202);

interface DataSet {
  name: string;
  files: DataFile[];
  bytes: number;
  datasetDir: string;
  driveDir: string;
  prepared: PrepareResult;
}

// ---------------------------------------------------------------- checking what arrived

/** Every blob of the container against the dataset (count, length, Content-MD5); a sample downloaded. */
async function verify(cc: ContainerClient, files: DataFile[]): Promise<string> {
  const expected = new Map(files.map((f) => [f.name, f]));
  const problems: string[] = [];
  let count = 0;
  for await (const b of cc.listBlobsFlat()) {
    count++;
    const f = expected.get(b.name);
    const md5 = b.properties.contentMD5 && Buffer.from(b.properties.contentMD5).toString("base64");
    if (!f) problems.push(`unexpected blob ${b.name}`);
    else if (b.properties.contentLength !== f.size)
      problems.push(`${b.name}: ${b.properties.contentLength} bytes, expected ${f.size}`);
    else if (md5 !== f.md5) problems.push(`${b.name}: Content-MD5 ${md5}, expected ${f.md5}`);
  }
  if (count !== files.length) problems.push(`${count} blobs, expected ${files.length}`);
  // The stored Content-MD5 is the uploader's claim: download a sample and hash it here.
  const sample = files.filter((f, i) => i % Math.max(1, Math.floor(files.length / 8)) === 0);
  const firstLarge = files.find((f) => f.size >= LARGE && f.size < HUGE);
  if (firstLarge && !sample.includes(firstLarge)) sample.push(firstLarge);
  for (const f of sample) {
    const hash = createHash("md5");
    const body = (await cc.getBlobClient(f.name).download()).readableStreamBody!;
    for await (const chunk of body) hash.update(chunk as Buffer);
    if (hash.digest("base64") !== f.md5) problems.push(`${f.name}: downloaded bytes differ`);
  }
  if (problems.length > 0) {
    throw new Error(`the upload is wrong:\n  ${problems.slice(0, 20).join("\n  ")}`);
  }
  return `${count} blobs, lengths and Content-MD5 right, ${sample.length} downloaded and hashed`;
}

// ---------------------------------------------------------------- one drivebay run

interface RunResult {
  who: "drivebay" | "AzCopy" | "plain";
  set: string;
  round: number;
  /** The compared time: attach → Packaging, or AzCopy's active transfer time. */
  ms: number;
  /** AzCopy: spawn → exit (includes the wait for its status tick). */
  wallMs?: number;
  cpu: number;
  azuriteCpu: number;
  /** Azurite's system CPU seconds of the run (part of azuriteCpu). */
  azuriteSys: number;
  /** CPU seconds used by everything else on the machine during the run (noise). */
  otherCpu: number;
  peakRss?: number;
  idleRss?: number;
  checked: string;
}

/** bench/server-child.ts `import` in its own process; resolves once it listens. */
function startServer(
  dataDir: string,
  operatorKey: string,
): Promise<{ url: string; child: ChildProcess; azuritePid: number }> {
  const nodeArgs = CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", CPU_PROF] : [];
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      "--import",
      "tsx",
      join(import.meta.dirname, "server-child.ts"),
      "import",
      dataDir,
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, BENCH_OPERATOR_KEY: operatorKey },
    },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /AZURITE (\d+)\s+READY (\S+)/.exec(out);
      if (m) resolve({ url: m[2]!, child, azuritePid: Number(m[1]) });
    });
    child.on("exit", (code) => reject(new Error(`the drivebay server exited with ${code}`)));
  });
}

async function runDrivebay(round: number, set: DataSet, dirs: TempDirs): Promise<RunResult> {
  const { prepared, driveDir, files } = set;
  const dataDir = dirs.make();
  const operatorKey = randomBytes(24).toString("base64url");
  const { url, child, azuritePid } = await startServer(dataDir, operatorKey);
  const pid = child.pid!;
  try {
    const operator = (method: string, path: string, body?: unknown) =>
      call(`${url}/operator/v1${path}`, method, body, { authorization: `Bearer ${operatorKey}` });
    const name = `import-${set.name}-${round}`;
    const job = `${url}${jobPath(RG, name)}`;
    // The account exists before the clock starts (AzCopy's does too).
    const account = await operator("GET", `/storage/${ACCOUNT}`);
    await createShippedAndReceived(
      url,
      operatorKey,
      RG,
      name,
      {
        storageAccountId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${ACCOUNT}`,
        jobType: "Import",
        logLevel: "Error",
        backupDriveManifest: false,
        driveList: [{ ...prepared.driveListEntry, bitLockerKey: BITLOCKER_KEY }],
      },
      [DRIVE_ID],
    );
    const idleRss = procStatus(pid, "VmRSS");
    const cpu0 = cpuSeconds(pid);
    const az0 = cpuSeconds(azuritePid);
    const azSys0 = cpuSplit(azuritePid).system;
    const machine0 = machineCpu().busy;
    const own0 = ownCpu();
    const trace = TRACE ? traceCpu(azuritePid) : undefined;
    const t0 = performance.now();
    await operator("POST", `/jobs/${SUB}/${RG}/${name}/drives/${DRIVE_ID}/attach`, {
      path: driveDir,
    });
    let state: string;
    let body: { properties: { state: string; driveList: Record<string, unknown>[] } };
    for (;;) {
      body = await call(job, "GET");
      state = body.properties.state;
      if (state !== "Transferring" && state !== "Received") break;
      const elapsed = performance.now() - t0;
      if (elapsed > 30 * 60_000) throw new Error("the import took over 30 min");
      // Every 20 ms at first, then 0.5 % of the time so far: the polls' own cost (a
      // Jobs_Get each, on the drivebay process) stays small on long runs.
      await sleep(Math.max(20, elapsed / 200));
    }
    const ms = performance.now() - t0;
    printTrace(trace);
    const peakRss = procStatus(pid, "VmHWM");
    const cpu = cpuSeconds(pid) - cpu0;
    const azuriteCpu = cpuSeconds(azuritePid) - az0;
    const azuriteSys = cpuSplit(azuritePid).system - azSys0;
    const otherCpu = machineCpu().busy - machine0 - cpu - azuriteCpu - (ownCpu() - own0);
    const drive = body.properties.driveList[0]!;
    const bytes = files.reduce((n, f) => n + f.size, 0);
    if (state !== "Packaging" || drive.state !== "Completed" || drive.bytesSucceeded !== bytes) {
      throw new Error(`the import ended ${state}, drive ${JSON.stringify(drive)}`);
    }
    const cc = BlobServiceClient.fromConnectionString(account.connectionString).getContainerClient(
      CONTAINER,
    );
    const checked = await verify(cc, files);
    return {
      who: "drivebay",
      set: set.name,
      round,
      ms,
      cpu,
      azuriteCpu,
      azuriteSys,
      otherCpu,
      peakRss,
      idleRss,
      checked,
    };
  } finally {
    await stop(child);
  }
}

// ---------------------------------------------------------------- one AzCopy run

interface AzCopySummary {
  JobStatus: string;
  TransfersCompleted: string;
  TransfersFailed: string;
  TotalBytesTransferred: string;
}

async function runAzCopy(
  round: number,
  azcopy: string,
  set: DataSet,
  dirs: TempDirs,
): Promise<RunResult> {
  const { datasetDir, files } = set;
  const dir = dirs.make();
  const { azurite, cc, sas } = await freshAzurite(dir, ACCOUNT, CONTAINER);
  try {
    const azuritePid = azurite.pid!;
    const az0 = cpuSeconds(azuritePid);
    const azSys0 = cpuSplit(azuritePid).system;
    const machine0 = machineCpu().busy;
    const own0 = ownCpu();
    const t0 = performance.now();
    const child = spawn(
      azcopy,
      [
        "copy",
        `${datasetDir}/*`,
        `${cc.url}?${sas}`,
        "--recursive",
        "--put-md5",
        "--from-to",
        "LocalBlob",
        "--output-type",
        "json",
      ],
      {
        // stdin stays an open pipe: with /dev/null AzCopy busy-loops reading it.
        stdio: ["pipe", "pipe", "pipe"],
        env: {
          ...process.env,
          AZCOPY_LOG_LOCATION: join(dir, "azcopy-logs"),
          AZCOPY_JOB_PLAN_LOCATION: join(dir, "azcopy-plans"),
        },
      },
    );
    const pid = child.pid!;
    // The end of the transfer: the last time AzCopy read anything (files, responses). Once
    // idle, it reads a few bytes a second (timers), hence the 4 KiB slack.
    const samples: { t: number; rchar: number; cpu: number }[] = [];
    const sampler = setInterval(() => {
      try {
        samples.push({ t: performance.now() - t0, rchar: rchar(pid), cpu: cpuSeconds(pid) });
      } catch {
        // it has exited
      }
    }, 10);
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    const wallMs = performance.now() - t0;
    clearInterval(sampler);
    const azuriteCpu = cpuSeconds(azuritePid) - az0;
    const azuriteSys = cpuSplit(azuritePid).system - azSys0;
    const machine1 = machineCpu().busy;
    const own1 = ownCpu();
    let summary: AzCopySummary | undefined;
    for (const line of out.split("\n")) {
      if (!line.startsWith("{")) continue;
      const m = JSON.parse(line) as { MessageType: string; MessageContent: string };
      if (m.MessageType === "EndOfJob") summary = JSON.parse(m.MessageContent) as AzCopySummary;
    }
    if (
      code !== 0 ||
      summary?.JobStatus !== "Completed" ||
      Number(summary.TransfersCompleted) !== files.length
    ) {
      throw new Error(
        `AzCopy exited ${code}: ${JSON.stringify(summary)}\n${err}${out.slice(-2000)}`,
      );
    }
    const last = samples[samples.length - 1]!;
    const end = samples.find((s) => s.rchar >= last.rchar - 4 * KiB)!;
    const otherCpu = machine1 - machine0 - last.cpu - azuriteCpu - (own1 - own0);
    const checked = await verify(cc, files);
    return {
      who: "AzCopy",
      set: set.name,
      round,
      ms: end.t,
      wallMs,
      cpu: last.cpu,
      azuriteCpu,
      azuriteSys,
      otherCpu,
      checked,
    };
  } finally {
    await azurite.close();
  }
}

// ---------------------------------------------------------------- one plain-Node run

async function runPlain(round: number, set: DataSet, dirs: TempDirs): Promise<RunResult> {
  const { datasetDir, files } = set;
  const dir = dirs.make();
  const { azurite, cc, sas } = await freshAzurite(dir, ACCOUNT, CONTAINER);
  try {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(import.meta.dirname, "plain-uploader.ts"),
        datasetDir,
        `${cc.url}?${sas}`,
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    const pid = child.pid!;
    let out = "";
    const said = (word: string) =>
      new Promise<string>((resolve, reject) => {
        const look = () => {
          const m = new RegExp(`^${word}(.*)$`, "m").exec(out);
          if (m) resolve(m[1]!.trim());
        };
        child.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          look();
        });
        child.once("exit", (code) =>
          reject(new Error(`the plain uploader exited with ${code}: ${out}`)),
        );
        look();
      });
    child.stdin!.write(files.map((f) => `${f.size} ${f.name}\n`).join("") + "\n");
    await said("READY");
    const cpu0 = cpuSeconds(pid);
    const az0 = cpuSeconds(azurite.pid!);
    const azSys0 = cpuSplit(azurite.pid!).system;
    const machine0 = machineCpu().busy;
    const own0 = ownCpu();
    const trace = TRACE ? traceCpu(azurite.pid!) : undefined;
    child.stdin!.write("GO\n");
    const ms = Number(await said("DONE"));
    printTrace(trace);
    const cpu = cpuSeconds(pid) - cpu0;
    const azuriteCpu = cpuSeconds(azurite.pid!) - az0;
    const azuriteSys = cpuSplit(azurite.pid!).system - azSys0;
    const otherCpu = machineCpu().busy - machine0 - cpu - azuriteCpu - (ownCpu() - own0);
    await new Promise((resolve) =>
      child.exitCode !== null ? resolve(null) : child.once("exit", resolve),
    );
    const checked = await verify(cc, files);
    return {
      who: "plain",
      set: set.name,
      round,
      ms,
      cpu,
      azuriteCpu,
      azuriteSys,
      otherCpu,
      checked,
    };
  } finally {
    await azurite.close();
  }
}

// ---------------------------------------------------------------- several workers (issue 12)
//
// BENCH_SETS=workers: one job with two drives imported by the multi-node deployment
// (docs/deploying.md) — one PostgreSQL (a throwaway cluster with its durable defaults),
// one Azurite started on its own (in memory), one API node and 1 or 2 worker processes
// (`drivebay serve --role api|worker`) — beside AzCopy copying the same two folders into
// a fresh Azurite of the same kind. A worker copies one drive at a time, so one worker
// takes the drives one after the other and two take one each. Timed from the attach of
// both drives until Jobs_Get shows Packaging; every blob checked as above. Options:
// BENCH_WORKERS_FILES (400 a drive, 4 KiB–1 MiB log-uniform), BENCH_WORKERS_LARGE_MB (64:
// one such file a drive; 0 for none).

const WORKERS_FILES = env("BENCH_WORKERS_FILES", 400);
const WORKERS_LARGE = env("BENCH_WORKERS_LARGE_MB", 64) * MiB;
const WORKER_DRIVES = ["BENCH-DRIVE-W001", "BENCH-DRIVE-W002"];
const DRIVEBAY_BIN = join(import.meta.dirname, "..", "bin", "drivebay.js");

interface WorkersSet {
  files: DataFile[];
  bytes: number;
  /** The folder holding one folder a drive (AzCopy copies it whole). */
  datasetDir: string;
  drives: { id: string; driveDir: string; prepared: PrepareResult }[];
}

async function makeWorkersSet(root: string): Promise<WorkersSet> {
  const datasetDir = join(root, "dataset");
  const files: DataFile[] = [];
  const drives: WorkersSet["drives"] = [];
  for (const [i, id] of WORKER_DRIVES.entries()) {
    const folder = `d${i + 1}`;
    const own = smallFiles(join(datasetDir, folder), WORKERS_FILES, 4 * KiB, MiB, 20261202 + i);
    if (WORKERS_LARGE > 0) {
      own.push(writeRandomFile(join(datasetDir, folder), "large/l0.bin", WORKERS_LARGE));
    }
    files.push(...own.map((f) => ({ ...f, name: `${folder}/${f.name}` })));
    const csv = join(root, `${folder}.csv`);
    writeFileSync(
      csv,
      "BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile\n" +
        `"${join(datasetDir, folder)}/",${CONTAINER}/${folder}/,BlockBlob,rename,,\n`,
    );
    const driveDir = join(root, `drive-${folder}`);
    drives.push({
      id,
      driveDir,
      prepared: await prepareDrive({ datasetCsv: csv, driveDir, driveId: id }),
    });
  }
  return { files, bytes: files.reduce((n, f) => n + f.size, 0), datasetDir, drives };
}

/** `drivebay serve --role <role>` on a free port; resolves once it listens. */
function startNode(
  role: "api" | "worker",
  env: Record<string, string>,
  dataDir: string,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      ...(CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", CPU_PROF] : []),
      DRIVEBAY_BIN,
      "serve",
      "--role",
      role,
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--log-level",
      "silent",
    ],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } },
  );
  return new Promise((resolve, reject) => {
    let err = "";
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /^drivebay (?:worker )?listening on (http:\/\/\S+)/m.exec(err);
      if (m) resolve({ url: m[1]!, child });
    });
    child.on("exit", (code) =>
      reject(new Error(`drivebay --role ${role} exited with ${code}: ${err}`)),
    );
  });
}

/** CPU seconds of a PostgreSQL cluster: its postmaster and every process it started. */
function clusterCpu(cluster: Cluster): number {
  const master = Number(
    readFileSync(join(cluster.dir, "data", "postmaster.pid"), "utf8").split("\n")[0],
  );
  let total = 0;
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (Number(p) === master || ppid === master) total += cpuSeconds(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

interface WorkersRun {
  who: string;
  round: number;
  ms: number;
  workersCpu: number[];
  apiCpu: number;
  pgCpu: number;
  azuriteCpu: number;
  otherCpu: number;
  checked: string;
}

async function runWorkers(
  round: number,
  workers: number,
  set: WorkersSet,
  cluster: Cluster,
  dirs: TempDirs,
): Promise<WorkersRun> {
  const dir = dirs.make();
  const { azurite, cc, key } = await freshAzurite(dir, ACCOUNT, CONTAINER);
  const nodes: ChildProcess[] = [];
  try {
    const config = join(dir, "config.json");
    writeFileSync(
      config,
      JSON.stringify({
        storageAccounts: [
          { name: ACCOUNT, blobEndpoint: azurite.blobEndpoint(ACCOUNT), accountKey: key },
        ],
      }),
    );
    const operatorKey = randomBytes(24).toString("base64url");
    const env = {
      DRIVEBAY_STORE: await freshDatabase(cluster),
      DRIVEBAY_CONFIG: config,
      DRIVEBAY_BLOB_EMBEDDED: "off",
      DRIVEBAY_OPERATOR_KEY: operatorKey,
      DRIVEBAY_AUTOPILOT: "off",
    };
    // The API node migrates the fresh database before the workers start.
    const api = await startNode("api", env, dirs.make());
    nodes.push(api.child);
    const started = await Promise.all(
      Array.from({ length: workers }, () => startNode("worker", env, dirs.make())),
    );
    nodes.push(...started.map((w) => w.child));
    const operator = (method: string, path: string, body?: unknown) =>
      call(`${api.url}/operator/v1${path}`, method, body, {
        authorization: `Bearer ${operatorKey}`,
      });
    const name = `workers-${workers}-${round}`;
    const job = `${api.url}${jobPath(RG, name)}`;
    await createShippedAndReceived(
      api.url,
      operatorKey,
      RG,
      name,
      {
        storageAccountId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${ACCOUNT}`,
        jobType: "Import",
        logLevel: "Error",
        backupDriveManifest: false,
        driveList: set.drives.map((d) => ({
          ...d.prepared.driveListEntry,
          bitLockerKey: BITLOCKER_KEY,
        })),
      },
      WORKER_DRIVES,
    );
    const pids = started.map((w) => w.child.pid!);
    const w0 = pids.map(cpuSeconds);
    const api0 = cpuSeconds(api.child.pid!);
    const pg0 = clusterCpu(cluster);
    const az0 = cpuSeconds(azurite.pid!);
    const machine0 = machineCpu().busy;
    const own0 = ownCpu();
    const t0 = performance.now();
    for (const d of set.drives) {
      await operator("POST", `/jobs/${SUB}/${RG}/${name}/drives/${d.id}/attach`, {
        path: d.driveDir,
      });
    }
    let body: { properties: { state: string; driveList: Record<string, unknown>[] } };
    for (;;) {
      body = await call(job, "GET");
      const state = body.properties.state;
      if (state !== "Transferring" && state !== "Received") break;
      const elapsed = performance.now() - t0;
      if (elapsed > 30 * 60_000) throw new Error("the import took over 30 min");
      await sleep(Math.max(20, elapsed / 200));
    }
    const ms = performance.now() - t0;
    const workersCpu = pids.map((p, i) => cpuSeconds(p) - w0[i]!);
    const apiCpu = cpuSeconds(api.child.pid!) - api0;
    const pgCpu = clusterCpu(cluster) - pg0;
    const azuriteCpu = cpuSeconds(azurite.pid!) - az0;
    const counted = workersCpu.reduce((a, b) => a + b, 0) + apiCpu + pgCpu + azuriteCpu;
    const otherCpu = machineCpu().busy - machine0 - counted - (ownCpu() - own0);
    const done = body.properties.driveList.reduce((n, d) => n + Number(d.bytesSucceeded ?? 0), 0);
    if (body.properties.state !== "Packaging" || done !== set.bytes) {
      throw new Error(
        `the import ended ${body.properties.state}, drives ${JSON.stringify(body.properties.driveList)}`,
      );
    }
    const checked = await verify(cc, set.files);
    return {
      who: `${workers} worker${workers > 1 ? "s" : ""}`,
      round,
      ms,
      workersCpu,
      apiCpu,
      pgCpu,
      azuriteCpu,
      otherCpu,
      checked,
    };
  } finally {
    for (const child of nodes) await stop(child);
    await azurite.close();
  }
}

async function workersScenario(dirs: TempDirs): Promise<void> {
  const skip = postgresSkip();
  if (skip) {
    console.log(`set workers: skipped (${skip})`);
    return;
  }
  let t = performance.now();
  const set = await makeWorkersSet(dirs.make());
  console.log(
    `set workers: 2 drives, ${set.files.length} files, ${fmt(mib(set.bytes))} MiB — a drive: ${WORKERS_FILES} of 4 KiB–1 MiB (log-uniform)` +
      `${WORKERS_LARGE > 0 ? ` and 1 × ${WORKERS_LARGE / MiB} MiB` : ""} (made and prepared in ${sec(performance.now() - t)} s)`,
  );
  spawnSync("sync");
  t = performance.now();
  const cluster = await startCluster({ durable: true });
  console.log(`  PostgreSQL cluster started in ${sec(performance.now() - t)} s (durable defaults)`);
  const results: WorkersRun[] = [];
  const WHO = ["1", "2", "AzCopy"] as const;
  for (let round = 1; round <= ROUNDS; round++) {
    const order = WHO.map((_, i) => WHO[(i + round - 1) % WHO.length]!);
    for (const who of order) {
      if (who === "AzCopy" && !runs("azcopy")) continue;
      let r: WorkersRun;
      if (who === "AzCopy") {
        const a = await runAzCopy(
          round,
          azcopy,
          {
            name: "workers",
            files: set.files,
            bytes: set.bytes,
            datasetDir: set.datasetDir,
            driveDir: "",
            prepared: set.drives[0]!.prepared,
          },
          dirs,
        );
        r = {
          who: "AzCopy",
          round,
          ms: a.ms,
          workersCpu: [a.cpu],
          apiCpu: 0,
          pgCpu: 0,
          azuriteCpu: a.azuriteCpu,
          otherCpu: a.otherCpu,
          checked: a.checked,
        };
      } else {
        r = await runWorkers(round, Number(who), set, cluster, dirs);
      }
      results.push(r);
      const s = r.ms / 1000;
      console.log(
        `workers round ${r.round}  ${r.who.padEnd(9)}  ${sec(r.ms).padStart(6)} s  ${fmt(mib(set.bytes) / s, 1).padStart(6)} MiB/s  ${fmt(set.files.length / s, 1).padStart(7)} files/s  ` +
          `CPU ${r.who === "AzCopy" ? "AzCopy" : "worker(s)"} ${r.workersCpu.map((c) => fmt(c, 1)).join(" + ")} s` +
          `${r.who === "AzCopy" ? "" : `, API node ${fmt(r.apiCpu, 1)} s, PostgreSQL ${fmt(r.pgCpu, 1)} s`}, Azurite ${fmt(r.azuriteCpu, 1)} s (${fmt((100 * r.azuriteCpu) / s)} % of a CPU)`,
      );
      console.log(
        `                checked: ${r.checked}; CPU used by other processes during the run ${fmt(Math.max(0, r.otherCpu), 1)} s${r.otherCpu > NOISY_CPU_S ? " — NOISY" : ""}`,
      );
      await sleep(1000);
    }
  }
  const rate = (who: string) => {
    const rs = results.filter((r) => r.who === who);
    return median(quietOnes(rs).map((r) => mib(set.bytes) / (r.ms / 1000)));
  };
  const one = rate("1 worker");
  const two = rate("2 workers");
  console.log(
    `\nset workers: median 1 worker ${fmt(one, 1)} MiB/s, 2 workers ${fmt(two, 1)} MiB/s: ratio 2 / 1 workers = ${fmt(two / one, 2)}`,
  );
  if (results.some((r) => r.who === "AzCopy")) {
    const az = rate("AzCopy");
    console.log(
      `  AzCopy ${fmt(az, 1)} MiB/s: ratio 1 worker / AzCopy = ${fmt(one / az, 2)}, 2 workers / AzCopy = ${fmt(two / az, 2)}`,
    );
  }
  // Where the limit is, from CPU seconds (which a shared machine disturbs far less than
  // wall time): Azurite runs on one thread, so it alone caps the rate at bytes / its CPU
  // seconds; all processes together cap it at bytes / (their CPU seconds / CPUs).
  const cpus = availableParallelism();
  for (const who of ["1 worker", "2 workers", "AzCopy"]) {
    const rs = results.filter((r) => r.who === who);
    if (rs.length === 0) continue;
    const az = median(rs.map((r) => r.azuriteCpu));
    const mine = median(
      rs.map((r) => r.workersCpu.reduce((a, b) => a + b, 0) + r.apiCpu + r.pgCpu),
    );
    const azCap = mib(set.bytes) / az;
    const allCap = mib(set.bytes) / ((az + mine) / cpus);
    console.log(
      `  ${who.padEnd(9)} CPU per GiB: Azurite ${fmt((1024 * az) / mib(set.bytes), 1)} s, ${who === "AzCopy" ? "AzCopy" : "workers + API node + PostgreSQL"} ${fmt((1024 * mine) / mib(set.bytes), 1)} s; ` +
        `caps: Azurite's thread ${fmt(azCap)} MiB/s, all ${cpus} CPUs ${fmt(allCap)} MiB/s — the limit: ${azCap <= allCap ? "the endpoint's CPU" : "the machine's CPUs"}`,
    );
  }
}

// ---------------------------------------------------------------- main

const MB = (bytes: number) => fmt(bytes / 1e6);

const azcopy = runs("azcopy") ? azcopyBinary() : "";
const dirs = new TempDirs();
try {
  const plannedMixed = SETS.includes("mixed")
    ? (SMALL_FILES * (SMALL_MAX - SMALL_MIN)) / Math.log(SMALL_MAX / SMALL_MIN) +
      LARGE_FILES * LARGE +
      HUGE
    : 0;
  const plannedSmall = SETS.includes("small")
    ? (TINY_FILES * (TINY_MAX - TINY_MIN)) / Math.log(TINY_MAX / TINY_MIN)
    : 0;
  const planned = plannedMixed + plannedSmall;
  const stats = statfsSync(tmpdir());
  const free = stats.bavail * stats.bsize;
  if (free < 2 * planned + 512 * MiB) {
    throw new Error(
      `${tmpdir()} has ${fmt(mib(free))} MiB free; the datasets and their drives need about ${fmt(mib(2 * planned))} MiB`,
    );
  }
  const busy = await cpuBusy(1000);
  console.log(
    `drivebay bench:import — node ${process.version}, ${ROUNDS} round(s) of sets ${SETS.join(", ")}; CPU busy before the start ${fmt(busy * 100)} %, load average ${loadavg()
      .map((l) => fmt(l, 2))
      .join(" ")}`,
  );
  if (busy > 0.15) console.log("  (something else is using the CPUs: figures will be noisy)");

  const sets: DataSet[] = [];
  for (const name of SETS) {
    if (name === "workers") continue; // after the others (workersScenario)
    if (name !== "mixed" && name !== "small") throw new Error(`BENCH_SETS: unknown set '${name}'`);
    const root = dirs.make();
    const datasetDir = join(root, "dataset");
    let t = performance.now();
    const files = name === "mixed" ? makeMixedSet(datasetDir) : makeSmall(datasetDir);
    const bytes = files.reduce((n, f) => n + f.size, 0);
    console.log(
      name === "mixed"
        ? `set mixed: ${files.length} files, ${fmt(mib(bytes))} MiB — ${SMALL_FILES} of ${SMALL_MIN / KiB} KiB–${SMALL_MAX / KiB} KiB ` +
            `(log-uniform), ${LARGE_FILES} × ${LARGE / MiB} MiB, ` +
            `${HUGE > 0 ? `1 × ${HUGE / MiB} MiB` : "no huge file"} (made in ${sec(performance.now() - t)} s)`
        : `set small: ${files.length} files of ${TINY_MIN / KiB}–${TINY_MAX / KiB} KiB (log-uniform), ${fmt(mib(bytes))} MiB (made in ${sec(performance.now() - t)} s)`,
    );
    writeFileSync(
      join(root, "dataset.csv"),
      "BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile\n" +
        `"${datasetDir}/",${CONTAINER}/,BlockBlob,rename,,\n`,
    );
    const driveDir = join(root, "drive");
    t = performance.now();
    const prepared = await prepareDrive({
      datasetCsv: join(root, "dataset.csv"),
      driveDir,
      driveId: DRIVE_ID,
    });
    const prepMs = performance.now() - t;
    console.log(
      `  prepareDrive: ${sec(prepMs)} s, ${fmt(mib(bytes) / (prepMs / 1000))} MiB/s (not part of the import timings)`,
    );
    sets.push({ name, files, bytes, datasetDir, driveDir, prepared });
  }
  // Every source is read from the page cache; flush the writes so no writeback runs during a round.
  spawnSync("sync");

  const results: RunResult[] = [];
  const line = (set: DataSet, r: RunResult) => {
    const s = r.ms / 1000;
    // Azurite's CPU over the compared time: near 100 % means the endpoint is what limits.
    const cpu = `CPU ${r.who} ${fmt(r.cpu, 1)} s, Azurite ${fmt(r.azuriteCpu, 1)} s (${fmt(r.azuriteSys, 1)} s of it system; ${fmt((100 * r.azuriteCpu) / s)} %, ${fmt((1000 * r.azuriteCpu) / set.files.length, 2)} ms a blob)`;
    const extra =
      r.who === "drivebay"
        ? `peak RSS ${MB(r.peakRss!)} MB (${MB(r.idleRss!)} MB before the attach); ${cpu}`
        : r.who === "AzCopy"
          ? `exit after ${sec(r.wallMs!)} s; ${cpu}`
          : cpu;
    console.log(
      `${set.name.padEnd(5)} round ${r.round}  ${r.who.padEnd(8)}  ${sec(r.ms).padStart(6)} s  ${fmt(mib(set.bytes) / s, 1).padStart(6)} MiB/s  ${fmt(set.files.length / s, 1).padStart(7)} files/s  ${extra}`,
    );
    console.log(
      `                checked: ${r.checked}; CPU used by other processes during the run ${fmt(Math.max(0, r.otherCpu), 1)} s${r.otherCpu > NOISY_CPU_S ? " — NOISY" : ""}`,
    );
  };
  const WHO = ["drivebay", "AzCopy", "plain"] as const;
  for (const set of sets) {
    for (let round = 1; round <= ROUNDS; round++) {
      // Rotate who goes first, so a drift in the machine's speed hits all alike.
      const order = WHO.map((_, i) => WHO[(i + round - 1) % WHO.length]!);
      for (const who of order) {
        if (!runs(who)) continue;
        const r =
          who === "drivebay"
            ? await runDrivebay(round, set, dirs)
            : who === "AzCopy"
              ? await runAzCopy(round, azcopy, set, dirs)
              : await runPlain(round, set, dirs);
        results.push(r);
        line(set, r);
        await sleep(1000);
      }
    }
  }

  // Runs during which other processes used the CPUs are left out of the medians (when
  // quiet runs remain); peak RSS counts every run.
  for (const set of sets) {
    const of = (who: RunResult["who"]) =>
      results.filter((r) => r.who === who && r.set === set.name);
    const rate = (rs: TimedRun[]) => median(rs.map((r) => mib(set.bytes) / (r.ms / 1000)));
    const filesRate = (rs: RunResult[]) => median(rs.map((r) => set.files.length / (r.ms / 1000)));
    console.log(`\nset ${set.name}:`);
    for (const who of WHO) {
      const all = of(who);
      if (all.length === 0) continue;
      const rs = quietOnes(all);
      const left = all.length - rs.length;
      console.log(
        `  ${who.padEnd(8)}  median ${fmt(rate(rs), 1)} MiB/s, ${fmt(filesRate(rs), 1)} files/s over ${rs.length} run(s); Azurite ${fmt(median(rs.map((r) => r.azuriteCpu)), 1)} s CPU (runs ${all.map((r) => fmt(r.azuriteCpu, 1)).join(", ")})${left ? ` (${left} noisy run(s) left out)` : ""}`,
      );
    }
    const db = of("drivebay");
    for (const other of ["AzCopy", "plain"] as const) {
      const ac = of(other);
      if (db.length === 0 || ac.length === 0) continue;
      console.log(ratioLine(other, db, ac, rate));
    }
    if (db.length > 0) {
      const peak = Math.max(...db.map((r) => r.peakRss!));
      console.log(
        `  drivebay peak RSS = ${MB(peak)} MB  (target ≤ ${RSS_TARGET_MB} MB: ${peak <= RSS_TARGET_MB * 1e6 ? "met" : "MISSED"})`,
      );
    }
  }
  if (SETS.includes("workers")) await workersScenario(dirs);
  if (CPU_PROF) console.log(`CPU profiles of the drivebay process: ${CPU_PROF}`);
} finally {
  dirs.removeAll();
}
