/**
 * npm run bench:api — the API's throughput and latency next to baselines measured in the
 * same run, for each store (SQLite in the data directory; PostgreSQL in a throwaway
 * cluster with its durable defaults, when PostgreSQL is installed):
 *   1. Jobs_Get vs a bare Fastify server answering with the same bytes (target ≥ 0.5×),
 *      under development auth on each store, and under token auth (the service profile,
 *      an RS256 token of a JWKS this bench serves itself) on SQLite.
 *   2. Jobs_ListByResourceGroup, one page of 100 from the middle of 100,000 jobs vs the
 *      same page position among 1,000 jobs (target ≤ 1.5× the latency).
 *   3. Jobs_Create with durable commits (target ≥ 1,000 creates/s).
 * Options (env): BENCH_SECONDS (default 8), BENCH_CONNECTIONS (default 16), BENCH_BIG
 * (default 100000), BENCH_STORES (default "sqlite,postgres"), BENCH_PARTS (default
 * "get,page,create": which of the three to run).
 */
import autocannon from "autocannon";
import { generateKeyPairSync, sign } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { join } from "node:path";
import {
  freshDatabase,
  postgresSkip,
  startCluster,
  type Cluster,
} from "../test/support/postgres.ts";
import {
  AUTH,
  fmt,
  jobPath,
  seed,
  seedPostgres,
  startChild,
  stop,
  SUB,
  TempDirs,
  V,
  type SeedGroup,
} from "./support.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const BIG = Number(process.env.BENCH_BIG ?? 100_000);
const STORES = (process.env.BENCH_STORES ?? "sqlite,postgres").split(",");
const PARTS = (process.env.BENCH_PARTS ?? "get,page,create").split(",");
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Two loads compared in alternating slices (SECONDS each in all, 4 slices apiece), so that
 * other work starting or stopping on a shared machine falls on both sides alike.
 * Throughput is the mean over the slices, latency percentiles their median.
 */
