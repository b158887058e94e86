/**
 * The import engine (SPEC §4.4): copies each drive that is `Transferring` into the job's
 * storage account, blob by blob, as its manifest says; verifies every range's MD5 inline;
 * applies the disposition rules; writes the drive logs; reports progress; and records
 * per-blob progress durably so a restart resumes without writing a blob twice or renaming
 * a blob it wrote itself. Drives finish through the lifecycle (`completeDrive`).
 */
import { createHash } from "node:crypto";
import { open, readFile, type FileHandle } from "node:fs/promises";
import type { BlockBlobUploadOptions, ContainerClient } from "@azure/storage-blob";
import { SystemClock, type Clock } from "../domain/clock.ts";
import { COPYING_STATES, copyOutlook, type Effect, type Timers } from "../domain/job/lifecycle.ts";
import { isBeingCopied } from "../domain/job/drive-lifecycle.ts";
import type { CopyOutcome, Drive, Job } from "../domain/job/model.ts";
import { storageAccountName } from "../domain/storage-accounts.ts";
import { applyEvent } from "../service/apply.ts";
import type { ImportBlobRecord, JobStore } from "../store/ports.ts";
import {
  driveLogXml,
  logBlobName,
  needsAttention,
  renamed,
  type BlobLogEntry,
  type DispositionStatus,
  type DriveStatus,
  type PartStatus,
} from "./drive-log.ts";
import {
  ManifestError,
  blobPathProblem,
  manifestHash,
  parseManifest,
  resolveDriveFile,
} from "./manifest.ts";
import {
  RANGE_SIZE,
  type DriveManifest,
  type HashedPath,
  type ManifestBlob,
  type ManifestRange,
} from "./manifest-types.ts";
import { BufferPool } from "./buffer-pool.ts";
import { parseMetadataFile, parsePropertiesFile } from "./xml-files.ts";

/** Where blobs go: a container of a storage account the service can reach. */
export interface BlobStorage {
  containerClient(accountName: string, container: string): Promise<ContainerClient>;
}

export interface ImportEngineDeps {
  store: JobStore;
  clock: Clock;
  timers: Timers;
  storage: BlobStorage;
  logger?: { info(o: object, msg: string): void; error(o: object, msg: string): void };
  /** Blobs of one drive copied at once (default 8). */
  blobConcurrency?: number;
  /** Drives copied at once (default 1: one drive's blobs already keep the endpoint busy). */
  driveConcurrency?: number;
  /** How often progress is written to the job (default 1 s). */
  progressIntervalMs?: number;
}

/**
 * Range buffers shared by every copy (16 × 4 MiB): enough to keep 8 blobs and a large
 * blob's 4 staged blocks in flight, and the engine's whole data footprint.
 */
const BUFFERS = 16;
/** Blocks of one blob staged at once. */
const STAGED_IN_FLIGHT = 4;

/** A blob that failed: the status for the log, and the part that failed. */
class BlobFailure extends Error {
  constructor(
    readonly status: BlobLogEntry["status"],
    message: string,
    readonly part?: Pick<BlobLogEntry, "failedRange" | "metadata" | "properties">,
  ) {
    super(message);
  }
}

class DriveFailure extends Error {
  constructor(
    readonly status: DriveStatus,
    message: string,
  ) {
    super(message);
  }
}

interface DriveRun {
  job: Job;
  drive: Drive;
  manifest: DriveManifest;
  manifestBytes: Buffer;
  containers: Map<string, Promise<ContainerClient>>;
  bytesDone: number;
  bytesTotal: number;
}

const hex = (b: Buffer) => b.toString("hex").toUpperCase();

function blobKeyOf(list: number, blob: number): string {
  return `${list}:${blob}`;
}

function splitBlobPath(blobPath: string): { container: string; name: string } {
  const slash = blobPath.indexOf("/");
  return { container: blobPath.slice(0, slash), name: blobPath.slice(slash + 1) };
}

/** Reads exactly `length` bytes at `offset` into `buf`, or fails with FileUnexpectedEnd. */
async function readRange(
  fh: FileHandle,
  offset: number,
  length: number,
  buf: Buffer,
): Promise<Buffer> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  if (got < length) {
    throw new BlobFailure(
      "CompletedWithErrors",
      `the file ends at ${offset + got}, before the ${offset + length} bytes the manifest lists`,
      {
        failedRange: { offset, length, status: "FileUnexpectedEnd" },
      },
    );
  }
  return buf.subarray(0, length);
}

