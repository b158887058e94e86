/**
 * npm run bench:export — drivebay's export (the transfer runner and its export copier)
 * against AzCopy downloading the same blobs from the same Blob endpoint.
 *
 * One dataset, bench:import's `mixed` set (bench/dataset.ts: about 1,000 files of
 * 4 KiB–1 MiB, three of 128 MiB, one of 1 GiB; `--quick`: 200 of 4–256 KiB, one of 16 MiB,
 * one of 64 MiB), uploaded once (with its Content-MD5s, by bench/plain-uploader.ts) to one
 * Azurite in memory in its own process. Then, alternating (drivebay, AzCopy, drivebay,
 * AzCopy …) for BENCH_ROUNDS rounds:
 *
 *   - drivebay: a fresh `drivebay serve` in its own process, as installed (bin/drivebay.js
 *     running dist/, which the bench builds first; emulator profile, the Azurite's account
 *     from a config file, autopilot off). An export
 *     job of `/bench/` is created and marked Shipping through the ARM API; its package is
 *     received and the drive attached (a fresh folder, 1 TB capacity) through the operator
 *     API, which starts the copy. Timed from the attach until Jobs_Get shows Packaging (the
 *     manifest written, the drive complete). Peak RSS: VmHWM of that process (it copies).
 *   - AzCopy (`@azure-tools/azcopy-linux` 10.32.2): `azcopy copy <container SAS URL> <dir>
 *     --recursive --check-md5 FailIfDifferent`, stdin an open pipe. Timed from the spawn
 *     until its last read or write (/proc/<pid>/io rchar + wchar sampled every 10 ms):
 *     AzCopy only exits on its 2 s status tick, so its wall time is reported but not
 *     compared.
 *
 * Every run is checked: every file of the dataset is on the drive (or in AzCopy's folder),
 * with its length and MD5, and nothing else (drivebay's side files and manifest aside).
 * Each run also reports its CPU seconds and Azurite's, and the CPU other processes used
 * meanwhile (from /proc/stat): a run where they used more than 0.5 s is marked NOISY.
 *
 * Targets: throughput ratio drivebay / AzCopy ≥ 1.0 (medians); drivebay peak RSS ≤ 300 MB.
 *
 * Options: `--quick`; env BENCH_ROUNDS (2), BENCH_SMALL_FILES, BENCH_SMALL_MIN_KB,
 * BENCH_SMALL_MAX_KB, BENCH_LARGE_FILES, BENCH_LARGE_MB, BENCH_HUGE_MB (as bench:import),
 * BENCH_ONLY (drivebay or azcopy), BENCH_CPU_PROF (a folder: the drivebay process runs with
 * --cpu-prof there), BENCH_NODE_ARGS (more node flags for it, e.g. --perf-basic-prof), BENCH_LOG (a log level: drivebay's log on stdout). Linux only (/proc, the AzCopy binary).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  createReadStream,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { EmbeddedAzurite } from "../src/storage/azurite.ts";
import {
  freshAzurite,
  median,
  NOISY_CPU_S,
  quietOnes,
  ratioLine,
  type TimedRun,
} from "./compare.ts";
import { makeMixed, type DataFile } from "./dataset.ts";
import {
  azcopyBinary,
  cpuBusy,
  cpuSeconds,
  cpuSplit,
  machineCpu,
  ownCpu,
  procStatus,
  rchar,
  threadCpu,
  threadCpuText,
} from "./proc.ts";
import { call, createShippedAndReceived, fmt, jobPath, stop, SUB, TempDirs } from "./support.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const QUICK = process.argv.includes("--quick");
const env = (name: string, full: number, quick: number) =>
  Number(process.env[name] ?? (QUICK ? quick : full));
const SMALL_FILES = env("BENCH_SMALL_FILES", 1000, 200);
const SMALL_MIN = env("BENCH_SMALL_MIN_KB", 4, 4) * KiB;
const SMALL_MAX = env("BENCH_SMALL_MAX_KB", 1024, 256) * KiB;
const LARGE_FILES = env("BENCH_LARGE_FILES", 3, 1);
const LARGE = env("BENCH_LARGE_MB", 128, 16) * MiB;
const HUGE = env("BENCH_HUGE_MB", 1024, 64) * MiB;
const ROUNDS = env("BENCH_ROUNDS", 2, 1);
const ONLY = process.env.BENCH_ONLY?.toLowerCase().split(",");
const runs = (who: string) => !ONLY || ONLY.includes(who.toLowerCase());
const CPU_PROF = process.env.BENCH_CPU_PROF;
const RSS_TARGET_MB = 300;

const RG = "bench";
const ACCOUNT = "benchexport";
const CONTAINER = "bench";
const DRIVE_ID = "BENCH-EXPORT-0001";

const mib = (bytes: number) => bytes / MiB;
const sec = (ms: number) => fmt(ms / 1000, 2);
const MB = (bytes: number) => fmt(bytes / 1e6);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function wchar(pid: number): number {
  return Number(/^wchar: (\d+)/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1]);
}

/** Every file under `root`, `/`-separated. */
function walk(root: string): string[] {
  const out: string[] = [];
  const go = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) go(p);
      else out.push(relative(root, p).split("\\").join("/"));
    }
  };
  go(root);
  return out;
}

