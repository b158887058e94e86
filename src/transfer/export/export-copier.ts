/**
 * The export copier (SPEC §4.5, ADR 0012): writes a job's blobs onto its export drives,
 * behind the transfer runner (ADR 0011), which claims each drive, reports progress, writes
 * the drive logs and completes it.
 *
 * The blob list is resolved and laid onto the job's drives once per job: the first drive to
 * start stores the plan (create-only, in the store's settings), and every drive of the job,
 * in any process, copies its share of that same plan, so a blob that appears or changes
 * meanwhile never lands on two drives or none. Per drive, blobs are written in plan order,
 * each as `container\name` (NTFS-mapped), with its `.metadata` and `.properties` files and
 * MD5s per 4 MiB block (per page range for page blobs); then `<driveId>.manifest` lists
 * the blobs that are complete, and only those.
 *
 * A blob that changes during the copy is exported as it was when its copy started: a blob
 * of one range is read by one request (one version by definition), a larger one from a
 * snapshot taken when its copy starts (deleted afterwards).
 *
 * Every blob is recorded durably (under the runner's lease): `writing` before its file is
 * opened, `done` with its MD5s once the file is complete. A resumed copy (after a stop, a
 * crash or a takeover) rewrites what was `writing`, re-checks the files of the last blobs
 * called `done` (length and MD5), and checks the length of all others.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import {
  mkdir,
  open,
  rename,
  rm,
  stat,
  statfs,
  writeFile,
  type FileHandle,
} from "node:fs/promises";
import { dirname, join } from "node:path";
import { RestError, type BlobClient, type BlobServiceClient } from "@azure/storage-blob";
import { storageAccountName } from "../../domain/storage-accounts.ts";
import type { Drive, Job } from "../../domain/job/model.ts";
import {
  driveFailed,
  finishedStatus,
  type Copier,
  type CopyRecord,
  type CopyResult,
  type DriveCopy,
} from "../copier.ts";
import type { BlobLogEntry, DriveStatus } from "../drive-log.ts";
import { LeaseLostError } from "../lease.ts";
import type { ManifestRange } from "../manifest-types.ts";
import { RANGE_SIZE } from "../manifest-types.ts";
import { hexUpper, md5Hex } from "../md5.ts";
import {
  BlobListError,
  blobKey,
  entryText,
  resolveBlobList,
  type ExportBlob,
  type ExportBlobType,
} from "./blob-list.ts";
import {
  MANIFEST_TAIL,
  blockSpans,
  exportMetadataXml,
  exportPropertiesXml,
  incompleteBlobListXml,
  manifestEntryXml,
  manifestHead,
  manifestName,
  pageSpans,
  type ExportManifestEntry,
} from "./drive-files.ts";
import { planLayout } from "./layout.ts";

/** Where the plan of a job is kept (the store's settings). */
export interface PlanStore {
  setSettingIfAbsent(name: string, value: string): Promise<string>;
}

/** A blob of the plan, as stored. */
interface PlannedItem {
  container: string;
  name: string;
  snapshot?: string;
  blobType: ExportBlobType;
  length: number;
  etag: string;
  segments: string[];
  filePath: string;
}

interface StoredPlan {
  version: 1;
  drives: { driveId: string; items: PlannedItem[] }[];
  incomplete: { container: string; name: string; snapshot?: string }[];
  unmatched: string[];
  duplicateEntries: string[];
  notExportable: { blob: string; reason: string }[];
  /** Set when the blob list could not be used: every drive fails with it. */
  failure?: { status: DriveStatus; message: string };
}

/** What a `done` record keeps: enough for the manifest and the resume checks. */
interface DoneDetail {
  entry: BlobLogEntry;
  manifest: ExportManifestEntry;
  md5: string;
  at: number;
}

/** The last blobs done before a restart whose files are read again in full. */
const RECHECK_LAST = 16;

export function planSettingName(job: Pick<Job, "uid">): string {
  return `export-plan:${job.uid}`;
}

/** The incomplete blob list's name in the diagnostics container. */
export function incompleteListBlobName(job: Pick<Job, "name">): string {
  return `waies/${job.name}_incomplete-blob-list.xml`;
}

export class ExportCopier implements Copier {
  readonly jobType = "Export" as const;

  constructor(private readonly plans: PlanStore) {}

  copy(dc: DriveCopy): Promise<CopyResult> {
    return new DriveExport(dc, this.plans).run();
  }
}

