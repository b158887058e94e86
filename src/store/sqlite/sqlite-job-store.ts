import Database from "better-sqlite3";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { HistoryEntry, Job, JobKey, JobState } from "../../domain/job/model.ts";
import { jobKeyOf } from "../../domain/job/model.ts";
import { Checkpointer } from "./checkpointer.ts";
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
import { liveSession, sessionIdHash } from "../session-ids.ts";
import { LocalWakeups } from "../wakeups.ts";

const MIGRATIONS_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "..",
  "migrations",
  "sqlite",
);

export interface SqliteOptions {
  /** A file path, or ":memory:". */
  file: string;
  /**
   * `FULL` fsyncs every commit (durable across power loss); `NORMAL` in WAL mode is
   * durable across a process crash. Default FULL.
   */
  synchronous?: "FULL" | "NORMAL";
}

const RECENT_JOBS = 10_000;

/** SQLite's own default, used again when the checkpointer thread cannot run. */
const AUTOCHECKPOINT_PAGES = 1000;

/** Another process (or store) holds the data file: two writers would corrupt its in-memory copy. */
export class StoreInUseError extends Error {
  constructor(readonly file: string) {
    super(
      `the database ${file} is in use by another drivebay process; stop it, or give this one another data directory (--data-dir or DRIVEBAY_DATA_DIR)`,
    );
    this.name = "StoreInUseError";
  }
}

/**
 * Holds `<file>-lock` (a one-row SQLite file in exclusive locking mode) for as long as the
 * store is open, so a second store on the same file fails at once; the operating system
 * lets go of it when the process ends, however it ends.
 */
function claimOwnership(file: string): Database.Database {
  const lock = new Database(`${file}-lock`, { timeout: 0 });
  try {
    lock.pragma("locking_mode = EXCLUSIVE");
    lock.exec(
      "CREATE TABLE IF NOT EXISTS owner (pid INTEGER NOT NULL); DELETE FROM owner; INSERT INTO owner VALUES (" +
        process.pid +
        ")",
    );
    return lock;
  } catch (e) {
    lock.close();
    if ((e as { code?: string }).code?.startsWith("SQLITE_BUSY")) throw new StoreInUseError(file);
    throw e;
  }
}

interface PendingWrite {
  run: () => boolean;
  /** A write that may skip the fsync: it is redone if a power loss drops it (see purgeExpired). */
  relaxed?: boolean;
  /** Applied only after the transaction holding a successful write has committed. */
  committed?: () => void;
  resolve: (ok: boolean) => void;
  reject: (e: unknown) => void;
}

interface JobRow {
  seq: number;
  version: number;
  doc: string;
}

