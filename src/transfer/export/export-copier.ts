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
import { constants as fsConstants, createReadStream } from "node:fs";
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
import { alignedBuffers, BufferPool, DIRECT_ALIGN } from "../buffer-pool.ts";
import type { BlobLogEntry, DriveStatus } from "../drive-log.ts";
import { LeaseLostError } from "../lease.ts";
import type { ManifestRange } from "../manifest-types.ts";
import { RANGE_SIZE } from "../manifest-types.ts";
import { hexUpper, md5Hex, Md5WorkerGone } from "../md5.ts";
import { SharedMd5, type SharedMd5Stream } from "../shared-md5.ts";
import {
  BlobListError,
  blobKey,
  entryText,
  parseBlobListXml,
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
import { blobFootprint, DEFAULT_CLUSTER_BYTES, planLayout, type SideFiles } from "./layout.ts";

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
  /** What it costs the drive (files in clusters, manifest entry); absent in older plans. */
  bytes?: number;
}

interface StoredPlan {
  version: 1;
  drives: {
    driveId: string;
    items: PlannedItem[];
    /** The drive's capacity and what the plan spends of it; absent in older plans. */
    capacityBytes?: number;
    usedBytes?: number;
  }[];
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
  /**
   * The whole file's MD5, when it was computed (a blob of one range, or one with a
   * Content-MD5 to check); otherwise a resume checks the file by its manifest ranges.
   */
  md5?: string;
  at: number;
  /** Room on the drive this blob took beyond its planned cost (it grew). */
  extra?: number;
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

/**
 * How the copier opens a blob's file for writing: `fs.promises.open`. A seam for the tests
 * of the O_DIRECT fallback only: the file systems a test can use here (ext4, tmpfs) accept
 * O_DIRECT, so a test passes an open that refuses it (or a later write) as a file system
 * without it does, with the kernel's EINVAL.
 */
export type OpenForWrite = (path: string, flags: number | string) => Promise<FileHandle>;

export class ExportCopier implements Copier {
  readonly jobType = "Export" as const;

  constructor(
    private readonly plans: PlanStore,
    private readonly openForWrite: OpenForWrite = open,
  ) {}

