/**
 * Applies migrations/postgres/NNN_*.sql in order (the same numbers and meaning as
 * migrations/sqlite/), each in a transaction of its own, recorded in `schema_migrations`.
 * Nodes that start together take turns on a session advisory lock: the first applies
 * what is missing, the others then find nothing left to apply.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type pg from "pg";

const MIGRATIONS_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "..",
  "migrations",
  "postgres",
);

/** The advisory lock every drivebay node takes to migrate ('drivebay' in ASCII). */
export const MIGRATION_LOCK = 0x6472697665626179n;

export interface MigrationResult {
  /** The schema version now (the highest migration applied). */
  version: number;
  /** The migrations this call applied (empty when another node had applied them). */
  applied: number[];
}

interface Migration {
  version: number;
  name: string;
  sql: string;
}

function migrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}_.*\.sql$/.test(f))
    .sort()
    .map((f) => ({
      version: Number(f.slice(0, 3)),
      name: f,
      sql: readFileSync(join(MIGRATIONS_DIR, f), "utf8"),
    }));
}

/** Migrates the database `client` is connected to; the client is left as it was. */
export async function migrate(client: pg.ClientBase): Promise<MigrationResult> {
  await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK.toString()]);
  try {
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version INTEGER PRIMARY KEY,
         name TEXT NOT NULL,
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )`,
    );
    const done = new Set(
      (await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map(
        (r) => r.version,
      ),
    );
    const applied: number[] = [];
    for (const m of migrations()) {
      if (done.has(m.version)) continue;
      await client.query("BEGIN");
      try {
        await client.query(m.sql);
        await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
          m.version,
          m.name,
        ]);
        await client.query("COMMIT");
      } catch (e) {
        await client.query("ROLLBACK");
        throw new Error(`PostgreSQL migration ${m.name} failed: ${(e as Error).message}`, {
          cause: e,
        });
      }
      applied.push(m.version);
      done.add(m.version);
    }
    return { version: Math.max(0, ...done), applied };
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK.toString()]);
  }
}
