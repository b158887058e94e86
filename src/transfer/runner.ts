/**
 * The transfer runner (ADR 0011): finds drives being copied of the job types it has a
 * copier for, claims each with a lease in the store (so several runners, in one process or
 * on several nodes, never copy one drive at once, and a drive whose runner died is taken
 * over once its lease runs out), and carries out the lifecycle's effects for the copier:
 * progress (the drive's own row, and the job's percentages derived from its drives' rows),
 * cancel and pause at an item boundary, the drive logs, completion through the lifecycle
 * (`completeDrive`), and resume (a drive taken over or left by a stop is copied again, and
 * the copier picks up its records). Every write it makes about a drive is fenced by the
 * lease: a runner that lost the drive writes nothing more about it.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { SystemClock, type Clock } from "../domain/clock.ts";
import {
  COPYING_STATES,
  copyOutlook,
  type Effect,
  type JobEvent,
  type Timers,
} from "../domain/job/lifecycle.ts";
import { isBeingCopied } from "../domain/job/drive-lifecycle.ts";
import type { CopyOutcome, Drive, Job } from "../domain/job/model.ts";
import { storageAccountName } from "../domain/storage-accounts.ts";
import { applyEvent, type ApplyCore } from "../service/apply.ts";
import type { DriveCandidate, DriveLease, JobStore } from "../store/ports.ts";
import { BufferPool } from "./buffer-pool.ts";
import {
  DriveProgress,
  type BlobStorage,
  type Copier,
  type CopyRecord,
  type CopyResult,
  type DriveCopy,
  type Outlook,
  type TransferLogger,
} from "./copier.ts";
import { driveLogXml, logBlobName, needsAttention } from "./drive-log.ts";
import { LeaseLostError } from "./lease.ts";
import { RANGE_SIZE } from "./manifest-types.ts";

export type { BlobStorage } from "./copier.ts";

export interface TransferRunnerDeps {
  store: JobStore;
  clock: Clock;
  timers: Timers;
  storage: BlobStorage;
  /** One copier per job type; drives of other job types are left alone. */
  copiers: readonly Copier[];
  logger?: TransferLogger;
  /** Items (blobs) of one drive copied at once (default 8). */
  blobConcurrency?: number;
  /**
   * Drives copied at once by this runner (default 2: a drive reads at its own speed and has
   * stretches, its start and its last large blobs, where its blobs alone leave the endpoint
   * idle). The range buffers are shared, so memory does not grow with it.
   */
  driveConcurrency?: number;
  /** How often progress is written (default 1 s). */
  progressIntervalMs?: number;
  /** How long a claim holds without renewal (default 30 s); renewed every third of it. */
  leaseMs?: number;
  /** This runner's name in the claims (default host/pid/random). */
  owner?: string;
  /** The real time, for leases and the blob endpoint's dates (default the system clock). */
  wallClock?: Clock;
}

/**
 * Range buffers shared by every copy (16 × 4 MiB): enough to keep 8 blobs and a large
 * blob's 4 staged blocks in flight, and the runner's whole data footprint.
 */
const BUFFERS = 16;
const DEFAULT_LEASE_MS = 30_000;
export const DEFAULT_DRIVE_CONCURRENCY = 2;

/** One drive this runner holds. */
interface Run {
  key: string;
  job: Job;
  drive: Drive;
  lease: DriveLease;
  progress: DriveProgress;
  /** Another runner holds the drive now: stop at the next boundary, write nothing more. */
  lost: boolean;
}

export class TransferRunner {
  readonly owner: string;
  private readonly copiers: ReadonlyMap<string, Copier>;
  private readonly active = new Map<string, Promise<void>>();
  /** Drives (`uid:driveId`) told to stop at their next boundary (a cancel or a fault). */
  private readonly stopRequests = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private polling: Promise<void> | undefined;
  /** A look for work was asked for while one was under way (it may have missed a freed slot). */
  private pollAgain = false;
  private readonly buffers = new BufferPool(BUFFERS, RANGE_SIZE);
  /** The real time: leases and the blob endpoint's dates (the service clock may be advanced). */
  private readonly wallClock: Clock;
  private readonly leaseMs: number;

  /**
   * Called before each item is started (tests use it to act at a known point of a copy,
   * e.g. cancel while a drive is in flight).
   */
  onBlobStart:
    ((info: { job: string; driveId: string; index: number }) => Promise<void> | void) | undefined;

  constructor(private readonly deps: TransferRunnerDeps) {
    this.copiers = new Map(deps.copiers.map((c) => [c.jobType, c]));
    this.owner = deps.owner ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
    this.leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
    this.wallClock = deps.wallClock ?? new SystemClock();
  }

