/**
 * The WAImportExport v2 dataset CSV (reference/domain.md §3.3), blob form:
 *
 * ```csv
 * BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile
 * "/data/photos/",photos/2026/,BlockBlob,rename,/data/meta.xml,None
 * /data/disk.vhd,vhds/disk.vhd,,overwrite,,
 * ```
 * `loadDataset` reads the file, checks every row (syntax, then the file system: sources,
 * metadata and properties files, the blob names the sources turn into) and either returns
 * the complete list of files to copy or throws one DatasetError listing every problem with
 * its line number — so nothing is copied from a dataset with a bad row.
 */
import { readFile, readdir, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve, sep } from "node:path";
import {
  blobPathProblem,
  CONTAINER_NAME,
  DISPOSITIONS,
  MAX_BLOCKS,
  PAGE_SIZE,
  ROOT_CONTAINER,
} from "./manifest.ts";
import { RANGE_SIZE, type BlobPropertiesFile, type ImportDisposition } from "./manifest-types.ts";
import { parseMetadataFile, parsePropertiesFile } from "./xml-files.ts";

export type BlobType = "BlockBlob" | "PageBlob";

export const DATASET_COLUMNS = [
  "BasePath",
  "DstBlobPathOrPrefix",
  "BlobType",
  "Disposition",
  "MetadataFile",
  "PropertiesFile",
] as const;
type Column = (typeof DATASET_COLUMNS)[number];

/** One row of the dataset, checked for syntax; paths resolved against the CSV's folder. */
export interface DatasetRow {
  /** Line of the CSV where the row starts (the header is line 1). */
  line: number;
  /** Absolute path of the source file or directory. */
  source: string;
  /** The BasePath ended with `\` or `/`: a directory, copied recursively. */
  isDirectory: boolean;
  /** The container (`$root` for the root container). */
  container: string;
  /** Directory source: the virtual directory ("" or ending in `/`); file source: the blob name, or a prefix ending in `/` (the file's name is appended). */
  destination: string;
  /** Given BlobType; undefined = by extension (`.vhd`/`.vhdx` → PageBlob, else BlockBlob). */
  blobType?: BlobType;
  disposition: ImportDisposition;
  metadataFile?: string;
  propertiesFile?: string;
}

export interface DatasetProblem {
  line: number;
  message: string;
}

