/**
 * The stores every store test runs over: a SQLite file and a PostgreSQL database (in the
 * throwaway cluster of ./postgres.ts). A factory opens stores on a `place` (a folder, or a
 * database URL); the same place reopens the same data.
 */
import { after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { JobStore } from "../../src/store/ports.ts";
import { PostgresJobStore } from "../../src/store/postgres/postgres-job-store.ts";
import { SqliteJobStore } from "../../src/store/sqlite/sqlite-job-store.ts";
import { freshDatabase, postgresSkip } from "./postgres.ts";

export interface StoreFactory {
  name: string;
  /** Why this store's variants are skipped here (undefined: they run). */
  skip?: string;
  /** A new, empty place for a store. */
  place(): Promise<string>;
  /** Opens a store on `place`. */
  open(place: string): Promise<JobStore>;
  /**
   * What a second node sees of `first`'s data: another store on the same place where
   * several processes may share it (PostgreSQL), `first` itself where one process owns it
   * (SQLite).
   */
  peer(place: string, first: JobStore): Promise<JobStore>;
  /**
   * Where `text` can still be read in the store's data once every store on `place` is
   * closed: the names of files or tables that hold it (empty: nowhere).
   */
  traces(place: string, text: string): Promise<string[]>;
  cleanup(place: string): Promise<void>;
}

export const sqliteFactory: StoreFactory = {
  name: "SQLite file",
  place: async () => mkdtempSync(join(tmpdir(), "drivebay-store-")),
  open: async (place) => new SqliteJobStore({ file: join(place, "jobs.sqlite") }),
  peer: async (_place, first) => first,
  // Every byte of every file: freed pages included (secure_delete overwrites them).
  async traces(place, text) {
    return readdirSync(place).filter((f) => readFileSync(join(place, f)).includes(text));
  },
  cleanup: async (place) => rmSync(place, { recursive: true, force: true }),
};

export const postgresFactory: StoreFactory = {
  name: "PostgreSQL",
  skip: postgresSkip(),
  place: () => freshDatabase(),
  open: (url) => PostgresJobStore.open({ url, poolSize: 4 }),
  peer: (url) => PostgresJobStore.open({ url, poolSize: 4 }),
  // Every row of every table of the database, as text.
  async traces(url, text) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const tables = await client.query<{ name: string }>(
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
      );
      const found: string[] = [];
      for (const { name } of tables.rows) {
        const r = await client.query(
          `SELECT 1 FROM ${pg.escapeIdentifier(name)} AS t WHERE strpos(t::text, $1) > 0 LIMIT 1`,
          [text],
        );
        if (r.rowCount) found.push(name);
      }
      return found;
    } finally {
      await client.end();
    }
  },
  // The cluster and its databases go when the test process ends.
  cleanup: async () => undefined,
};

export const STORE_FACTORIES = [sqliteFactory, postgresFactory];

/**
 * Inside a suite: a function that opens a store in a fresh place each call; every place is
 * cleaned up after the suite.
 */
export function freshStores(
  factory: StoreFactory,
): () => Promise<{ place: string; store: JobStore }> {
  const places: string[] = [];
  after(() => Promise.all(places.map((p) => factory.cleanup(p))));
  return async () => {
    const place = await factory.place();
    places.push(place);
    return { place, store: await factory.open(place) };
  };
}

/**
 * Settings rows as written before migration 008 (value "v"), in name order, with the job uid
 * each must be keyed by after it: the text after the last colon, none when there is none.
 */
export function settingsBefore008(uid: string): { name: string; job_uid: string | null }[] {
  return [
    { name: `a:b:${uid}`, job_uid: uid },
    { name: "ends-with:", job_uid: null },
    { name: `export-plan:${uid}`, job_uid: uid },
    { name: `export-plan:${uid}x`, job_uid: `${uid}x` },
    { name: "paging-token-secret", job_uid: null },
  ];
}

/** Job `uid` (version 1), purged: its settingsBefore008 rows go with it, the others stay. */
export async function purgeKeepsOthersSettings(store: JobStore, uid: string): Promise<void> {
  assert.equal(await store.purge(uid, 1), true);
  for (const { name, job_uid } of settingsBefore008(uid)) {
    assert.equal(await store.getSetting(name), job_uid === uid ? undefined : "v", name);
  }
}
