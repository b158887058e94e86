/**
 * The import copier (SPEC §4.4): copies a drive's files into the job's storage account,
 * blob by blob, as its manifest says; verifies every range's MD5 inline; applies the
 * disposition rules; and records per-blob progress durably (under the runner's lease) so a
 * resumed copy, in this process or another worker, never writes a blob twice or renames a
 * blob it wrote itself. The runner (../runner.ts) claims the drive, reports progress,
 * writes the drive logs and completes the drive.
 */
import { createHash } from "node:crypto";
import { open, readFile, type FileHandle } from "node:fs/promises";
import type { BlockBlobUploadOptions, ContainerClient } from "@azure/storage-blob";
import { storageAccountName } from "../../domain/storage-accounts.ts";
import {
  driveFailed,
  finishedStatus,
  type Copier,
  type CopyRecord,
  type CopyResult,
  type DriveCopy,
} from "../copier.ts";
import {
  ManifestReadError,
  readDriveManifest,
  resolveDriveFile,
  splitBlobPath,
} from "../drive-files.ts";
import {
  needsAttention,
  renamed,
  type BlobLogEntry,
  type DispositionStatus,
  type PartStatus,
} from "../drive-log.ts";
import { blobPathProblem } from "../manifest.ts";
import type { HashedPath, ManifestBlob, ManifestRange } from "../manifest-types.ts";
import { EMPTY_MD5, hexUpper as hex, md5Hex } from "../md5.ts";
import { LeaseLostError } from "../lease.ts";
import { parseMetadataFile, parsePropertiesFile } from "../xml-files.ts";

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