async function alternated(a: autocannon.Options, b: autocannon.Options): Promise<[Run, Run]> {
  const slices: [Run[], Run[]] = [[], []];
  const duration = Math.max(1, SECONDS / 4);
  for (let i = 0; i < 4; i++) {
    slices[0].push(await load({ ...a, duration }));
    slices[1].push(await load({ ...b, duration }));
  }
  return slices.map((runs) => ({
    rps: runs.reduce((sum, r) => sum + r.rps, 0) / runs.length,
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
  })) as [Run, Run];
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

/** A store the service runs on: `serverArgs` seeds a fresh one and names it to the server child. */
interface StoreVariant {
  name: string;
  serverArgs(groups: SeedGroup[]): Promise<string[]>;
}

const results: string[] = [];
const report = (line: string) => {
  results.push(line);
  console.log(line);
};

const dirs = new TempDirs();

function variants(): StoreVariant[] {
  const out: StoreVariant[] = [];
  if (STORES.includes("sqlite")) {
    out.push({
      name: "SQLite",
      async serverArgs(groups) {
        const dir = dirs.make();
        await seed(dir, groups);
        return ["drivebay", dir];
      },
    });
  }
  if (STORES.includes("postgres")) {
    const skip = postgresSkip();
    if (skip) {
      report(`PostgreSQL: skipped (${skip})`);
      return out;
    }
    let cluster: Promise<Cluster> | undefined;
    out.push({
      name: "PostgreSQL",
      async serverArgs(groups) {
        cluster ??= startCluster({ durable: true });
        const url = await freshDatabase(await cluster);
        await seedPostgres(url, groups);
        return ["drivebay", dirs.make(), url];
      },
    });
  }
  return out;
}

/**
 * Token auth for the bench: an RSA key whose JWKS an HTTP server on the loopback serves,
 * a token it signs (RS256, an hour), and the service-profile config that trusts it and
 * grants the token's oid the bench's subscription (request limits off: the bench is one
 * subscription at full speed).
 */
async function benchIssuer() {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwks = JSON.stringify({
    keys: [{ ...publicKey.export({ format: "jwk" }), kid: "bench-1", alg: "RS256", use: "sig" }],
  });
  const server = createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(jwks);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`;
  const iss = "https://login.bench.test/tenant/v2.0";
  const aud = "https://management.bench.test/";
  const now = Math.floor(Date.now() / 1000);
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const data = `${enc({ alg: "RS256", typ: "JWT", kid: "bench-1" })}.${enc({
    iss,
    aud,
    iat: now,
    nbf: now,
    exp: now + 3600,
    oid: "bench-user",
    sub: "bench-user-sub",
    scp: "user_impersonation",
    upn: "bench@bench.test",
  })}`;
  const token = `${data}.${sign("sha256", Buffer.from(data), privateKey).toString("base64url")}`;
  return {
    token,
    config: {
      profile: "service",
      operatorKey: "bench-operator-key-0123456789abcdef",
      rateLimit: { enabled: false },
      auth: {
        mode: "token",
        issuer: iss,
        audience: aud,
        jwksUri,
        grants: [{ principal: "bench-user", subscriptions: [SUB] }],
      },
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

try {
  console.log(
    `drivebay bench:api — ${SECONDS}s per run, ${CONNECTIONS} connections, node ${process.version}, load average ${fmt(loadavg()[0]!, 2)} at start\n`,
  );
  const stores = variants();

  // 1. Jobs_Get vs bare Fastify (same bytes), in alternating slices.
  for (const store of PARTS.includes("get") ? stores : []) {
    const svc = await startChild(await store.serverArgs([{ rg: "rg", count: 10 }]));
    const getUrl = `${svc.url}${jobPath("rg", "job-000005")}`;
    const body = await (await fetch(getUrl, { headers: AUTH })).text();
    const bodyFile = join(dirs.make(), "body.json");
    writeFileSync(bodyFile, body);
    const bare = await startChild(["bare", bodyFile]);
    const bareUrl = `${bare.url}${jobPath("rg", "job-000005")}`;
    await load({ url: getUrl, headers: AUTH, duration: 2 }); // warm-up
    await load({ url: bareUrl, duration: 2 });
    const [g, b] = await alternated({ url: getUrl, headers: AUTH }, { url: bareUrl });
    await stop(svc.child);
    await stop(bare.child);
    report(
      `${store.name.padEnd(10)} Jobs_Get   ${fmt(g.rps)} req/s  p50 ${g.p50} ms  p99 ${g.p99} ms  (errors ${g.errors}, non-2xx ${g.non2xx}, ${body.length} B body)`,
    );
    report(`${"".padEnd(10)} bare Fastify ${fmt(b.rps)} req/s  p50 ${b.p50} ms  p99 ${b.p99} ms`);
    report(`  ${store.name}: ratio Jobs_Get / bare = ${fmt(g.rps / b.rps, 2)}  (target ≥ 0.5)`);
  }

  // 1b. Jobs_Get under token auth (SQLite), vs bare Fastify in the same run.
  if (STORES.includes("sqlite")) {
    const issuer = await benchIssuer();
    try {
      const dir = dirs.make();
      await seed(dir, [{ rg: "rg", count: 10 }]);
      const configFile = join(dirs.make(), "config.json");
      writeFileSync(configFile, JSON.stringify(issuer.config));
      const svc = await startChild(["token", dir, configFile]);
      const headers = { authorization: `Bearer ${issuer.token}` };
      const getUrl = `${svc.url}${jobPath("rg", "job-000005")}`;
      const res = await fetch(getUrl, { headers });
      const body = await res.text();
      if (res.status !== 200)
        throw new Error(`token auth Jobs_Get answered ${res.status}: ${body}`);
      const refused = await fetch(getUrl, { headers: AUTH });
      await refused.body?.cancel();
      if (refused.status !== 401) throw new Error(`a development token got ${refused.status}`);
      const bodyFile = join(dirs.make(), "body.json");
      writeFileSync(bodyFile, body);
      const bare = await startChild(["bare", bodyFile]);
      const bareUrl = `${bare.url}${jobPath("rg", "job-000005")}`;
      await load({ url: getUrl, headers, duration: 2 }); // warm-up
      await load({ url: bareUrl, duration: 2 });
      const [g, b] = await alternated({ url: getUrl, headers }, { url: bareUrl });
      await stop(svc.child);
      await stop(bare.child);
      report(
        `SQLite     Jobs_Get, token auth (RS256)  ${fmt(g.rps)} req/s  p50 ${g.p50} ms  p99 ${g.p99} ms  (errors ${g.errors}, non-2xx ${g.non2xx}, ${body.length} B body)`,
      );
      report(`${"".padEnd(10)} bare Fastify ${fmt(b.rps)} req/s  p50 ${b.p50} ms  p99 ${b.p99} ms`);
      report(
        `  SQLite: ratio Jobs_Get under token auth / bare = ${fmt(g.rps / b.rps, 2)}  (target ≥ 0.5)`,
      );
    } finally {
      await issuer.close();
    }
  }

  // 2. A page of 100 from the middle of 100k jobs vs 1k jobs, both servers up, in
  // alternating slices.
  for (const store of PARTS.includes("page") ? stores : []) {
    const servers: { count: number; url: string; link: string; seeded: number }[] = [];
    const children = [];
    for (const count of [SMALL, BIG]) {
      const t0 = performance.now();
      const args = await store.serverArgs([{ rg: "big", count }]);
      const seeded = performance.now() - t0;
      const svc = await startChild(args);
      children.push(svc.child);
      servers.push({ count, url: svc.url, link: await middlePageLink(svc.url, "big"), seeded });
    }
    for (const s of servers) await load({ url: s.link, headers: AUTH, duration: 2 });
    const [small, big] = await alternated(
      { url: servers[0]!.link, headers: AUTH },
      { url: servers[1]!.link, headers: AUTH },
    );
    for (const child of children) await stop(child);
    [small, big].forEach((r, i) =>
      report(
        `${store.name.padEnd(10)} ListByResourceGroup page of 100, ${servers[i]!.count} jobs: ${fmt(r.rps)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  (errors ${r.errors}, non-2xx ${r.non2xx}; seeded in ${fmt(servers[i]!.seeded / 1000, 1)} s)`,
      ),
    );
    report(
      `  ${store.name}: latency ratio ${BIG} / ${SMALL} jobs: p50 ${fmt(big.p50 / small.p50, 2)}, mean ${fmt(small.rps / big.rps, 2)}  (target ≤ 1.5)`,
    );
  }

  // 3. Durable creates.
  for (const store of PARTS.includes("create") ? stores : []) {
    const svc = await startChild(await store.serverArgs([]));
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
      `${store.name.padEnd(10)} Jobs_Create (durable commits)  ${fmt(c.rps)} creates/s  p50 ${c.p50} ms  p99 ${c.p99} ms  (errors ${c.errors}, non-2xx ${c.non2xx})  (target ≥ 1000)`,
    );
  }
} finally {
  dirs.removeAll();
}
