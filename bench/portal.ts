/**
 * npm run bench:portal — the portal's job list next to the API call it mirrors, measured
 * in the same run on the same server: with 10,000 jobs in one resource group, the first
 * page of the portal's job list (HTML) vs Jobs_ListByResourceGroup for the same resource
 * group and page size (JSON). Target: the portal's server time ≤ 2× the API's.
 *
 * Server time is measured as the latency of sequential requests on one keep-alive
 * connection (no queueing, loopback), the two kinds interleaved so both see the same
 * machine state.
 * Options (env): BENCH_JOBS (default 10000), BENCH_REQUESTS (default 1000 of each kind).
 */
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";
import { AUTH, fmt, seed, startChild, stop, SUB, TempDirs, V } from "./support.ts";

const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1_000);
const WARMUP = 200;
const RG = "portal-bench";

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** One GET; resolves with its latency in ms once the whole body has arrived. */
function timedGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ ms: number; bytes: number; status: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(url, { agent, headers }, (res) => {
      let bytes = 0;
      res.on("data", (d: Buffer) => (bytes += d.length));
      res.on("end", () =>
        resolve({ ms: performance.now() - t0, bytes, status: res.statusCode ?? 0 }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

interface Stats {
  p50: number;
  p95: number;
  mean: number;
  bytes: number;
}

function stats(samples: number[], bytes: number): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    p50: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
    bytes,
  };
}

async function compare(portalUrl: string, apiUrl: string): Promise<{ portal: Stats; api: Stats }> {
  const check = async (url: string, headers: Record<string, string> = {}) => {
    const r = await timedGet(url, headers);
    if (r.status !== 200) throw new Error(`${url} answered ${r.status}`);
    return r;
  };
  for (let i = 0; i < WARMUP; i++) {
    await check(portalUrl);
    await check(apiUrl, AUTH);
  }
  const p: number[] = [];
  const a: number[] = [];
  let pBytes = 0;
  let aBytes = 0;
  for (let i = 0; i < REQUESTS; i++) {
    // Alternate which goes first, so neither always follows the other.
    const order = i % 2 === 0 ? ["p", "a"] : ["a", "p"];
    for (const which of order) {
      if (which === "p") {
        const r = await check(portalUrl);
        p.push(r.ms);
        pBytes = r.bytes;
      } else {
        const r = await check(apiUrl, AUTH);
        a.push(r.ms);
        aBytes = r.bytes;
      }
    }
  }
  return { portal: stats(p, pBytes), api: stats(a, aBytes) };
}

const dirs = new TempDirs();
try {
  const dataDir = dirs.make();
  const t0 = performance.now();
  await seed(dataDir, [{ rg: RG, count: JOBS }]);
  console.log(
    `seeded ${JOBS.toLocaleString("en-US")} jobs in ${fmt((performance.now() - t0) / 1000, 1)} s`,
  );
  const { url, child } = await startChild(["drivebay", dataDir]);
  try {
    console.log(
      `| page size | portal job list (HTML) p50 / p95 / mean | Jobs_ListByResourceGroup (JSON) p50 / p95 / mean | ratio (p50) | ratio (mean) | target |`,
    );
    console.log(`| --- | --- | --- | --- | --- | --- |`);
    for (const top of [50, 100]) {
      const portalUrl = `${url}/portal/subscriptions/${SUB}/resourceGroups/${RG}/jobs${top === 50 ? "" : `?top=${top}`}`;
      const apiUrl = `${url}/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ImportExport/jobs?${V}&$top=${top}`;
      const r = await compare(portalUrl, apiUrl);
      const cell = (s: Stats) =>
        `${fmt(s.p50, 2)} / ${fmt(s.p95, 2)} / ${fmt(s.mean, 2)} ms (${fmt(s.bytes / 1024, 0)} KiB)`;
      console.log(
        `| ${top} | ${cell(r.portal)} | ${cell(r.api)} | **${fmt(r.portal.p50 / r.api.p50, 2)}×** | ${fmt(r.portal.mean / r.api.mean, 2)}× | ≤ 2× |`,
      );
    }
  } finally {
    await stop(child);
  }
} finally {
  agent.destroy();
  dirs.removeAll();
}