/** Applies migrations/sqlite/NNN_*.sql in order, tracked by PRAGMA user_version. */
export function migrate(db: Database.Database): number {
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}_.*\.sql$/.test(f))
    .sort();
  let current = db.pragma("user_version", { simple: true }) as number;
  for (const file of files) {
    const n = Number(file.slice(0, 3));
    if (n <= current) continue;
    const sql = readFileSync(join(MIGRATIONS_DIR, file), "utf8");
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${n}`);
    })();
    current = n;
  }
  return current;
}

export class SqliteJobStore implements JobStore {
  private readonly db: Database.Database;
  private readonly stmts;
  private pending: PendingWrite[] = [];
  /** Recently read or written jobs by lower-cased key, oldest first (see get()). */
  private readonly recent = new Map<string, Job>();
  private readonly uidKeys = new Map<string, string>();
  private flushScheduled = false;
  private readonly synchronous: "FULL" | "NORMAL";
  private readonly owner: Database.Database | undefined;
  private readonly checkpointer: Checkpointer | undefined;
  /** One process owns the file, so wake-ups stay within it. */
  readonly wakeups = new LocalWakeups();
  /**
   * The sweep's claims, by job uid: one process owns the file, so they live in memory
   * (a restart ends every claim with the process that held it).
   */
  private readonly claims = new Map<string, { version: number; until: number; owner: string }>();

  constructor(options: SqliteOptions) {
    if (options.file !== ":memory:") {
      mkdirSync(dirname(options.file), { recursive: true });
      // One process owns the file (multi-node deployments use PostgreSQL): the job copy
      // kept in memory is coherent only while this store is the only writer.
      this.owner = claimOwnership(options.file);
    }
    const db = SqliteJobStore.open(options, this.owner);
    this.db = db;
    this.synchronous = options.synchronous ?? "FULL";
    // Checkpoints (an fsync of the log and one of the database file) run on the
    // checkpointer thread, never inside a commit on the event loop (ADR 0004).
    if (this.owner) {
      this.checkpointer = new Checkpointer(options.file, () => {
        if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
      });
    }
    this.stmts = {
      get: db.prepare<[string, string, string], JobRow>(
        "SELECT seq, version, doc FROM jobs WHERE subscription_key = ? AND resource_group_key = ? AND name_key = ?",
      ),
      // A taken key or uid (Jobs_Create inserts first, so every PUT of an existing job
      // comes here) is found before the row is made: ON CONFLICT alone would still take the
      // next seq (AUTOINCREMENT writes sqlite_sequence) and so commit and fsync a change.
      insert: db.prepare(
        `INSERT INTO jobs (uid, subscription_key, resource_group_key, name_key, state, job_type, due_at, tracking_key, version, doc)
         SELECT @uid, @sub, @rg, @name, @state, @jobType, @dueAt, @tracking, 1, @doc
         WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE subscription_key = @sub AND resource_group_key = @rg AND name_key = @name)
           AND NOT EXISTS (SELECT 1 FROM jobs WHERE uid = @uid)
         ON CONFLICT DO NOTHING`,
      ),
      update: db.prepare(
        `UPDATE jobs SET state = @state, due_at = @dueAt, tracking_key = @tracking, version = version + 1, doc = @doc
         WHERE uid = @uid AND version = @version`,
      ),
      purge: db.prepare("DELETE FROM jobs WHERE uid = ? AND version = ?"),
      purgeHistory: db.prepare("DELETE FROM job_history WHERE job_uid = ?"),
      dropDrives: db.prepare("DELETE FROM job_drives WHERE job_uid = ?"),
      dropImports: db.prepare("DELETE FROM import_blobs WHERE job_uid = ?"),
      // The job's own settings (see JobStore.getSetting), by their indexed key (migration 008).
      dropSettings: db.prepare("DELETE FROM settings WHERE job_uid = ?"),
      imports: db.prepare<
        [string, string],
        { blob_key: string; status: string; final_path: string | null; record: string }
      >(
        "SELECT blob_key, status, final_path, record FROM import_blobs WHERE job_uid = ? AND drive_key = ?",
      ),
      putImport: db.prepare(
        `INSERT INTO import_blobs (job_uid, drive_key, blob_key, status, final_path, record) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (job_uid, drive_key, blob_key) DO UPDATE SET status = excluded.status, final_path = excluded.final_path, record = excluded.record`,
      ),
      held: db.prepare<[string, string, string, number], { one: number }>(
        "SELECT 1 AS one FROM drive_runs WHERE job_uid = ? AND drive_key = ? AND owner = ? AND token = ?",
      ),
      run: db.prepare<
        [string, string],
        { owner: string | null; lease_until: number | null; finished: number }
      >("SELECT owner, lease_until, finished FROM drive_runs WHERE job_uid = ? AND drive_key = ?"),
      jobExists: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM jobs WHERE uid = ?"),
      claim: db.prepare<
        [string, string, string, number, number],
        { token: number; started_at: number }
      >(
        `INSERT INTO drive_runs (job_uid, drive_key, owner, token, lease_until, started_at) VALUES (?, ?, ?, 1, ?, ?)
         ON CONFLICT (job_uid, drive_key) DO UPDATE SET owner = excluded.owner, token = token + 1, lease_until = excluded.lease_until
         RETURNING token, started_at`,
      ),
      renew: db.prepare(
        "UPDATE drive_runs SET lease_until = ? WHERE job_uid = ? AND drive_key = ? AND owner = ? AND token = ?",
      ),
      release: db.prepare(
        "UPDATE drive_runs SET owner = NULL, lease_until = NULL, finished = max(finished, ?) WHERE job_uid = ? AND drive_key = ? AND owner = ? AND token = ?",
      ),
      driveProgress: db.prepare(
        "UPDATE drive_runs SET bytes_done = ?, bytes_total = ? WHERE job_uid = ? AND drive_key = ? AND owner = ? AND token = ?",
      ),
      runs: db.prepare<
        [string],
        {
          drive_key: string;
          owner: string | null;
          token: number;
          lease_until: number | null;
          finished: number;
          bytes_done: number;
          bytes_total: number | null;
        }
      >(
        "SELECT drive_key, owner, token, lease_until, finished, bytes_done, bytes_total FROM drive_runs WHERE job_uid = ? ORDER BY drive_key",
      ),
      dropRuns: db.prepare("DELETE FROM drive_runs WHERE job_uid = ?"),
      addDrive: db.prepare("INSERT OR IGNORE INTO job_drives (drive_key, job_uid) VALUES (?, ?)"),
      byTracking: db.prepare<[string], JobRow>(
        "SELECT seq, version, doc FROM jobs WHERE tracking_key = ? ORDER BY seq",
      ),
      byDrive: db.prepare<[string], JobRow>(
        "SELECT jobs.seq, jobs.version, jobs.doc FROM job_drives JOIN jobs ON jobs.uid = job_drives.job_uid WHERE job_drives.drive_key = ? ORDER BY jobs.seq",
      ),
      addHistory: db.prepare(
        `INSERT INTO job_history (job_uid, at, actor, event, from_state, to_state, reason)
         VALUES (@uid, @at, @actor, @event, @from, @to, @reason)`,
      ),
      history: db.prepare<
        [string],
        {
          at: string;
          actor: string;
          event: string;
          from_state: string | null;
          to_state: string | null;
          reason: string;
        }
      >(
        "SELECT at, actor, event, from_state, to_state, reason FROM job_history WHERE job_uid = ? ORDER BY id",
      ),
      due: db.prepare<[string, number], JobRow>(
        "SELECT seq, version, doc FROM jobs WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?",
      ),
      dueVersions: db.prepare<[string], { uid: string; version: number; seq: number }>(
        "SELECT uid, version, seq FROM jobs WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at, seq",
      ),
      bySeq: db.prepare<[number], JobRow>("SELECT seq, version, doc FROM jobs WHERE seq = ?"),
      count: db.prepare<[], { state: string; n: number }>(
        "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state",
      ),
      getSetting: db.prepare<[string], { value: string }>(
        "SELECT value FROM settings WHERE name = ?",
      ),
      setSetting: db.prepare(
        "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
      ),
      // The sweep's batches commit without waiting for the disk (see flush).
      syncNormal: db.prepare("PRAGMA synchronous = NORMAL"),
      syncFull: db.prepare("PRAGMA synchronous = FULL"),
      putSetting: db.prepare(
        "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
      ),
      addSession: db.prepare(
        "INSERT INTO portal_sessions (id_hash, kind, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
      ),
      session: db.prepare<
        [string],
        { kind: string; data: string; created_at: number; expires_at: number }
      >("SELECT kind, data, created_at, expires_at FROM portal_sessions WHERE id_hash = ?"),
      dropSession: db.prepare("DELETE FROM portal_sessions WHERE id_hash = ?"),
      dropExpiredSessions: db.prepare(
        `DELETE FROM portal_sessions WHERE id_hash IN
           (SELECT id_hash FROM portal_sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
      ),
    };
  }

  /** Opens and migrates the database; on failure nothing stays open. */
  private static open(options: SqliteOptions, owner: Database.Database | undefined) {
    let db: Database.Database | undefined;
    try {
      db = new Database(options.file);
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${options.synchronous ?? "FULL"}`);
      db.pragma("busy_timeout = 5000");
      // The owner's checkpointer thread copies the log back (see the constructor).
      if (owner) db.pragma("wal_autocheckpoint = 0");
      // Deleted jobs carry personal data (addresses, keys): overwrite freed pages.
      db.pragma("secure_delete = ON");
      migrate(db);
      // One process owns the file (claimOwnership), so any drive still held was held by an
      // earlier process that ended: its drives are free to be claimed again at once.
      db.exec("UPDATE drive_runs SET owner = NULL, lease_until = NULL WHERE owner IS NOT NULL");
      return db;
    } catch (e) {
      db?.close();
      owner?.close();
      throw e;
    }
  }

  private static toJob(row: JobRow): Job {
    const job = JSON.parse(row.doc) as Job;
    job.version = row.version;
    return job;
  }

  private static docOf(job: Job): string {
    const { version: _v, ...rest } = job;
    return JSON.stringify(rest);
  }

  private writeDrives(job: Job): void {
    this.stmts.dropDrives.run(job.uid);
    for (const d of job.driveList) this.stmts.addDrive.run(d.driveId.toLowerCase(), job.uid);
  }

  private static trackingOf(job: Job): string | null {
    return job.deliveryPackage?.trackingNumber.toLowerCase() ?? null;
  }

  /** The columns kept beside the document, for every write. */
  private static columnsOf(job: Job) {
    return {
      uid: job.uid,
      state: job.state,
      dueAt: job.dueAt ?? null,
      tracking: SqliteJobStore.trackingOf(job),
      doc: SqliteJobStore.docOf(job),
    };
  }

  /** After an insert or a compare-and-set update: index the drives and add the history. */
  private afterWrite(changes: number, job: Job, history: HistoryEntry[]): boolean {
    if (changes !== 1) return false;
    this.writeDrives(job);
    this.writeHistory(job.uid, history);
    return true;
  }

  private writeHistory(uid: string, history: HistoryEntry[]): void {
    for (const h of history) this.stmts.addHistory.run({ uid, ...h });
  }

  /**
   * Point reads are served from an in-memory copy of recently read or written jobs. It is
   * coherent because this process is the only writer (EXCLUSIVE locking) and the copy is
   * changed only after a write has committed. Cached jobs are frozen: the lifecycle never
   * mutates a job, it returns a new one.
   */
  async get(key: JobKey): Promise<Job | undefined> {
    const k = jobKeyOf(key);
    const cacheKey = `${k.subscriptionId}\u0000${k.resourceGroup}\u0000${k.name}`;
    const cached = this.recent.get(cacheKey);
    if (cached) return cached;
    const row = this.stmts.get.get(k.subscriptionId, k.resourceGroup, k.name);
    if (!row) return undefined;
    return this.remember(SqliteJobStore.toJob(row));
  }

  private remember(job: Job): Job {
    const k = jobKeyOf(job);
    const cacheKey = `${k.subscriptionId}\u0000${k.resourceGroup}\u0000${k.name}`;
    const frozen = Object.freeze(job);
    this.recent.delete(cacheKey);
    if (this.recent.size >= RECENT_JOBS) {
      const oldest = this.recent.keys().next().value!;
      this.uidKeys.delete(this.recent.get(oldest)!.uid);
      this.recent.delete(oldest);
    }
    this.recent.set(cacheKey, frozen);
    this.uidKeys.set(job.uid, cacheKey);
    return frozen;
  }

  private forget(uid: string): void {
    const cacheKey = this.uidKeys.get(uid);
    if (cacheKey === undefined) return;
    this.uidKeys.delete(uid);
    this.recent.delete(cacheKey);
  }

  /**
   * Group commit: writes that arrive in the same turn of the event loop share one
   * transaction, so one fsync (synchronous=FULL) makes a whole batch durable. Each write
   * runs in its own savepoint and keeps its own compare-and-set outcome.
   */
  private enqueue(run: () => boolean, committed?: () => void, relaxed = false): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ run, committed, relaxed, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    // A fenced checkpoint is copying the log: the batch waits, so the log can start over.
    const holding = this.checkpointer?.holding;
    if (holding) {
      void holding.then(() => this.flush());
      return;
    }
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const outcomes: ({ ok: boolean } | { error: unknown })[] = [];
    // A batch of only relaxed writes (the sweep's purges) commits without waiting for the
    // disk: the fsync would block every request for its whole duration.
    const relaxed = this.synchronous === "FULL" && batch.every((w) => w.relaxed);
    if (relaxed) this.stmts.syncNormal.run();
    try {
      this.db.transaction(() => {
        for (const write of batch) {
          try {
            outcomes.push({ ok: this.db.transaction(write.run)() });
          } catch (error) {
            outcomes.push({ error });
          }
        }
      })();
    } catch (error) {
      for (const write of batch) write.reject(error);
      return;
    } finally {
      if (relaxed) this.stmts.syncFull.run();
    }
    this.checkpointer?.written();
    batch.forEach((write, i) => {
      const o = outcomes[i]!;
      if ("error" in o) return write.reject(o.error);
      if (o.ok) write.committed?.();
      write.resolve(o.ok);
    });
  }

  async insert(job: Job, history: HistoryEntry[]): Promise<boolean> {
    const k = jobKeyOf(job);
    return this.enqueue(
      () => {
        const r = this.stmts.insert.run({
          ...SqliteJobStore.columnsOf(job),
          sub: k.subscriptionId,
          rg: k.resourceGroup,
          name: k.name,
          jobType: job.jobType,
        });
        return this.afterWrite(r.changes, job, history);
      },
      () => this.remember({ ...job, version: 1 }),
    );
  }

  async update(job: Job, history: HistoryEntry[]): Promise<boolean> {
    return this.enqueue(
      () => {
        const r = this.stmts.update.run({ ...SqliteJobStore.columnsOf(job), version: job.version });
        return this.afterWrite(r.changes, job, history);
      },
      () => this.remember({ ...job, version: job.version + 1 }),
    );
  }

  async purge(uid: string, version: number): Promise<boolean> {
    return this.enqueue(
      () => this.purgeRow(uid, version),
      () => this.forget(uid),
    );
  }

  /**
   * Relaxed writes: a batch of only these commits without waiting for the disk (see
   * flush), since a lost one is redone by the next sweep.
   */
  async purgeExpired(jobs: readonly { uid: string; version: number }[]): Promise<boolean[]> {
    return Promise.all(
      jobs.map((j) =>
        this.enqueue(
          () => this.purgeRow(j.uid, j.version),
          () => this.forget(j.uid),
          true,
        ),
      ),
    );
  }

  private purgeRow(uid: string, version: number): boolean {
    if (this.stmts.purge.run(uid, version).changes !== 1) return false;
    this.stmts.purgeHistory.run(uid);
    this.stmts.dropImports.run(uid);
    this.stmts.dropSettings.run(uid);
    this.stmts.dropRuns.run(uid);
    this.stmts.dropDrives.run(uid);
    return true;
  }

  /** list()'s statements by their text (a few dozen combinations of filters at most). */
  private readonly listStatements = new Map<
    string,
    Database.Statement<Record<string, unknown>, JobRow>
  >();

  async list(q: ListQuery): Promise<ListedJob[]> {
    const desc = q.newestFirst === true;
    const where = ["subscription_key = @sub"];
    if (!desc) where.push("seq > @after");
    else if (q.afterSeq !== undefined) where.push("seq < @after");
    if (q.resourceGroup !== undefined) where.push("resource_group_key = @rg");
    if (q.state !== undefined) where.push("state = @state");
    if (q.jobType !== undefined) where.push("job_type = @jobType");
    const sql = `SELECT seq, version, doc FROM jobs WHERE ${where.join(" AND ")} ORDER BY seq${desc ? " DESC" : ""} LIMIT @limit`;
    // One statement per combination of filters, prepared once (a list is a request's read).
    let stmt = this.listStatements.get(sql);
    if (!stmt) this.listStatements.set(sql, (stmt = this.db.prepare(sql)));
    const rows = stmt.all({
      sub: q.subscriptionId.toLowerCase(),
      rg: q.resourceGroup?.toLowerCase(),
      state: q.state,
      jobType: q.jobType,
      after: q.afterSeq ?? 0,
      limit: q.limit,
    });
    return rows.map((row) => ({ seq: row.seq, job: SqliteJobStore.toJob(row) }));
  }

  async findByTrackingNumber(trackingNumber: string): Promise<Job[]> {
    return this.stmts.byTracking.all(trackingNumber.toLowerCase()).map(SqliteJobStore.toJob);
  }

  async findByDriveId(driveId: string): Promise<Job[]> {
    return this.stmts.byDrive.all(driveId.toLowerCase()).map(SqliteJobStore.toJob);
  }

  async listByStates(
    states: readonly JobState[],
    afterSeq: number,
    limit: number,
  ): Promise<ListedJob[]> {
    if (states.length === 0) return [];
    const marks = states.map(() => "?").join(", ");
    const rows = this.db
      .prepare<unknown[], JobRow>(
        `SELECT seq, version, doc FROM jobs WHERE state IN (${marks}) AND seq > ? ORDER BY seq LIMIT ?`,
      )
      .all(...states, afterSeq, limit);
    return rows.map((row) => ({ seq: row.seq, job: SqliteJobStore.toJob(row) }));
  }

  async importRecords(jobUid: string, driveId: string): Promise<ImportBlobRecord[]> {
    return this.stmts.imports.all(jobUid, driveId.toLowerCase()).map((r) => ({
      blobKey: r.blob_key,
      status: r.status as ImportBlobRecord["status"],
      ...(r.final_path !== null ? { finalPath: r.final_path } : {}),
      detail: JSON.parse(r.record) as Record<string, unknown>,
    }));
  }

  async recordImport(
    jobUid: string,
    driveId: string,
    record: ImportBlobRecord,
    lease?: DriveLease,
    relaxed = false,
  ): Promise<boolean> {
    return this.enqueue(
      () =>
        (!lease || this.holds(lease)) &&
        this.stmts.putImport.run(
          jobUid,
          driveId.toLowerCase(),
          record.blobKey,
          record.status,
          record.finalPath ?? null,
          JSON.stringify(record.detail),
        ).changes === 1,
      undefined,
      relaxed,
    );
  }

  private holds(lease: DriveLease): boolean {
    return (
      this.stmts.held.get(lease.jobUid, lease.driveId.toLowerCase(), lease.owner, lease.token) !==
      undefined
    );
  }

  async claimDrives(claim: {
    candidates: readonly DriveCandidate[];
    owner: string;
    now: Date;
    leaseMs: number;
    limit: number;
  }): Promise<DriveLease[]> {
    const leases: DriveLease[] = [];
    const now = claim.now.getTime();
    const until = now + claim.leaseMs;
    await this.enqueue(() => {
      for (const c of claim.candidates) {
        if (leases.length >= claim.limit) break;
        const key = c.driveId.toLowerCase();
        const run = this.stmts.run.get(c.jobUid, key);
        if (run?.finished) continue;
        if (run && run.owner !== null && run.lease_until !== null && run.lease_until > now)
          continue;
        if (!run && this.stmts.jobExists.get(c.jobUid) === undefined) continue;
        const row = this.stmts.claim.get(c.jobUid, key, claim.owner, until, now)!;
        leases.push({
          jobUid: c.jobUid,
          driveId: c.driveId,
          owner: claim.owner,
          token: row.token,
          leaseUntil: new Date(until),
          startedAt: new Date(row.started_at),
        });
      }
      return leases.length > 0;
    });
    return leases;
  }

  async renewDrive(lease: DriveLease, now: Date, leaseMs: number): Promise<DriveLease | undefined> {
    const until = now.getTime() + leaseMs;
    const ok = await this.enqueue(
      () =>
        this.stmts.renew.run(
          until,
          lease.jobUid,
          lease.driveId.toLowerCase(),
          lease.owner,
          lease.token,
        ).changes === 1,
    );
    return ok ? { ...lease, leaseUntil: new Date(until) } : undefined;
  }

  async releaseDrive(lease: DriveLease, finished: boolean): Promise<boolean> {
    return this.enqueue(
      () =>
        this.stmts.release.run(
          finished ? 1 : 0,
          lease.jobUid,
          lease.driveId.toLowerCase(),
          lease.owner,
          lease.token,
        ).changes === 1,
    );
  }

  async recordDriveProgress(
    lease: DriveLease,
    bytesDone: number,
    bytesTotal: number,
  ): Promise<boolean> {
    return this.enqueue(
      () =>
        this.stmts.driveProgress.run(
          bytesDone,
          bytesTotal,
          lease.jobUid,
          lease.driveId.toLowerCase(),
          lease.owner,
          lease.token,
        ).changes === 1,
    );
  }

  async driveRuns(jobUid: string): Promise<DriveRun[]> {
    return this.stmts.runs.all(jobUid).map((r) => ({
      driveId: r.drive_key,
      ...(r.owner !== null ? { owner: r.owner } : {}),
      token: r.token,
      ...(r.lease_until !== null ? { leaseUntil: new Date(r.lease_until) } : {}),
      finished: r.finished === 1,
      bytesDone: r.bytes_done,
      ...(r.bytes_total !== null ? { bytesTotal: r.bytes_total } : {}),
    }));
  }

  async updateFenced(
    job: Job,
    history: HistoryEntry[],
    lease: DriveLease,
  ): Promise<"ok" | "conflict" | "leaseLost"> {
    let outcome: "ok" | "conflict" | "leaseLost" = "conflict";
    await this.enqueue(
      () => {
        if (!this.holds(lease)) {
          outcome = "leaseLost";
          return false;
        }
        const r = this.stmts.update.run({ ...SqliteJobStore.columnsOf(job), version: job.version });
        if (!this.afterWrite(r.changes, job, history)) return false;
        outcome = "ok";
        return true;
      },
      () => this.remember({ ...job, version: job.version + 1 }),
    );
    return outcome;
  }

  async history(uid: string): Promise<HistoryEntry[]> {
    return this.stmts.history.all(uid).map((r) => ({
      at: r.at,
      actor: r.actor as HistoryEntry["actor"],
      event: r.event,
      from: r.from_state as JobState | null,
      to: r.to_state as JobState | null,
      reason: r.reason,
    }));
  }

  async due(now: Date, limit: number): Promise<Job[]> {
    return this.stmts.due.all(now.toISOString(), limit).map(SqliteJobStore.toJob);
  }

  async claimDue(now: Date, limit: number, lease: Lease): Promise<Job[]> {
    const at = performance.now();
    const picked: number[] = [];
    // Lazily, so a long run of claimed rows costs only what is read of it.
    for (const row of this.stmts.dueVersions.iterate(now.toISOString())) {
      if (picked.length >= limit) break;
      const claim = this.claims.get(row.uid);
      if (claim && claim.version === row.version && claim.until >= at) continue;
      this.claims.set(row.uid, { version: row.version, until: at + lease.ms, owner: lease.owner });
      picked.push(row.seq);
    }
    // Claims of jobs that are gone or changed hold nothing: drop them now and then.
    if (this.claims.size > 10_000) {
      for (const [uid, c] of this.claims) if (c.until < at) this.claims.delete(uid);
    }
    return picked.map((seq) => SqliteJobStore.toJob(this.stmts.bySeq.get(seq)!));
  }

  async releaseClaims(owner: string, claims: readonly ClaimedVersion[]): Promise<void> {
    for (const c of claims) {
      const held = this.claims.get(c.uid);
      if (held && held.owner === owner && held.version === c.version) this.claims.delete(c.uid);
    }
  }

  async countByState(): Promise<Partial<Record<JobState, number>>> {
    const out: Partial<Record<JobState, number>> = {};
    for (const r of this.stmts.count.all()) out[r.state as JobState] = r.n;
    return out;
  }

  async jobScopes(q: { subscriptionIds?: readonly string[]; limit: number }): Promise<JobScope[]> {
    if (q.subscriptionIds?.length === 0) return [];
    const subs = q.subscriptionIds?.map((s) => s.toLowerCase());
    const where = subs ? `WHERE subscription_key IN (${subs.map(() => "?").join(", ")})` : "";
    // The newest job's spelling (MAX(seq) picks its row's doc in SQLite's bare-column rule).
    const sql = `SELECT json_extract(doc, '$.subscriptionId') AS sub, json_extract(doc, '$.resourceGroup') AS rg,
        COUNT(*) AS n, MAX(seq) AS newest
      FROM jobs ${where}
      GROUP BY subscription_key, resource_group_key
      ORDER BY subscription_key, resource_group_key LIMIT ?`;
    const rows = this.db
      .prepare<unknown[], { sub: string; rg: string; n: number }>(sql)
      .all(...(subs ?? []), q.limit);
    return rows.map((r) => ({ subscriptionId: r.sub, resourceGroup: r.rg, jobs: r.n }));
  }

  async getSetting(name: string): Promise<string | undefined> {
    return this.stmts.getSetting.get(name)?.value;
  }

  async setSettingIfAbsent(name: string, value: string): Promise<string> {
    await this.enqueue(() => this.stmts.setSetting.run(name, value).changes === 1);
    return (await this.getSetting(name))!;
  }

  async setSetting(name: string, value: string): Promise<void> {
    await this.enqueue(() => this.stmts.putSetting.run(name, value).changes === 1);
  }

  async raiseSetting(name: string, by: number, atLeast: number): Promise<number> {
    let value = 0;
    await this.enqueue(() => {
      const current = Number(this.stmts.getSetting.get(name)?.value ?? 0);
      value = Math.max(current + by, atLeast);
      return this.stmts.putSetting.run(name, String(value)).changes === 1;
    });
    return value;
  }

  async createSession(id: string, session: PortalSession): Promise<void> {
    await this.enqueue(
      () =>
        this.stmts.addSession.run(
          sessionIdHash(id),
          session.kind,
          JSON.stringify(session.data),
          session.createdAt.getTime(),
          session.expiresAt.getTime(),
        ).changes === 1,
    );
  }

  async findSession(id: string, now: Date): Promise<PortalSession | undefined> {
    const hash = sessionIdHash(id);
    const row = this.stmts.session.get(hash);
    if (!row) return undefined;
    const live = liveSession(row, now);
    if (!live) {
      // Refused, and gone: an expired row is never found again. Relaxed: if a power cut
      // loses this delete, the row is still expired.
      await this.enqueue(() => this.stmts.dropSession.run(hash).changes === 1, undefined, true);
    }
    return live;
  }

  async deleteSession(id: string): Promise<boolean> {
    // Not relaxed: a sign-out must stay done.
    return this.enqueue(() => this.stmts.dropSession.run(sessionIdHash(id)).changes === 1);
  }

  async deleteExpiredSessions(now: Date, limit: number): Promise<number> {
    let n = 0;
    await this.enqueue(
      () => {
        n = this.stmts.dropExpiredSessions.run(now.getTime(), limit).changes;
        return n > 0;
      },
      undefined,
      true,
    );
    return n;
  }

  async close(): Promise<void> {
    // Writes held by a fenced checkpoint go first; then the thread ends, and the last
    // connection to close checkpoints the whole log into the database file.
    await this.checkpointer?.holding;
    this.flush();
    await this.checkpointer?.close();
    if (this.db.open) this.db.close();
    if (this.owner?.open) this.owner.close();
  }
}
