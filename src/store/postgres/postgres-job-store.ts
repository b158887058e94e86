/**
 * The job store on PostgreSQL (ADR 0008): the same ports and semantics as SqliteJobStore,
 * for deployments where several processes share one store. Every statement is prepared
 * once per connection under a name. Every write is one statement (its own transaction) on
 * a connection of the pool, so writes run side by side and their commits share WAL
 * flushes. Reads share a few pipelined connections (ReadConnections): a read never waits
 * for a commit's flush, and many reads go out in one packet and come back in one.
 *
 * Unlike the SQLite store, it never answers a read from memory: other processes may write
 * the same rows, so every read asks the database. Point reads share statements and skip
 * the document of a version this node already holds (ADR 0015).
 */
import pg from "pg";
import type { HistoryEntry, Job, JobKey, JobState } from "../../domain/job/model.ts";
import { jobKeyOf } from "../../domain/job/model.ts";
import type {
  ClaimedVersion,
  DriveCandidate,
  DriveLease,
  DriveRun,
  ImportBlobRecord,
  JobStore,
  Lease,
  ListQuery,
  JobScope,
  ListedJob,
  PortalSession,
} from "../ports.ts";
import { liveSession, sessionIdHash, type SessionRow } from "../session-ids.ts";
import { migrate } from "./migrate.ts";
import { PostgresWakeups } from "./notifications.ts";

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database` (libpq's URL form and parameters). */
  url: string;
  /** Connections in the pool for writes (default 16). */
  poolSize?: number;
  /** Pipelined connections for reads (default 2). */
  readConnections?: number;
  /** An idle connection failed (the server restarted, the network dropped); the pool replaces it. */
  onError?: (e: Error) => void;
}

/** The PostgreSQL store cannot be reached or used at start; the message says what to fix. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/** The URL with its password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(an unparseable URL)";
  }
}

interface JobRow {
  seq: string;
  version: number;
  doc: Job;
}

/**
 * The document, parsed for this row alone, becomes the job: setting its version costs
 * nothing, where a copy of its two dozen fields cost about 25 µs a job (a list page of 100
 * took half as long again).
 */
function toJob(row: JobRow): Job {
  row.doc.version = row.version;
  return row.doc;
}
const listed = (row: JobRow): ListedJob => ({ seq: Number(row.seq), job: toJob(row) });

function docOf(job: Job): string {
  const { version: _v, ...rest } = job;
  return JSON.stringify(rest);
}

/** The drive keys of a job (lower-cased, once each). */
const drivesOf = (job: Job) => [...new Set(job.driveList.map((d) => d.driveId.toLowerCase()))];

/** History entries as the parallel arrays `unnest` takes. */
function historyArrays(history: HistoryEntry[]): (string | null)[][] {
  return [
    history.map((h) => h.at),
    history.map((h) => h.actor),
    history.map((h) => h.event),
    history.map((h) => h.from),
    history.map((h) => h.to),
    history.map((h) => h.reason),
  ];
}

const JOB_COLUMNS = "seq, version, doc";

/**
 * The drives and history written with a job, after `j` (the written row's uid, if any).
 * Parameters shared by insert and update: $1 uid, $2 state, $3 due, $4 tracking, $5 doc,
 * $6 drive keys, $7–$12 history columns.
 */
const DRIVES_AND_HISTORY = `
  d AS (
    INSERT INTO job_drives (drive_key, job_uid)
    SELECT k, j.uid FROM j, unnest($6::text[]) AS k
    ON CONFLICT DO NOTHING
  ),
  h AS (
    INSERT INTO job_history (job_uid, at, actor, event, from_state, to_state, reason)
    SELECT j.uid, x.at, x.actor, x.event, x.from_state, x.to_state, x.reason
    FROM j, unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
      WITH ORDINALITY AS x(at, actor, event, from_state, to_state, reason, n)
    ORDER BY x.n
  )
  SELECT count(*)::int AS n FROM j`;

const SQL = {
  // The point reads of one turn of the event loop, in one statement (see get()): each key
  // ($1–$3) with the uid and version this node already holds of it ($4, $5; null when
  // none). A row whose uid and version are those comes back without its document.
  getMany: `SELECT k.n, j.version, CASE WHEN j.uid = k.uid AND j.version = k.version THEN NULL ELSE j.doc END AS doc
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) WITH ORDINALITY AS k(sub, rg, name, uid, version, n)
    JOIN jobs j ON j.subscription_key = k.sub AND j.resource_group_key = k.rg AND j.name_key = k.name`,
  // The inserts of one turn of the event loop, in one statement and one commit (see
  // insert()): $1–$9 one element per job, $10–$11 the drive keys and $12–$18 the history
  // entries, each with its job's place in the batch (from 1). Rows go in in the order
  // asked (their seq); a job whose key or uid is taken, also by an earlier one of the same
  // batch, is skipped, and its drives and history with it. Returns the places inserted.
  // A key or uid already stored is filtered out before the insert: ON CONFLICT alone draws
  // the row's seq first (nextval), so every PUT of an existing job (Jobs_Create inserts
  // first) would take a seq, and every 32nd draw a transaction id and a WAL flush; only a
  // clash within the batch or with a concurrent insert still reaches ON CONFLICT.
  insertMany: `WITH x AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
      WITH ORDINALITY AS x(uid, sub, rg, name, state, job_type, due_at, tracking, doc, n)
  ),
  j AS (
    INSERT INTO jobs (uid, subscription_key, resource_group_key, name_key, state, job_type, due_at, tracking_key, version, doc)
    SELECT uid, sub, rg, name, state, job_type, due_at::timestamptz, tracking, 1, doc::json FROM x
    WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE subscription_key = x.sub AND resource_group_key = x.rg AND name_key = x.name)
      AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.uid = x.uid)
    ORDER BY n
    ON CONFLICT DO NOTHING
    RETURNING uid, subscription_key, resource_group_key, name_key
  ),
  -- Which of the batch each inserted row is: the first with its uid and key.
  i AS (
    SELECT DISTINCT ON (j.uid) x.n, j.uid FROM j
    JOIN x ON x.uid = j.uid AND x.sub = j.subscription_key AND x.rg = j.resource_group_key AND x.name = j.name_key
    ORDER BY j.uid, x.n
  ),
  d AS (
    INSERT INTO job_drives (drive_key, job_uid)
    SELECT y.k, i.uid FROM unnest($10::int[], $11::text[]) AS y(n, k) JOIN i ON i.n = y.n
    ON CONFLICT DO NOTHING
  ),
  h AS (
    INSERT INTO job_history (job_uid, at, actor, event, from_state, to_state, reason)
    SELECT i.uid, y.at, y.actor, y.event, y.from_state, y.to_state, y.reason
    FROM unnest($12::int[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[])
      WITH ORDINALITY AS y(n, at, actor, event, from_state, to_state, reason, o)
    JOIN i ON i.n = y.n
    ORDER BY y.o
  )
  SELECT n FROM i`,
  // Compare-and-set on $13, the version read: the row changes only while it is still
  // stored. A concurrent writer of the same row waits for the first one's row lock, then
  // finds the version moved on and changes nothing.
  update: `WITH j AS (
    UPDATE jobs SET state = $2, due_at = $3::timestamptz, tracking_key = $4, version = version + 1, doc = $5::json
    WHERE uid = $1 AND version = $13
    RETURNING uid
  ),
  gone AS (
    DELETE FROM job_drives WHERE job_uid IN (SELECT uid FROM j) AND drive_key <> ALL ($6::text[])
  ),${DRIVES_AND_HISTORY}`,
  // History, drive index and import progress go with the row (ON DELETE CASCADE); the
  // job's own settings (see JobStore.getSetting) with it, by their indexed key (migration 008).
  purge: `WITH d AS (DELETE FROM jobs WHERE uid = $1 AND version = $2 RETURNING uid),
    s AS (DELETE FROM settings USING d WHERE settings.job_uid = d.uid)
    SELECT uid FROM d`,
  purgeMany: `WITH d AS (DELETE FROM jobs USING unnest($1::text[], $2::int[]) AS x(uid, version)
    WHERE jobs.uid = x.uid AND jobs.version = x.version RETURNING jobs.uid),
    s AS (DELETE FROM settings USING d WHERE settings.job_uid = d.uid)
    SELECT uid FROM d`,
  byTracking: `SELECT ${JOB_COLUMNS} FROM jobs WHERE tracking_key = $1 ORDER BY seq`,
  byDrive: `SELECT jobs.seq, jobs.version, jobs.doc FROM job_drives JOIN jobs ON jobs.uid = job_drives.job_uid
    WHERE job_drives.drive_key = $1 ORDER BY jobs.seq`,
  byStates: `SELECT ${JOB_COLUMNS} FROM jobs WHERE state = ANY ($1::text[]) AND seq > $2 ORDER BY seq LIMIT $3`,
  history: `SELECT at, actor, event, from_state, to_state, reason FROM job_history WHERE job_uid = $1 ORDER BY id`,
  due: `SELECT ${JOB_COLUMNS} FROM jobs WHERE due_at IS NOT NULL AND due_at <= $1::timestamptz ORDER BY due_at, seq LIMIT $2`,
  // The sweep's claim: due rows no live claim holds, locked without waiting for rows
  // another sweeper is claiming (SKIP LOCKED); a row claimed meanwhile is re-checked
  // against the WHERE once its lock is taken, and dropped. The lease runs on the server's clock.
  claimDue: `UPDATE jobs SET claimed_version = jobs.version, claimed_until = now() + $3 * interval '1 millisecond', claimed_by = $4
    FROM (
      SELECT uid FROM jobs
      WHERE due_at IS NOT NULL AND due_at <= $1::timestamptz
        AND (claimed_until IS NULL OR claimed_until < now() OR claimed_version <> version)
      ORDER BY due_at, seq LIMIT $2
      FOR UPDATE SKIP LOCKED
    ) AS c
    WHERE jobs.uid = c.uid
    RETURNING jobs.seq, jobs.version, jobs.doc`,
  releaseClaims: `UPDATE jobs SET claimed_until = NULL, claimed_by = NULL
    FROM unnest($2::text[], $3::int[]) AS x(uid, version)
    WHERE jobs.uid = x.uid AND jobs.claimed_version = x.version AND jobs.claimed_by = $1`,
  count: "SELECT state, count(*)::int AS n FROM jobs GROUP BY state",
  // Each pair as its newest job spells it.
  scopes: `SELECT (array_agg(doc->>'subscriptionId' ORDER BY seq DESC))[1] AS sub,
      (array_agg(doc->>'resourceGroup' ORDER BY seq DESC))[1] AS rg, count(*)::int AS n
    FROM jobs WHERE $1::text[] IS NULL OR subscription_key = ANY($1::text[])
    GROUP BY subscription_key, resource_group_key
    ORDER BY subscription_key, resource_group_key LIMIT $2`,
  imports: `SELECT blob_key, status, final_path, record FROM import_blobs WHERE job_uid = $1 AND drive_key = $2`,
  putImport: `INSERT INTO import_blobs (job_uid, drive_key, blob_key, status, final_path, record)
    VALUES ($1, $2, $3, $4, $5, $6::json)
    ON CONFLICT (job_uid, drive_key, blob_key) DO UPDATE SET status = excluded.status, final_path = excluded.final_path, record = excluded.record`,
  // Fenced by a lease ($7 owner, $8 token): written only while the drive's run is held by
  // it. FOR SHARE makes a takeover of the drive wait for this write, not pass it.
  putImportFenced: `INSERT INTO import_blobs (job_uid, drive_key, blob_key, status, final_path, record)
    SELECT $1, $2, $3, $4, $5, $6::json
    WHERE EXISTS (SELECT 1 FROM drive_runs WHERE job_uid = $1 AND drive_key = $2 AND owner = $7 AND token = $8 FOR SHARE)
    ON CONFLICT (job_uid, drive_key, blob_key) DO UPDATE SET status = excluded.status, final_path = excluded.final_path, record = excluded.record`,
  // Drives offered for claiming get a run row first (once; a purged job's are not made).
  offerDrives: `INSERT INTO drive_runs (job_uid, drive_key)
    SELECT x.u, x.k FROM unnest($1::text[], $2::text[]) AS x(u, k) JOIN jobs ON jobs.uid = x.u
    ON CONFLICT DO NOTHING`,
  // The queue claim: rows another runner is locking right now are skipped, not waited for
  // (SKIP LOCKED); a row whose lease ran out ($4, now) is taken over with a new token.
  claimDrives: `WITH want AS (
      SELECT x.u, x.k, x.n FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(u, k, n)
    ),
    pick AS (
      SELECT r.job_uid, r.drive_key, want.n FROM drive_runs r
      JOIN want ON r.job_uid = want.u AND r.drive_key = want.k
      WHERE NOT r.finished AND (r.owner IS NULL OR r.lease_until <= $4::timestamptz)
      ORDER BY want.n LIMIT $6
      FOR UPDATE OF r SKIP LOCKED
    )
    UPDATE drive_runs r SET owner = $3, token = r.token + 1, lease_until = $5::timestamptz,
      started_at = coalesce(r.started_at, $4::timestamptz)
    FROM pick WHERE r.job_uid = pick.job_uid AND r.drive_key = pick.drive_key
    RETURNING r.job_uid, r.drive_key, r.token, r.started_at, pick.n`,
  renewDrive: `UPDATE drive_runs SET lease_until = $5::timestamptz
    WHERE job_uid = $1 AND drive_key = $2 AND owner = $3 AND token = $4`,
  releaseDrive: `UPDATE drive_runs SET owner = NULL, lease_until = NULL, finished = finished OR $5
    WHERE job_uid = $1 AND drive_key = $2 AND owner = $3 AND token = $4`,
  driveProgress: `UPDATE drive_runs SET bytes_done = $5, bytes_total = $6
    WHERE job_uid = $1 AND drive_key = $2 AND owner = $3 AND token = $4`,
  driveRuns: `SELECT drive_key, owner, token, lease_until, finished, bytes_done, bytes_total
    FROM drive_runs WHERE job_uid = $1 ORDER BY drive_key`,
  // update, fenced by a lease ($14 drive key, $15 owner, $16 token): n = 1 written,
  // fenced = 0 the lease no longer holds the drive.
  updateFenced: `WITH f AS (
    SELECT 1 FROM drive_runs WHERE job_uid = $1 AND drive_key = $14 AND owner = $15 AND token = $16 FOR SHARE
  ),
  j AS (
    UPDATE jobs SET state = $2, due_at = $3::timestamptz, tracking_key = $4, version = version + 1, doc = $5::json
    WHERE uid = $1 AND version = $13 AND EXISTS (SELECT 1 FROM f)
    RETURNING uid
  ),
  gone AS (
    DELETE FROM job_drives WHERE job_uid IN (SELECT uid FROM j) AND drive_key <> ALL ($6::text[])
  ),${DRIVES_AND_HISTORY.replace(
    "SELECT count(*)::int AS n FROM j",
    "SELECT (SELECT count(*)::int FROM j) AS n, (SELECT count(*)::int FROM f) AS fenced",
  )}`,
  getSetting: "SELECT value FROM settings WHERE name = $1",
  addSetting: "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
  putSetting:
    "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
  // One statement: two nodes raising it together both count (the row lock orders them).
  raiseSetting: `INSERT INTO settings (name, value) VALUES ($1, greatest($2::float8, $3::float8)::text)
    ON CONFLICT (name) DO UPDATE SET value = greatest(settings.value::float8 + $2::float8, $3::float8)::text
    RETURNING value`,
  addSession: `INSERT INTO portal_sessions (id_hash, kind, data, created_at, expires_at)
    VALUES ($1, $2, $3::json, $4::timestamptz, $5::timestamptz)`,
  session: "SELECT kind, data, created_at, expires_at FROM portal_sessions WHERE id_hash = $1",
  dropSession: "DELETE FROM portal_sessions WHERE id_hash = $1",
  // Only a row still expired when it is deleted ($2): a lookup never races a new session away.
  dropExpiredSession:
    "DELETE FROM portal_sessions WHERE id_hash = $1 AND expires_at <= $2::timestamptz",
  dropExpiredSessions: `DELETE FROM portal_sessions WHERE id_hash IN (
    SELECT id_hash FROM portal_sessions WHERE expires_at <= $1::timestamptz
    ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
} as const;

/** PostgreSQL's error code for a foreign key that names no row (the job is gone). */
const FOREIGN_KEY_VIOLATION = "23503";

/**
 * Connections in pipeline mode shared by all reads, taken in turn. Measured against one
 * query per pooled connection at a time (16 concurrent point reads, 2 cores): about 4×
 * the reads per second at a quarter of the CPU per read in this process, because queries
 * and results travel many to a packet. Only reads go here: a write would hold up every
 * read queued behind it on its connection until its commit is flushed. A connection that
 * fails is replaced on the next read.
 */
class ReadConnections {
  private readonly clients: (pg.Client | undefined)[];
  private readonly connecting: (Promise<pg.Client> | undefined)[];
  private turn = 0;
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    size: number,
    private readonly onError: (e: Error) => void,
  ) {
    this.clients = new Array<pg.Client | undefined>(size).fill(undefined);
    this.connecting = new Array<Promise<pg.Client> | undefined>(size).fill(undefined);
  }

  query<R extends pg.QueryResultRow>(
    query: pg.QueryConfig,
    retried = false,
  ): Promise<pg.QueryResult<R>> {
    const i = this.turn++ % this.clients.length;
    const client = this.clients[i];
    const result = client ? client.query<R>(query) : this.connect(i).then((c) => c.query<R>(query));
    if (retried) return result;
    // A read lost with its connection (the server restarted, an administrator ended the
    // session) is asked again once, on a new connection: reads change nothing.
    return result.catch((e: unknown) => {
      if (this.closed || (client !== undefined && this.clients.includes(client))) throw e;
      return this.query<R>(query, true);
    });
  }

  private connect(i: number): Promise<pg.Client> {
    if (this.closed) return Promise.reject(new Error("the store is closed"));
    this.connecting[i] ??= (async () => {
      const client = new pg.Client({ ...this.config, pipeline: true });
      const drop = () => {
        if (this.clients[i] === client) this.clients[i] = undefined;
      };
      client.on("error", (e) => {
        drop();
        this.onError(e);
      });
      client.on("end", drop);
      await client.connect();
      this.clients[i] = client;
      return client;
    })().finally(() => {
      this.connecting[i] = undefined;
    });
    return this.connecting[i];
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.connecting.map((c) => c?.catch(() => undefined)));
    await Promise.all(this.clients.map((c) => c?.end().catch(() => undefined)));
  }
}

