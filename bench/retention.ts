/**
 * npm run bench:retention — the retention sweep (SPEC §2.5) under read load: purge N
 * expired jobs while clients read Jobs_Get in a loop, and compare the readers' latency
 * with the same readers, on the same server, before the sweep.
 *   - Seeds N jobs `Completed` 89 days ago (their 90-day retention is due in a day) and a
 *     few hundred `Creating` jobs that must survive, before the server opens the file.
 *   - Phase A: readers alone. Phase B: readers while `POST /operator/v1/clock/advance
 *     {"by":"2d"}` runs the sweep (it returns when the sweep is done). Then readers alone
 *     again ("after"), to show the server is back where it was.
 *   - Verifies that every expired job is gone and every survivor is intact.
 * Target: readers' p99 during the sweep ≤ 3× their p99 without it.
 * Options (env): BENCH_JOBS (default 100000), BENCH_SURVIVORS (default 300),
 * BENCH_SECONDS (phase A and "after", default 8), BENCH_CONNECTIONS (default 8).
 */
import autocannon from "autocannon";
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import {
  AUTH,
  fmt,
  jobName,
  jobPath,
  pinCpus,
  seed,
  startChild,
  stop,
  TempDirs,
  type SeedGroup,
} from "./support.ts";

const JOBS = Number(process.env.BENCH_JOBS ?? 100_000);
const SURVIVORS = Number(process.env.BENCH_SURVIVORS ?? 300);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const TARGET = 3;
const DAY_MS = 86_400_000;

interface Phase {
  /** Requests started inside the window. */
  count: number;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  non2xx: number;
  errors: number;
}

/** Nearest-rank percentile of sorted values. */
const pct = (sorted: Float64Array, p: number) =>
  sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;

/**
 * Reads the survivors' Jobs_Get in a loop (keep-alive, CONNECTIONS connections, rotating
 * over the jobs) until `during()` settles. Latencies are autocannon's own (sub-millisecond,
 * per response); only requests *sent* while `during()` ran count, so the ramp-up before it
 * and the tail after it (autocannon stops at its next sample) do not.
 */
async function readers<T>(
  url: string,
  paths: string[],
  during: () => Promise<T>,
): Promise<{ phase: Phase; value: T }> {
  let next = 0;
  const samples: { sentAt: number; ms: number; status: number }[] = [];
  let instance!: autocannon.Instance;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url,
        connections: CONNECTIONS,
        duration: 3_600,
        sampleInt: 100,
        headers: AUTH,
        requests: [{ setupRequest: (req) => ({ ...req, path: paths[next++ % paths.length]! }) }],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
  instance.on("response", (_client, status, _bytes, ms) => {
    samples.push({ sentAt: performance.now() - ms, ms, status });
  });
  // Let every connection get going before the window opens.
  await new Promise((resolve) => setTimeout(resolve, 250));
  const from = performance.now();
  let value: T;
  try {
    value = await during();
  } finally {
    instance.stop();
  }
  const to = performance.now();
  const result = await done;
  const inWindow = samples.filter((s) => s.sentAt >= from && s.sentAt <= to);
  const sorted = Float64Array.from(inWindow, (s) => s.ms).sort();
  const seconds = (to - from) / 1000;
  return {
    value,
    phase: {
      count: inWindow.length,
      seconds,
      rps: inWindow.length / seconds,
      p50: pct(sorted, 0.5),
      p90: pct(sorted, 0.9),
      p99: pct(sorted, 0.99),
      p999: pct(sorted, 0.999),
      max: sorted[sorted.length - 1] ?? NaN,
      non2xx: inWindow.filter((s) => s.status < 200 || s.status > 299).length,
      errors: result.errors + result.timeouts,
    },
  };
}

const sleep = (seconds: number) => () =>
  new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000));

async function jobsByState(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^drivebay_jobs\{state="(\w+)"\} (\d+)$/gm)) {
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`verification failed: ${what}`);
}

const ms = (n: number) => (n < 10 ? fmt(n, 2) : fmt(n, 1));
const line = (name: string, p: Phase) =>
  `${name.padEnd(22)} ${fmt(p.rps).padStart(6)} req/s  p50 ${ms(p.p50)} ms  p90 ${ms(p.p90)} ms  p99 ${ms(p.p99)} ms  p99.9 ${ms(p.p999)} ms  max ${ms(p.max)} ms  (${p.count} requests in ${fmt(p.seconds, 1)} s, non-2xx ${p.non2xx}, errors ${p.errors})`;

