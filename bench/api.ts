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
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AUTH, fmt, jobPath, seed, startChild, stop, SUB, TempDirs, V } from "./support.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const BIG = Number(process.env.BENCH_BIG ?? 100_000);
const SMALL = 1_000;

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

const results: string[] = [];
const report = (line: string) => {
  results.push(line);
  console.log(line);
};

const dirs = new TempDirs();

try {
  console.log(
    `drivebay bench:api — ${SECONDS}s per run, ${CONNECTIONS} connections, node ${process.version}\n`,
  );

  // 1. Jobs_Get vs bare Fastify (same bytes).
  {
    const dir = dirs.make();
    await seed(dir, [{ rg: "rg", count: 10 }]);
    const svc = await startChild(["drivebay", dir]);
    const getUrl = `${svc.url}${jobPath("rg", "job-000005")}`;
    const body = await (await fetch(getUrl, { headers: AUTH })).text();
    const bodyFile = join(dir, "body.json");
    writeFileSync(bodyFile, body);
    const bare = await startChild(["bare", bodyFile]);
    const bareUrl = `${bare.url}${jobPath("rg", "job-000005")}`;
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
      const dir = dirs.make();
      const t0 = performance.now();
      await seed(dir, [{ rg: "big", count }]);
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
    const dir = dirs.make();
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
  dirs.removeAll();
}