  copy(dc: DriveCopy): Promise<CopyResult> {
    return new DriveExport(dc, this.plans, this.openForWrite).run();
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
    private readonly openForWrite: OpenForWrite,
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
        capacityBytes: d.capacityBytes,
        usedBytes: d.usedBytes,
        items: d.blobs.map((p) => ({
          container: p.blob.container,
          name: p.blob.name,
          ...(p.blob.snapshot ? { snapshot: p.blob.snapshot } : {}),
          blobType: p.blob.blobType,
          length: p.blob.length,
          etag: p.blob.etag,
          segments: p.segments,
          filePath: p.filePath,
          bytes: p.bytes,
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
    const planned = plan.drives.find(
      (d) => d.driveId.toLowerCase() === drive.driveId.toLowerCase(),
    );
    const items = planned?.items ?? [];
    if (planned?.capacityBytes !== undefined && planned.usedBytes !== undefined) {
      this.slack = Math.max(0, planned.capacityBytes - planned.usedBytes - DEFAULT_CLUSTER_BYTES);
    }
    const progress = this.dc.progress;
    progress.total = items.reduce((n, i) => n + i.length, 0);
    const keyOf = (i: number) => String(i);
    const records = this.dc.records.earlier;
    const entries = new Map<number, BlobLogEntry>();
    const manifests = new Map<number, ExportManifestEntry>();
    /** Blobs that grew after the layout and fit no more: to the incomplete blob list. */
    const overflow = new Map<number, { container: string; name: string; snapshot?: string }>();

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
        ? d.md5 !== undefined
          ? (await fileMd5(path)) === d.md5
          : await this.dc.buffers.with((buf) => fileMatchesRanges(path, d.manifest, buf))
        : (await stat(path).catch(() => undefined))?.size === d.manifest.length;
      // What a grown blob took of the room stays taken while its file is kept; one copied
      // again takes its room anew (`fits`), so it is not counted twice.
      if (!ok) redo.add(i);
      else this.slack -= d.extra ?? 0;
    }
    /** A final record of an earlier attempt, taken as it is; false when the blob is to be copied. */
    const settledBefore = (i: number): boolean => {
      const record = records.get(keyOf(i));
      if (!record || record.status === "writing" || redo.has(i)) return false;
      if (record.status === "skipped") {
        overflow.set(i, record.detail.overflow as { container: string; name: string });
      } else {
        entries.set(i, record.detail.entry as BlobLogEntry);
      }
      if (record.status === "done") {
        const d = record.detail as unknown as DoneDetail;
        manifests.set(i, d.manifest);
        progress.done += d.manifest.length;
      }
      return true;
    };

    let stopped: "cancelled" | "paused" | undefined;
    let next = 0;
    const worker = async () => {
      for (;;) {
        if (stopped) return;
        const i = next++;
        if (i >= items.length) return;
        if (settledBefore(i)) continue;
        const outlook = await this.dc.boundary(i);
        if (outlook !== "copy") {
          stopped ??= outlook;
          return;
        }
        const result = await this.exportBlob(keyOf(i), items[i]!, records.get(keyOf(i)));
        if (result.overflow) overflow.set(i, result.overflow);
        else {
          entries.set(i, result.entry);
          if (result.manifest) manifests.set(i, result.manifest);
        }
      }
    };
    const settled = await Promise.allSettled(Array.from({ length: this.dc.concurrency }, worker));
    const thrown = settled.find((r) => r.status === "rejected");
    if (thrown) throw thrown.reason;
    if (stopped === "paused") return { kind: "paused" };

    const cancelled = stopped === "cancelled";
    if (cancelled) {
      // Blobs finished before the stop that no worker reached again still count.
      for (let i = next; i < items.length; i++) settledBefore(i);
      if (this.dc.resumed) {
        // A crash may have left files of blobs that were being written (with or without a
        // `writing` record) or that failed their check: a cancelled copy writes them no
        // more, so they go; the manifest lists none of them either way.
        for (let i = 0; i < items.length; i++) {
          if (!manifests.has(i)) await removeFiles(join(drive.contentPath, ...items[i]!.segments));
        }
      }
    }
    const ordered: BlobLogEntry[] = [];
    items.forEach((item, i) => {
      const e = entries.get(i);
      if (e) ordered.push(e);
      else if (cancelled && !overflow.has(i)) {
        ordered.push({
          status: "Cancelled",
          blobPath: `${item.container}/${item.name}`,
          filePath: item.filePath,
          length: item.length,
        });
      }
    });
    const grown = [...overflow.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b);
    const manifest = await this.writeManifest(items.map((_, i) => manifests.get(i)));
    const incompleteBlobListUri = await this.writeIncompleteList(plan, grown);
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
      grown.length
        ? `${grown.length} blob(s) grew after the layout and no longer fit on this drive (${grown.map(blobKey).join(", ")}); they are listed in ${incompleteBlobListUri ?? "the incomplete blob list"}.`
        : "",
    ].filter(Boolean);
    const failed = ordered.some((e) => e.status !== "Completed" && e.status !== "Cancelled");
    const warned =
      cancelled ||
      plan.unmatched.length > 0 ||
      plan.incomplete.length > 0 ||
      plan.notExportable.length > 0 ||
      grown.length > 0;
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

  /**
   * The blobs that fit on no drive, as a BlobList blob in the diagnostics container: the
   * plan's, and those that grew after the layout on any of the job's drives. Each drive
   * adds its own to what the others wrote (the blob carries the job's uid; written with
   * If-Match / If-None-Match, so two drives finishing at once lose nothing).
   */
  private async writeIncompleteList(
    plan: StoredPlan,
    grown: readonly { container: string; name: string; snapshot?: string }[],
  ): Promise<string | undefined> {
    if (plan.incomplete.length === 0 && grown.length === 0) return undefined;
    const { job } = this.dc;
    const cc = await this.dc.storage.containerClient(this.account, job.diagnosticsPath);
    await cc.createIfNotExists();
    const blob = cc.getBlockBlobClient(incompleteListBlobName(job));
    for (let attempt = 1; ; attempt++) {
      const list = new Map<string, { container: string; name: string; snapshot?: string }>();
      for (const b of plan.incomplete) list.set(blobKey(b), b);
      let etag: string | undefined;
      try {
        const res = await blob.download();
        etag = res.etag;
        if (res.metadata?.jobuid === job.uid) {
          const text = (await streamText(res.readableStreamBody)) ?? "";
          for (const e of parseBlobListXml(text)) {
            if (e.kind !== "blobPath") continue;
            const [container, ...rest] = e.path.replace(/^\//, "").split("/");
            const b = {
              container: container!,
              name: rest.join("/"),
              ...(e.snapshot ? { snapshot: e.snapshot } : {}),
            };
            list.set(blobKey(b), b);
          }
        }
      } catch (e) {
        if (!isStatus(e, 404)) throw e;
      }
      for (const b of grown) list.set(blobKey(b), b);
      const xml = Buffer.from(incompleteBlobListXml([...list.values()]), "utf8");
      try {
        await blob.upload(xml, xml.length, {
          blobHTTPHeaders: { blobContentType: "application/xml" },
          metadata: { jobuid: job.uid },
          conditions: etag ? { ifMatch: etag } : { ifNoneMatch: "*" },
        });
        break;
      } catch (e) {
        // Another drive wrote it meanwhile: read theirs again and add ours.
        if ((isStatus(e, 412) || isStatus(e, 409)) && attempt < 10) continue;
        throw e;
      }
    }
    const url = new URL(blob.url);
    url.search = "";
    return url.toString();
  }

  /**
   * Room left on the drive for blobs that grew after the layout: the capacity less what
   * the plan spends (and one cluster, for the manifest's rounding), less what grown blobs
   * took already. Plans stored before these fields existed leave no room.
   */
  private slack = 0;

  /**
   * Whether a blob read as `exported` still fits: its cost now against its planned cost
   * and the room left. Takes the room it needs; `extra` is what it took.
   */
  private fits(
    item: PlannedItem,
    exported: ExportBlob,
    side: SideFiles,
  ): { ok: boolean; extra: number } {
    const now = blobFootprint(exported, item.filePath, DEFAULT_CLUSTER_BYTES, side);
    const planned =
      item.bytes ?? blobFootprint({ ...exported, length: item.length }, item.filePath);
    const extra = Math.max(0, now - planned);
    if (extra === 0) return { ok: true, extra };
    if (extra > this.slack) return { ok: false, extra };
    this.slack -= extra;
    return { ok: true, extra };
  }

  /** Copies one blob to its file; every outcome is recorded durably and returned for the log. */
  private async exportBlob(key: string, item: PlannedItem, earlier: CopyRecord | undefined) {
    // A block or append blob of one range (as planned) is read by one GET, which brings its
    // properties with its bytes; a larger one, or one that grew, goes the long way.
    if (
      item.blobType !== "PageBlob" &&
      item.length <= RANGE_SIZE &&
      !earlier?.detail.tempSnapshot
    ) {
      const r = await this.exportSmall(key, item);
      if (r) return r;
    }
    return this.exportLarge(key, item, earlier);
  }

  private base(item: PlannedItem): BlobLogEntry {
    return {
      status: "Completed",
      blobPath: `${item.container}/${item.name}`,
      filePath: item.filePath,
      length: item.length,
    };
  }

  private source(item: PlannedItem): Promise<BlobClient> {
    return this.serviceClient().then((service) => {
      const blob = service.getContainerClient(item.container).getBlobClient(item.name);
      return item.snapshot ? blob.withSnapshot(item.snapshot) : blob;
    });
  }

  /**
   * One GET into a pooled buffer, the file written in one call. No `writing` record: a
   * crash leaves at most a file with no record, which a resume writes again (and a
   * cancelled resume removes). Undefined when the blob is no longer one range.
   */
  private async exportSmall(key: string, item: PlannedItem): Promise<ExportResult | undefined> {
    const source = await this.source(item);
    const path = join(this.dc.drive.contentPath!, ...item.segments);
    try {
      return await this.dc.buffers.with(async (buf) => {
        let res;
        try {
          res = await source.download(0);
        } catch (e) {
          if (isStatus(e, 404))
            throw new BlobFailure("BlobRequestFailed", "the blob no longer exists");
          throw e;
        }
        const length = res.contentLength ?? 0;
        const body = res.readableStreamBody;
        if (length > buf.length || res.blobType === "PageBlob" || !body) {
          body?.on("error", () => undefined);
          (body as { destroy?: () => void } | undefined)?.destroy?.();
          return undefined;
        }
        let got = 0;
        for await (const chunk of body as AsyncIterable<Buffer>) {
          if (got + chunk.length > length)
            throw new Error("the response is longer than its Content-Length");
          chunk.copy(buf, got);
          got += chunk.length;
        }
        if (got !== length) throw new Error(`the response ended after ${got} of ${length} bytes`);
        const exported = exportedBlob(item, res);
        const side = sideFiles(exported);
        const room = this.fits(item, exported, side);
        if (!room.ok) return this.overflow(key, item, exported);
        const part = buf.subarray(0, length);
        const hash = md5Hex(part);
        await this.mkdirFor(path);
        await writeFile(path, part);
        const ranges = length === 0 ? [] : [{ offset: 0, length, hash }];
        return this.finishBlob(key, item, exported, side, path, ranges, hash, room.extra);
      });
    } catch (e) {
      return this.failBlob(key, item, path, e);
    }
  }

  /** A blob of several ranges: from a snapshot taken now, ranges read in parallel. */
  private async exportLarge(
    key: string,
    item: PlannedItem,
    earlier: CopyRecord | undefined,
    attempt = 1,
  ): Promise<ExportResult> {
    const path = join(this.dc.drive.contentPath!, ...item.segments);
    const service = await this.serviceClient();
    let source = await this.source(item);
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
      const exported = exportedBlob(item, props);
      const side = sideFiles(exported);
      const room = this.fits(item, exported, side);
      if (!room.ok) return await this.overflow(key, item, exported);
      await this.dc.records.put({
        blobKey: key,
        status: "writing",
        finalPath: exported.container + "/" + exported.name,
        detail: { filePath: item.filePath, ...(tempSnapshot ? { tempSnapshot } : {}) },
      });
      await this.mkdirFor(path);
      let direct = this.direct && exported.blobType !== "PageBlob";
      if (direct) {
        fh = await this.openDirect(path);
        direct = fh !== undefined;
      }
      fh ??= await this.openForWrite(path, "w");
      const { ranges, md5 } = await this.writeContent(source, exported, fh, props.etag, {
        // The whole file's MD5 costs a second pass of MD5 over every byte: computed only
        // when there is a Content-MD5 to check it against (page blobs have none that
        // covers their bytes; ADR 0016).
        wholeMd5: exported.blobType !== "PageBlob" && exported.contentMD5 !== undefined,
        direct,
      });
      await fh.close();
      fh = undefined;
      return await this.finishBlob(key, item, exported, side, path, ranges, md5, room.extra);
    } catch (e) {
      if (e instanceof LeaseLostError) throw e;
      await fh?.close().catch(() => undefined);
      fh = undefined;
      // The blob changed between reading its properties and its bytes (If-Match failed):
      // read it again as it is now.
      if (isStatus(e, 412) && attempt < 3) {
        await removeFiles(path);
        return this.exportLarge(key, item, undefined, attempt + 1);
      }
      // The file system refused a direct write: this copy writes through the page cache.
      if (e instanceof DirectWriteRefused) {
        this.direct = false;
        await removeFiles(path);
        return this.exportLarge(key, item, undefined, attempt);
      }
      // The MD5 worker died with this blob's hashes: it is written again, hashed on this
      // thread (as every blob is from now on, so this happens once a blob).
      if (e instanceof Md5WorkerGone) {
        await removeFiles(path);
        return this.exportLarge(key, item, undefined, attempt);
      }
      return this.failBlob(key, item, path, e);
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

  private readonly made = new Set<string>();

  /**
   * Whether large blobs are written with O_DIRECT (Linux): the bytes go from the read
   * buffer to the disk, not copied into the page cache first. On the machine `bench:export`
   * runs on, 1.6 GiB written buffered cost 1.8–4.2 s of system CPU, with O_DIRECT 0.2 s
   * (docs/benchmarks.md). Off for the rest of the copy once the file system refuses it.
   */
  private direct = fsConstants.O_DIRECT !== undefined;

  /** Opens a file for direct writes; undefined when the file system refuses them. */
  private async openDirect(path: string): Promise<FileHandle | undefined> {
    try {
      return await this.openForWrite(
        path,
        fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_DIRECT,
      );
    } catch (e) {
      if (!isRefusal(e)) throw e;
      this.direct = false;
      return undefined;
    }
  }

  /** The file's folder, made once per copy. */
  private async mkdirFor(path: string): Promise<void> {
    const dir = dirname(path);
    if (this.made.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.made.add(dir);
  }

  /** The content written: Content-MD5 checked, side files written, `done` recorded. */
  private async finishBlob(
    key: string,
    item: PlannedItem,
    exported: ExportBlob,
    { metadataXml, propertiesXml }: SideFiles,
    path: string,
    ranges: ManifestRange[],
    md5: string | undefined,
    extra: number,
  ): Promise<ExportResult> {
    if (
      exported.blobType !== "PageBlob" &&
      exported.contentMD5 &&
      md5 !== undefined &&
      Buffer.from(exported.contentMD5, "base64").toString("hex").toUpperCase() !== md5
    ) {
      throw new BlobFailure(
        "CompletedWithErrors",
        "the bytes read do not match the blob's Content-MD5",
      );
    }
    await writeFile(`${path}.metadata`, metadataXml);
    await writeFile(`${path}.properties`, propertiesXml);
    const blobPath = `${item.container}/${item.name}`;
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
    const entry: BlobLogEntry = { ...this.base(item), length: exported.length };
    const detail: DoneDetail = {
      entry,
      manifest,
      ...(md5 !== undefined ? { md5 } : {}),
      at: this.dc.wallClock.now().getTime(),
      ...(extra ? { extra } : {}),
    };
    // Relaxed: a `done` lost to a power cut makes a resume copy the blob again.
    await this.dc.records.put(
      {
        blobKey: key,
        status: "done",
        finalPath: blobPath,
        detail: detail as unknown as Record<string, unknown>,
      },
      true,
    );
    this.dc.progress.done += exported.length;
    return { entry, manifest };
  }

  /**
   * A blob that grew since the layout and no longer fits on this drive: nothing of it is
   * written; it goes to the incomplete blob list (and the drive log's message).
   */
  private async overflow(
    key: string,
    item: PlannedItem,
    exported: ExportBlob,
  ): Promise<ExportResult> {
    const blob = {
      container: item.container,
      name: item.name,
      ...(item.snapshot ? { snapshot: item.snapshot } : {}),
    };
    this.dc.logger?.info(
      {
        job: this.dc.job.name,
        drive: this.dc.drive.driveId,
        blob: `${item.container}/${item.name}`,
        planned: item.length,
        now: exported.length,
      },
      "a blob grew after the layout and no longer fits on its drive: it goes to the incomplete blob list",
    );
    await this.dc.records.put({
      blobKey: key,
      status: "skipped",
      finalPath: `${item.container}/${item.name}`,
      detail: { overflow: blob, length: exported.length },
    });
    return { overflow: blob };
  }

  /** A blob that could not be exported: its files removed, the failure recorded. */
  private async failBlob(
    key: string,
    item: PlannedItem,
    path: string,
    e: unknown,
  ): Promise<ExportResult> {
    if (e instanceof LeaseLostError) throw e;
    // No half-written file stays behind: the manifest would not list it, the customer would find it.
    await removeFiles(path);
    const base = this.base(item);
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
      finalPath: base.blobPath,
      detail: { entry },
    });
    return { entry };
  }

  /**
   * Writes the blob's bytes into the file: block and append blobs in 4 MiB ranges (each
   * hashed for the manifest), page blobs as their written page ranges (the file has the
   * blob's length; unwritten pages read as zeros). Read READ_SIZE a request, up to
   * READS_IN_FLIGHT at once; written and hashed in order, so the file's MD5 (`wholeMd5`)
   * is computed on the way (no second read of the file). `direct`: `fh` was opened with
   * O_DIRECT (block and append blobs: every write starts at a multiple of READ_SIZE; the
   * last is padded with zeros to DIRECT_ALIGN and the file cut to the blob's length).
   */
  private async writeContent(
    source: BlobClient,
    blob: ExportBlob,
    fh: FileHandle,
    etag: string | undefined,
    { wholeMd5, direct }: { wholeMd5: boolean; direct: boolean },
  ): Promise<{ ranges: ManifestRange[]; md5: string | undefined }> {
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
    // Per-range MD5s and the whole file's on the MD5 worker, over the read buffers in place.
    let stream: SharedMd5Stream | undefined;
    let hashed = 0;
    // Requests of up to READ_SIZE: two manifest ranges each where they are contiguous.
    const requests: { offset: number; length: number; spans: typeof spans }[] = [];
    for (const span of spans) {
      const last = requests[requests.length - 1];
      if (
        last &&
        last.offset + last.length === span.offset &&
        last.length + span.length <= READ_SIZE
      ) {
        last.length += span.length;
        last.spans.push(span);
      } else {
        requests.push({ offset: span.offset, length: span.length, spans: [span] });
      }
    }
    const fetchRequest = async (r: (typeof requests)[number]): Promise<Buffer> => {
      const buf = await READS.acquire();
      try {
        await source.downloadToBuffer(buf.subarray(0, r.length), r.offset, r.length, {
          blockSize: r.length,
          concurrency: 1,
          conditions,
        });
        return buf;
      } catch (e) {
        READS.release(buf);
        throw e;
      }
    };
    const inFlight: Promise<Buffer>[] = [];
    let started = 0;
    const startNext = () => {
      while (started < requests.length && inFlight.length < READS_IN_FLIGHT) {
        const p = fetchRequest(requests[started++]!);
        p.catch(() => undefined); // awaited in order below
        inFlight.push(p);
      }
    };
    const ranges: ManifestRange[] = [];
    try {
      startNext();
      for (const r of requests) {
        const buf = await inFlight[0]!;
        inFlight.shift();
        try {
          const data = buf.subarray(0, r.length);
          let out = data;
          if (direct && r.length % DIRECT_ALIGN !== 0) {
            const padded = Math.ceil(r.length / DIRECT_ALIGN) * DIRECT_ALIGN;
            buf.fill(0, r.length, padded);
            out = buf.subarray(0, padded);
          }
          stream ??= MD5.open(wholeMd5, buf);
          // The buffer is read by the MD5 worker while it is written: it is given back
          // only once both have finished (a reused buffer would change the MD5s).
          const hashing = stream.range(
            buf,
            r.length,
            r.spans.map((span) => ({ offset: span.offset - r.offset, length: span.length })),
            r.offset - hashed,
          );
          // Awaited below; a rejection (the worker died) while the write is under way must
          // not be an unhandled one, which would end the process.
          hashing.catch(() => undefined);
          hashed = r.offset + r.length;
          try {
            let written = 0;
            while (written < out.length) {
              const { bytesWritten } = await fh
                .write(out, written, out.length - written, r.offset + written)
                .catch((e: unknown) => {
                  throw direct && isRefusal(e) ? new DirectWriteRefused() : e;
                });
              written += bytesWritten;
            }
          } finally {
            await hashing.catch(() => undefined);
          }
          const hashes = await hashing;
          r.spans.forEach((span, i) => ranges.push({ ...span, hash: hashes[i]! }));
        } finally {
          READS.release(buf);
        }
        startNext();
      }
    } catch (e) {
      // Give back the buffers of the requests still in flight.
      for (const x of await Promise.allSettled(inFlight)) {
        if (x.status === "fulfilled") READS.release(x.value);
      }
      stream?.close();
      throw e;
    }
    if (direct && blob.length % DIRECT_ALIGN !== 0) await fh.truncate(blob.length);
    stream ??= MD5.open(wholeMd5, Buffer.alloc(0));
    return { ranges, md5: await stream.digest(blob.length - hashed) };
  }
}

/**
 * A large blob is read READ_SIZE at a time (two manifest ranges a request: half the
 * requests, and a blob written in 8 MiB blocks, as AzCopy writes them, is read a block a
 * request), up to READS_IN_FLIGHT requests at once per blob. Their buffers are the
 * process's READS pool (lazily made): one buffer a request, so no request waits for a
 * second buffer while holding a first.
 */
const READ_SIZE = 2 * RANGE_SIZE;
const READS_IN_FLIGHT = 2;
// Page-aligned, for O_DIRECT writes, and shared, so the MD5 worker reads them in place.
const READS = new BufferPool(4, READ_SIZE, alignedBuffers(4, READ_SIZE, { shared: true }));
/** The MD5s of large blobs, off the event loop (ADR 0016, addendum). */
const MD5 = new SharedMd5();

type ExportResult =
  | { entry: BlobLogEntry; manifest?: ExportManifestEntry; overflow?: undefined }
  | {
      overflow: { container: string; name: string; snapshot?: string };
      entry?: undefined;
      manifest?: undefined;
    };

/** The blob as read now (a GET's or a HEAD's headers), for its side files and manifest entry. */
function exportedBlob(
  item: PlannedItem,
  props: {
    blobType?: string;
    contentLength?: number;
    etag?: string;
    lastModified?: Date;
    contentMD5?: Uint8Array;
    blobContentMD5?: Uint8Array;
    contentType?: string;
    contentEncoding?: string;
    contentLanguage?: string;
    cacheControl?: string;
    metadata?: Record<string, string>;
  },
): ExportBlob {
  const md5 = props.blobContentMD5 ?? props.contentMD5;
  return {
    container: item.container,
    name: item.name,
    ...(item.snapshot ? { snapshot: item.snapshot } : {}),
    blobType: (props.blobType as ExportBlobType | undefined) ?? item.blobType,
    length: props.contentLength ?? 0,
    etag: props.etag ?? "",
    lastModified: props.lastModified ?? new Date(0),
    ...(md5?.length ? { contentMD5: Buffer.from(md5).toString("base64") } : {}),
    ...(props.contentType ? { contentType: props.contentType } : {}),
    ...(props.contentEncoding ? { contentEncoding: props.contentEncoding } : {}),
    ...(props.contentLanguage ? { contentLanguage: props.contentLanguage } : {}),
    ...(props.cacheControl ? { cacheControl: props.cacheControl } : {}),
    ...(props.metadata && Object.keys(props.metadata).length ? { metadata: props.metadata } : {}),
  };
}

/** The blob's `.metadata` and `.properties` files, made once (for its cost and to write them). */
function sideFiles(exported: ExportBlob): SideFiles {
  return {
    metadataXml: exportMetadataXml(exported),
    propertiesXml: exportPropertiesXml(exported),
  };
}

async function streamText(body: NodeJS.ReadableStream | undefined): Promise<string | undefined> {
  if (!body) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

/** A direct write the file system refused (alignment, or no O_DIRECT at all). */
class DirectWriteRefused extends Error {
  constructor() {
    super("the file system refuses direct writes");
  }
}

/** An open or a write refused for its O_DIRECT flag or alignment. */
function isRefusal(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === "EINVAL" || code === "ENOTSUP" || code === "EOPNOTSUPP";
}

async function removeFiles(path: string): Promise<void> {
  await Promise.all(
    [path, `${path}.metadata`, `${path}.properties`].map((p) => rm(p, { force: true })),
  );
}

/** The drive folder's free space, for a drive recorded without a capacity. */
async function freeBytes(d: Drive): Promise<number> {
  if (!d.contentPath) return 0;
  const fs = await statfs(d.contentPath).catch(() => undefined);
  return fs ? fs.bavail * fs.bsize : 0;
}

/**
 * Whether the file has the manifest entry's length and each of its ranges' MD5s (`buf`
 * holds a range). For a block or append blob the ranges cover the whole file.
 */
async function fileMatchesRanges(
  path: string,
  entry: ExportManifestEntry,
  buf: Buffer,
): Promise<boolean> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, "r");
    if ((await fh.stat()).size !== entry.length) return false;
    for (const r of entry.ranges) {
      if (r.length > buf.length) return false;
      const part = buf.subarray(0, r.length);
      let got = 0;
      while (got < r.length) {
        const { bytesRead } = await fh.read(part, got, r.length - got, r.offset + got);
        if (bytesRead === 0) return false;
        got += bytesRead;
      }
      if (md5Hex(part) !== r.hash) return false;
    }
    return true;
  } catch {
    return false;
  } finally {
    await fh?.close().catch(() => undefined);
  }
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