const dirs = new TempDirs();
try {
  const serverCpu = pinCpus();
  const load = loadavg()[0]!;
  if (load > availableParallelism() / 4) {
    console.log(
      `note: load average ${fmt(load, 2)} — other work on this machine skews the comparison; rerun when it is quiet.`,
    );
  }
  console.log(
    `drivebay bench:retention — ${JOBS} expired jobs, ${SURVIVORS} survivors read by ${CONNECTIONS} connections, ${SECONDS}s without the sweep, node ${process.version}${serverCpu === undefined ? "" : ", server pinned to CPU 1 and readers to CPU 0"}\n`,
  );
  const dir = dirs.make();
  const now = Date.now();
  // Retention is 90 days after entering Completed: due in a day, so the start-up tick
  // leaves them alone and the 2-day clock advance makes them all due at once.
  const expired: SeedGroup = {
    rg: "expired",
    count: JOBS,
    state: "Completed",
    enteredAt: new Date(now - 89 * DAY_MS).toISOString(),
  };
  const live: SeedGroup = { rg: "live", count: SURVIVORS };
  const t0 = performance.now();
  await seed(dir, [expired, live]);
  console.log(`seeded in ${fmt((performance.now() - t0) / 1000, 1)} s`);

  const svc = await startChild(["drivebay", dir], { cpu: serverCpu });
  try {
    const operatorKey = readFileSync(join(dir, "operator.key"), "utf8").trim();
    const before = await jobsByState(svc.url);
    check(
      before.Completed === JOBS && before.Creating === SURVIVORS,
      `before the sweep: ${JSON.stringify(before)}`,
    );
    const paths = Array.from({ length: SURVIVORS }, (_, i) => jobPath("live", jobName(i)));

    await readers(svc.url, paths, sleep(2)); // warm-up: every survivor read once, JIT warm
    const a = (await readers(svc.url, paths, sleep(SECONDS))).phase;
    console.log(line("A  readers, no sweep", a));

    const sweep = await readers(svc.url, paths, async () => {
      const s0 = performance.now();
      const res = await fetch(`${svc.url}/operator/v1/clock/advance`, {
        method: "POST",
        headers: { authorization: `Bearer ${operatorKey}`, "content-type": "application/json" },
        body: JSON.stringify({ by: "2d" }),
      });
      const body = (await res.json()) as { tick?: { changed: number; purged: number } };
      const seconds = (performance.now() - s0) / 1000;
      check(res.status === 200, `clock advance answered ${res.status}: ${JSON.stringify(body)}`);
      return { seconds, tick: body.tick! };
    });
    const b = sweep.phase;
    console.log(line("B  readers + sweep", b));
    const after = (await readers(svc.url, paths, sleep(SECONDS))).phase;
    console.log(line("   readers, after it", after));

    // Verification: every expired job purged, every survivor intact.
    check(sweep.value.tick.purged === JOBS, `purged ${sweep.value.tick.purged}, not ${JOBS}`);
    const left = await jobsByState(svc.url);
    check(
      !left.Completed && left.Creating === SURVIVORS,
      `after the sweep: ${JSON.stringify(left)}`,
    );
    const gone = await fetch(`${svc.url}${jobPath("expired", jobName(0))}`, { headers: AUTH });
    check(gone.status === 404, `an expired job still answers ${gone.status}`);
    for (const i of [0, SURVIVORS - 1]) {
      const res = await fetch(`${svc.url}${jobPath("live", jobName(i))}`, { headers: AUTH });
      const job = (await res.json()) as { properties?: { state?: string } };
      check(
        res.status === 200 && job.properties?.state === "Creating",
        `survivor ${jobName(i)} answered ${res.status} ${JSON.stringify(job).slice(0, 200)}`,
      );
    }
    check(a.non2xx + b.non2xx + after.non2xx === 0, "a reader got a non-2xx answer");

    const ratio = b.p99 / a.p99;
    console.log(
      `\nsweep: purged ${sweep.value.tick.purged} jobs in ${fmt(sweep.value.seconds, 2)} s (${fmt(JOBS / sweep.value.seconds)} jobs/s), changed ${sweep.value.tick.changed}`,
    );
    console.log(
      `verified: no Completed job left (${JSON.stringify(left)}); survivors read back; expired job answers 404`,
    );
    console.log(
      `readers' p99 during the sweep / without it = ${ms(b.p99)} / ${ms(a.p99)} ms = ${fmt(ratio, 2)}×  (target ≤ ${TARGET}×: ${ratio <= TARGET ? "met" : "MISSED"})`,
    );
    console.log(
      `  p50 ratio ${fmt(b.p50 / a.p50, 2)}×, throughput during the sweep ${fmt((100 * b.rps) / a.rps)}% of without`,
    );
  } finally {
    await stop(svc.child);
  }
} finally {
  dirs.removeAll();
}
