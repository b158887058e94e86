/**
 * Persistence-shaped ports. A store keeps jobs and their history and offers
 * compare-and-set writes; it holds no business rule (those live in domain/job).
 */
import type { HistoryEntry, Job, JobKey, JobState, JobType } from "../domain/job/model.ts";

export interface ListQuery {
  subscriptionId: string;
  resourceGroup?: string;
  state?: JobState;
  jobType?: JobType;
  /**
   * Keyset position: only jobs that come after this sequence number in the listing's order
   * (created later; with `newestFirst`, created earlier).
   */
  afterSeq?: number;
  /** Newest first (descending sequence); default oldest first. */
  newestFirst?: boolean;
  limit: number;
}

/** A subscription and resource group that hold jobs, and how many (the portal's scope page). */
export interface JobScope {
  /** As the newest job of the group spells them (keys match case-insensitively). */
  subscriptionId: string;
  resourceGroup: string;
  jobs: number;
}

export interface ListedJob {
  seq: number;
  job: Job;
}

/** One blob of a drive import, as the engine records it (status and what it decided). */
export interface ImportBlobRecord {
  /** `<blobList index>:<blob index>` in the drive's manifest. */
  blobKey: string;
  /** "writing": the target name is chosen and bytes may be on the endpoint; the rest are final. */
  status: "writing" | "done" | "failed" | "skipped";
  /** The blob path written (after the rename rule), container included. */
  finalPath?: string;
  /** Everything else the drive log needs (outcome codes, length, MD5), as JSON. */
  detail: Record<string, unknown>;
}

export interface ImportProgressStore {
  importRecords(jobUid: string, driveId: string): Promise<ImportBlobRecord[]>;
  /**
   * Stores a blob's record. With `lease`, only while that lease still holds the drive
   * (see DriveClaimStore); false when it does not and nothing was written. `relaxed`: the
   * store may commit it without waiting for the disk (a power cut may lose it; a process
   * crash does not), for records whose loss the copier's resume tolerates.
   */
  recordImport(
    jobUid: string,
    driveId: string,
    record: ImportBlobRecord,
    lease?: DriveLease,
    relaxed?: boolean,
  ): Promise<boolean>;
}

/**
 * A claim on work for a while: who holds it, and for how long, measured by the store's
 * own clock (the database server's for PostgreSQL), so nodes whose clocks differ agree.
 */
export interface Lease {
  owner: string;
  ms: number;
}

/** A job version a sweep claimed and then left as it was (its claim is given back). */
export interface ClaimedVersion {
  uid: string;
  version: number;
}

/** What processes sharing a store tell each other (ADR 0013). */
export type WakeTopic =
  /** A stored decision's drive effects (start or stop copying), `{uid, effects}` as JSON. */
  | "effects"
  /** The service clock's offset moved (clock control); the payload is the new offset. */
  | "clock";

/**
 * Wake-ups between the processes that share a store: LISTEN/NOTIFY on PostgreSQL, within
 * the process on SQLite. Delivery is prompt but not guaranteed (a dropped connection
 * loses what was sent meanwhile), so every subscriber also polls for what it is woken
 * for; `onResync` runs after wake-ups may have been lost, when the listener is back.
 */
export interface Wakeups {
  /** Tells every process sharing the store, this one included (at once, within it). */
  publish(topic: WakeTopic, payload: string): Promise<void>;
  /** Runs `fn` for every wake-up on `topic`; returns the unsubscribe function. */
  subscribe(topic: WakeTopic, fn: (payload: string) => void): () => void;
  /** Runs `fn` when wake-ups from other processes may have been missed (and when they are heard again). */
  onResync(fn: () => void): () => void;
  /** False while wake-ups from other processes may be missed (no listener connection). */
  readonly listening: boolean;
}

/** A drive a transfer runner may copy: a drive being copied of a job whose type it copies. */
export interface DriveCandidate {
  jobUid: string;
  driveId: string;
}