/** How many jobs a node keeps the last read version of (see PostgresJobStore.get). */
const KNOWN_JOBS = 10_000;

interface PendingGet {
  key: JobKey;
  waiters: { resolve: (job: Job | undefined) => void; reject: (e: unknown) => void }[];
}

interface PendingInsert {
  job: Job;
  history: HistoryEntry[];
  resolve: (inserted: boolean) => void;
  reject: (e: unknown) => void;
}

/** Insert statements on their way at once (see PostgresJobStore.insert). */
const INSERTS_IN_FLIGHT = 2;

export class PostgresJobStore implements JobStore {
  /** The point reads asked in this turn of the event loop, by lower-cased key. */
  private gets = new Map<string, PendingGet>();
  private getsScheduled = false;
  /**
   * Point-read statements on their way: at most one per read connection; reads asked
   * meanwhile wait for one to come back and share the next statement. Measured on 2
   * shared cores (npm run bench:api): one in flight at a time or four gave a lower
   * Jobs_Get ratio than one per read connection (two).
   */
  private getsInFlight = 0;
  /** The inserts asked in this turn of the event loop (see insert()). */
  private inserts: PendingInsert[] = [];
  private insertsScheduled = false;
  private insertsInFlight = 0;
  /** The last version read of recently read jobs, by lower-cased key, least recently read first. */
  private readonly known = new Map<string, Job>();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly reads: ReadConnections,
    private readonly readConnections: number,
    readonly wakeups: PostgresWakeups,
  ) {}

  /**
   * Connects, checks that the database answers, and applies the migrations it lacks
   * (under the migration lock, so nodes that start together migrate once).
   */
  static async open(options: PostgresOptions): Promise<PostgresJobStore> {
    const where = redactUrl(options.url);
    let pool: pg.Pool;
    const config: pg.ClientConfig = {
      connectionString: options.url,
      connectionTimeoutMillis: 10_000,
      application_name: "drivebay",
    };
    try {
      pool = new pg.Pool({ ...config, max: options.poolSize ?? 16 });
    } catch (e) {
      throw new StoreUnavailableError(
        `the store URL ${where} is not usable: ${(e as Error).message}`,
        { cause: e },
      );
    }
    pool.on("error", (e) => options.onError?.(e));
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw new StoreUnavailableError(
        `cannot connect to the PostgreSQL store at ${where}: ${describe(e)}; start the server or fix the URL (--store, DRIVEBAY_STORE or store.url)`,
        { cause: e },
      );
    }
    try {
      await migrate(client);
    } catch (e) {
      client.release();
      await pool.end().catch(() => undefined);
      throw new StoreUnavailableError(
        `the PostgreSQL store at ${where} cannot be migrated: ${describe(e)}`,
        { cause: e },
      );
    }
    client.release();
    const onError = (e: Error) => options.onError?.(e);
    const wakeups = new PostgresWakeups(config, pool, onError);
    try {
      await wakeups.start();
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw new StoreUnavailableError(
        `cannot listen for other nodes' wake-ups on the PostgreSQL store at ${where}: ${describe(e)}`,
        { cause: e },
      );
    }
    const readConnections = options.readConnections ?? 2;
    const reads = new ReadConnections(config, readConnections, onError);
    return new PostgresJobStore(pool, reads, readConnections, wakeups);
  }

  /** A write: its own statement and transaction on a pooled connection. */
  private async write<R extends pg.QueryResultRow>(
    name: keyof typeof SQL,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>({ name, text: SQL[name], values });
  }

  /** A read, on a pipelined connection. */
  private read<R extends pg.QueryResultRow>(
    name: keyof typeof SQL,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.reads.query<R>({ name, text: SQL[name], values });
  }

  /**
   * A point read, always answered by the database (other nodes write the same rows), but
   * the point reads that arrive in one turn of the event loop share one statement, and a
   * job whose version this node already holds comes back without its document (ADR 0015).
   * The statement is sent after every read of its batch was asked, so each sees every
   * write committed before it was asked, on any node. Jobs returned are frozen: they may
   * be handed to several callers.
   */
  get(key: JobKey): Promise<Job | undefined> {
    const k = jobKeyOf(key);
    const name = `${k.subscriptionId}\u0000${k.resourceGroup}\u0000${k.name}`;
    return new Promise((resolve, reject) => {
      let waiting = this.gets.get(name);
      if (!waiting) this.gets.set(name, (waiting = { key: k, waiters: [] }));
      waiting.waiters.push({ resolve, reject });
      if (!this.getsScheduled) {
        this.getsScheduled = true;
        if (this.getsInFlight < this.readConnections) setImmediate(() => this.flushGets());
      }
    });
  }

  private flushGets(): void {
    this.getsScheduled = false;
    if (this.gets.size === 0) return;
    this.getsInFlight++;
    const batch = [...this.gets];
    this.gets = new Map();
    const held = batch.map(([name]) => this.known.get(name));
    this.read<{ n: string; version: number; doc: Job | null }>("getMany", [
      batch.map(([, b]) => b.key.subscriptionId),
      batch.map(([, b]) => b.key.resourceGroup),
      batch.map(([, b]) => b.key.name),
      held.map((j) => j?.uid ?? null),
      held.map((j) => j?.version ?? null),
    ])
      .then(
        ({ rows }) => {
          const found = new Array<Job | undefined>(batch.length);
          for (const row of rows) {
            const i = Number(row.n) - 1;
            // Still the version held: it stays, and becomes the newest of the kept ones
            // (a job read often is the last to go, not the first).
            if (row.doc === null) found[i] = this.remember(batch[i]![0], held[i]!);
            else {
              row.doc.version = row.version;
              found[i] = this.remember(batch[i]![0], row.doc);
            }
          }
          batch.forEach(([name, { waiters }], i) => {
            if (found[i] === undefined) this.known.delete(name);
            for (const w of waiters) w.resolve(found[i]);
          });
        },
        (e: unknown) => {
          for (const [, { waiters }] of batch) for (const w of waiters) w.reject(e);
        },
      )
      .finally(() => {
        this.getsInFlight--;
        if (this.getsScheduled) this.flushGets();
      });
  }

  /** Keeps the job as the version this node holds of its key (the oldest of too many go). */
  private remember(name: string, job: Job): Job {
    const frozen = Object.freeze(job);
    this.known.delete(name);
    if (this.known.size >= KNOWN_JOBS) this.known.delete(this.known.keys().next().value!);
    this.known.set(name, frozen);
    return frozen;
  }

  /** The parameters insert and update share ($1–$12, see DRIVES_AND_HISTORY). */
  private static written(job: Job, history: HistoryEntry[]): unknown[] {
    return [
      job.uid,
      job.state,
      job.dueAt ?? null,
      job.deliveryPackage?.trackingNumber.toLowerCase() ?? null,
      docOf(job),
      drivesOf(job),
      ...historyArrays(history),
    ];
  }

  /**
   * Inserts share commits: the inserts asked in one turn of the event loop go to the
   * database as one statement (insertMany), one transaction and one WAL flush, at most
   * two such statements at a time; inserts asked meanwhile wait and share the next. Each
   * keeps its own outcome (false: its key or uid was taken), and each is durable when it
   * resolves (synchronous_commit stays on).
   */
  insert(job: Job, history: HistoryEntry[]): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.inserts.push({ job, history, resolve, reject });
      if (!this.insertsScheduled) {
        this.insertsScheduled = true;
        if (this.insertsInFlight < INSERTS_IN_FLIGHT) setImmediate(() => this.flushInserts());
      }
    });
  }

  private flushInserts(): void {
    this.insertsScheduled = false;
    const batch = this.inserts;
    if (batch.length === 0) return;
    this.inserts = [];
    this.insertsInFlight++;
    this.insertBatch(batch)
      .then(
        (inserted) => batch.forEach((b, i) => b.resolve(inserted[i]!)),
        async (e: unknown) => {
          // One job the database refuses (a value it cannot store) must not fail the others
          // asked in the same turn: each goes again on its own, with its own outcome, one
          // after another in the order asked (as in the batch, the first asked of a key
          // wins it; and a big batch does not take every pooled connection at once).
          if (batch.length === 1 || (e as { code?: unknown }).code === undefined) {
            for (const b of batch) b.reject(e);
            return;
          }
          for (const b of batch) {
            await this.insertBatch([b]).then(
              ([inserted]) => b.resolve(inserted!),
              (one: unknown) => b.reject(one),
            );
          }
        },
      )
      .finally(() => {
        this.insertsInFlight--;
        if (this.insertsScheduled) this.flushInserts();
      });
  }

  /** One insertMany statement; whether each of `batch` was inserted. */
  private async insertBatch(batch: PendingInsert[]): Promise<boolean[]> {
    const jobs = batch.map((b) => b.job);
    const keys = jobs.map(jobKeyOf);
    const drives = jobs.flatMap((j, i) => drivesOf(j).map((k) => [i + 1, k] as const));
    const history = batch.flatMap((b, i) => b.history.map((h) => [i + 1, h] as const));
    const { rows } = await this.write<{ n: string }>("insertMany", [
      jobs.map((j) => j.uid),
      keys.map((k) => k.subscriptionId),
      keys.map((k) => k.resourceGroup),
      keys.map((k) => k.name),
      jobs.map((j) => j.state),
      jobs.map((j) => j.jobType),
      jobs.map((j) => j.dueAt ?? null),
      jobs.map((j) => j.deliveryPackage?.trackingNumber.toLowerCase() ?? null),
      jobs.map(docOf),
      drives.map(([n]) => n),
      drives.map(([, k]) => k),
      history.map(([n]) => n),
      ...historyArrays(history.map(([, h]) => h)),
    ]);
    const inserted = new Set(rows.map((r) => Number(r.n)));
    return batch.map((_, i) => inserted.has(i + 1));
  }

  async update(job: Job, history: HistoryEntry[]): Promise<boolean> {
    const { rows } = await this.write<{ n: number }>("update", [
      ...PostgresJobStore.written(job, history),
      job.version,
    ]);
    return rows[0]!.n === 1;
  }

  async purge(uid: string, version: number): Promise<boolean> {
    return (await this.write("purge", [uid, version])).rowCount === 1;
  }

  /**
   * One statement for the batch, committed asynchronously (`synchronous_commit = off`):
   * a crash can lose the last few hundred milliseconds of such purges, which the next
   * sweep redoes because their deadlines are still stored; the database stays consistent.
   */
  async purgeExpired(jobs: readonly { uid: string; version: number }[]): Promise<boolean[]> {
    if (jobs.length === 0) return [];
    const client = await this.pool.connect();
    let purged: Set<string>;
    try {
      await client.query("BEGIN");
      await client.query("SET LOCAL synchronous_commit = off");
      const r = await client.query<{ uid: string }>({
        name: "purgeMany",
        text: SQL.purgeMany,
        values: [jobs.map((j) => j.uid), jobs.map((j) => j.version)],
      });
      await client.query("COMMIT");
      purged = new Set(r.rows.map((row) => row.uid));
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
    return jobs.map((j) => purged.has(j.uid));
  }

  async list(q: ListQuery): Promise<ListedJob[]> {
    // One prepared statement per combination of filters, so each gets the plan of its index.
    const desc = q.newestFirst === true;
    const values: unknown[] = [
      q.subscriptionId.toLowerCase(),
      q.afterSeq ?? (desc ? Number.MAX_SAFE_INTEGER : 0),
      q.limit,
    ];
    const where = ["subscription_key = $1", desc ? "seq < $2" : "seq > $2"];
    let name = desc ? "list:desc" : "list";
    if (q.resourceGroup !== undefined) {
      values.push(q.resourceGroup.toLowerCase());
      where.push(`resource_group_key = $${values.length}`);
      name += ":rg";
    }
    if (q.state !== undefined) {
      values.push(q.state);
      where.push(`state = $${values.length}`);
      name += ":state";
    }
    if (q.jobType !== undefined) {
      values.push(q.jobType);
      where.push(`job_type = $${values.length}`);
      name += ":type";
    }
    const text = `SELECT ${JOB_COLUMNS} FROM jobs WHERE ${where.join(" AND ")} ORDER BY seq${desc ? " DESC" : ""} LIMIT $3`;
    const { rows } = await this.reads.query<JobRow>({ name, text, values });
    return rows.map(listed);
  }

  async history(uid: string): Promise<HistoryEntry[]> {
    const { rows } = await this.read<{
      at: string;
      actor: HistoryEntry["actor"];
      event: string;
      from_state: JobState | null;
      to_state: JobState | null;
      reason: string;
    }>("history", [uid]);
    return rows.map((r) => ({
      at: r.at,
      actor: r.actor,
      event: r.event,
      from: r.from_state,
      to: r.to_state,
      reason: r.reason,
    }));
  }

  async findByTrackingNumber(trackingNumber: string): Promise<Job[]> {
    return (await this.read<JobRow>("byTracking", [trackingNumber.toLowerCase()])).rows.map(toJob);
  }

  async findByDriveId(driveId: string): Promise<Job[]> {
    return (await this.read<JobRow>("byDrive", [driveId.toLowerCase()])).rows.map(toJob);
  }

  async listByStates(
    states: readonly JobState[],
    afterSeq: number,
    limit: number,
  ): Promise<ListedJob[]> {
    if (states.length === 0) return [];
    return (await this.read<JobRow>("byStates", [states, afterSeq, limit])).rows.map(listed);
  }

  async due(now: Date, limit: number): Promise<Job[]> {
    return (await this.read<JobRow>("due", [now.toISOString(), limit])).rows.map(toJob);
  }

  async claimDue(now: Date, limit: number, lease: Lease): Promise<Job[]> {
    const { rows } = await this.write<JobRow>("claimDue", [
      now.toISOString(),
      limit,
      lease.ms,
      lease.owner,
    ]);
    return rows.map(toJob);
  }

  async releaseClaims(owner: string, claims: readonly ClaimedVersion[]): Promise<void> {
    if (claims.length === 0) return;
    await this.write("releaseClaims", [
      owner,
      claims.map((c) => c.uid),
      claims.map((c) => c.version),
    ]);
  }

  async countByState(): Promise<Partial<Record<JobState, number>>> {
    const out: Partial<Record<JobState, number>> = {};
    for (const r of (await this.read<{ state: JobState; n: number }>("count", [])).rows) {
      out[r.state] = r.n;
    }
    return out;
  }

  async jobScopes(q: { subscriptionIds?: readonly string[]; limit: number }): Promise<JobScope[]> {
    if (q.subscriptionIds?.length === 0) return [];
    const subs = q.subscriptionIds?.map((s) => s.toLowerCase()) ?? null;
    const { rows } = await this.read<{ sub: string; rg: string; n: number }>("scopes", [
      subs,
      q.limit,
    ]);
    return rows.map((r) => ({ subscriptionId: r.sub, resourceGroup: r.rg, jobs: r.n }));
  }

  async importRecords(jobUid: string, driveId: string): Promise<ImportBlobRecord[]> {
    const { rows } = await this.read<{
      blob_key: string;
      status: ImportBlobRecord["status"];
      final_path: string | null;
      record: Record<string, unknown>;
    }>("imports", [jobUid, driveId.toLowerCase()]);
    return rows.map((r) => ({
      blobKey: r.blob_key,
      status: r.status,
      ...(r.final_path !== null ? { finalPath: r.final_path } : {}),
      detail: r.record,
    }));
  }

  /**
   * `relaxed` is not used: a commit here does not hold up the event loop (the server
   * flushes WAL for many connections at once), so waiting for the disk costs little.
   */
  async recordImport(
    jobUid: string,
    driveId: string,
    record: ImportBlobRecord,
    lease?: DriveLease,
    _relaxed?: boolean,
  ): Promise<boolean> {
    const values = [
      jobUid,
      driveId.toLowerCase(),
      record.blobKey,
      record.status,
      record.finalPath ?? null,
      JSON.stringify(record.detail),
    ];
    try {
      const r = lease
        ? await this.write("putImportFenced", [...values, lease.owner, lease.token])
        : await this.write("putImport", values);
      return r.rowCount === 1;
    } catch (e) {
      // The job was purged meanwhile: its progress went with it, and there is none to keep.
      if ((e as { code?: string }).code !== FOREIGN_KEY_VIOLATION) throw e;
      return false;
    }
  }

  /** $1–$4 of the lease statements. */
  private static leaseKey(lease: DriveLease): unknown[] {
    return [lease.jobUid, lease.driveId.toLowerCase(), lease.owner, lease.token];
  }

  async claimDrives(claim: {
    candidates: readonly DriveCandidate[];
    owner: string;
    now: Date;
    leaseMs: number;
    limit: number;
  }): Promise<DriveLease[]> {
    if (claim.candidates.length === 0 || claim.limit <= 0) return [];
    const uids = claim.candidates.map((c) => c.jobUid);
    const keys = claim.candidates.map((c) => c.driveId.toLowerCase());
    await this.write("offerDrives", [uids, keys]);
    const until = new Date(claim.now.getTime() + claim.leaseMs);
    const { rows } = await this.write<{
      job_uid: string;
      drive_key: string;
      token: number;
      started_at: Date;
      n: string;
    }>("claimDrives", [
      uids,
      keys,
      claim.owner,
      claim.now.toISOString(),
      until.toISOString(),
      claim.limit,
    ]);
    return rows
      .sort((a, b) => Number(a.n) - Number(b.n))
      .map((r) => ({
        jobUid: r.job_uid,
        driveId: claim.candidates[Number(r.n) - 1]!.driveId,
        owner: claim.owner,
        token: r.token,
        leaseUntil: until,
        startedAt: new Date(r.started_at),
      }));
  }

  async renewDrive(lease: DriveLease, now: Date, leaseMs: number): Promise<DriveLease | undefined> {
    const until = new Date(now.getTime() + leaseMs);
    const r = await this.write("renewDrive", [
      ...PostgresJobStore.leaseKey(lease),
      until.toISOString(),
    ]);
    return r.rowCount === 1 ? { ...lease, leaseUntil: until } : undefined;
  }

  async releaseDrive(lease: DriveLease, finished: boolean): Promise<boolean> {
    const r = await this.write("releaseDrive", [...PostgresJobStore.leaseKey(lease), finished]);
    return r.rowCount === 1;
  }

  async recordDriveProgress(
    lease: DriveLease,
    bytesDone: number,
    bytesTotal: number,
  ): Promise<boolean> {
    const r = await this.write("driveProgress", [
      ...PostgresJobStore.leaseKey(lease),
      bytesDone,
      bytesTotal,
    ]);
    return r.rowCount === 1;
  }

  async driveRuns(jobUid: string): Promise<DriveRun[]> {
    const { rows } = await this.read<{
      drive_key: string;
      owner: string | null;
      token: number;
      lease_until: Date | null;
      finished: boolean;
      bytes_done: string;
      bytes_total: string | null;
    }>("driveRuns", [jobUid]);
    return rows.map((r) => ({
      driveId: r.drive_key,
      ...(r.owner !== null ? { owner: r.owner } : {}),
      token: r.token,
      ...(r.lease_until !== null ? { leaseUntil: new Date(r.lease_until) } : {}),
      finished: r.finished,
      bytesDone: Number(r.bytes_done),
      ...(r.bytes_total !== null ? { bytesTotal: Number(r.bytes_total) } : {}),
    }));
  }

  async updateFenced(
    job: Job,
    history: HistoryEntry[],
    lease: DriveLease,
  ): Promise<"ok" | "conflict" | "leaseLost"> {
    const { rows } = await this.write<{ n: number; fenced: number }>("updateFenced", [
      ...PostgresJobStore.written(job, history),
      job.version,
      lease.driveId.toLowerCase(),
      lease.owner,
      lease.token,
    ]);
    if (rows[0]!.n === 1) return "ok";
    return rows[0]!.fenced === 0 ? "leaseLost" : "conflict";
  }

  async getSetting(name: string): Promise<string | undefined> {
    return (await this.read<{ value: string }>("getSetting", [name])).rows[0]?.value;
  }

  async setSettingIfAbsent(name: string, value: string): Promise<string> {
    await this.write("addSetting", [name, value]);
    return (await this.getSetting(name))!;
  }

  async setSetting(name: string, value: string): Promise<void> {
    await this.write("putSetting", [name, value]);
  }

  async raiseSetting(name: string, by: number, atLeast: number): Promise<number> {
    const { rows } = await this.write<{ value: string }>("raiseSetting", [name, by, atLeast]);
    return Number(rows[0]!.value);
  }

  async createSession(id: string, session: PortalSession): Promise<void> {
    await this.write("addSession", [
      sessionIdHash(id),
      session.kind,
      JSON.stringify(session.data),
      session.createdAt.toISOString(),
      session.expiresAt.toISOString(),
    ]);
  }

  async findSession(id: string, now: Date): Promise<PortalSession | undefined> {
    const hash = sessionIdHash(id);
    const row = (await this.read<SessionRow>("session", [hash])).rows[0];
    if (!row) return undefined;
    const live = liveSession(row, now);
    if (!live) await this.write("dropExpiredSession", [hash, now.toISOString()]);
    return live;
  }

  async deleteSession(id: string): Promise<boolean> {
    return (await this.write("dropSession", [sessionIdHash(id)])).rowCount === 1;
  }

  async deleteExpiredSessions(now: Date, limit: number): Promise<number> {
    return (await this.write("dropExpiredSessions", [now.toISOString(), limit])).rowCount ?? 0;
  }

  async close(): Promise<void> {
    await this.wakeups.close();
    await this.reads.close();
    await this.pool.end();
  }
}

/** A connection error as a person reads it (pg's own messages are terse for network errors). */
function describe(e: unknown): string {
  const err = e as { code?: string; message?: string; errors?: { message: string }[] };
  const message = err.errors?.map((x) => x.message).join("; ") || err.message || String(e);
  return err.code && !message.includes(err.code) ? `${message} (${err.code})` : message;
}