const isStatus = (e: unknown, status: number) => e instanceof RestError && e.statusCode === status;

class BlobFailure extends Error {
  constructor(
    readonly status: BlobLogEntry["status"],
    message: string,
  ) {
    super(message);
  }
}

class DriveExport {
  private service: BlobServiceClient | undefined;

  constructor(
    private readonly dc: DriveCopy,
    private readonly plans: PlanStore,
  ) {}

  private get account(): string {
    return storageAccountName(this.dc.job.storageAccountId);
  }

  private async serviceClient(): Promise<BlobServiceClient> {
    if (!this.service) {
      if (!this.dc.storage.serviceClient) throw new Error("the blob storage cannot list accounts");
      this.service = await this.dc.storage.serviceClient(this.account);
    }
    return this.service;
  }

  /** The job's plan: the stored one, or this drive's, stored if no other drive stored one first. */
  private async plan(): Promise<StoredPlan> {
    const { job } = this.dc;
    const mine = await this.makePlan(job);
    const stored = await this.plans.setSettingIfAbsent(planSettingName(job), JSON.stringify(mine));
    return JSON.parse(stored) as StoredPlan;
  }

  private async makePlan(job: Job): Promise<StoredPlan> {
    const base: StoredPlan = {
      version: 1,
      drives: [],
      incomplete: [],
      unmatched: [],
      duplicateEntries: [],
      notExportable: [],
    };
    let resolved;
    try {
      resolved = await resolveBlobList(await this.serviceClient(), job.export ?? {});
    } catch (e) {
      if (e instanceof BlobListError) {
        // A storage failure is worth a retry; an unreadable list is the customer's to fix.
        if (e.status === "BlobRequestFailed") throw e;
        return { ...base, failure: { status: e.status, message: e.message } };
      }
      throw e;
    }
    const drives = await Promise.all(
      job.driveList.map(async (d) => ({
        driveId: d.driveId,
        capacityBytes: d.capacityBytes ?? (await freeBytes(d)),
      })),
    );
    const layout = planLayout(resolved.blobs, { drives });
    return {
      ...base,
      drives: layout.drives.map((d) => ({
        driveId: d.driveId,
        items: d.blobs.map((p) => ({
          container: p.blob.container,
          name: p.blob.name,
          ...(p.blob.snapshot ? { snapshot: p.blob.snapshot } : {}),
          blobType: p.blob.blobType,
          length: p.blob.length,
          etag: p.blob.etag,
          segments: p.segments,
          filePath: p.filePath,
        })),
      })),
      incomplete: layout.incomplete.map((b) => ({
        container: b.container,
        name: b.name,
        ...(b.snapshot ? { snapshot: b.snapshot } : {}),
      })),
      unmatched: resolved.unmatched.map(entryText),
      duplicateEntries: resolved.duplicateEntries.map(entryText),
      notExportable: resolved.notExportable.map((n) => ({
        blob: blobKey(n.blob),
        reason: n.reason,
      })),
    };
  }

