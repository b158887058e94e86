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
  /** Keyset position: only jobs created after this sequence number. */
  afterSeq?: number;
  limit: number;
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
  recordImport(jobUid: string, driveId: string, record: ImportBlobRecord): Promise<void>;
}

export interface JobStore extends ImportProgressStore {
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
  countByState(): Promise<Partial<Record<JobState, number>>>;
  /** Small key/value settings the service keeps with its data (e.g. the paging-token secret). */
  getSetting(name: string): Promise<string | undefined>;
  setSettingIfAbsent(name: string, value: string): Promise<string>;
  setSetting(name: string, value: string): Promise<void>;
  close(): Promise<void>;
}
