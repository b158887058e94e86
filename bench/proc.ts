/**
 * What bench:import and bench:export read from /proc (peak RSS, CPU seconds, bytes read,
 * the machine's CPU) and the AzCopy binary they compare with. Linux only.
 */
import { spawnSync } from "node:child_process";
import { accessSync, chmodSync, constants, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const KiB = 1024;
const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- AzCopy and libsecret

/** The AzCopy binary, executable; exits with the apt command when libsecret is missing. */
export function azcopyBinary(): string {
  let bin: string;
  try {
    const pkg = createRequire(import.meta.url).resolve("@azure-tools/azcopy-linux/package.json");
    bin = join(dirname(pkg), "dist", "bin", "azcopy_linux_amd64");
  } catch {
    console.error(
      "The benchmark needs AzCopy: `npm install` (devDependency @azure-tools/azcopy-linux@10.32.2, Linux x64 only).",
    );
    process.exit(1);
  }
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    chmodSync(bin, 0o755); // the package ships it without its run bit
  }
  const r = spawnSync(bin, ["--version"], { input: "", encoding: "utf8" });
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  if (r.status !== 0) {
    if (/libsecret/.test(out)) {
      console.error(
        "AzCopy needs libsecret (it cannot load libsecret-1.so.0). Install it with:\n" +
          "  sudo apt-get install -y libsecret-1-0",
      );
    } else {
      console.error(`AzCopy does not run (${r.error?.message ?? `exit ${r.status}`}):\n${out}`);
    }
    process.exit(1);
  }
  return bin;
}

// ---------------------------------------------------------------- /proc sampling

export function procStatus(pid: number, field: "VmHWM" | "VmRSS"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(
    readFileSync(`/proc/${pid}/status`, "utf8"),
  );
  return m ? Number(m[1]) * KiB : NaN;
}

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const { user, system } = cpuSplit(pid);
  return user + system;
}

/**
 * User and system CPU seconds so far, and major page faults. Azurite's system time is
 * where memory it allocates for blobs costs it (page faults, reclaim of page cache).
 */
export function cpuSplit(pid: number): { user: number; system: number; majflt: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return {
    user: Number(fields[11]) / CLK_TCK,
    system: Number(fields[12]) / CLK_TCK,
    majflt: Number(fields[9]),
  };
}

/**
 * CPU seconds (user, system) so far per thread of a process (`main`, and the others by name), from /proc/<pid>/task/<tid>/stat: where a process's CPU goes.
 */
export function threadCpu(pid: number): Map<string, { user: number; system: number }> {
  const out = new Map<string, { user: number; system: number }>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended meanwhile
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    // Node 20 names every thread `node`: the main thread is the one whose id is the pid's.
    const name = tid === String(pid) ? "main" : comm === "node" ? "other threads" : comm;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const t = out.get(name) ?? { user: 0, system: 0 };
    t.user += Number(fields[11]) / CLK_TCK;
    t.system += Number(fields[12]) / CLK_TCK;
    out.set(name, t);
  }
  return out;
}

/** `threadCpu(pid)` now less `before`, as text: `main 5.1+0.3 s, other threads 0.2+1.4 s …` (user+system). */
export function threadCpuText(
  now: Map<string, { user: number; system: number }>,
  before: Map<string, { user: number; system: number }>,
): string {
  return [...now.entries()]
    .map(([name, t]) => {
      const b = before.get(name) ?? { user: 0, system: 0 };
      return { name, user: t.user - b.user, system: t.system - b.system };
    })
    .filter((t) => t.user + t.system >= 0.05)
    .sort((a, b) => b.user + b.system - (a.user + a.system))
    .map((t) => `${t.name} ${t.user.toFixed(1)}+${t.system.toFixed(1)} s`)
    .join(", ");
}

export function rchar(pid: number): number {
  return Number(/^rchar: (\d+)/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1]);
}

/** The machine's CPU time so far (all CPUs, from /proc/stat), busy and total, in seconds. */
export function machineCpu(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1);
  const n = f.map(Number);
  const total = n.reduce((a, b) => a + b, 0);
  return { busy: (total - n[3]! - n[4]!) / CLK_TCK, total: total / CLK_TCK };
}

/** The fraction of all CPUs busy over the next `ms`. */
export async function cpuBusy(ms: number): Promise<number> {
  const a = machineCpu();
  await sleep(ms);
  const b = machineCpu();
  return (b.busy - a.busy) / Math.max(0.01, b.total - a.total);
}

/** CPU seconds this process (the bench: polling, sampling) has used. */
export const ownCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * Samples a process's CPU every `everyMs` (BENCH_TRACE): where in a run the endpoint was
 * busy, so that time it waited for the uploader (at the start, at the end) shows. Returns
 * `stop`, which gives how long after the start the process first used at least half a CPU
 * over a sample, how long before the end it last did, and the time it spent below that.
 */
export function traceCpu(
  pid: number,
  everyMs = 20,
): () => { firstBusyMs: number; lastBusyMs: number; idleMs: number; totalMs: number } {
  const t0 = performance.now();
  const samples: { t: number; cpu: number }[] = [{ t: t0, cpu: cpuSeconds(pid) }];
  const timer = setInterval(
    () => samples.push({ t: performance.now(), cpu: cpuSeconds(pid) }),
    everyMs,
  );
  return () => {
    clearInterval(timer);
    const end = performance.now();
    samples.push({ t: end, cpu: cpuSeconds(pid) });
    // /proc counts CPU in ticks (10 ms): judge busy over windows of 100 ms.
    const busy: { from: number; to: number; busy: boolean }[] = [];
    for (let i = 0; i < samples.length - 1;) {
      let j = i + 1;
      while (j < samples.length - 1 && samples[j]!.t - samples[i]!.t < 100) j++;
      const dt = (samples[j]!.t - samples[i]!.t) / 1000;
      const used = samples[j]!.cpu - samples[i]!.cpu;
      busy.push({ from: samples[i]!.t, to: samples[j]!.t, busy: used >= dt / 2 });
      i = j;
    }
    const first = busy.find((b) => b.busy);
    const last = [...busy].reverse().find((b) => b.busy);
    const idleMs = busy.filter((b) => !b.busy).reduce((n, b) => n + b.to - b.from, 0);
    return {
      firstBusyMs: first ? first.from - t0 : end - t0,
      lastBusyMs: last ? end - last.to : end - t0,
      idleMs,
      totalMs: end - t0,
    };
  };
}
