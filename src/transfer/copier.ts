/**
 * The seam between the transfer runner and what copies a drive (ADR 0011). The runner
 * (runner.ts) finds drives to copy, claims each with a lease, and carries out the
 * lifecycle's effects for any copier: progress, completion, drive logs, cancel, pause and
 * resume. A copier knows one direction of one job type: the import copier reads a drive's
 * files into blobs (import/), the export copier writes blobs onto a drive (export/).
 *
 * A copier sees the drive through a DriveCopy: the job and drive as they were when the
 * copy started, the blob storage of the service, its per-item records (durable, and
 * fenced by the runner's lease: a copier whose runner lost the drive cannot write them),
 * a progress counter, and `boundary()`, which it asks before each item (blob) it starts.
 */
import type { BlobServiceClient, ContainerClient } from "@azure/storage-blob";
import type { Clock } from "../domain/clock.ts";
import type { Drive, Job, JobType } from "../domain/job/model.ts";
import type { ImportBlobRecord } from "../store/ports.ts";
import type { BufferPool } from "./buffer-pool.ts";
import type { BlobLogEntry, DriveStatus } from "./drive-log.ts";

/** Where blobs are: a container of a storage account the service can reach. */
export interface BlobStorage {
  containerClient(accountName: string, container: string): Promise<ContainerClient>;
  /** The account's Blob service (the export copier lists containers with it). */
  serviceClient?(accountName: string): Promise<BlobServiceClient>;
}

export interface TransferLogger {
  info(o: object, msg: string): void;
  error(o: object, msg: string): void;
}

/**
 * One item's durable record (a blob of the drive). `blobKey` is the copier's own key of the
 * item (the import copier: `<blobList index>:<blob index>` of the manifest); `status`
 * "writing" means bytes of the item may be at the target and the item must be checked or
 * redone on resume; the other statuses are final.
 */
export type CopyRecord = ImportBlobRecord;

/** The drive's item records, read and written under the runner's lease. */
export interface CopyRecords {
  /** Records of earlier attempts at this drive (this process's or another worker's). */
  readonly earlier: ReadonlyMap<string, CopyRecord>;
  /**
   * Stores a record; throws LeaseLostError when another worker has taken the drive over.
   * `relaxed`: the store need not wait for the disk (a power cut may lose the record, a
   * crash does not); only for records whose loss the copier's resume tolerates.
   */
  put(record: CopyRecord, relaxed?: boolean): Promise<void>;
}

/** Bytes of the drive: the copier sets the total once it knows it and counts what is done. */
export class DriveProgress {
  total = 0;
  done = 0;
  get percent(): number {
    return this.total === 0 ? 100 : Math.min(100, Math.floor((this.done * 100) / this.total));
  }
}

/**
 * What `boundary()` answers before an item: go on (`copy`); stop and report the drive as
 * cancelled (`cancelled`, SPEC §2.3); or stop and leave the drive to be resumed (`paused`:
 * the job faulted or is gone, the runner is stopping, or its lease was lost).
 */
export type Outlook = "copy" | "cancelled" | "paused";

export interface DriveCopy {
  /** The job and the drive as read when the copy started. */
  readonly job: Job;
  readonly drive: Drive;
  readonly storage: BlobStorage;
  readonly records: CopyRecords;
  /** When the drive's copy first started (its first claim, by any runner; wall clock). */
  readonly startedAt: Date;
  /** The drive was claimed before (a restart, a takeover): earlier attempts may have written. */
  readonly resumed: boolean;
  readonly progress: DriveProgress;
  /** Asked before each item is started; once not `copy`, the copier starts no further item. */
  boundary(index: number): Promise<Outlook>;
  /** Range buffers shared by every copy of the runner (its whole data footprint). */
  readonly buffers: BufferPool;
  /** Items of one drive copied at once. */
  readonly concurrency: number;
  /** The real time (the service clock may be advanced, the blob endpoint's is not). */
  readonly wallClock: Clock;
  readonly logger?: TransferLogger;
}

/** How a copy ended. */
export type CopyResult =
  /** Stopped before its end and to be resumed later (see Outlook `paused`). */
  | { kind: "paused" }
  | {
      kind: "finished";
      /** The drive log's status. */
      status: DriveStatus;
      /** Every item, in the drive's order, for the drive logs (problems go to the error log). */
      entries: BlobLogEntry[];
      bytesSucceeded: number;
      /** The drive's copyStatus (the status, or `Cancelled`). */
      copyStatus: string;
      /** A drive-level message for the logs. */
      message?: string;
      /** The drive manifest read or written, backed up to the account with `backupDriveManifest`. */
      manifest?: Buffer;
      /** Export: where the list of blobs that fit on no drive was written (the job's field). */
      incompleteBlobListUri?: string;
    };

export interface Copier {
  /** The job type whose drives this copier copies. */
  readonly jobType: JobType;
  copy(drive: DriveCopy): Promise<CopyResult>;
}

/** Ends a drive before anything is copied (its manifest is missing, the blob list invalid…). */
export function driveFailed(status: DriveStatus, message: string): CopyResult {
  return { kind: "finished", status, entries: [], bytesSucceeded: 0, copyStatus: status, message };
}

/**
 * A finished drive's status, for every copier: any blob that failed makes it
 * CompletedWithErrors; otherwise anything the customer should look at (a cancel, a
 * disposition, a blob not exported) makes it CompletedWithWarnings.
 */
export function finishedStatus(failed: boolean, warned: boolean): DriveStatus {
  return failed ? "CompletedWithErrors" : warned ? "CompletedWithWarnings" : "Completed";
}