/**
 * A runner's hold on one drive. `token` grows by one with every claim of the drive, so a
 * write fenced by a lease succeeds only while no other runner has claimed the drive since.
 */
export interface DriveLease {
  jobUid: string;
  driveId: string;
  owner: string;
  token: number;
  /** Until when the claim holds unless renewed (the time the claimer passed plus leaseMs). */
  leaseUntil: Date;
  /** When the drive was first claimed (by any runner): its copy started then. */
  startedAt: Date;
}

/** A drive's copy as the runners record it: who holds it and how far it got (one row a drive). */
export interface DriveRun {
  driveId: string;
  /** The runner holding the drive now (absent: released, or never claimed). */
  owner?: string;
  token: number;
  leaseUntil?: Date;
  /** The copy ended (the drive completed); the drive is not claimed again. */
  finished: boolean;
  bytesDone: number;
  /** Bytes to move, once the copier knows them. */
  bytesTotal?: number;
}

/**
 * Claims with leases for drives (issue 12): several runners (processes, nodes) share the
 * drives of one store; each drive is copied by at most one of them at a time, and one that
 * dies is replaced once its lease runs out. Times are the callers' (the application clock
 * passed in, so tests move it); runners' clocks must agree to well within a lease period.
 */
export interface DriveClaimStore {
  /**
   * Claims at most `limit` of `candidates` (in their order) that no live lease holds and
   * whose copy has not finished: each gets `owner`, a new token and a lease until
   * now + leaseMs. A candidate another runner is claiming at the same moment is skipped,
   * not waited for. A drive whose lease ran out is taken over the same way.
   */
  claimDrives(claim: {
    candidates: readonly DriveCandidate[];
    owner: string;
    now: Date;
    leaseMs: number;
    limit: number;
  }): Promise<DriveLease[]>;
  /** Extends the lease to now + leaseMs; false when the drive is no longer held by it. */
  renewDrive(lease: DriveLease, now: Date, leaseMs: number): Promise<DriveLease | undefined>;
  /**
   * Lets go of the drive: `finished` when its copy ended (it is never claimed again),
   * otherwise it may be claimed at once (a runner stopping, a paused job). False when the
   * lease no longer held it.
   */
  releaseDrive(lease: DriveLease, finished: boolean): Promise<boolean>;
  /** The drive's progress, fenced by the lease; false when the lease no longer holds it. */
  recordDriveProgress(lease: DriveLease, bytesDone: number, bytesTotal: number): Promise<boolean>;
  /** The runs of a job's drives (drives never claimed have none). */
  driveRuns(jobUid: string): Promise<DriveRun[]>;
  /**
   * update(), fenced by a lease: the job is written only while `lease` holds its drive.
   * `conflict`: the job's version moved on (reload and decide again); `leaseLost`: another
   * runner holds the drive now, and nothing was written.
   */
  updateFenced(
    job: Job,
    history: HistoryEntry[],
    lease: DriveLease,
  ): Promise<"ok" | "conflict" | "leaseLost">;
}

/** A portal sign-in session as the store keeps it (ADR 0014). */
export interface PortalSession {
  kind: "operator" | "customer";
  /** What the session needs to be checked again (JSON-safe): see src/portal/sessions.ts. */
  data: Record<string, unknown>;
  createdAt: Date;
  expiresAt: Date;
}

/**
 * Portal sessions (ADR 0014), shared by every node of a store. The methods take the id the
 * cookie carries; the store keeps only its SHA-256 (sessionIdHash), so its rows and their
 * backups sign nobody in. Times are the caller's real clock (never the service clock,
 * which clock control moves by days).
 */
export interface SessionStore {
  /** Stores a new session under `id` (a random 256-bit id; a taken id is an error). */
  createSession(id: string, session: PortalSession): Promise<void>;
  /** The session, unless it is unknown, revoked or expired at `now` (an expired one is deleted). */
  findSession(id: string, now: Date): Promise<PortalSession | undefined>;
  /** Revokes the session (sign-out): its row is deleted; false when there was none. */
  deleteSession(id: string): Promise<boolean>;
  /** Deletes at most `limit` sessions expired at `now` (oldest expiry first); how many went. */
  deleteExpiredSessions(now: Date, limit: number): Promise<number>;
}