  async run(): Promise<CopyResult> {
    const { drive } = this.dc;
    if (!drive.contentPath) {
      return driveFailed("DiskNotFound", "the drive has no attached folder to write to");
    }
    // The layout needs every drive's capacity: the copy starts once the package's drives
    // are all attached (the autopilot attaches them together; an operator one by one).
    const waiting = this.dc.job.driveList.filter(
      (d) => !d.contentPath && d.capacityBytes === undefined,
    );
    if (waiting.length > 0) {
      this.dc.logger?.info(
        { job: this.dc.job.name, drive: drive.driveId, waiting: waiting.map((d) => d.driveId) },
        "export waits for the job's other drives to be attached",
      );
      return { kind: "paused" };
    }
    const plan = await this.plan();
    if (plan.failure) return driveFailed(plan.failure.status, plan.failure.message);
    const items =
      plan.drives.find((d) => d.driveId.toLowerCase() === drive.driveId.toLowerCase())?.items ?? [];
    const progress = this.dc.progress;
    progress.total = items.reduce((n, i) => n + i.length, 0);
    const keyOf = (i: number) => String(i);
    const records = this.dc.records.earlier;
    const entries = new Map<number, BlobLogEntry>();
    const manifests = new Map<number, ExportManifestEntry>();

    // Resume: files of blobs done before are checked (all by length, the last ones by MD5).
    const done = [...records.values()]
      .filter((r) => r.status === "done")
      .sort((a, b) => (b.detail.at as number) - (a.detail.at as number));
    const recheck = new Set(done.slice(0, RECHECK_LAST).map((r) => r.blobKey));
    const redo = new Set<number>();
    for (const r of done) {
      const i = Number(r.blobKey);
      const d = r.detail as unknown as DoneDetail;
      const item = items[i];
      if (!item) continue;
      const path = join(drive.contentPath, ...item.segments);
      const ok = recheck.has(r.blobKey)
        ? (await fileMd5(path)) === d.md5
        : (await stat(path).catch(() => undefined))?.size === d.manifest.length;
      if (!ok) redo.add(i);
    }

    let stopped: "cancelled" | "paused" | undefined;
    let next = 0;
    const worker = async () => {
      for (;;) {
        if (stopped) return;
        const i = next++;
        if (i >= items.length) return;
        const record = records.get(keyOf(i));
        if (record && record.status !== "writing" && !redo.has(i)) {
          entries.set(i, record.detail.entry as BlobLogEntry);
          if (record.status === "done") {
            const d = record.detail as unknown as DoneDetail;
            manifests.set(i, d.manifest);
            progress.done += d.manifest.length;
          }
          continue;
        }
        const outlook = await this.dc.boundary(i);
        if (outlook !== "copy") {
          stopped ??= outlook;
          return;
        }
        const result = await this.exportBlob(keyOf(i), items[i]!, record);
        entries.set(i, result.entry);
        if (result.manifest) manifests.set(i, result.manifest);
      }
    };
    const settled = await Promise.allSettled(Array.from({ length: this.dc.concurrency }, worker));
    const thrown = settled.find((r) => r.status === "rejected");
    if (thrown) throw thrown.reason;
    if (stopped === "paused") return { kind: "paused" };

    const cancelled = stopped === "cancelled";
    const ordered: BlobLogEntry[] = [];
    items.forEach((item, i) => {
      const e = entries.get(i);
      if (e) ordered.push(e);
      else if (cancelled) {
        ordered.push({
          status: "Cancelled",
          blobPath: `${item.container}/${item.name}`,
          filePath: item.filePath,
          length: item.length,
        });
      }
    });
    const manifest = await this.writeManifest(items.map((_, i) => manifests.get(i)));
    const incompleteBlobListUri = await this.writeIncompleteList(plan);
    const notes = [
      cancelled ? "The job was cancelled; the blobs listed as Cancelled were not exported." : "",
      plan.unmatched.length
        ? `Paths and prefixes that match no blob: ${plan.unmatched.join(", ")}.`
        : "",
      plan.duplicateEntries.length
        ? `Paths and prefixes given more than once (used once): ${plan.duplicateEntries.join(", ")}.`
        : "",
      plan.notExportable.length
        ? `Blobs that cannot be exported: ${plan.notExportable.map((n) => `${n.blob} (${n.reason})`).join(", ")}.`
        : "",
      plan.incomplete.length
        ? `${plan.incomplete.length} blob(s) fit on no drive of the job; they are listed in ${incompleteBlobListUri ?? "the incomplete blob list"}.`
        : "",
    ].filter(Boolean);
    const failed = ordered.some((e) => e.status !== "Completed" && e.status !== "Cancelled");
    const warned =
      cancelled ||
      plan.unmatched.length > 0 ||
      plan.incomplete.length > 0 ||
      plan.notExportable.length > 0;
    const status = finishedStatus(failed, warned);
    return {
      kind: "finished",
      status,
      entries: ordered,
      bytesSucceeded: progress.done,
      copyStatus: cancelled ? "Cancelled" : status,
      ...(notes.length ? { message: notes.join(" ") } : {}),
      manifest,
      ...(incompleteBlobListUri ? { incompleteBlobListUri } : {}),
    };
  }

  /** `<driveId>.manifest` at the drive's root: the complete blobs, in plan order. */
  private async writeManifest(entries: (ExportManifestEntry | undefined)[]): Promise<Buffer> {
    const { drive } = this.dc;
    const body =
      manifestHead(drive.driveId) +
      entries
        .filter((e): e is ExportManifestEntry => e !== undefined)
        .map(manifestEntryXml)
        .join("") +
      MANIFEST_TAIL;
    const bytes = Buffer.from(body, "utf8");
    const path = join(drive.contentPath!, manifestName(drive.driveId));
    // Written aside and renamed: a crash never leaves a half manifest.
    await writeFile(`${path}.partial`, bytes);
    await rename(`${path}.partial`, path);
    return bytes;
  }