async function md5Of(path: string): Promise<{ md5: string; size: number }> {
  const hash = createHash("md5");
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { md5: hash.digest("base64"), size };
}

/** The dataset's files under `dir` (the container's folder): each one's length and MD5, nothing else. */
async function verify(dir: string, files: DataFile[], ignore: (name: string) => boolean) {
  const expected = new Map(files.map((f) => [f.name, f]));
  const found = walk(dir).filter((n) => !ignore(n));
  const problems: string[] = [];
  for (const name of found) {
    const f = expected.get(name);
    if (!f) {
      problems.push(`extra file ${name}`);
      continue;
    }
    expected.delete(name);
    const got = await md5Of(join(dir, name));
    if (got.size !== f.size || got.md5 !== f.md5) problems.push(`${name}: wrong bytes`);
  }
  for (const name of expected.keys()) problems.push(`missing ${name}`);
  if (problems.length) throw new Error(`check failed: ${problems.slice(0, 10).join("; ")}`);
  return `${found.length} files, each length and MD5 right`;
}

interface RunResult {
  who: "drivebay" | "AzCopy";
  round: number;
  ms: number;
  wallMs?: number;
  cpu: number;
  azuriteCpu: number;
  otherCpu: number;
  peakRss?: number;
  idleRss?: number;
  /** drivebay's CPU by thread, user+system (bench/proc.ts threadCpuText). */
  threads?: string;
  checked: string;
}

// ---------------------------------------------------------------- drivebay

/**
 * `drivebay serve` as it is installed (bin/drivebay.js running the compiled dist/, built at
 * the start of the bench) in its own process: emulator profile, the Azurite's account from
 * the config file, autopilot off. Resolves once it listens.
 */
function startServer(
  dataDir: string,
  configFile: string,
  operatorKey: string,
): Promise<{ url: string; child: ChildProcess }> {
  const nodeArgs = [
    ...(CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", CPU_PROF] : []),
    // e.g. --perf-basic-prof, for `perf record -p <pid>` on the drivebay process
    ...(process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DRIVEBAY_PROFILE: "emulator",
    DRIVEBAY_BLOB_EMBEDDED: "off",
    DRIVEBAY_CONFIG: configFile,
    DRIVEBAY_AUTOPILOT: "off",
    DRIVEBAY_OPERATOR_KEY: operatorKey,
  };
  delete env.RUN_DRIVEBAY_FROM_SOURCE;
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      BIN,
      "serve",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--log-level",
      process.env.BENCH_LOG ?? "silent",
    ],
    { stdio: ["ignore", process.env.BENCH_LOG ? "inherit" : "ignore", "pipe"], env },
  );
  return new Promise((resolve, reject) => {
    let err = "";
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      if (/sources/.test(err)) reject(new Error(`drivebay does not run the build: ${err}`));
      const m = /^drivebay listening on (\S+)$/m.exec(err);
      if (m) resolve({ url: m[1]!, child });
    });
    child.on("exit", (code) => reject(new Error(`drivebay serve exited with ${code}: ${err}`)));
  });
}

interface Bench {
  files: DataFile[];
  bytes: number;
  azurite: EmbeddedAzurite;
  configFile: string;
  containerUrl: string;
  dirs: TempDirs;
}