function blobKeyOf(list: number, blob: number): string {
  return `${list}:${blob}`;
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

export class ImportCopier implements Copier {
  readonly jobType = "Import" as const;

  copy(dc: DriveCopy): Promise<CopyResult> {
    return new DriveImport(dc).run();
  }
}

/** One drive's import. */
class DriveImport {
  private readonly containers = new Map<string, Promise<ContainerClient>>();

  constructor(private readonly dc: DriveCopy) {}

  async run(): Promise<CopyResult> {
    const { drive } = this.dc;
    if (!drive.contentPath)
      return driveFailed("ReadManifestFailed", "the drive has no attached contents");
    if (!drive.manifestFile)
      return driveFailed("ManifestNotFound", "the job names no manifest file for the drive");
    let read: Awaited<ReturnType<typeof readDriveManifest>>;
    try {
      read = await readDriveManifest(drive.contentPath, drive.manifestFile, drive.manifestHash);
    } catch (e) {
      if (e instanceof ManifestReadError) return driveFailed(e.status, e.message);
      throw e;
    }
    if (read.manifest.driveId.toLowerCase() !== drive.driveId.toLowerCase()) {
      return driveFailed(
        "ManifestDriveIdMismatch",
        `the manifest is for drive '${read.manifest.driveId}', not '${drive.driveId}'`,
      );
    }
    const blobs = read.manifest.blobLists.flatMap((list, li) =>
      list.blobs.map((blob, bi) => ({
        key: blobKeyOf(li, bi),
        blob,
        metadata: blob.metadata ?? list.metadata,
        properties: blob.properties ?? list.properties,
      })),
    );
    const progress = this.dc.progress;
    progress.total = blobs.reduce((n, b) => n + b.blob.length, 0);
    const records = this.dc.records.earlier;
    const entries = new Map<string, BlobLogEntry>();
    const fromEarlierRun: { key: string; record: CopyRecord }[] = [];
    let stopped: "cancelled" | "paused" | undefined;
    let next = 0;
    const worker = async () => {
      for (;;) {
        if (stopped) return;
        const i = next++;
        if (i >= blobs.length) return;
        const item = blobs[i]!;
        const record = records.get(item.key);
        if (record && record.status !== "writing") {
          entries.set(item.key, record.detail.entry as BlobLogEntry);
          if (record.status === "done") {
            progress.done += item.blob.length;
            fromEarlierRun.push({ key: item.key, record });
          }
          continue;
        }
        // A cancel, a fault, the runner stopping or its lease lost take effect here.
        const outlook = await this.dc.boundary(i);
        if (outlook !== "copy") {
          stopped ??= outlook;
          return;
        }
        entries.set(
          item.key,
          await this.importBlob(item.key, item.blob, item.metadata, item.properties, record),
        );
      }
    };
    // Every worker ends before the copy does (one that fails, e.g. on a lost lease, does
    // not leave the others writing behind its back).
    const settled = await Promise.allSettled(Array.from({ length: this.dc.concurrency }, worker));
    const thrown = settled.find((r) => r.status === "rejected");
    if (thrown) throw thrown.reason;
    if (stopped === "paused") return { kind: "paused" };
    // What this copier cannot trust: blobs written before a restart or by another worker.
    // Check them at the endpoint (it may have lost its last writes in the same crash) and
    // redo any missing.
    for (const { key, record } of stopped ? [] : fromEarlierRun) {
      const { container, name } = splitBlobPath(record.finalPath!);
      const props = await (
        await this.container(container)
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
      progress.done -= item.blob.length;
      entries.set(
        key,
        await this.importBlob(key, item.blob, item.metadata, item.properties, {
          ...record,
          status: "writing",
        }),
      );
    }
    const cancelled = stopped === "cancelled";
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
    const status = finishedStatus(failed, warned || cancelled);
    return {
      kind: "finished",
      status,
      entries: ordered,
      bytesSucceeded: progress.done,
      copyStatus: cancelled ? "Cancelled" : status,
      message: cancelled
        ? "The job was cancelled; the blobs listed as Cancelled were not imported."
        : undefined,
      manifest: read.bytes,
    };
  }

  private container(container: string): Promise<ContainerClient> {
    let cc = this.containers.get(container);
    if (!cc) {
      cc = this.dc.storage
        .containerClient(storageAccountName(this.dc.job.storageAccountId), container)
        .then(async (c) => {
          await c.createIfNotExists();
          return c;
        });
      this.containers.set(container, cc);
    }
    return cc;
  }

  private async readSideFile(hp: HashedPath, kind: "metadata" | "properties"): Promise<string> {
    const fail = (status: PartStatus, message: string) =>
      new BlobFailure("CompletedWithErrors", message, { [kind]: { path: hp.path, status } });
    const path = resolveDriveFile(this.dc.drive.contentPath!, hp.path);
    if (!path) throw fail("FileNotFound", `the ${kind} file '${hp.path}' is not on the drive`);
    const bytes = await readFile(path).catch(() => undefined);
    if (!bytes) throw fail("FileNotFound", `the ${kind} file '${hp.path}' is not on the drive`);
    if (md5Hex(bytes) !== hp.hash.toUpperCase()) {
      throw fail(
        "Corrupted",
        `the ${kind} file '${hp.path}' does not match its MD5 in the manifest`,
      );
    }
    return bytes.toString("utf8");
  }

  /** Copies one blob; every outcome (also a failure) is recorded durably and returned for the log. */
  async importBlob(
    key: string,
    blob: ManifestBlob,
    metadataFile: HashedPath | undefined,
    propertiesFile: HashedPath | undefined,
    earlier: CopyRecord | undefined,
  ): Promise<BlobLogEntry> {
    const { drive } = this.dc;
    const base: BlobLogEntry = {
      status: "Completed",
      blobPath: blob.blobPath,
      filePath: blob.filePath,
      length: blob.length,
    };
    const record = async (
      status: CopyRecord["status"],
      entry: BlobLogEntry,
      extra: Record<string, unknown> = {},
      finalPath?: string,
    ) => {
      // Without waiting for the disk: a final record lost with a power cut leaves the blob
      // to be done again, and the claim before it (or the drive's start) says whose a blob
      // found under its name is.
      await this.dc.records.put(
        { blobKey: key, status, finalPath, detail: { entry, length: blob.length, ...extra } },
        true,
      );
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
          metadata = parseMetadataFile(await this.readSideFile(metadataFile, "metadata"));
        if (propertiesFile)
          props = parsePropertiesFile(await this.readSideFile(propertiesFile, "properties"));
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
      const cc = await this.container(container);
      // A durable claim of the name a blob is written under, before any byte of it is.
      const claim = (target: string, disposition: DispositionStatus, mode: WriteMode) =>
        this.dc.records.put({
          blobKey: key,
          status: "writing",
          finalPath: `${container}/${target}`,
          // `since` is for comparing with the endpoint's dates (see ENDPOINT_CLOCK_SKEW_MS).
          detail: { disposition, mode, since: this.dc.wallClock.now().getTime() },
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
        // Its own name needs no claim in the store: a resumed copy takes what it finds
        // under the name, with this blob's length and MD5 and written since the drive's
        // copy started (durably recorded at its first claim), as its own. One store write
        // a blob instead of two (small files are where that counts).
        if (this.dc.resumed) resumedSince = this.dc.startedAt.getTime();
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
      this.dc.progress.done += blob.length;
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
      if (e instanceof LeaseLostError) throw e;
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
          await this.dc.buffers.with(async (buf) => {
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
      await this.dc.buffers.with(async (buf) => {
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
        const buf = await this.dc.buffers.acquire();
        let staged: Promise<unknown>;
        try {
          const data = await readRange(fh, r.offset, r.length, buf);
          whole.update(data);
          staged = endpointChecked(
            r,
            block.stageBlock(ids[i]!, data, data.length, {
              transactionalContentMD5: Buffer.from(r.hash, "hex"),
            }),
          ).finally(() => this.dc.buffers.release(buf));
        } catch (e) {
          this.dc.buffers.release(buf);
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