/** Every problem of a dataset, each with the CSV line it belongs to. */
export class DatasetError extends Error {
  constructor(
    readonly problems: DatasetProblem[],
    readonly csvPath?: string,
  ) {
    super(
      `${csvPath ?? "the dataset"} has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
        problems.map((p) => `  line ${p.line}: ${p.message}`).join("\n"),
    );
  }
}

/** One file to copy. */
export interface DatasetFile {
  row: DatasetRow;
  source: string;
  size: number;
  mtimeMs: number;
  /** `container/name` */
  blobPath: string;
  blobType: BlobType;
}

export interface Dataset {
  csvPath: string;
  /** The CSV's bytes (a resumed preparation must be of the same dataset). */
  text: string;
  rows: DatasetRow[];
  /** The files to copy: rows in CSV order; within a directory, names in code-unit order. */
  files: DatasetFile[];
  /** Parsed metadata/properties files, by absolute path. */
  metadata: Map<string, Record<string, string>>;
  properties: Map<string, BlobPropertiesFile>;
  /** Things worth saying that do not stop the preparation (skipped entries, empty directories). */
  warnings: string[];
}

// ---------------------------------------------------------------------------------------
// CSV

interface Record_ {
  line: number;
  fields: string[];
}

/** RFC 4180 records: `"` quotes, `""` inside quotes, CRLF or LF; blank lines skipped. */
function csvRecords(text: string, problems: DatasetProblem[]): Record_[] {
  const out: Record_[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let field = "";
    let quoted = false;
    let bad: string | undefined;
    let endOfRecord = false;
    while (i < n && !endOfRecord) {
      const c = text[i]!;
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          quoted = false;
          i++;
          // After a closing quote only spaces, a comma or the end of the line may follow.
          while (text[i] === " " || text[i] === "\t") i++;
          if (i < n && text[i] !== "," && text[i] !== "\n" && text[i] !== "\r") {
            bad ??= "text after a closing quote; put the whole field in quotes";
          }
          continue;
        }
        if (c === "\n") line++;
        field += c;
        i++;
        continue;
      }
      if (c === '"' && field.trim() === "") {
        quoted = true;
        field = "";
        i++;
      } else if (c === ",") {
        fields.push(field.trim());
        field = "";
        i++;
      } else if (c === "\r" || c === "\n") {
        i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
        line++;
        endOfRecord = true;
      } else {
        field += c;
        i++;
      }
    }
    if (quoted) bad = "a quoted field is not closed";
    fields.push(quoted ? field : field.trim());
    if (bad) problems.push({ line: start, message: bad });
    else if (!(fields.length === 1 && fields[0] === "")) out.push({ line: start, fields });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Rows

/** `None` or nothing means no file. */
function optionalPath(value: string): string | undefined {
  return value === "" || value.toLowerCase() === "none" ? undefined : value;
}

/** A path from the CSV: `\` is a separator on every platform; relative to the CSV's folder. */
function localPath(value: string, baseDir: string): string {
  const p = sep === "/" ? value.replace(/\\/g, "/") : value;
  return isAbsolute(p) ? resolve(p) : resolve(baseDir, p);
}

function checkRow(
  line: number,
  get: (c: Column) => string,
  baseDir: string,
  problems: DatasetProblem[],
): DatasetRow | undefined {
  const before = problems.length;
  const problem = (message: string) => problems.push({ line, message });
  const basePath = get("BasePath");
  const dst = get("DstBlobPathOrPrefix");
  const isDirectory = /[\\/]$/.test(basePath);
  if (basePath === "") problem("BasePath is empty; give the file or directory to copy");
  if (/[*?]/.test(basePath)) problem(`BasePath '${basePath}': wildcards are not supported`);

  let container = "";
  let destination = "";
  if (dst === "") {
    problem("DstBlobPathOrPrefix is empty; give <container>/ or <container>/<path>");
  } else {
    const slash = dst.indexOf("/");
    container = slash < 0 ? dst : dst.slice(0, slash);
    destination = slash < 0 ? "" : dst.slice(slash + 1);
    if (container !== ROOT_CONTAINER && !CONTAINER_NAME.test(container)) {
      problem(
        `DstBlobPathOrPrefix '${dst}': '${container}' is not a valid container name ` +
          "(3-63 lower-case letters, digits and hyphens, no double hyphen; $root for the root container)",
      );
    } else if (slash < 0) {
      problem(
        `DstBlobPathOrPrefix '${dst}' has no '/' after the container; write '${dst}/' ` +
          (isDirectory ? "(or a virtual directory ending in '/')" : "or '<container>/<blob name>'"),
      );
    } else if (isDirectory && destination !== "" && !destination.endsWith("/")) {
      problem(
        `DstBlobPathOrPrefix '${dst}': a directory is copied under a prefix, which must end in '/' ('${dst}/')`,
      );
    } else if (container === ROOT_CONTAINER && destination.includes("/")) {
      problem(
        `DstBlobPathOrPrefix '${dst}': the root container has no virtual directories; use '$root/' or '$root/<name>'`,
      );
    } else if (destination !== "" && !destination.endsWith("/")) {
      const why = blobPathProblem(dst);
      if (why) problem(`DstBlobPathOrPrefix '${dst}': ${why}`);
    } else if (destination !== "") {
      const why = blobPathProblem(`${container}/${destination.slice(0, -1)}`);
      if (why) problem(`DstBlobPathOrPrefix '${dst}': ${why}`);
    }
  }

  const blobTypeText = get("BlobType");
  let blobType: BlobType | undefined;
  if (blobTypeText !== "") {
    const t = blobTypeText.toLowerCase();
    if (t === "blockblob") blobType = "BlockBlob";
    else if (t === "pageblob") blobType = "PageBlob";
    else problem(`BlobType '${blobTypeText}' is not BlockBlob or PageBlob`);
  }

  const dispositionText = get("Disposition");
  const disposition = (
    dispositionText === "" ? "rename" : dispositionText.toLowerCase()
  ) as ImportDisposition;
  if (!DISPOSITIONS.includes(disposition)) {
    problem(`Disposition '${dispositionText}' is not one of ${DISPOSITIONS.join(", ")}`);
  }

  const metadataFile = optionalPath(get("MetadataFile"));
  const propertiesFile = optionalPath(get("PropertiesFile"));
  if (problems.length > before) return undefined;
  const row: DatasetRow = {
    line,
    source: localPath(basePath, baseDir),
    isDirectory,
    container,
    destination,
    disposition,
  };
  if (blobType) row.blobType = blobType;
  if (metadataFile) row.metadataFile = localPath(metadataFile, baseDir);
  if (propertiesFile) row.propertiesFile = localPath(propertiesFile, baseDir);
  return row;
}

/** The good rows and the problems of the others; throws only when the header is unusable. */
function parseRows(
  text: string,
  baseDir: string,
): { rows: DatasetRow[]; problems: DatasetProblem[] } {
  const problems: DatasetProblem[] = [];
  // Broken records are reported with the rows' problems, in line order.
  const broken: DatasetProblem[] = [];
  const records = csvRecords(text.replace(/^\uFEFF/, ""), broken);
  const header = records.shift();
  if (!header || header.line !== 1) {
    throw new DatasetError([
      { line: 1, message: `the first line must be the header: ${DATASET_COLUMNS.join(",")}` },
    ]);
  }
  const index = new Map<Column, number>();
  for (const [i, name] of header.fields.entries()) {
    const column = DATASET_COLUMNS.find((c) => c.toLowerCase() === name.toLowerCase());
    if (!column) {
      problems.push({
        line: 1,
        message: `unknown column '${name}'; the columns are ${DATASET_COLUMNS.join(", ")}`,
      });
    } else if (index.has(column)) {
      problems.push({ line: 1, message: `the column ${column} appears twice` });
    } else index.set(column, i);
  }
  for (const required of ["BasePath", "DstBlobPathOrPrefix"] as const) {
    if (!index.has(required))
      problems.push({ line: 1, message: `the column ${required} is missing` });
  }
  if (problems.length > 0) throw new DatasetError(problems);

  const rows: DatasetRow[] = [];
  for (const r of records) {
    if (r.fields.length > header.fields.length) {
      problems.push({
        line: r.line,
        message: `${r.fields.length} fields, but the header has ${header.fields.length} (quote values that contain commas)`,
      });
      continue;
    }
    const get = (c: Column) => {
      const i = index.get(c);
      return i === undefined ? "" : (r.fields[i] ?? "");
    };
    const row = checkRow(r.line, get, baseDir, problems);
    if (row) rows.push(row);
  }
  problems.push(...broken);
  if (rows.length === 0 && problems.length === 0) {
    problems.push({ line: 1, message: "the dataset has no rows" });
  }
  return { rows, problems };
}

const byLine = (a: DatasetProblem, b: DatasetProblem) => a.line - b.line;

/**
 * The rows of a dataset CSV, checked for syntax only (no file-system access). Relative
 * paths resolve against `baseDir` (the CSV's folder). Throws a DatasetError with every
 * problem found.
 */
export function parseDatasetCsv(text: string, baseDir: string): DatasetRow[] {
  const { rows, problems } = parseRows(text, baseDir);
  if (problems.length > 0) throw new DatasetError(problems.sort(byLine));
  return rows;
}

// ---------------------------------------------------------------------------------------
// File system

const MAX_BLOCK_BLOB = MAX_BLOCKS * RANGE_SIZE;
/** Metadata and properties files are small; a big one is a mistake (the metadata limit is 8 KiB). */
const MAX_XML_FILE = 1024 * 1024;

function defaultBlobType(name: string): BlobType {
  return /\.vhdx?$/i.test(name) ? "PageBlob" : "BlockBlob";
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

/** Files under `dir`, recursively, as paths relative to it with `/`; sorted per directory. */
async function walk(
  dir: string,
  relative: string,
  out: { rel: string; path: string; size: number; mtimeMs: number }[],
  warnings: string[],
  line: number,
  topLevelOnly: boolean,
): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = join(dir, e.name);
    const rel = relative === "" ? e.name : `${relative}/${e.name}`;
    let isFile = e.isFile();
    const isDir = e.isDirectory();
    if (e.isSymbolicLink()) {
      const target = await statOrUndefined(path);
      isFile = target?.isFile() ?? false;
      if (target?.isDirectory()) {
        warnings.push(
          `line ${line}: skipped '${path}': a symbolic link to a directory is not followed`,
        );
        continue;
      }
    }
    if (isDir) {
      if (topLevelOnly) {
        warnings.push(
          `line ${line}: skipped the directory '${path}': blobs in $root cannot contain '/'`,
        );
      } else await walk(path, rel, out, warnings, line, false);
    } else if (isFile) {
      const s = await stat(path);
      out.push({ rel, path, size: s.size, mtimeMs: s.mtimeMs });
    } else {
      warnings.push(`line ${line}: skipped '${path}': not a regular file`);
    }
  }
}

async function readXmlFile<T>(
  path: string,
  what: string,
  parse: (xml: string) => T,
  problem: (m: string) => void,
): Promise<T | undefined> {
  const s = await statOrUndefined(path);
  if (!s) return void problem(`${what} '${path}' does not exist`);
  if (!s.isFile()) return void problem(`${what} '${path}' is not a file`);
  if (s.size > MAX_XML_FILE) return void problem(`${what} '${path}' is ${s.size} bytes; too big`);
  try {
    return parse(await readFile(path, "utf8"));
  } catch (e) {
    problem(`${what} '${path}': ${(e as Error).message}`);
    return undefined;
  }
}

/**
 * Reads and checks a dataset CSV and lists the files it names. Throws a DatasetError with
 * every problem (line by line) when any row is bad; nothing has been written then.
 */
export async function loadDataset(csvPath: string): Promise<Dataset> {
  const path = resolve(csvPath);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new DatasetError(
      [{ line: 0, message: `cannot read the dataset: ${(e as Error).message}` }],
      path,
    );
  }
  let parsed: { rows: DatasetRow[]; problems: DatasetProblem[] };
  try {
    parsed = parseRows(text, dirname(path));
  } catch (e) {
    if (e instanceof DatasetError) throw new DatasetError(e.problems, path);
    throw e;
  }
  // Rows with syntax problems are reported with the others' file-system problems.
  const { rows, problems } = parsed;
  const warnings: string[] = [];
  const metadata = new Map<string, Record<string, string>>();
  const properties = new Map<string, BlobPropertiesFile>();
  const files: DatasetFile[] = [];
  const owner = new Map<string, number>();

  for (const row of rows) {
    const problem = (message: string) => problems.push({ line: row.line, message });
    if (row.metadataFile && !metadata.has(row.metadataFile)) {
      const m = await readXmlFile(row.metadataFile, "MetadataFile", parseMetadataFile, problem);
      if (m) metadata.set(row.metadataFile, m);
    }
    if (row.propertiesFile && !properties.has(row.propertiesFile)) {
      const p = await readXmlFile(
        row.propertiesFile,
        "PropertiesFile",
        parsePropertiesFile,
        problem,
      );
      if (p) properties.set(row.propertiesFile, p);
    }
    const s = await statOrUndefined(row.source);
    if (!s) {
      problem(`BasePath '${row.source}' does not exist`);
      continue;
    }
    let found: { rel: string; path: string; size: number; mtimeMs: number }[] = [];
    if (row.isDirectory) {
      if (!s.isDirectory()) {
        problem(`BasePath '${row.source}' is a file, but ends with '\\' or '/' (a directory)`);
        continue;
      }
      await walk(row.source, "", found, warnings, row.line, row.container === ROOT_CONTAINER);
      if (found.length === 0) warnings.push(`line ${row.line}: '${row.source}' holds no files`);
    } else {
      if (s.isDirectory()) {
        problem(
          `BasePath '${row.source}' is a directory; end it with '\\' or '/' to copy it recursively`,
        );
        continue;
      }
      if (!s.isFile()) {
        problem(`BasePath '${row.source}' is not a regular file`);
        continue;
      }
      found = [{ rel: basename(row.source), path: row.source, size: s.size, mtimeMs: s.mtimeMs }];
    }
    for (const f of found) {
      const name =
        row.isDirectory || row.destination === "" || row.destination.endsWith("/")
          ? `${row.destination}${row.isDirectory ? f.rel : basename(f.rel)}`
          : row.destination;
      const blobPath = `${row.container}/${name}`;
      const blobType = row.blobType ?? defaultBlobType(f.path);
      const why = f.rel.includes("\\")
        ? `'${f.path}': file names containing '\\' cannot be imported`
        : blobPathProblem(blobPath);
      if (why) {
        problem(`${f.path} → ${blobPath}: ${why}`);
        continue;
      }
      if (blobType === "BlockBlob" && f.size > MAX_BLOCK_BLOB) {
        problem(
          `'${f.path}' is ${f.size} bytes; a block blob from a drive is at most ${MAX_BLOCKS} blocks of 4 MiB (${MAX_BLOCK_BLOB} bytes)`,
        );
        continue;
      }
      if (blobType === "PageBlob" && f.size % PAGE_SIZE !== 0) {
        problem(
          `'${f.path}' is a page blob but its size (${f.size} bytes) is not a multiple of ${PAGE_SIZE}`,
        );
        continue;
      }
      const earlier = owner.get(blobPath);
      if (earlier !== undefined) {
        problem(`${f.path} → ${blobPath}: line ${earlier} already copies a file to this blob`);
        continue;
      }
      owner.set(blobPath, row.line);
      files.push({ row, source: f.path, size: f.size, mtimeMs: f.mtimeMs, blobPath, blobType });
    }
  }
  // A blob name that is also a "directory" of another blob cannot be laid out as files.
  for (const f of files) {
    const parts = f.blobPath.split("/");
    for (let i = 2; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join("/");
      const other = owner.get(prefix);
      if (other !== undefined) {
        problems.push({
          line: f.row.line,
          message: `${f.source} → ${f.blobPath}: the blob '${prefix}' (line ${other}) is also a virtual directory of this blob; the drive cannot hold both`,
        });
      }
    }
  }
  if (problems.length > 0) throw new DatasetError(problems.sort(byLine), path);
  return { csvPath: path, text, rows, files, metadata, properties, warnings };
}