export interface JobStore extends ImportProgressStore, DriveClaimStore, SessionStore {
  /** Wake-ups between the processes that share this store. */
  readonly wakeups: Wakeups;
  get(key: JobKey): Promise<Job | undefined>;
  /** Inserts a new job; false when a job with that key already exists. */
  insert(job: Job, history: HistoryEntry[]): Promise<boolean>;
  /** Writes `job` if the stored version still equals `job.version`; the stored version becomes version + 1. */
  update(job: Job, history: HistoryEntry[]): Promise<boolean>;
  /** Deletes the job and all its history if the stored version still equals `version`. */
  purge(uid: string, version: number): Promise<boolean>;
  /**
   * The timers' purges (Creating expiry, retention): each job as purge() would, with its
   * own compare-and-set outcome. Their deadlines stay stored until the purge commits, so a
   * purge that a crash loses is found due and redone by the next sweep; the store may
   * therefore commit these without waiting for the disk.
   */
  purgeExpired(jobs: readonly { uid: string; version: number }[]): Promise<boolean[]>;
  list(query: ListQuery): Promise<ListedJob[]>;
  history(uid: string): Promise<HistoryEntry[]>;
  /** Jobs whose delivery package has this tracking number (case-insensitive). */
  findByTrackingNumber(trackingNumber: string): Promise<Job[]>;
  /** Jobs that have a drive with this id (case-insensitive). */
  findByDriveId(driveId: string): Promise<Job[]>;
  /** Jobs in any of these states across all subscriptions, keyset-paged (the operator's views). */
  listByStates(states: readonly JobState[], afterSeq: number, limit: number): Promise<ListedJob[]>;
  /** Jobs whose stored deadline is at or before `now`, oldest deadline first. */
  due(now: Date, limit: number): Promise<Job[]>;
  /**
   * The timer sweep's claim: up to `limit` jobs whose deadline is at or before `now` and
   * that no live claim holds, each claimed at its current version for `lease.ms`. Sweepers
   * sharing the store never get the same job version while its claim lasts (PostgreSQL:
   * `FOR UPDATE SKIP LOCKED`); a job changed since its claim is claimable again, and a
   * claim that outlives its holder (a crash) lapses when its lease ends.
   */
  claimDue(now: Date, limit: number, lease: Lease): Promise<Job[]>;
  /** Gives back claims on job versions the sweep left unchanged (their deadline is due again). */
  releaseClaims(owner: string, claims: readonly ClaimedVersion[]): Promise<void>;
  countByState(): Promise<Partial<Record<JobState, number>>>;
  /**
   * The distinct subscription/resource group pairs that hold jobs, with their counts,
   * ordered by subscription then resource group (lower-cased). With `subscriptionIds`, only
   * those subscriptions (case-insensitive); an empty list gives none. At most `limit` pairs.
   */
  jobScopes(query: { subscriptionIds?: readonly string[]; limit: number }): Promise<JobScope[]>;
  /**
   * Small key/value settings the service keeps with its data (e.g. the paging-token secret).
   * A setting named `<anything>:<job uid>` belongs to that job and goes when it is purged
   * (an export job's layout plan), so nothing of a deleted job stays behind; the stores key
   * such a setting by that uid (an indexed column computed from the name, migration 008), so
   * the purge is an index lookup.
   */
  getSetting(name: string): Promise<string | undefined>;
  setSettingIfAbsent(name: string, value: string): Promise<string>;
  setSetting(name: string, value: string): Promise<void>;
  /**
   * Atomically sets a numeric setting to max(its value (0 when absent) + `by`, `atLeast`)
   * and returns the new value: the clock offset, advanced from any node.
   */
  raiseSetting(name: string, by: number, atLeast: number): Promise<number>;
  close(): Promise<void>;
}
