/**
 * npm run bench:api — the API's throughput and latency next to baselines measured in the
 * same run:
 *   1. Jobs_Get vs a bare Fastify server answering with the same bytes (target ≥ 0.5×).
 *   2. Jobs_ListByResourceGroup, one page of 100 from the middle of 100,000 jobs vs the
 *      same page position among 1,000 jobs (target ≤ 1.5× the latency).
 *   3. Jobs_Create with durable (FULL-sync) commits (target ≥ 1,000 creates/s).
 * Options (env): BENCH_SECONDS (default 8), BENCH_CONNECTIONS (default 16), BENCH_BIG (default 100000).
 */
import autocannon from "autocannon";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { DEFAULT_TIMERS, initialDeadline } from "../src/domain/job/lifecycle.ts";
import type { Job } from "../src/domain/job/model.ts";
import { LocationCatalogue } from "../src/domain/locations.ts";
import { SqliteJobStore } from "../src/store/sqlite/sqlite-job-store.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const BIG = Number(process.env.BENCH_BIG ?? 100_000);
const SMALL = 1_000;
const SUB = "00000000-0000-0000-0000-0000000000b1";
const V = "api-version=2021-01-01";
const AUTH = { authorization: "Bearer bench" };

function startChild(args: string[]): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "server-child.ts"), ...args],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, child });
    });
    child.on("exit", (code) => reject(new Error(`server child exited with ${code}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners("exit");
    child.on("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function load(opts: autocannon.Options): Promise<Run> {
  const r = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...opts });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

const location = new LocationCatalogue().find("westus")!;
function seedJob(rg: string, i: number, now: string): Job {
  return initialDeadline(
    {
      uid: randomUUID(),
      subscriptionId: SUB,
      resourceGroup: rg,
      name: `job-${String(i).padStart(6, "0")}`,
      location: "westus",
      tags: { batch: String(i % 10) },
      jobType: "Import",
      storageAccountId: `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.Storage/storageAccounts/benchdata`,
      shippingInformation: new LocationCatalogue().shippingInformationFor(location),
      diagnosticsPath: "waimportexport",
      logLevel: "Error",
      backupDriveManifest: false,
      state: "Creating",
      cancelRequested: false,
      driveList: [
        {
          driveId: `DRIVE${i}`,
          bitLockerKey: "k",
          manifestFile: "\\DriveManifest.xml",
          state: "Specified",
        },
      ],
      encryptionKey: { kekType: "MicrosoftManaged" },
      identity: { type: "None" },
      systemData: {
        createdBy: "bench",
        createdByType: "User",
        createdAt: now,
        lastModifiedBy: "bench",
        lastModifiedByType: "User",
        lastModifiedAt: now,
      },
      stateEnteredAt: now,
      lastCustomerUpdateAt: now,
      version: 1,
    },
    DEFAULT_TIMERS,
  );
}

async function seed(dataDir: string, rg: string, count: number): Promise<void> {
  // Seeding is setup, not the thing measured: NORMAL sync; the service reopens with FULL.
  const store = new SqliteJobStore({
    file: join(dataDir, "drivebay.sqlite"),
    synchronous: "NORMAL",
  });
  const now = new Date().toISOString();
  for (let i = 0; i < count; i++) await store.insert(seedJob(rg, i, now), []);
  await store.close();
}

async function middlePageLink(url: string, rg: string): Promise<string> {
  const links: string[] = [];
  let next: string | undefined =
    `${url}/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.ImportExport/jobs?${V}&$top=100`;
  while (next) {
    const body = (await (await fetch(next, { headers: AUTH })).json()) as { nextLink?: string };
    if (body.nextLink) links.push(body.nextLink);
    next = body.nextLink;
  }
  return links[Math.floor(links.length / 2)]!;
}

const fmt = (n: number, d = 0) => n.toFixed(d);
const results: string[] = [];
const report = (line: string) => {
  results.push(line);
  console.log(line);
};

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "drivebay-bench-"));
  dirs.push(d);
  return d;
};

try {
  console.log(
    `drivebay bench:api — ${SECONDS}s per run, ${CONNECTIONS} connections, node ${process.version}\n`,
  );

  // 1. Jobs_Get vs bare Fastify (same bytes).
  {
    const dir = tempDir();
    await seed(dir, "rg", 10);
    const svc = await startChild(["drivebay", dir]);
    const getUrl = `${svc.url}/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/job-000005?${V}`;
    const body = await (await fetch(getUrl, { headers: AUTH })).text();
    const bodyFile = join(dir, "body.json");
    writeFileSync(bodyFile, body);
    const bare = await startChild(["bare", bodyFile]);
    const bareUrl = `${bare.url}/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/job-000005?${V}`;
    await load({ url: getUrl, headers: AUTH, duration: 2 }); // warm-up
    await load({ url: bareUrl, duration: 2 });
    const g = await load({ url: getUrl, headers: AUTH });
    const b = await load({ url: bareUrl });
    await stop(svc.child);
    await stop(bare.child);
    report(
      `Jobs_Get            ${fmt(g.rps)} req/s  p50 ${g.p50} ms  p99 ${g.p99} ms  (errors ${g.errors}, non-2xx ${g.non2xx}, ${body.length} B body)`,
    );
    report(`bare Fastify        ${fmt(b.rps)} req/s  p50 ${b.p50} ms  p99 ${b.p99} ms`);
    report(`  ratio Jobs_Get / bare = ${fmt(g.rps / b.rps, 2)}  (target ≥ 0.5)`);
  }

  // 2. A page of 100 from the middle of 100k jobs vs 1k jobs.
  {
    const pages: Record<string, Run> = {};
    for (const count of [SMALL, BIG]) {
      const dir = tempDir();
      const t0 = performance.now();
      await seed(dir, "big", count);
      const seeded = performance.now() - t0;
      const svc = await startChild(["drivebay", dir]);
      const link = await middlePageLink(svc.url, "big");
      await load({ url: link, headers: AUTH, duration: 2 });
      pages[count] = await load({ url: link, headers: AUTH });
      await stop(svc.child);
      const r = pages[count]!;
      report(
        `ListByResourceGroup page of 100, ${count} jobs: ${fmt(r.rps)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  (errors ${r.errors}, non-2xx ${r.non2xx}; seeded in ${fmt(seeded / 1000, 1)} s)`,
      );
    }
    const small = pages[SMALL]!;
    const big = pages[BIG]!;
    report(
      `  latency ratio ${BIG} / ${SMALL} jobs: p50 ${fmt(big.p50 / small.p50, 2)}, mean ${fmt(small.rps / big.rps, 2)}  (target ≤ 1.5)`,
    );
  }

  // 3. Durable creates.
  {
    const dir = tempDir();
    const svc = await startChild(["drivebay", dir]);
    let i = 0;
    const body = JSON.stringify({
      location: "westus",
      properties: {
        storageAccountId: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/benchdata`,
        jobType: "Import",
        driveList: [{ driveId: "D1", bitLockerKey: "k", manifestFile: "\\DriveManifest.xml" }],
      },
    });
    const c = await load({
      url: svc.url,
      requests: [
        {
          method: "PUT",
          setupRequest: (req) => ({
            ...req,
            path: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/create-${i++}?${V}`,
            headers: { ...AUTH, "content-type": "application/json" },
            body,
          }),
        },
      ],
    });
    await stop(svc.child);
    report(
      `Jobs_Create (durable, FULL sync)  ${fmt(c.rps)} creates/s  p50 ${c.p50} ms  p99 ${c.p99} ms  (errors ${c.errors}, non-2xx ${c.non2xx})  (target ≥ 1000)`,
    );
  }
} finally {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