  start(intervalMs: number): void {
    this.stopping = false;
    this.timer = setInterval(() => void this.poll(), intervalMs);
    this.timer.unref();
  }

  /** Stops at the next boundary; drives left unfinished are released and resume on a next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
    await Promise.allSettled([...this.active.values()]);
  }

  /** Until no drive is being copied and none is waiting (for tests and clock control). */
  async drain(): Promise<void> {
    for (;;) {
      await this.poll();
      if (this.active.size === 0) return;
      await Promise.allSettled([...this.active.values()]);
    }
  }

  /** A drive started copying: look for work now rather than on the next poll (once started). */
  wake(): void {
    if (this.timer && !this.stopping) void this.poll();
  }

  /**
   * Carries out the lifecycle's effects on drives of `job` (the service layer hands over
   * every stored decision's): a drive to copy wakes the runner; a drive to stop stops at
   * its next boundary, where the stored job says whether it was cancelled or paused.
   */
  carryOut(job: Pick<Job, "uid">, effects: readonly Effect[]): void {
    let wake = false;
    for (const e of effects) {
      if (e.kind === "startCopy") wake = true;
      else if (e.kind === "stopCopy") this.stopRequests.add(`${job.uid}:${e.driveId}`);
    }
    if (wake) this.wake();
  }

