/**
 * What only the PostgreSQL store has: several processes' stores on one database (each its
 * own pool), migrations that nodes starting together apply once, and start-up errors that
 * say what to fix. The store contract itself is job-store.test.ts, over both stores.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import { sampleJob } from "../support/job-factory.ts";
import { freshDatabase, postgresSkip } from "../support/postgres.ts";
import { purgeKeepsOthersSettings, settingsBefore008 } from "../support/store-factories.ts";
import type { Job } from "../../src/domain/job/model.ts";
import { migrate } from "../../src/store/postgres/migrate.ts";
import {
  PostgresJobStore,
  StoreUnavailableError,
} from "../../src/store/postgres/postgres-job-store.ts";

/** The migration numbers in migrations/postgres/, in order (every store migrates them all). */
const MIGRATIONS = readdirSync(new URL("../../migrations/postgres/", import.meta.url))
  .filter((f) => /^\d{3}_.*\.sql$/.test(f))
  .map((f) => Number(f.slice(0, 3)))
  .sort((a, b) => a - b);

const job = (over: Partial<Job> = {}) =>
  sampleJob({ subscriptionId: "Sub-P", resourceGroup: "rg", ...over });

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe("PostgreSQL store", { skip: postgresSkip() }, () => {
  test("two stores on one database (two pools): compare-and-set lets exactly one writer of a version win", async () => {
    const url = await freshDatabase();
    const [a, b] = await Promise.all([
      PostgresJobStore.open({ url, poolSize: 6 }),
      PostgresJobStore.open({ url, poolSize: 6 }),
    ]);
    try {
      const j = job();
      assert.equal(await a.insert(j, []), true);
      assert.equal(await b.insert(job({ name: j.name.toUpperCase() }), []), false);
      // Ten updates of version 1 from each store at once, and a purge of it from each.
      const writes = [a, b].flatMap((store, s) => [
        ...Array.from({ length: 10 }, (_, i) =>
          store.update({ ...j, tags: { by: `${s}-${i}` } }, [
            {
              at: j.stateEnteredAt,
              actor: "customer",
              event: `update-${s}-${i}`,
              from: "Creating",
              to: "Creating",
              reason: "r",
            },
          ]),
        ),
        store.purge(j.uid, 1),
      ]);
      const outcomes = await Promise.all(writes);
      assert.equal(outcomes.filter(Boolean).length, 1, "one write of version 1 wins");
      const left = await b.get(j);
      if (left) {
        assert.equal(left.version, 2);
        const history = await a.history(j.uid);
        assert.equal(history.length, 1);
        assert.equal(history[0]!.event, `update-${left.tags.by}`);
      } else {
        assert.deepEqual(await a.history(j.uid), [], "the purge won and took the history");
      }
      // Each store sees the other's writes at once: neither keeps a copy of its own.
      const k = job();
      await a.insert(k, []);
      assert.equal(await b.update({ ...k, tags: { x: "1" } }, []), true);
      assert.deepEqual((await a.get(k))?.tags, { x: "1" });
      assert.equal((await a.get(k))?.version, 2);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("connections ended by the server are replaced: reads and writes go on", async () => {
    const url = await freshDatabase();
    const store = await PostgresJobStore.open({ url, poolSize: 4, onError: () => undefined });
    try {
      const j = job();
      await store.insert(j, []);
      assert.equal((await store.get(j))?.name, j.name);
      // What a server restart or an administrator does to every session of the database.
      const ended = await withClient(
        url,
        async (c) =>
          (
            await c.query(
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
          ).rowCount,
      );
      assert.ok(ended! >= 2, `ended ${ended} sessions (the read and the write connections)`);
      assert.equal((await store.get(j))?.name, j.name);
      assert.equal(await store.update({ ...j, tags: { after: "restart" } }, []), true);
      assert.deepEqual((await store.get(j))?.tags, { after: "restart" });
    } finally {
      await store.close();
    }
  });

  test("two migrators starting together on a fresh database migrate it once", async () => {
    const url = await freshDatabase();
    const clients = await Promise.all(
      [0, 1].map(async () => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        return c;
      }),
    );
    try {
      const results = await Promise.all(clients.map((c) => migrate(c)));
      const files = MIGRATIONS;
      assert.deepEqual(
        results.map((r) => r.version),
        [files.at(-1), files.at(-1)],
      );
      assert.deepEqual(
        results.flatMap((r) => r.applied).sort(),
        files,
        "every migration applied by exactly one of them",
      );
      assert.ok(results.some((r) => r.applied.length === 0));
      const rows = await clients[0]!.query("SELECT version FROM schema_migrations ORDER BY 1");
      assert.deepEqual(
        rows.rows.map((r: { version: number }) => r.version),
        files,
      );
      assert.deepEqual((await migrate(clients[1]!)).applied, [], "a later start applies nothing");
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  test("stores opening together on a fresh database: both work, the schema is made once", async () => {
    const url = await freshDatabase();
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => PostgresJobStore.open({ url, poolSize: 2 })),
    );
    try {
      await Promise.all(stores.map((s, i) => s.insert(job({ name: `job-open-${i}` }), [])));
      assert.deepEqual(await stores[3]!.countByState(), { Creating: 4 });
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test("002 backfills tracking numbers and drives of jobs written before it", async () => {
    const url = await freshDatabase();
    await withClient(url, async (c) => {
      const dir = new URL("../../migrations/postgres/", import.meta.url);
      await c.query(readFileSync(new URL("001_jobs.sql", dir), "utf8"));
      await c.query(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
      );
      await c.query("INSERT INTO schema_migrations (version, name) VALUES (1, '001_jobs.sql')");
      await c.query(
        "INSERT INTO jobs (uid, subscription_key, resource_group_key, name_key, state, job_type, version, doc) VALUES ('u', 's', 'r', 'n', 'Shipping', 'Import', 1, $1)",
        [
          JSON.stringify({
            deliveryPackage: { trackingNumber: "OLD-TN" },
            driveList: [{ driveId: "Old-Drive" }],
          }),
        ],
      );
      assert.deepEqual(
        (await migrate(c)).applied,
        MIGRATIONS.filter((n) => n > 1),
      );
      assert.deepEqual((await c.query("SELECT tracking_key FROM jobs")).rows, [
        { tracking_key: "old-tn" },
      ]);
      assert.deepEqual((await c.query("SELECT drive_key, job_uid FROM job_drives")).rows, [
        { drive_key: "old-drive", job_uid: "u" },
      ]);
    });
  });

  test("008 keys the settings written before it by their job's uid; a purge then finds them by that key", async () => {
    const url = await freshDatabase();
    const j = job();
    await withClient(url, async (c) => {
      const dir = new URL("../../migrations/postgres/", import.meta.url);
      await c.query(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
      );
      for (const f of readdirSync(dir)
        .filter((f) => /^00[1-7]_.*\.sql$/.test(f))
        .sort()) {
        await c.query(readFileSync(new URL(f, dir), "utf8"));
        await c.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
          Number(f.slice(0, 3)),
          f,
        ]);
      }
      for (const { name } of settingsBefore008(j.uid)) {
        await c.query("INSERT INTO settings (name, value) VALUES ($1, 'v')", [name]);
      }
      assert.deepEqual(
        (await migrate(c)).applied,
        MIGRATIONS.filter((n) => n > 7),
      );
      assert.deepEqual(
        (await c.query("SELECT name, job_uid FROM settings ORDER BY name")).rows,
        settingsBefore008(j.uid),
      );
      // A plan that can use an index takes it once sequential scans are priced out.
      await c.query("SET enable_seqscan = off");
      const plan = await c.query("EXPLAIN DELETE FROM settings WHERE job_uid = 'u'");
      assert.match(
        plan.rows.map((r: Record<string, string>) => r["QUERY PLAN"]).join("\n"),
        /settings_job_uid/,
      );
    });
    const store = await PostgresJobStore.open({ url, poolSize: 2 });
    try {
      await store.insert(j, []);
      await purgeKeepsOthersSettings(store, j.uid);
    } finally {
      await store.close();
    }
  });

  test("an unreachable server is named with what to fix; the password never appears", async () => {
    const url = await freshDatabase();
    const port = Number(new URL(url).port);
    // A port nothing listens on: the cluster's own port plus one is not PostgreSQL's.
    const closed = `postgres://drivebay:s3cret-pw@127.0.0.1:${port + 1}/nowhere`;
    await assert.rejects(
      PostgresJobStore.open({ url: closed }),
      (e: unknown) =>
        e instanceof StoreUnavailableError &&
        e.message.includes("cannot connect to the PostgreSQL store at") &&
        e.message.includes("ECONNREFUSED") &&
        e.message.includes("--store") &&
        !e.message.includes("s3cret-pw"),
    );
    const missing = new URL(url);
    missing.pathname = "/no_such_database";
    await assert.rejects(
      PostgresJobStore.open({ url: missing.toString() }),
      (e: unknown) =>
        e instanceof StoreUnavailableError && e.message.includes('"no_such_database"'),
    );
  });
});