async function runDrivebay(round: number, b: Bench): Promise<RunResult> {
  const dataDir = b.dirs.make();
  const driveDir = join(b.dirs.make(), "drive");
  mkdirSync(driveDir);
  const operatorKey = randomBytes(24).toString("base64url");
  const { url, child } = await startServer(dataDir, b.configFile, operatorKey);
  const pid = child.pid!;
  const azuritePid = b.azurite.pid!;
  try {
    const operator = (method: string, path: string, body?: unknown) =>
      call(`${url}/operator/v1${path}`, method, body, { authorization: `Bearer ${operatorKey}` });
    const name = `export-${round}`;
    const job = `${url}${jobPath(RG, name)}`;
    await createShippedAndReceived(
      url,
      operatorKey,
      RG,
      name,
      {
        storageAccountId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${ACCOUNT}`,
        jobType: "Export",
        logLevel: "Error",
        backupDriveManifest: false,
        export: { blobList: { blobPathPrefix: [`/${CONTAINER}/`] } },
      },
      [DRIVE_ID],
    );
    const idleRss = procStatus(pid, "VmRSS");
    const cpu0 = cpuSeconds(pid);
    const threads0 = threadCpu(pid);
    const az0 = cpuSeconds(azuritePid);
    const machine0 = machineCpu().busy;
    const own0 = ownCpu();
    const t0 = performance.now();
    await operator("POST", `/jobs/${SUB}/${RG}/${name}/drives/${DRIVE_ID}/attach`, {
      path: driveDir,
      capacityBytes: 1e12,
    });
    let body: { properties: { state: string; driveList: Record<string, unknown>[] } };
    for (;;) {
      body = await call(job, "GET");
      const state = body.properties.state;
      if (state !== "Transferring" && state !== "Received") break;
      const elapsed = performance.now() - t0;
      if (elapsed > 30 * 60_000) throw new Error("the export took over 30 min");
      await sleep(Math.max(20, elapsed / 200));
    }
    const ms = performance.now() - t0;
    const peakRss = procStatus(pid, "VmHWM");
    const cpu = cpuSeconds(pid) - cpu0;
    const threads = threadCpuText(threadCpu(pid), threads0);
    const azuriteCpu = cpuSeconds(azuritePid) - az0;
    const otherCpu = machineCpu().busy - machine0 - cpu - azuriteCpu - (ownCpu() - own0);
    const drive = body.properties.driveList[0]!;
    if (
      body.properties.state !== "Packaging" ||
      drive.state !== "Completed" ||
      drive.bytesSucceeded !== b.bytes
    ) {
      throw new Error(`the export ended ${body.properties.state}, drive ${JSON.stringify(drive)}`);
    }
    await stop(child);
    const checked = await verify(
      join(driveDir, CONTAINER),
      b.files,
      (n) => n.endsWith(".metadata") || n.endsWith(".properties"),
    );
    return {
      who: "drivebay",
      round,
      ms,
      cpu,
      azuriteCpu,
      otherCpu,
      peakRss,
      idleRss,
      threads,
      checked,
    };
  } finally {
    await stop(child);
    rmSync(driveDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- AzCopy

async function runAzCopy(round: number, azcopy: string, b: Bench): Promise<RunResult> {
  const dir = b.dirs.make();
  const out = join(dir, "out");
  const azuritePid = b.azurite.pid!;
  try {
    const az0 = cpuSeconds(azuritePid);
    const machine0 = machineCpu().busy;
    const own0 = ownCpu();
    const t0 = performance.now();
    const child = spawn(
      azcopy,
      [
        "copy",
        b.containerUrl,
        out,
        "--recursive",
        "--from-to",
        "BlobLocal",
        "--check-md5",
        "FailIfDifferent",
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
    // The end of the transfer: the last time AzCopy read (responses) or wrote (files)
    // anything. Once idle it reads and writes a few bytes a second, hence the slack.
    const samples: { t: number; io: number; cpu: number; user: number; system: number }[] = [];
    const sampler = setInterval(() => {
      try {
        const { user, system } = cpuSplit(pid);
        samples.push({
          t: performance.now() - t0,
          io: rchar(pid) + wchar(pid),
          cpu: user + system,
          user,
          system,
        });
      } catch {
        // it has exited
      }
    }, 10);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    const wallMs = performance.now() - t0;
    clearInterval(sampler);
    const azuriteCpu = cpuSeconds(azuritePid) - az0;
    const machine1 = machineCpu().busy;
    const own1 = ownCpu();
    let summary: { JobStatus?: string; TransfersCompleted?: string } | undefined;
    for (const line of stdout.split("\n")) {
      if (!line.startsWith("{")) continue;
      const m = JSON.parse(line) as { MessageType: string; MessageContent: string };
      if (m.MessageType === "EndOfJob") summary = JSON.parse(m.MessageContent);
    }
    if (
      code !== 0 ||
      summary?.JobStatus !== "Completed" ||
      Number(summary.TransfersCompleted) !== b.files.length
    ) {
      throw new Error(
        `AzCopy exited ${code}: ${JSON.stringify(summary)}\n${stderr}${stdout.slice(-2000)}`,
      );
    }
    const last = samples[samples.length - 1]!;
    const end = samples.find((s) => s.io >= last.io - 8 * KiB)!;
    const otherCpu = machine1 - machine0 - last.cpu - azuriteCpu - (own1 - own0);
    const checked = await verify(join(out, CONTAINER), b.files, () => false);
    return {
      who: "AzCopy",
      round,
      ms: end.t,
      wallMs,
      cpu: last.cpu,
      azuriteCpu,
      otherCpu,
      threads: `all threads ${last.user.toFixed(1)}+${last.system.toFixed(1)} s`,
      checked,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

/** Uploads the dataset with bench/plain-uploader.ts (Content-MD5 on every blob). */
async function upload(datasetDir: string, containerUrl: string, files: DataFile[]) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "plain-uploader.ts"), datasetDir, containerUrl],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  let out = "";
  const done = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (/^READY$/m.test(out) && !out.includes("GO-SENT")) {
        out += "GO-SENT";
        child.stdin!.write("GO\n");
      }
      if (/^DONE /m.test(out)) resolve();
    });
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`the upload exited with ${code}: ${out}`)),
    );
  });
  child.stdin!.write(files.map((f) => `${f.size} ${f.name}\n`).join("") + "\n");
  await done;
}

const BIN = join(import.meta.dirname, "..", "bin", "drivebay.js");
const azcopy = runs("azcopy") ? azcopyBinary() : "";
const dirs = new TempDirs();
let azurite: EmbeddedAzurite | undefined;
try {
  const planned =
    (SMALL_FILES * (SMALL_MAX - SMALL_MIN)) / Math.log(SMALL_MAX / SMALL_MIN) +
    LARGE_FILES * LARGE +
    HUGE;
  const stats = statfsSync(tmpdir());
  const free = stats.bavail * stats.bsize;
  if (free < 2 * planned + 512 * MiB) {
    throw new Error(
      `${tmpdir()} has ${fmt(mib(free))} MiB free; the dataset and one copy need about ${fmt(mib(2 * planned))} MiB`,
    );
  }
  const busy = await cpuBusy(1000);
  console.log(
    `drivebay bench:export${QUICK ? " --quick" : ""} — node ${process.version}, ${ROUNDS} round(s); CPU busy before the start ${fmt(busy * 100)} %, load average ${loadavg()
      .map((l) => fmt(l, 2))
      .join(" ")}`,
  );
  if (busy > 0.15) console.log("  (something else is using the CPUs: figures will be noisy)");

  if (runs("drivebay")) {
    // drivebay as installed runs the compiled dist/: build it from these sources.
    const t0 = performance.now();
    const built = spawnSync(
      process.execPath,
      [join(import.meta.dirname, "..", "scripts", "build.mjs")],
      {
        encoding: "utf8",
      },
    );
    if (built.status !== 0)
      throw new Error(`npm run build failed:\n${built.stdout}${built.stderr}`);
    console.log(`built dist/ in ${sec(performance.now() - t0)} s`);
  }
  const root = dirs.make();
  const datasetDir = join(root, "dataset");
  let t = performance.now();
  const files = makeMixed(datasetDir, {
    small: SMALL_FILES,
    smallMin: SMALL_MIN,
    smallMax: SMALL_MAX,
    large: LARGE_FILES,
    largeBytes: LARGE,
    hugeBytes: HUGE,
  });
  const bytes = files.reduce((n, f) => n + f.size, 0);
  console.log(
    `dataset: ${files.length} blobs, ${fmt(mib(bytes))} MiB — ${SMALL_FILES} of ${SMALL_MIN / KiB}–${SMALL_MAX / KiB} KiB (log-uniform), ` +
      `${LARGE_FILES} × ${LARGE / MiB} MiB, ${HUGE > 0 ? `1 × ${HUGE / MiB} MiB` : "no huge blob"} (made in ${sec(performance.now() - t)} s)`,
  );

  const fresh = await freshAzurite(root, ACCOUNT, CONTAINER);
  azurite = fresh.azurite;
  const { cc, sas, key } = fresh;
  const containerUrl = `${cc.url}?${sas}`;
  t = performance.now();
  await upload(datasetDir, containerUrl, files);
  console.log(`  uploaded to Azurite (in memory) in ${sec(performance.now() - t)} s`);
  // The dataset's files are not needed any more: only the blobs are read from here on.
  rmSync(datasetDir, { recursive: true, force: true });
  const configFile = join(root, "drivebay.json");
  writeFileSync(
    configFile,
    JSON.stringify({
      storageAccounts: [
        { name: ACCOUNT, blobEndpoint: azurite.blobEndpoint(ACCOUNT), accountKey: key },
      ],
    }),
  );
  spawnSync("sync");

  const bench: Bench = { files, bytes, azurite, configFile, containerUrl, dirs };
  const results: RunResult[] = [];
  const line = (r: RunResult) => {
    const s = r.ms / 1000;
    const cpu = `CPU ${r.who} ${fmt(r.cpu, 1)} s, Azurite ${fmt(r.azuriteCpu, 1)} s`;
    const extra =
      r.who === "drivebay"
        ? `peak RSS ${MB(r.peakRss!)} MB (${MB(r.idleRss!)} MB before the attach); ${cpu}`
        : `exit after ${sec(r.wallMs!)} s; ${cpu}`;
    console.log(
      `round ${r.round}  ${r.who.padEnd(8)}  ${sec(r.ms).padStart(6)} s  ${fmt(mib(bytes) / s, 1).padStart(6)} MiB/s  ${fmt(files.length / s, 1).padStart(7)} blobs/s  ${extra}`,
    );
    if (r.threads) console.log(`          CPU by thread (user+system): ${r.threads}`);
    console.log(
      `          checked: ${r.checked}; CPU used by other processes during the run ${fmt(Math.max(0, r.otherCpu), 1)} s${r.otherCpu > NOISY_CPU_S ? " — NOISY" : ""}`,
    );
  };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const who of ["drivebay", "AzCopy"] as const) {
      if (!runs(who)) continue;
      spawnSync("sync");
      await sleep(1000);
      const r =
        who === "drivebay"
          ? await runDrivebay(round, bench)
          : await runAzCopy(round, azcopy, bench);
      results.push(r);
      line(r);
    }
  }

  const of = (who: RunResult["who"]) => results.filter((r) => r.who === who);
  const rate = (rs: TimedRun[]) => median(rs.map((r) => mib(bytes) / (r.ms / 1000)));
  console.log("");
  for (const who of ["drivebay", "AzCopy"] as const) {
    const all = of(who);
    if (all.length === 0) continue;
    const rs = quietOnes(all);
    console.log(
      `  ${who.padEnd(8)}  median ${fmt(rate(rs), 1)} MiB/s over ${rs.length} run(s)${all.length > rs.length ? ` (${all.length - rs.length} noisy run(s) left out)` : ""}`,
    );
  }
  const db = of("drivebay");
  const ac = of("AzCopy");
  if (db.length && ac.length) {
    console.log(ratioLine("AzCopy", db, ac, rate));
  }
  if (db.length) {
    const peak = Math.max(...db.map((r) => r.peakRss!));
    console.log(
      `  drivebay peak RSS = ${MB(peak)} MB  (target ≤ ${RSS_TARGET_MB} MB: ${peak <= RSS_TARGET_MB * 1e6 ? "met" : "MISSED"})`,
    );
  }
  if (CPU_PROF) console.log(`CPU profiles of the drivebay process: ${CPU_PROF}`);
} finally {
  await azurite?.close();
  dirs.removeAll();
}