  /**
   * Looks for drives to copy, claims them and starts them (bounded by driveConcurrency).
   * One look at a time; one asked for meanwhile runs once more after it (a drive that
   * finished during a look freed a slot that look had already counted).
   */
  poll(): Promise<void> {
    if (this.polling) {
      this.pollAgain = true;
      return this.polling;
    }
    this.polling = (async () => {
      do {
        this.pollAgain = false;
        await this.findWork().catch((err) =>
          this.deps.logger?.error({ err }, "looking for drives to copy failed"),
        );
      } while (this.pollAgain && !this.stopping);
    })().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async findWork(): Promise<void> {
    if (this.stopping) return;
    const free = (this.deps.driveConcurrency ?? DEFAULT_DRIVE_CONCURRENCY) - this.active.size;
    if (free <= 0) return;
    const jobs = new Map<string, Job>();
    const candidates: DriveCandidate[] = [];
    let after = 0;
    for (;;) {
      const page = await this.deps.store.listByStates(COPYING_STATES, after, 200);
      for (const { job } of page) {
        // Only the job types this runner has a copier for.
        if (!this.copiers.has(job.jobType)) continue;
        for (const drive of job.driveList) {
          if (!isBeingCopied(drive) || this.active.has(`${job.uid}:${drive.driveId}`)) continue;
          jobs.set(job.uid, job);
          candidates.push({ jobUid: job.uid, driveId: drive.driveId });
        }
      }
      if (page.length < 200) break;
      after = page[page.length - 1]!.seq;
    }
    if (candidates.length === 0 || this.stopping) return;
    const leases = await this.deps.store.claimDrives({
      candidates,
      owner: this.owner,
      now: this.wallClock.now(),
      leaseMs: this.leaseMs,
      limit: free,
    });
    for (const lease of leases) {
      const listed = jobs.get(lease.jobUid)!;
      const key = `${lease.jobUid}:${lease.driveId}`;
      const run = this.runDrive(listed, lease)
        .catch(async (err): Promise<false> => {
          if (err instanceof LeaseLostError) {
            this.deps.logger?.info({ job: listed.name, drive: lease.driveId }, err.message);
            return false;
          }
          this.deps.logger?.error(
            { err, job: listed.name, drive: lease.driveId },
            "drive copy failed; it is retried",
          );
          await this.deps.store.releaseDrive(lease, false).catch(() => undefined);
          return false;
        })
        .then((finished) => {
          this.active.delete(key);
          this.stopRequests.delete(key);
          // A finished drive frees its slot: the next drive is claimed now, not a poll
          // later. Only after a finish (a state that does not come back), so a drive that
          // fails or is given back at once is not claimed again in a loop.
          if (finished) this.wake();
        });
      this.active.set(
        key,
        run.then(() => undefined),
      );
    }
  }

  /**
   * Copies one claimed drive with its job's copier, from its first boundary to its
   * completion; true when it completed (false: given back unfinished).
   */
  private async runDrive(listed: Job, lease: DriveLease): Promise<boolean> {
    const { store } = this.deps;
    // Read again now that the drive is claimed: the listing may be older than the claim.
    const job = await store.get(listed);
    const drive = job?.driveList.find((d) => d.driveId === lease.driveId);
    const outlook = copyOutlook(job, lease.driveId);
    if (!job || !drive || outlook === "paused") {
      await store.releaseDrive(lease, false);
      return false;
    }
    const run: Run = {
      key: `${job.uid}:${drive.driveId}`,
      job,
      drive,
      lease,
      progress: new DriveProgress(),
      lost: false,
    };
    const renewal = setInterval(() => void this.renew(run), Math.max(1, this.leaseMs / 3));
    renewal.unref();
    try {
      const earlier = new Map(
        (await store.importRecords(job.uid, drive.driveId)).map((r) => [r.blobKey, r]),
      );
      let result: CopyResult;
      if (outlook === "cancelled" && earlier.size === 0) {
        // Cancelled before this drive started: it is skipped (SPEC §2.3).
        result = {
          kind: "finished",
          status: "CompletedWithWarnings",
          entries: [],
          bytesSucceeded: 0,
          copyStatus: "Cancelled",
          message: "The job was cancelled before this drive was copied.",
        };
      } else {
        // A drive of a cancelled job resumed after a restart copies no further item.
        if (outlook === "cancelled") this.stopRequests.add(run.key);
        const progress = setInterval(
          () => void this.reportProgress(run),
          this.deps.progressIntervalMs ?? 1000,
        );
        progress.unref();
        try {
          result = await this.copierOf(job).copy(this.driveCopy(run, earlier));
        } finally {
          clearInterval(progress);
        }
      }
      if (run.lost) throw new LeaseLostError(job.name, drive.driveId);
      if (result.kind === "paused" || this.stopping) {
        await store.releaseDrive(lease, false);
        return false;
      }
      await this.reportProgress(run);
      await this.finish(run, result);
      return true;
    } finally {
      clearInterval(renewal);
    }
  }

  private copierOf(job: Job): Copier {
    return this.copiers.get(job.jobType)!;
  }

  private driveCopy(run: Run, earlier: ReadonlyMap<string, CopyRecord>): DriveCopy {
    const { job, drive } = run;
    return {
      job,
      drive,
      storage: this.deps.storage,
      progress: run.progress,
      buffers: this.buffers,
      concurrency: this.deps.blobConcurrency ?? 8,
      wallClock: this.wallClock,
      logger: this.deps.logger,
      startedAt: run.lease.startedAt,
      resumed: run.lease.token > 1 || earlier.size > 0,
      records: {
        earlier,
        put: async (record, relaxed) => {
          const { store } = this.deps;
          if (!(await store.recordImport(job.uid, drive.driveId, record, run.lease, relaxed))) {
            run.lost = true;
            throw new LeaseLostError(job.name, drive.driveId);
          }
        },
      },
      boundary: (index) => this.boundary(run, index),
    };
  }

  /** Whether the copy goes on before item `index` (a cancel or a fault takes effect here). */
  private async boundary(run: Run, index: number): Promise<Outlook> {
    if (this.stopping || run.lost) return "paused";
    await this.onBlobStart?.({ job: run.job.name, driveId: run.drive.driveId, index });
    if (this.stopping || run.lost) return "paused";
    // The lifecycle's stopCopy effect says to look; the job as stored says which it was.
    if (this.stopRequests.has(run.key)) {
      const now = copyOutlook(await this.deps.store.get(run.job), run.drive.driveId);
      if (now !== "copy") return now;
      this.stopRequests.delete(run.key);
    }
    return "copy";
  }

  private async renew(run: Run): Promise<void> {
    if (run.lost) return;
    try {
      const renewed = await this.deps.store.renewDrive(
        run.lease,
        this.wallClock.now(),
        this.leaseMs,
      );
      if (renewed) run.lease = renewed;
      else run.lost = true;
    } catch (err) {
      // The store did not answer: the next renewal tries again; fenced writes stay safe.
      this.deps.logger?.error({ err, job: run.job.name }, "lease renewal failed");
    }
  }

  /** applyEvent, with the job written only while this runner's lease holds the drive. */
  private applyFenced(run: Run, eventFor: (job: Job) => JobEvent): Promise<unknown> {
    const { store } = this.deps;
    const fenced: ApplyCore = {
      clock: this.deps.clock,
      timers: this.deps.timers,
      store: {
        get: (key) => store.get(key),
        purge: (uid, version) => store.purge(uid, version),
        update: async (job, history) => {
          const r = await store.updateFenced(job, history, run.lease);
          if (r === "leaseLost") {
            run.lost = true;
            throw new LeaseLostError(run.job.name, run.drive.driveId);
          }
          return r === "ok";
        },
      },
    };
    return applyEvent(fenced, run.job, eventFor, "engine");
  }

  /**
   * The drive's progress into its own row, then the job's: the drive's percentages, and the
   * job's percentComplete = bytes done / bytes to move over all its drives' rows (SPEC §2.1),
   * whichever runner copies them.
   */
  private async reportProgress(run: Run): Promise<void> {
    if (run.lost) return;
    const { store } = this.deps;
    const { progress } = run;
    try {
      if (!(await store.recordDriveProgress(run.lease, progress.done, progress.total))) {
        run.lost = true;
        return;
      }
      const runs = new Map((await store.driveRuns(run.job.uid)).map((r) => [r.driveId, r]));
      await this.applyFenced(run, (job) => {
        // A cancel or fault written by another process reaches this copy here.
        if (copyOutlook(job, run.drive.driveId) !== "copy") this.stopRequests.add(run.key);
        let done = 0;
        let total = 0;
        for (const d of job.driveList) {
          const row = runs.get(d.driveId.toLowerCase());
          done += row?.bytesDone ?? d.bytesSucceeded ?? 0;
          total += row?.bytesTotal ?? d.bytesSucceeded ?? 0;
        }
        return {
          type: "reportProgress",
          driveId: run.drive.driveId,
          bytesSucceeded: progress.done,
          percentComplete: progress.percent,
          jobPercentComplete: total === 0 ? 0 : Math.min(100, Math.floor((done * 100) / total)),
        };
      });
    } catch (err) {
      if (err instanceof LeaseLostError) return;
      this.deps.logger?.error({ err, job: run.job.name }, "progress report failed");
    }
  }

  private async uploadLog(
    run: Run,
    name: string,
    body: string | Buffer,
  ): Promise<string | undefined> {
    try {
      const cc = await this.deps.storage.containerClient(
        storageAccountName(run.job.storageAccountId),
        run.job.diagnosticsPath,
      );
      await cc.createIfNotExists();
      const blob = cc.getBlockBlobClient(name);
      const data = typeof body === "string" ? Buffer.from(body, "utf8") : body;
      await blob.upload(data, data.length, {
        blobHTTPHeaders: { blobContentType: "application/xml" },
      });
      // A SAS-configured account puts its token in the URL; job fields never carry it.
      const url = new URL(blob.url);
      url.search = "";
      return url.toString();
    } catch (err) {
      this.deps.logger?.error(
        { err, job: run.job.name, drive: run.drive.driveId },
        "could not write a drive log",
      );
      return undefined;
    }
  }

  /** Ends a drive: logs written, `completeDrive` through the lifecycle, the claim released as finished. */
  private async finish(run: Run, result: Extract<CopyResult, { kind: "finished" }>): Promise<void> {
    const { job, drive } = run;
    const { status, entries, message } = result;
    const now = this.deps.clock.now();
    const problems = entries.filter(needsAttention);
    const errorLogUri = await this.uploadLog(
      run,
      logBlobName(job.name, drive.driveId, now, "error"),
      driveLogXml(drive.driveId, status, problems, message),
    );
    const verboseLogUri =
      job.logLevel === "Verbose"
        ? await this.uploadLog(
            run,
            logBlobName(job.name, drive.driveId, now, "verbose"),
            driveLogXml(drive.driveId, status, entries, message),
          )
        : undefined;
    const manifestUri =
      job.backupDriveManifest && result.manifest
        ? await this.uploadLog(
            run,
            logBlobName(job.name, drive.driveId, now, "manifest"),
            result.manifest,
          )
        : undefined;
    // The drive log's status, in the three words the lifecycle decides the job's outcome by.
    const outcome: CopyOutcome =
      status === "Completed" && problems.length === 0
        ? "Completed"
        : status === "CompletedWithWarnings"
          ? "CompletedWithWarnings"
          : "CompletedWithErrors";
    await this.applyFenced(run, () => ({
      type: "completeDrive",
      driveId: drive.driveId,
      outcome,
      bytesSucceeded: result.bytesSucceeded,
      copyStatus: result.copyStatus,
      errorLogUri,
      verboseLogUri,
      manifestUri,
      ...(result.incompleteBlobListUri
        ? { incompleteBlobListUri: result.incompleteBlobListUri }
        : {}),
    }));
    await this.deps.store.releaseDrive(run.lease, true);
    this.deps.logger?.info(
      {
        job: job.name,
        drive: drive.driveId,
        status,
        bytes: result.bytesSucceeded,
        items: entries.length,
      },
      "drive copy finished",
    );
  }
}