  /** The blobs that fit on no drive, as a BlobList blob in the diagnostics container. */
  private async writeIncompleteList(plan: StoredPlan): Promise<string | undefined> {
    if (plan.incomplete.length === 0) return undefined;
    const { job } = this.dc;
    const cc = await this.dc.storage.containerClient(this.account, job.diagnosticsPath);
    await cc.createIfNotExists();
    const blob = cc.getBlockBlobClient(incompleteListBlobName(job));
    const xml = Buffer.from(incompleteBlobListXml(plan.incomplete), "utf8");
    await blob.upload(xml, xml.length, { blobHTTPHeaders: { blobContentType: "application/xml" } });
    const url = new URL(blob.url);
    url.search = "";
    return url.toString();
  }

  /** Copies one blob to its file; every outcome is recorded durably and returned for the log. */
  private async exportBlob(
    key: string,
    item: PlannedItem,
    earlier: CopyRecord | undefined,
    attempt = 1,
  ): Promise<{ entry: BlobLogEntry; manifest?: ExportManifestEntry }> {
    const { drive } = this.dc;
    const blobPath = `${item.container}/${item.name}`;
    const base: BlobLogEntry = {
      status: "Completed",
      blobPath,
      filePath: item.filePath,
      length: item.length,
    };
    const path = join(drive.contentPath!, ...item.segments);
    const service = await this.serviceClient();
    let source: BlobClient = service.getContainerClient(item.container).getBlobClient(item.name);
    if (item.snapshot) source = source.withSnapshot(item.snapshot);
    // A snapshot of ours left by an earlier attempt goes first.
    const leftover = earlier?.detail.tempSnapshot as string | undefined;
    if (leftover)
      await source
        .withSnapshot(leftover)
        .delete()
        .catch(() => undefined);
    let tempSnapshot: string | undefined;
    let fh: FileHandle | undefined;
    try {
      let props = await source.getProperties().catch((e: unknown) => {
        if (isStatus(e, 404))
          throw new BlobFailure("BlobRequestFailed", "the blob no longer exists");
        throw e;
      });
      const length = props.contentLength ?? 0;
      if (!item.snapshot && length > RANGE_SIZE) {
        // More than one request reads it: read a snapshot taken now, so it is one version.
        tempSnapshot = (await source.createSnapshot()).snapshot!;
        source = source.withSnapshot(tempSnapshot);
        props = await source.getProperties();
      }
      await this.dc.records.put({
        blobKey: key,
        status: "writing",
        finalPath: blobPath,
        detail: { filePath: item.filePath, ...(tempSnapshot ? { tempSnapshot } : {}) },
      });
      const exported: ExportBlob = {
        container: item.container,
        name: item.name,
        ...(item.snapshot ? { snapshot: item.snapshot } : {}),
        blobType: (props.blobType as ExportBlobType | undefined) ?? item.blobType,
        length: props.contentLength ?? 0,
        etag: props.etag ?? "",
        lastModified: props.lastModified ?? new Date(0),
        ...(props.contentMD5?.length
          ? { contentMD5: Buffer.from(props.contentMD5).toString("base64") }
          : {}),
        ...(props.contentType ? { contentType: props.contentType } : {}),
        ...(props.contentEncoding ? { contentEncoding: props.contentEncoding } : {}),
        ...(props.contentLanguage ? { contentLanguage: props.contentLanguage } : {}),
        ...(props.cacheControl ? { cacheControl: props.cacheControl } : {}),
        ...(props.metadata && Object.keys(props.metadata).length
          ? { metadata: props.metadata }
          : {}),
      };
      await mkdir(dirname(path), { recursive: true });
      fh = await open(path, "w");
      const { ranges } = await this.writeContent(source, exported, fh, props.etag);
      await fh.close();
      fh = undefined;
      // The file as it is on the drive: what a resume re-checks and the customer verifies.
      const md5 = (await fileMd5(path)) ?? "";
      if (
        exported.blobType !== "PageBlob" &&
        exported.contentMD5 &&
        Buffer.from(exported.contentMD5, "base64").toString("hex").toUpperCase() !== md5
      ) {
        throw new BlobFailure(
          "CompletedWithErrors",
          "the bytes read do not match the blob's Content-MD5",
        );
      }
      const metadataXml = exportMetadataXml(exported);
      const propertiesXml = exportPropertiesXml(exported);
      await writeFile(`${path}.metadata`, metadataXml);
      await writeFile(`${path}.properties`, propertiesXml);
      const manifest: ExportManifestEntry = {
        blobPath,
        filePath: item.filePath,
        ...(item.snapshot ? { snapshot: item.snapshot } : {}),
        length: exported.length,
        blobType: exported.blobType,
        ranges,
        metadata: { path: `${item.filePath}.metadata`, hash: md5Hex(metadataXml) },
        properties: { path: `${item.filePath}.properties`, hash: md5Hex(propertiesXml) },
      };
      const entry: BlobLogEntry = { ...base, length: exported.length };
      const detail: DoneDetail = { entry, manifest, md5, at: this.dc.wallClock.now().getTime() };
      await this.dc.records.put({
        blobKey: key,
        status: "done",
        finalPath: blobPath,
        detail: detail as unknown as Record<string, unknown>,
      });
      this.dc.progress.done += exported.length;
      return { entry, manifest };
    } catch (e) {
      if (e instanceof LeaseLostError) throw e;
      await fh?.close().catch(() => undefined);
      fh = undefined;
      // No half-written file stays behind: the manifest would not list it, the customer would find it.
      await Promise.all(
        [path, `${path}.metadata`, `${path}.properties`].map((p) => rm(p, { force: true })),
      );
      // The blob changed between reading its properties and its bytes (If-Match failed):
      // read it again as it is now.
      if (isStatus(e, 412) && attempt < 3)
        return this.exportBlob(key, item, undefined, attempt + 1);
      const entry: BlobLogEntry =
        e instanceof BlobFailure
          ? { ...base, status: e.status, message: e.message }
          : {
              ...base,
              status: "BlobRequestFailed",
              message: `the blob could not be read: ${(e as Error).message.split("\n")[0]}`,
            };
      await this.dc.records.put({
        blobKey: key,
        status: "failed",
        finalPath: blobPath,
        detail: { entry },
      });
      return { entry };
    } finally {
      await fh?.close().catch(() => undefined);
      if (tempSnapshot) {
        await service
          .getContainerClient(item.container)
          .getBlobClient(item.name)
          .withSnapshot(tempSnapshot)
          .delete()
          .catch(() => undefined);
      }
    }
  }

