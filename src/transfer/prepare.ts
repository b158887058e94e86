/**
 * Drive preparation: the WAImportExport `PrepImport` role (SPEC §4.2). A dataset CSV is
 * copied onto a drive folder, each file read once while its MD5s are computed; the drive
 * gets a manifest, and a journal outside the drive records every finished file so an
 * interrupted preparation resumes where it stopped. The layout, the journal format and
 * the differences from the Windows tool are in docs/drive-format.md.
 *
 * ```
 * <driveDir>/<driveId>.manifest                      the manifest (manifestFile \<driveId>.manifest)
 * <driveDir>/<sessionId>/<container>/<blob name>     one file per blob
 * <driveDir>/<sessionId>/_lists/<n>/metadata.xml     the metadata / properties files of row n
 * <driveDir>/../<driveId>.jrn                        the journal (default; never on the drive)
 * ```
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import {
  mkdir,
  open,
  readdir,
  readFile,
  realpath,
  rename,
  stat,
  truncate,
  type FileHandle,
} from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DatasetError,
  loadDataset,
  type Dataset,
  type DatasetFile,
  type DatasetProblem,
} from "./dataset.ts";
import { InlineMd5, Md5WorkerGone, WorkerMd5 } from "./md5.ts";
import {
  MANIFEST_VERSION,
  manifestHash,
  PAGE_SIZE,
  serializeManifest,
  toManifestPath,
} from "./manifest.ts";
import {
  RANGE_SIZE,
  type DriveManifest,
  type HashedPath,
  type ManifestBlob,
  type ManifestBlobList,
  type ManifestRange,
} from "./manifest-types.ts";

export const DEFAULT_SESSION_ID = "session-1";
/** Drive ids are file names here: the same rule as the API's (src/domain/job/rules.ts). */
const DRIVE_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** The Windows tool's session id rule (reference/domain.md §3.4). */
const SESSION_ID = /^[A-Za-z0-9_#-]{3,30}$/;
const JOURNAL_VERSION = 1;
/** Reads of one block: the block hashes see whole blocks, and big reads are faster. */
const READ_CHUNK = RANGE_SIZE;
/** From this size on, the whole-file MD5 is computed on a worker thread (see md5.ts). */
const PARALLEL_MD5_FROM = 8 * 1024 * 1024;

/** The drive's entry for the job's `driveList` (without the BitLocker key). */
export interface DriveListEntry {
  driveId: string;
  manifestFile: string;
  manifestHash: string;
  driveHeaderHash: string;
}

export interface PrepareProgress {
  /** Files done in this session (copied or found complete in the journal). */
  files: number;
  filesTotal: number;
  bytes: number;
  bytesTotal: number;
  /** The source file being copied. */
  file?: string;
}

export interface PrepareOptions {
  datasetCsv: string;
  /** The drive's root folder (a mount point, or the dock folder `<data-dir>/dock/<driveId>/`). */
  driveDir: string;
  driveId: string;
  /** Default "session-1". A new session id with the same journal adds data to the drive. */
  sessionId?: string;
  /** Default `<driveDir>/../<driveId>.jrn`; never inside the drive folder. */
  journal?: string;
  onProgress?: (progress: PrepareProgress) => void;
  /** Stops the preparation (between files or mid-file); run again to resume. */
  signal?: AbortSignal;
}

export interface PrepareResult {
  driveListEntry: DriveListEntry;
  manifestPath: string;
  journalPath: string;
  sessionId: string;
  /** Files and bytes of this session's dataset. */
  files: number;
  bytes: number;
  /** Of those: copied by this run, and found complete in the journal (resumed). */
  copiedFiles: number;
  copiedBytes: number;
  resumedFiles: number;
  resumedBytes: number;
  /** Every blob on the drive, all sessions. */
  driveFiles: number;
  driveBytes: number;
  warnings: string[];
}

export type PrepareErrorCode =
  /** The options cannot work (ids, paths, journal placement); nothing was written. */
  | "InvalidArgument"
  /** The journal does not belong to this drive or dataset. */
  | "JournalMismatch"
  /** The drive folder holds another drive, or files no journal of this drive describes; nothing was written. */
  | "DriveNotEmpty"
  /** A source file disappeared or changed while the drive was prepared. */
  | "SourceChanged"
  | "Aborted";

export class PrepareError extends Error {
  constructor(
    readonly code: PrepareErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------
// Journal: JSON lines, appended; the last line may be torn by a crash and is dropped.

interface DriveRecord {
  type: "drive";
  version: number;
  driveId: string;
  manifestFile: string;
}

interface ListRecord {
  id: string;
  line: number;
  metadata?: HashedPath;
  properties?: HashedPath;
}

interface SessionRecord {
  type: "session";
  sessionId: string;
  dataset: string;
  datasetMd5: string;
  lists: ListRecord[];
  /** Blob paths in manifest order; `list[i]` is the BlobList of `blobs[i]`. */
  blobs: string[];
  list: number[];
}

interface FileRecord {
  type: "file";
  sessionId: string;
  source: string;
  size: number;
  mtimeMs: number;
  /** Base16 MD5 of the whole file. */
  md5: string;
  blob: ManifestBlob;
}

interface CompleteRecord {
  type: "complete";
  sessionId: string;
  manifestHash: string;
  files: number;
  bytes: number;
}

type JournalRecord = DriveRecord | SessionRecord | FileRecord | CompleteRecord;

interface SessionState {
  record: SessionRecord;
  files: Map<string, FileRecord>;
  complete: boolean;
}

class Journal {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly drive: DriveRecord,
    readonly sessions: Map<string, SessionState>,
  ) {}

  static async open(path: string, drive: DriveRecord): Promise<Journal> {
    let text: string | undefined;
    try {
      text = await readFile(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const sessions = new Map<string, SessionState>();
    if (text === undefined || text === "") {
      // A new drive: checkNewDrive found its folder empty.
      const handle = await open(path, "a");
      await handle.write(`${JSON.stringify(drive)}\n`);
      return new Journal(path, handle, drive, sessions);
    }
    let end = text.length;
    if (!text.endsWith("\n")) {
      // A crash tore the last record: it never counted, drop it.
      end = text.lastIndexOf("\n") + 1;
      await truncate(path, Buffer.byteLength(text.slice(0, end)));
    }
    const lines = text.slice(0, end).split("\n").slice(0, -1);
    const records = lines.map((l, i): JournalRecord => {
      try {
        return JSON.parse(l) as JournalRecord;
      } catch {
        throw new PrepareError("JournalMismatch", `${path} line ${i + 1} is not a journal record`);
      }
    });
    const first = records[0];
    if (first?.type !== "drive" || first.version !== JOURNAL_VERSION) {
      throw new PrepareError("JournalMismatch", `${path} is not a drivebay journal`);
    }
    if (first.driveId !== drive.driveId) {
      throw new PrepareError(
        "JournalMismatch",
        `${path} is the journal of drive '${first.driveId}', not '${drive.driveId}'`,
      );
    }
    for (const r of records.slice(1)) {
      const s = sessions.get(r.type === "drive" ? "" : r.sessionId);
      if (r.type === "session") {
        sessions.set(r.sessionId, { record: r, files: s?.files ?? new Map(), complete: false });
      } else if (r.type === "file" && s) {
        s.files.set(r.blob.blobPath, r);
        s.complete = false;
      } else if (r.type === "complete" && s) {
        s.complete = true;
      }
    }
    return new Journal(path, await open(path, "a"), first, sessions);
  }

  async append(record: JournalRecord): Promise<void> {
    await this.handle.write(`${JSON.stringify(record)}\n`);
    if (record.type === "session") {
      const s = this.sessions.get(record.sessionId);
      this.sessions.set(record.sessionId, {
        record,
        files: s?.files ?? new Map(),
        complete: false,
      });
    } else if (record.type === "file") {
      this.sessions.get(record.sessionId)!.files.set(record.blob.blobPath, record);
    } else if (record.type === "complete") {
      this.sessions.get(record.sessionId)!.complete = true;
    }
  }

  async close(): Promise<void> {
    await this.handle.sync();
    await this.handle.close();
  }

  /** The manifest of every session in the journal, in the order they were started. */
  manifest(): DriveManifest {
    const blobLists: ManifestBlobList[] = [];
    for (const [sessionId, s] of this.sessions) {
      const lists = s.record.lists.map((l): ManifestBlobList => {
        const out: ManifestBlobList = { id: l.id, blobs: [] };
        if (l.metadata) out.metadata = l.metadata;
        if (l.properties) out.properties = l.properties;
        return out;
      });
      s.record.blobs.forEach((blobPath, i) => {
        const f = s.files.get(blobPath);
        if (!f) {
          throw new PrepareError(
            "JournalMismatch",
            `session '${sessionId}' in ${this.path} was interrupted before '${blobPath}' was copied; ` +
              `finish it first (--session-id ${sessionId} with its dataset ${s.record.dataset})`,
          );
        }
        lists[s.record.list[i]!]!.blobs.push(f.blob);
      });
      blobLists.push(...lists);
    }
    return { version: MANIFEST_VERSION, driveId: this.drive.driveId, blobLists };
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// Hashing while copying

function hex(hash: Hash): string {
  return hash.digest("hex").toUpperCase();
}

/** Cuts a stream into 4 MiB blocks and hashes each (block blobs: contiguous, covering the file). */
/** Cuts a file's bytes into ranges of at most 4 MiB as they pass; subclasses say what a range is. */
abstract class RangeCutter {
  protected start = 0;
  protected fill = 0;
  constructor(protected readonly ranges: ManifestRange[]) {}

  update(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(RANGE_SIZE - this.fill, chunk.length - off);
      this.absorb(chunk.subarray(off, off + take));
      this.fill += take;
      off += take;
      if (this.fill === RANGE_SIZE) this.cut();
    }
  }

  end(): void {
    if (this.fill > 0) this.cut();
  }

  /** Takes the next bytes of the current range. */
  protected abstract absorb(bytes: Buffer): void;
  /** Ends the current range (`fill` bytes from `start`) and starts the next one. */
  protected abstract cut(): void;
}

/** Block blobs: one range per 4 MiB block, with its MD5 and block id. */
class BlockHasher extends RangeCutter {
  private hash = createHash("md5");

  protected absorb(bytes: Buffer): void {
    this.hash.update(bytes);
  }

  protected cut(): void {
    const n = this.ranges.length;
    this.ranges.push({
      offset: this.start,
      length: this.fill,
      hash: hex(this.hash),
      id: blockId(n),
    });
    this.start += this.fill;
    this.fill = 0;
    this.hash = createHash("md5");
  }
}

/** Block ids of one length for every block, as Put Block wants them. */
export function blockId(index: number): string {
  return Buffer.from(`block-${String(index).padStart(6, "0")}`).toString("base64");
}

const ZERO_PAGE = Buffer.alloc(PAGE_SIZE);

/**
 * Page blobs: collects 4 MiB at a time and lists its non-zero 512-byte pages as ranges
 * (an imported page blob starts as zeros, so zero pages need not be written).
 */
class PageHasher extends RangeCutter {
  private readonly buffer = Buffer.alloc(RANGE_SIZE);

  protected absorb(bytes: Buffer): void {
    bytes.copy(this.buffer, this.fill);
  }

  protected cut(): void {
    let runStart = -1;
    for (let p = 0; p <= this.fill; p += PAGE_SIZE) {
      const zero = p === this.fill || this.buffer.subarray(p, p + PAGE_SIZE).equals(ZERO_PAGE);
      if (!zero && runStart < 0) runStart = p;
      if (zero && runStart >= 0) {
        this.ranges.push({
          offset: this.start + runStart,
          length: p - runStart,
          hash: hex(createHash("md5").update(this.buffer.subarray(runStart, p))),
        });
        runStart = -1;
      }
    }
    this.start += this.fill;
    this.fill = 0;
  }
}

interface Copied {
  size: number;
  md5: string;
  ranges: ManifestRange[];
}

/**
 * Copies `source` to `target` in one read, hashing as the bytes pass (whole file, and per
 * block or page range). Memory is a few chunks, whatever the file size. The copy is on
 * stable storage when this resolves.
 */
async function copyAndHash(
  file: DatasetFile,
  target: string,
  whole: WorkerMd5 | InlineMd5,
  onBytes: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<Copied> {
  const ranges: ManifestRange[] = [];
  const ranger = file.blobType === "PageBlob" ? new PageHasher(ranges) : new BlockHasher(ranges);
  let size = 0;
  whole.begin();
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      ranger.update(chunk);
      size += chunk.length;
      onBytes(chunk.length);
      whole.update(chunk).then(() => done(null, chunk), done);
    },
  });
  try {
    await pipeline(
      createReadStream(file.source, { highWaterMark: READ_CHUNK }),
      hashing,
      // flush: the file is on stable storage before the journal says it is copied.
      createWriteStream(target, { highWaterMark: READ_CHUNK, flush: true }),
      signal ? { signal } : {},
    );
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && !(await exists(file.source))) {
      throw new PrepareError(
        "SourceChanged",
        `the source file '${file.source}' (dataset line ${file.row.line}) disappeared after the dataset was checked`,
      );
    }
    throw e;
  }
  ranger.end();
  const now = await stat(file.source).catch(() => undefined);
  if (size !== file.size || !now || now.size !== file.size || now.mtimeMs !== file.mtimeMs) {
    throw new PrepareError(
      "SourceChanged",
      `the source file '${file.source}' (dataset line ${file.row.line}) changed while it was copied ` +
        `(${file.size} bytes when listed, ${size} read); run again once it is stable`,
    );
  }
  return { size, md5: await whole.digest(), ranges };
}

// ---------------------------------------------------------------------------------------
// Preparation

/** `path`, or the nearest existing ancestor resolved through links plus the rest. */
async function realish(path: string): Promise<string> {
  const rest: string[] = [];
  let p = resolve(path);
  for (;;) {
    try {
      return join(await realpath(p), ...rest.reverse());
    } catch {
      const parent = dirname(p);
      if (parent === p) return resolve(path);
      rest.push(p.slice(parent.length).replace(/^[\\/]+/, ""));
      p = parent;
    }
  }
}

function inside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

/** Sources, drive and journal must not overlap: every row that does gets a problem. */
async function checkOverlaps(dataset: Dataset, driveDir: string, journal: string): Promise<void> {
  const drive = await realish(driveDir);
  const jrn = await realish(journal);
  const problems: DatasetProblem[] = [];
  for (const row of dataset.rows) {
    const source = await realish(row.source);
    if (row.isDirectory && inside(drive, source)) {
      problems.push({
        line: row.line,
        message: `the drive folder '${driveDir}' is inside BasePath '${row.source}'; the drive would copy itself`,
      });
    } else if (inside(source, drive)) {
      problems.push({
        line: row.line,
        message: `BasePath '${row.source}' is on the drive being prepared ('${driveDir}')`,
      });
    }
    if (row.isDirectory && inside(jrn, source)) {
      problems.push({
        line: row.line,
        message: `the journal '${journal}' is inside BasePath '${row.source}'; put it elsewhere with --journal`,
      });
    }
  }
  if (problems.length > 0) throw new DatasetError(problems, dataset.csvPath);
}

/** The drive folder of a blob: `<sessionId>/<container>/<blob name segments>`. */
function driveSegments(sessionId: string, blobPath: string): string[] {
  return [sessionId, ...blobPath.split("/")];
}

async function copyListFile(
  driveDir: string,
  segments: string[],
  source: string,
): Promise<HashedPath> {
  const bytes = await readFile(source);
  const target = join(driveDir, ...segments);
  await mkdir(dirname(target), { recursive: true });
  const out = await open(target, "w");
  try {
    await out.writeFile(bytes);
    await out.sync();
  } finally {
    await out.close();
  }
  return { path: toManifestPath(segments), hash: hex(createHash("md5").update(bytes)) };
}

/** What a freshly formatted disk holds before anything is put on it (ext4, NTFS, macOS). */
const FILESYSTEM_ENTRIES = new Set([
  "lost+found",
  "System Volume Information",
  "$RECYCLE.BIN",
  ".Trashes",
  ".Spotlight-V100",
  ".fseventsd",
]);

async function driveEntries(driveDir: string): Promise<string[]> {
  try {
    return (await readdir(driveDir)).filter((e) => !FILESYSTEM_ENTRIES.has(e)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}

/** The ids of the drives whose manifests are in the folder, other than `driveId`'s. */
function otherDrives(entries: string[], driveId: string): string[] {
  return entries
    .filter((e) => e.endsWith(".manifest") && e !== `${driveId}.manifest`)
    .map((e) => e.slice(0, -".manifest".length));
}

function anotherDrive(driveDir: string, others: string[], driveId: string): PrepareError {
  const other = others[0]!;
  return new PrepareError(
    "DriveNotEmpty",
    `the folder ${driveDir} already holds the prepared drive '${other}' (${other}.manifest), not '${driveId}'; ` +
      `nothing was written. To add data to that drive, run again with --drive-id ${other} and a new --session-id; ` +
      "to prepare another drive, use an empty folder or another disk",
  );
}

/**
 * A new drive (no journal yet) is prepared only into an empty folder: whatever is there
 * belongs to another drive or to someone, and a preparation must never overwrite it.
 */
async function checkNewDrive(
  driveDir: string,
  driveId: string,
  journalPath: string,
): Promise<void> {
  const entries = await driveEntries(driveDir);
  if (entries.includes(`${driveId}.manifest`)) {
    throw new PrepareError(
      "JournalMismatch",
      `the drive already has a manifest (${join(driveDir, `${driveId}.manifest`)}) but the journal ${journalPath} does not exist; ` +
        "give the journal of that preparation with --journal, or remove the drive's contents to start over",
    );
  }
  const others = otherDrives(entries, driveId);
  if (others.length > 0) throw anotherDrive(driveDir, others, driveId);
  if (entries.length > 0) {
    const shown = entries.slice(0, 3).join("', '") + (entries.length > 3 ? "', …" : "'");
    throw new PrepareError(
      "DriveNotEmpty",
      `the folder ${driveDir} is not empty ('${shown}) and no journal of drive '${driveId}' describes it; ` +
        "nothing was written. Prepare a new drive into an empty folder or a freshly formatted disk " +
        "(to resume or add to a drive, give its journal with --journal)",
    );
  }
}

/** A drive with a journal: no other drive's manifest, and a new session's folder must not exist yet. */
async function checkKnownDrive(
  driveDir: string,
  driveId: string,
  sessionId: string,
  journal: Journal,
): Promise<void> {
  const entries = await driveEntries(driveDir);
  const others = otherDrives(entries, driveId);
  if (others.length > 0) throw anotherDrive(driveDir, others, driveId);
  if (!journal.sessions.has(sessionId) && entries.includes(sessionId)) {
    throw new PrepareError(
      "DriveNotEmpty",
      `the drive already has a folder '${sessionId}' that the journal ${journal.path} does not know; ` +
        "nothing was written. Choose another --session-id",
    );
  }
}

async function writeAtomically(path: string, bytes: Buffer): Promise<void> {
  const tmp = `${path}.tmp`;
  const out = await open(tmp, "w");
  try {
    await out.writeFile(bytes);
    await out.sync();
  } finally {
    await out.close();
  }
  await rename(tmp, path);
}

/**
 * Prepares (or resumes preparing) a drive from a dataset CSV. Throws a DatasetError (every
 * bad row, before anything is written), or a PrepareError.
 */
export async function prepareDrive(options: PrepareOptions): Promise<PrepareResult> {
  const { driveId, signal } = options;
  const sessionId = options.sessionId ?? DEFAULT_SESSION_ID;
  if (!DRIVE_ID.test(driveId)) {
    throw new PrepareError(
      "InvalidArgument",
      `the drive id '${driveId}' is invalid: use the drive's serial number (letters, digits, '-' and '_')`,
    );
  }
  if (!SESSION_ID.test(sessionId)) {
    throw new PrepareError(
      "InvalidArgument",
      `the session id '${sessionId}' is invalid: 3-30 letters, digits, '_', '-' or '#'`,
    );
  }
  const driveDir = resolve(options.driveDir);
  const journalPath = resolve(options.journal ?? join(driveDir, "..", `${driveId}.jrn`));
  if (inside(await realish(journalPath), await realish(driveDir))) {
    throw new PrepareError(
      "InvalidArgument",
      `the journal '${journalPath}' must not be on the drive ('${driveDir}'); choose another --journal`,
    );
  }
  const manifestName = `${driveId}.manifest`;
  const manifestPath = join(driveDir, manifestName);
  const manifestFile = toManifestPath([manifestName]);

  const dataset = await loadDataset(options.datasetCsv);
  await checkOverlaps(dataset, driveDir, journalPath);
  if (signal?.aborted) throw aborted();
  const datasetMd5 = hex(createHash("md5").update(dataset.text));

  const journalSize = (await stat(journalPath).catch(() => undefined))?.size ?? 0;
  if (journalSize === 0) await checkNewDrive(driveDir, driveId, journalPath);
  await mkdir(dirname(journalPath), { recursive: true });
  await mkdir(driveDir, { recursive: true });
  let worker: WorkerMd5 | undefined;
  let workerGone = false;
  const journal = await Journal.open(journalPath, {
    type: "drive",
    version: JOURNAL_VERSION,
    driveId,
    manifestFile,
  });
  try {
    await checkKnownDrive(driveDir, driveId, sessionId, journal);
    const previous = journal.sessions.get(sessionId);
    if (previous && previous.record.datasetMd5 !== datasetMd5) {
      throw new PrepareError(
        "JournalMismatch",
        `session '${sessionId}' in ${journalPath} was prepared from another dataset ` +
          `(${previous.record.dataset}, or that file changed since); give a new --session-id to add data to the drive`,
      );
    }
    const problems: DatasetProblem[] = [];
    for (const [id, s] of journal.sessions) {
      if (id === sessionId) continue;
      if (!s.complete) {
        throw new PrepareError(
          "JournalMismatch",
          `session '${id}' in ${journalPath} was interrupted; finish it first (--session-id ${id} with its dataset ${s.record.dataset})`,
        );
      }
      const theirs = new Set(s.record.blobs);
      for (const f of dataset.files) {
        if (theirs.has(f.blobPath)) {
          problems.push({
            line: f.row.line,
            message: `${f.source} → ${f.blobPath}: session '${id}' already put this blob on the drive`,
          });
        }
      }
    }
    if (problems.length > 0) throw new DatasetError(problems, dataset.csvPath);

    // The metadata and properties files of each row, on the drive with their hashes.
    const rowIndex = new Map(dataset.rows.map((r, i) => [r, i]));
    const lists: ListRecord[] = [];
    for (const [i, row] of dataset.rows.entries()) {
      const list: ListRecord = { id: `${sessionId}-${i}`, line: row.line };
      if (row.metadataFile) {
        list.metadata = await copyListFile(
          driveDir,
          [sessionId, "_lists", String(i), "metadata.xml"],
          row.metadataFile,
        );
      }
      if (row.propertiesFile) {
        list.properties = await copyListFile(
          driveDir,
          [sessionId, "_lists", String(i), "properties.xml"],
          row.propertiesFile,
        );
      }
      lists.push(list);
    }
    await journal.append({
      type: "session",
      sessionId,
      dataset: dataset.csvPath,
      datasetMd5,
      lists,
      blobs: dataset.files.map((f) => f.blobPath),
      list: dataset.files.map((f) => rowIndex.get(f.row)!),
    });

    const done = journal.sessions.get(sessionId)!.files;
    const inline = new InlineMd5();
    const progress: PrepareProgress = {
      files: 0,
      filesTotal: dataset.files.length,
      bytes: 0,
      bytesTotal: dataset.files.reduce((n, f) => n + f.size, 0),
    };
    const counts = { copiedFiles: 0, copiedBytes: 0, resumedFiles: 0, resumedBytes: 0 };
    const dirs = new Set<string>();
    for (const file of dataset.files) {
      if (signal?.aborted) throw aborted();
      const segments = driveSegments(sessionId, file.blobPath);
      const target = join(driveDir, ...segments);
      const record = done.get(file.blobPath);
      if (
        record &&
        record.source === file.source &&
        record.size === file.size &&
        record.mtimeMs === file.mtimeMs &&
        record.blob.blobType === file.blobType &&
        record.blob.disposition === file.row.disposition &&
        (await stat(target).catch(() => undefined))?.size === file.size
      ) {
        counts.resumedFiles++;
        counts.resumedBytes += file.size;
        progress.files++;
        progress.bytes += file.size;
        options.onProgress?.({ ...progress });
        continue;
      }
      if (!dirs.has(dirname(target))) {
        await mkdir(dirname(target), { recursive: true });
        dirs.add(dirname(target));
      }
      progress.file = file.source;
      const bytesBefore = progress.bytes;
      let copied: Copied | undefined;
      while (!copied) {
        const onWorker = file.size >= PARALLEL_MD5_FROM && !workerGone;
        if (onWorker) worker ??= new WorkerMd5();
        try {
          copied = await copyAndHash(
            file,
            target,
            onWorker ? worker! : inline,
            (n) => {
              progress.bytes += n;
              options.onProgress?.({ ...progress });
            },
            signal,
          );
        } catch (e) {
          if (signal?.aborted) throw aborted();
          if (!(e instanceof Md5WorkerGone)) throw e;
          // The MD5 worker died with this file's hash: the file is copied again from the
          // start, hashed on this thread, as every later file is.
          workerGone = true;
          progress.bytes = bytesBefore;
        }
      }
      await journal.append({
        type: "file",
        sessionId,
        source: file.source,
        size: file.size,
        mtimeMs: file.mtimeMs,
        md5: copied.md5,
        blob: {
          blobPath: file.blobPath,
          filePath: toManifestPath(segments),
          length: copied.size,
          disposition: file.row.disposition,
          blobType: file.blobType,
          ranges: copied.ranges,
        },
      });
      counts.copiedFiles++;
      counts.copiedBytes += copied.size;
      progress.files++;
      delete progress.file;
      options.onProgress?.({ ...progress });
    }

    const manifest = journal.manifest();
    const bytes = Buffer.from(serializeManifest(manifest), "utf8");
    await writeAtomically(manifestPath, bytes);
    const hash = manifestHash(bytes);
    await journal.append({
      type: "complete",
      sessionId,
      manifestHash: hash,
      files: dataset.files.length,
      bytes: progress.bytesTotal,
    });
    const all = manifest.blobLists.flatMap((l) => l.blobs);
    return {
      driveListEntry: { driveId, manifestFile, manifestHash: hash, driveHeaderHash: "" },
      manifestPath,
      journalPath,
      sessionId,
      files: dataset.files.length,
      bytes: progress.bytesTotal,
      ...counts,
      driveFiles: all.length,
      driveBytes: all.reduce((n, b) => n + b.length, 0),
      warnings: dataset.warnings,
    };
  } finally {
    await worker?.close();
    await journal.close();
  }
}

function aborted(): PrepareError {
  return new PrepareError(
    "Aborted",
    "the preparation was stopped; run the same command again to resume it",
  );
}