const corrupted = (offset: number, length: number) =>
  new BlobFailure(
    "CompletedWithErrors",
    `the bytes at ${offset}..${offset + length} do not match their MD5 in the manifest`,
    { failedRange: { offset, length, status: "Corrupted" } },
  );

/**
 * The endpoint refused a body whose MD5 is not the Content-MD5 sent with it: Azure Storage
 * answers 400 Md5Mismatch, Azurite 400 InvalidOperation "Provided contentMD5 doesn't match."
 */
function isContentMismatch(e: unknown): boolean {
  const err = e as { statusCode?: number; code?: string; message?: string };
  return (
    err.statusCode === 400 &&
    (err.code === "Md5Mismatch" ||
      (err.code === "InvalidOperation" && /content-?md5/i.test(err.message ?? "")))
  );
}

/** A conditional write (`If-None-Match: *`) found the name taken. */
function isAlreadyExists(e: unknown): boolean {
  const err = e as { statusCode?: number; code?: string };
  return err.statusCode === 409 && err.code === "BlobAlreadyExists";
}

/** MD5 of no bytes (an empty file's blob). */
const EMPTY_MD5 = createHash("md5").digest();

/**
 * Azure Storage refuses requests dated more than 15 minutes off its clock, so a blob the
 * endpoint dates earlier than that before this engine claimed its name was not written by it.
 */
const ENDPOINT_CLOCK_SKEW_MS = 15 * 60_000;

/** How a blob is written: create only (`If-None-Match: *`), or whatever is there. */
type WriteMode = "ifNew" | "replace";

/** Same length and same content MD5: the blob endpoint holds what this engine wrote. */
function sameContent(
  props: { contentLength?: number; contentMD5?: Uint8Array },
  length: number,
  md5: string,
): boolean {
  return (
    props.contentLength === length &&
    props.contentMD5 !== undefined &&
    Buffer.from(props.contentMD5).toString("base64") === md5
  );
}

/** A block blob of at most one range: written by one Put Blob. */
function singleRequest(blob: ManifestBlob): boolean {
  return blob.blobType === "BlockBlob" && blob.ranges.length <= 1;
}

/** The content MD5 a single-request blob must have: its one range's, or that of no bytes. */
function expectedMd5(blob: ManifestBlob): Buffer {
  const r = blob.ranges[0];
  return r ? Buffer.from(r.hash, "hex") : EMPTY_MD5;
}

export class ImportEngine {
  private readonly active = new Map<string, Promise<void>>();
  /** Drives (`uid:driveId`) told to stop at their next blob boundary (a cancel or a fault). */
  private readonly stopRequests = new Set<string>();
  /** Bytes to move per drive (`uid:driveId`), known once its manifest is read. */
  private readonly totals = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private polling: Promise<void> | undefined;
  private readonly buffers = new BufferPool(BUFFERS, RANGE_SIZE);
  /** The real time, as the blob endpoint dates blobs (the service clock may be advanced). */
  private readonly wallClock = new SystemClock();

  /**
   * Called before each blob is started (tests use it to act at a known point of a copy,
   * e.g. cancel while a drive is in flight).
   */
  onBlobStart:
    ((info: { job: string; driveId: string; index: number }) => Promise<void> | void) | undefined;

  constructor(private readonly deps: ImportEngineDeps) {}

  start(intervalMs: number): void {
    this.stopping = false;
    this.timer = setInterval(() => void this.poll(), intervalMs);
    this.timer.unref();
  }

  /** Stops at the next blob boundary; drives left unfinished resume on the next start. */
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

  /** A drive became Transferring: look for work now rather than on the next poll (once started). */
  wake(): void {
    if (this.timer && !this.stopping) void this.poll();
  }