  /**
   * Writes the blob's bytes into the file: block and append blobs in 4 MiB ranges (each
   * hashed for the manifest), page blobs as their written page ranges (the file has the
   * blob's length; unwritten pages read as zeros). Returns the ranges and the content MD5.
   */
  private async writeContent(
    source: BlobClient,
    blob: ExportBlob,
    fh: FileHandle,
    etag: string | undefined,
  ): Promise<{ ranges: ManifestRange[] }> {
    const conditions = etag ? { ifMatch: etag } : undefined;
    let spans: { offset: number; length: number }[];
    if (blob.blobType === "PageBlob") {
      await fh.truncate(blob.length);
      const pageRanges = await source
        .getPageBlobClient()
        .getPageRanges(0, blob.length, { conditions });
      spans = pageSpans(
        // The SDK gives a range as its first byte and its last byte minus the first.
        (pageRanges.pageRange ?? []).map((r) => ({ offset: r.offset, count: (r.count ?? -1) + 1 })),
      );
    } else {
      spans = blockSpans(blob.length);
    }
    const ranges: ManifestRange[] = [];
    for (const span of spans) {
      const hash = await this.dc.buffers.with(async (buf) => {
        const part = buf.subarray(0, span.length);
        await source.downloadToBuffer(part, span.offset, span.length, {
          blockSize: RANGE_SIZE,
          concurrency: 1,
          conditions,
        });
        let written = 0;
        while (written < part.length) {
          const { bytesWritten } = await fh.write(
            part,
            written,
            part.length - written,
            span.offset + written,
          );
          written += bytesWritten;
        }
        return md5Hex(part);
      });
      ranges.push({ ...span, hash });
    }
    return { ranges };
  }
}

/** The drive folder's free space, for a drive recorded without a capacity. */
async function freeBytes(d: Drive): Promise<number> {
  if (!d.contentPath) return 0;
  const fs = await statfs(d.contentPath).catch(() => undefined);
  return fs ? fs.bavail * fs.bsize : 0;
}

async function fileMd5(path: string): Promise<string | undefined> {
  try {
    const hash = createHash("md5");
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
      hash.update(chunk as Buffer);
    }
    return hexUpper(hash.digest());
  } catch {
    return undefined;
  }
}