  /**
   * Carries out the lifecycle's effects on drives of `job` (the service layer hands over
   * every stored decision's): a drive to copy wakes the engine; a drive to stop stops at
   * its next blob boundary, where the stored job says whether it was cancelled or paused.
   */
  carryOut(job: Pick<Job, "uid">, effects: readonly Effect[]): void {
    let wake = false;
    for (const e of effects) {
      if (e.kind === "startCopy") wake = true;
      else if (e.kind === "stopCopy") this.stopRequests.add(`${job.uid}:${e.driveId}`);
    }
    if (wake) this.wake();
  }

  /** Looks for drives to copy and starts them (bounded by driveConcurrency). */
  poll(): Promise<void> {
    this.polling ??= this.findWork().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async findWork(): Promise<void> {
    if (this.stopping) return;
    const limit = this.deps.driveConcurrency ?? 1;
    let after = 0;
    for (;;) {
      const page = await this.deps.store.listByStates(COPYING_STATES, after, 200);
      for (const { job } of page) {
        for (const drive of job.driveList) {
          const key = `${job.uid}:${drive.driveId}`;
          if (!isBeingCopied(drive) || this.active.has(key)) continue;
          if (this.active.size >= limit) return;
          const run = this.copyDrive(job, drive)
            .catch((err) =>
              this.deps.logger?.error(
                { err, job: job.name, drive: drive.driveId },
                "drive import failed",
              ),
            )
            .finally(() => {
              this.active.delete(key);
              this.stopRequests.delete(key);
            });
          this.active.set(key, run);
        }
      }
      if (page.length < 200) return;
      after = page[page.length - 1]!.seq;
    }
  }

  private async uploadLog(
    run: Pick<DriveRun, "job" | "drive">,
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

  /** Ends a drive: logs written, then `completeDrive` through the lifecycle. */
  private async complete(
    run: Pick<DriveRun, "job" | "drive"> & { manifestBytes?: Buffer },
    status: DriveStatus,
    entries: BlobLogEntry[],
    bytes: number,
    copyStatus: string,
    message?: string,
  ): Promise<void> {
    const { job, drive } = run;
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
      job.backupDriveManifest && run.manifestBytes
        ? await this.uploadLog(
            run,
            logBlobName(job.name, drive.driveId, now, "manifest"),
            run.manifestBytes,
          )
        : undefined;
    // The drive log's status, in the three words the lifecycle decides the job's outcome by.
    const outcome: CopyOutcome =
      status === "Completed" && problems.length === 0
        ? "Completed"
        : status === "CompletedWithWarnings"
          ? "CompletedWithWarnings"
          : "CompletedWithErrors";
    await applyEvent(
      this.deps,
      job,
      () => ({
        type: "completeDrive",
        driveId: drive.driveId,
        outcome,
        bytesSucceeded: bytes,
        copyStatus,
        errorLogUri,
        verboseLogUri,
        manifestUri,
      }),
      "engine",
    );
    this.deps.logger?.info(
      { job: job.name, drive: drive.driveId, status, bytes, blobs: entries.length },
      "drive import finished",
    );
  }

  private async readManifest(
    job: Job,
    drive: Drive,
  ): Promise<{ manifest: DriveManifest; bytes: Buffer }> {
    if (!drive.contentPath)
      throw new DriveFailure("ReadManifestFailed", "the drive has no attached contents");
    const path = drive.manifestFile
      ? resolveDriveFile(drive.contentPath, drive.manifestFile)
      : undefined;
    if (!path)
      throw new DriveFailure(
        "ManifestNotFound",
        `the manifest path '${drive.manifestFile ?? ""}' is not a file on the drive`,
      );
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      throw new DriveFailure(
        "ManifestNotFound",
        `the manifest '${drive.manifestFile}' is not on the drive`,
      );
    }
    const expected = drive.manifestHash?.trim().toUpperCase();
    if (expected) {
      const actual =
        expected.length === 64
          ? hex(createHash("sha256").update(bytes).digest())
          : manifestHash(bytes);
      if (actual !== expected) {
        throw new DriveFailure(
          "ManifestCorrupted",
          `the manifest's hash is ${actual}; the job says ${expected}`,
        );
      }
    }
    let manifest: DriveManifest;
    try {
      manifest = parseManifest(bytes.toString("utf8"));
    } catch (e) {
      if (e instanceof ManifestError) throw new DriveFailure("ManifestFormatInvalid", e.message);
      throw e;
    }
    if (manifest.driveId.toLowerCase() !== drive.driveId.toLowerCase()) {
      throw new DriveFailure(
        "ManifestDriveIdMismatch",
        `the manifest is for drive '${manifest.driveId}', not '${drive.driveId}'`,
      );
    }
    return { manifest, bytes };
  }

  private async copyDrive(job: Job, drive: Drive): Promise<void> {
    const records = new Map(
      (await this.deps.store.importRecords(job.uid, drive.driveId)).map((r) => [r.blobKey, r]),
    );
    const runKey = `${job.uid}:${drive.driveId}`;
    const outlook = copyOutlook(job, drive.driveId);
    if (outlook === "paused") return;
    if (outlook === "cancelled" && records.size === 0) {
      // Cancelled before this drive started: it is skipped (SPEC §2.3).
      await this.complete(
        { job, drive },
        "CompletedWithWarnings",
        [],
        0,
        "Cancelled",
        "The job was cancelled before this drive was copied.",
      );
      return;
    }
    let read: { manifest: DriveManifest; bytes: Buffer };
    try {
      read = await this.readManifest(job, drive);
    } catch (e) {
      if (!(e instanceof DriveFailure)) throw e;
      await this.complete({ job, drive }, e.status, [], 0, e.status, e.message);
      return;
    }
    const blobs = read.manifest.blobLists.flatMap((list, li) =>
      list.blobs.map((blob, bi) => ({
        key: blobKeyOf(li, bi),
        blob,
        metadata: blob.metadata ?? list.metadata,
        properties: blob.properties ?? list.properties,
      })),
    );
    const run: DriveRun = {
      job,
      drive,
      manifest: read.manifest,
      manifestBytes: read.bytes,
      containers: new Map(),
      bytesDone: 0,
      bytesTotal: blobs.reduce((n, b) => n + b.blob.length, 0),
    };
    this.totals.set(runKey, run.bytesTotal);
    const entries = new Map<string, BlobLogEntry>();
    const fromEarlierRun: { key: string; record: ImportBlobRecord }[] = [];
    let stopped: "cancelled" | "paused" | undefined;
    // A drive of a cancelled job resumed after a restart writes no further blob (SPEC §2.3).
    if (outlook === "cancelled") this.stopRequests.add(runKey);
    let next = 0;
    const progress = setInterval(
      () => void this.reportProgress(run),
      this.deps.progressIntervalMs ?? 1000,
    );
    progress.unref();
    const worker = async () => {
      for (;;) {
        if (this.stopping || stopped) return;
        const i = next++;
        if (i >= blobs.length) return;
        const item = blobs[i]!;
        const record = records.get(item.key);
        if (record && record.status !== "writing") {
          entries.set(item.key, record.detail.entry as BlobLogEntry);
          if (record.status === "done") {
            run.bytesDone += item.blob.length;
            fromEarlierRun.push({ key: item.key, record });
          }
          continue;
        }
        await this.onBlobStart?.({ job: job.name, driveId: drive.driveId, index: i });
        // A cancel or a fault takes effect at the next blob boundary: the lifecycle's
        // stopCopy effect says so, and the job as stored says which it was.
        if (this.stopRequests.has(runKey)) {
          const now = copyOutlook(await this.deps.store.get(job), drive.driveId);
          if (now !== "copy") {
            stopped ??= now;
            return;
          }
          this.stopRequests.delete(runKey);
        }
        entries.set(
          item.key,
          await this.importBlob(run, item.key, item.blob, item.metadata, item.properties, record),
        );
      }
    };
    try {
      await Promise.all(Array.from({ length: this.deps.blobConcurrency ?? 8 }, worker));
      if (this.stopping || stopped === "paused") return;
      // What this engine cannot trust: blobs written before a restart. Check them at the
      // endpoint (it may have lost its last writes in the same crash) and redo any missing.
      for (const { key, record } of stopped ? [] : fromEarlierRun) {
        const { container, name } = splitBlobPath(record.finalPath!);
        const props = await (
          await this.container(run, container)
        )
          .getBlobClient(name)
          .getProperties()
          .catch(() => undefined);
        const pageBlob = record.detail.blobType === "PageBlob";
        const intact = pageBlob
          ? props?.contentLength === record.detail.length
          : props !== undefined &&
            sameContent(props, record.detail.length as number, record.detail.md5 as string);
        if (intact) continue;
        const item = blobs.find((b) => b.key === key)!;
        run.bytesDone -= item.blob.length;
        entries.set(
          key,
          await this.importBlob(run, key, item.blob, item.metadata, item.properties, {
            ...record,
            status: "writing",
          }),
        );
      }
    } finally {
      clearInterval(progress);
    }
    if (this.stopping) return;
    const cancelled = stopped === "cancelled";
    await this.reportProgress(run);
    const ordered = blobs
      .map((b) => entries.get(b.key))
      .filter((e): e is BlobLogEntry => e !== undefined);
    if (cancelled) {
      for (const b of blobs) {
        if (!entries.has(b.key)) {
          ordered.push({
            status: "Cancelled",
            blobPath: b.blob.blobPath,
            filePath: b.blob.filePath,
            length: b.blob.length,
            disposition: { requested: b.blob.disposition, status: "Cancelled" },
          });
        }
      }
    }
    const failed = ordered.some((e) => e.status !== "Completed");
    const warned = ordered.some(needsAttention);
    const status: DriveStatus = failed
      ? "CompletedWithErrors"
      : warned || cancelled
        ? "CompletedWithWarnings"
        : "Completed";
    await this.complete(
      run,
      status,
      ordered,
      run.bytesDone,
      cancelled ? "Cancelled" : status,
      cancelled
        ? "The job was cancelled; the blobs listed as Cancelled were not imported."
        : undefined,
    );
  }

  private async reportProgress(run: DriveRun): Promise<void> {
    const percent = run.bytesTotal === 0 ? 100 : Math.floor((run.bytesDone * 100) / run.bytesTotal);
    try {
      await applyEvent(
        this.deps,
        run.job,
        (job) => {
          // A cancel or fault written by another process reaches this copy here.
          if (copyOutlook(job, run.drive.driveId) !== "copy") {
            this.stopRequests.add(`${job.uid}:${run.drive.driveId}`);
          }
          // Job percentComplete = bytes done / bytes to move over all drives (SPEC §2.1).
          let done = 0;
          let total = 0;
          for (const d of job.driveList) {
            const mine = d.driveId === run.drive.driveId;
            done += mine ? run.bytesDone : (d.bytesSucceeded ?? 0);
            total += mine
              ? run.bytesTotal
              : (this.totals.get(`${job.uid}:${d.driveId}`) ?? d.bytesSucceeded ?? 0);
          }
          return {
            type: "reportProgress",
            driveId: run.drive.driveId,
            bytesSucceeded: run.bytesDone,
            percentComplete: percent,
            jobPercentComplete: total === 0 ? 0 : Math.min(100, Math.floor((done * 100) / total)),
          };
        },
        "engine",
      );
    } catch (err) {
      this.deps.logger?.error({ err, job: run.job.name }, "progress report failed");
    }
  }

  private container(run: DriveRun, container: string): Promise<ContainerClient> {
    let cc = run.containers.get(container);
    if (!cc) {
      cc = this.deps.storage
        .containerClient(storageAccountName(run.job.storageAccountId), container)
        .then(async (c) => {
          await c.createIfNotExists();
          return c;
        });
      run.containers.set(container, cc);
    }
    return cc;
  }

  private async readSideFile(
    run: DriveRun,
    hp: HashedPath,
    kind: "metadata" | "properties",
  ): Promise<string> {
    const fail = (status: PartStatus, message: string) =>
      new BlobFailure("CompletedWithErrors", message, { [kind]: { path: hp.path, status } });
    const path = resolveDriveFile(run.drive.contentPath!, hp.path);
    if (!path) throw fail("FileNotFound", `the ${kind} file '${hp.path}' is not on the drive`);
    const bytes = await readFile(path).catch(() => undefined);
    if (!bytes) throw fail("FileNotFound", `the ${kind} file '${hp.path}' is not on the drive`);
    if (hex(createHash("md5").update(bytes).digest()) !== hp.hash.toUpperCase()) {
      throw fail(
        "Corrupted",
        `the ${kind} file '${hp.path}' does not match its MD5 in the manifest`,
      );
    }
    return bytes.toString("utf8");
  }

  /** Copies one blob; every outcome (also a failure) is recorded durably and returned for the log. */
  private async importBlob(
    run: DriveRun,
    key: string,
    blob: ManifestBlob,
    metadataFile: HashedPath | undefined,
    propertiesFile: HashedPath | undefined,
    earlier: ImportBlobRecord | undefined,
  ): Promise<BlobLogEntry> {
    const { job, drive } = run;
    const base: BlobLogEntry = {
      status: "Completed",
      blobPath: blob.blobPath,
      filePath: blob.filePath,
      length: blob.length,
    };
    const record = async (
      status: ImportBlobRecord["status"],
      entry: BlobLogEntry,
      extra: Record<string, unknown> = {},
      finalPath?: string,
    ) => {
      await this.deps.store.recordImport(job.uid, drive.driveId, {
        blobKey: key,
        status,
        finalPath,
        detail: { entry, length: blob.length, ...extra },
      });
      return entry;
    };
    const skipped: BlobLogEntry = {
      ...base,
      disposition: { requested: blob.disposition, status: "Skipped" },
    };
    let fh: FileHandle | undefined;
    try {
      const nameProblem = blobPathProblem(blob.blobPath);
      if (nameProblem)
        throw new BlobFailure("FileNameInvalid", `the blob path is refused: ${nameProblem}`);
      const filePath = resolveDriveFile(drive.contentPath!, blob.filePath);
      if (!filePath)
        throw new BlobFailure(
          "FileNameInvalid",
          `the file path '${blob.filePath}' is not on the drive`,
        );
      let metadata: Record<string, string> | undefined;
      let props: ReturnType<typeof parsePropertiesFile> | undefined;
      try {
        if (metadataFile)
          metadata = parseMetadataFile(await this.readSideFile(run, metadataFile, "metadata"));
        if (propertiesFile)
          props = parsePropertiesFile(await this.readSideFile(run, propertiesFile, "properties"));
      } catch (e) {
        if (e instanceof BlobFailure) throw e;
        const kind = metadata === undefined && metadataFile ? "metadata" : "properties";
        const path = (kind === "metadata" ? metadataFile : propertiesFile)!.path;
        throw new BlobFailure("CompletedWithErrors", (e as Error).message, {
          [kind]: { path, status: "XmlReadFailed" },
        });
      }
      try {
        fh = await open(filePath, "r");
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new BlobFailure(
          code === "EACCES" ? "FileAccessDenied" : "FileNotFound",
          `the file '${blob.filePath}' cannot be opened (${code})`,
        );
      }
      const { container, name } = splitBlobPath(blob.blobPath);
      const cc = await this.container(run, container);
      const claim = (target: string, disposition: DispositionStatus, mode: WriteMode) =>
        this.deps.store.recordImport(job.uid, drive.driveId, {
          blobKey: key,
          status: "writing",
          finalPath: `${container}/${target}`,
          // `since` is for comparing with the endpoint's dates (see ENDPOINT_CLOCK_SKEW_MS).
          detail: { disposition, mode, since: this.wallClock.now().getTime() },
        });
      let target = name;
      let disposition: DispositionStatus;
      let mode: WriteMode;
      // Set when resuming a create-only write: a blob found under its name may be the
      // engine's own from before the restart.
      let resumedSince: number | undefined;
      if (earlier?.status === "writing" && earlier.finalPath) {
        // Ours from an earlier attempt: write it again under the same name, never "name (2)".
        target = splitBlobPath(earlier.finalPath).name;
        disposition = earlier.detail.disposition as DispositionStatus;
        mode = earlier.detail.mode === "ifNew" ? "ifNew" : "replace";
        if (mode === "ifNew") resumedSince = earlier.detail.since as number;
      } else if (singleRequest(blob)) {
        // One request writes it: a create-only write finds out whether the name is taken
        // (409), instead of asking first with a HEAD per blob.
        disposition = "Created";
        mode = "ifNew";
        await claim(target, disposition, mode);
      } else {
        const exists = await cc.getBlobClient(name).exists();
        const choice = exists
          ? await this.whenTaken(cc, name, blob, "replace")
          : { target: name, disposition: "Created" as const, mode: "replace" as const };
        if (!choice) return record("skipped", skipped);
        ({ target, disposition, mode } = choice);
        await claim(target, disposition, mode);
      }
      let md5: string;
      for (;;) {
        try {
          md5 = await this.write(cc, target, blob, fh, metadata, props, mode);
          break;
        } catch (e) {
          if (mode !== "ifNew" || !isAlreadyExists(e)) throw e;
        }
        // The name is taken. After a restart it may hold this engine's own write.
        if (resumedSince !== undefined) {
          const mine = await this.writtenSince(cc, target, blob, resumedSince);
          resumedSince = undefined;
          if (mine) {
            md5 = mine;
            break;
          }
        }
        // Someone else's blob: the disposition rules decide.
        const choice = await this.whenTaken(cc, name, blob, mode);
        if (!choice) return record("skipped", skipped);
        ({ target, disposition, mode } = choice);
        await claim(target, disposition, mode);
      }
      run.bytesDone += blob.length;
      const entry: BlobLogEntry = {
        ...base,
        blobPath: `${container}/${target}`,
        disposition: { requested: blob.disposition, status: disposition },
      };
      return await record(
        "done",
        entry,
        { md5, disposition, blobType: blob.blobType },
        `${container}/${target}`,
      );
    } catch (e) {
      if (e instanceof BlobFailure)
        return record("failed", { ...base, ...e.part, status: e.status, message: e.message });
      const message = (e as Error).message;
      return record("failed", {
        ...base,
        status: "BlobRequestFailed",
        message: `the blob endpoint refused the write: ${message}`,
      });
    } finally {
      await fh?.close();
    }
  }

  /**
   * The disposition rules for a blob whose name is taken: no-overwrite skips it (undefined),
   * overwrite replaces what is there, rename writes it under the first free `name (n).ext`
   * (create-only when `mode` is, in case that name is taken meanwhile).
   */
  private async whenTaken(
    cc: ContainerClient,
    name: string,
    blob: ManifestBlob,
    mode: WriteMode,
  ): Promise<{ target: string; disposition: DispositionStatus; mode: WriteMode } | undefined> {
    switch (blob.disposition) {
      case "no-overwrite":
        return undefined;
      case "overwrite":
        return { target: name, disposition: "Overwritten", mode: "replace" };
      case "rename":
        return { target: await this.freeName(cc, name), disposition: "Renamed", mode };
    }
  }

  /** The first `name (n).ext` (n ≥ 2) not taken in the container. */
  private async freeName(cc: ContainerClient, name: string): Promise<string> {
    for (let n = 2; ; n++) {
      const candidate = renamed(name, n);
      if (!(await cc.getBlobClient(candidate).exists())) return candidate;
    }
  }

  /**
   * Whether the blob under `target` is this engine's write from before a restart: the
   * manifest's length and MD5, created after the engine claimed the name. Returns its MD5.
   */
  private async writtenSince(
    cc: ContainerClient,
    target: string,
    blob: ManifestBlob,
    since: number,
  ): Promise<string | undefined> {
    const props = await cc
      .getBlobClient(target)
      .getProperties()
      .catch(() => undefined);
    const md5 = expectedMd5(blob).toString("base64");
    const created = props?.createdOn?.getTime();
    return props !== undefined &&
      sameContent(props, blob.length, md5) &&
      created !== undefined &&
      created >= since - ENDPOINT_CLOCK_SKEW_MS
      ? md5
      : undefined;
  }

  /**
   * Writes the blob from file ranges; returns its content MD5 (Base64). Block ranges go
   * with their manifest MD5 as the request's Content-MD5, which the endpoint checks (400 on
   * a mismatch, logged as the range's `Corrupted`), so the bytes are verified where they
   * land and hashed here only for a multi-block blob's own Content-MD5. Page ranges are
   * checked here: Azurite does not check Put Page's Content-MD5. A blob that fails part-way
   * leaves nothing under its name.
   */
  private async write(
    cc: ContainerClient,
    name: string,
    blob: ManifestBlob,
    fh: FileHandle,
    metadata: Record<string, string> | undefined,
    props: ReturnType<typeof parsePropertiesFile> | undefined,
    mode: WriteMode,
  ): Promise<string> {
    const headers = {
      blobContentType: props?.contentType,
      blobContentEncoding: props?.contentEncoding,
      blobContentLanguage: props?.contentLanguage,
      blobCacheControl: props?.cacheControl,
    };
    const conditions = mode === "ifNew" ? { ifNoneMatch: "*" } : undefined;
    const endpointChecked = async <T>(r: ManifestRange, request: Promise<T>): Promise<T> => {
      try {
        return await request;
      } catch (e) {
        throw isContentMismatch(e) ? corrupted(r.offset, r.length) : e;
      }
    };
    if (blob.blobType === "PageBlob") {
      const pages = cc.getPageBlobClient(name);
      await pages.create(blob.length, { blobHTTPHeaders: headers, metadata, conditions });
      try {
        for (const r of blob.ranges) {
          await this.buffers.with(async (buf) => {
            const data = await readRange(fh, r.offset, r.length, buf);
            const digest = createHash("md5").update(data).digest();
            if (hex(digest) !== r.hash.toUpperCase()) throw corrupted(r.offset, r.length);
            await pages.uploadPages(data, r.offset, r.length, {
              transactionalContentMD5: digest,
            });
          });
        }
      } catch (e) {
        // A page blob exists from its create on: one that failed part-way is removed, so
        // no half-written blob stands under the name (a block blob's uncommitted blocks
        // never become visible).
        await pages.deleteIfExists().catch(() => undefined);
        throw e;
      }
      // Page blobs carry no computed content MD5; report the MD5 of what was written in range order.
      const whole = createHash("md5");
      for (const r of blob.ranges) whole.update(r.hash);
      return whole.digest().toString("base64");
    }
    const block = cc.getBlockBlobClient(name);
    if (singleRequest(blob)) {
      const r = blob.ranges[0];
      const md5 = expectedMd5(blob);
      await this.buffers.with(async (buf) => {
        const data = r ? await readRange(fh, r.offset, r.length, buf) : buf.subarray(0, 0);
        // The SDK sends `transactionalContentMD5` as Content-MD5; its types leave it out.
        const options: BlockBlobUploadOptions & { transactionalContentMD5: Uint8Array } = {
          blobHTTPHeaders: { ...headers, blobContentMD5: md5 },
          metadata,
          conditions,
          transactionalContentMD5: md5,
        };
        const request = block.upload(data, data.length, options);
        const res = r ? await endpointChecked(r, request) : await request;
        // An endpoint that answers with the MD5 it computed is checked once more.
        if (r && res.contentMD5 && !Buffer.from(res.contentMD5).equals(md5)) {
          await block.deleteIfExists().catch(() => undefined);
          throw corrupted(r.offset, r.length);
        }
      });
      return md5.toString("base64");
    }
    const whole = createHash("md5");
    const ids = blob.ranges.map(
      (r, i) => r.id ?? Buffer.from(`drivebay-${String(i).padStart(6, "0")}`).toString("base64"),
    );
    const inFlight: Promise<unknown>[] = [];
    try {
      for (let i = 0; i < blob.ranges.length; i++) {
        const r = blob.ranges[i]!;
        const buf = await this.buffers.acquire();
        let staged: Promise<unknown>;
        try {
          const data = await readRange(fh, r.offset, r.length, buf);
          whole.update(data);
          staged = endpointChecked(
            r,
            block.stageBlock(ids[i]!, data, data.length, {
              transactionalContentMD5: Buffer.from(r.hash, "hex"),
            }),
          ).finally(() => this.buffers.release(buf));
        } catch (e) {
          this.buffers.release(buf);
          throw e;
        }
        // Handled now, awaited below: a failed stage must not become an unhandled rejection.
        staged.catch(() => undefined);
        inFlight.push(staged);
        if (inFlight.length >= STAGED_IN_FLIGHT) await inFlight.shift();
      }
      await Promise.all(inFlight);
    } finally {
      // Stages still in flight hold buffers and the file: let them end before returning.
      await Promise.allSettled(inFlight);
    }
    const md5 = whole.digest();
    await block.commitBlockList(ids, {
      blobHTTPHeaders: { ...headers, blobContentMD5: md5 },
      metadata,
      conditions,
    });
    return md5.toString("base64");
  }
}
