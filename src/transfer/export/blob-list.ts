/**
 * Which blobs an export job copies (SPEC §4.5, reference/domain.md §4.1): the job's
 * `export.blobList` (`blobPath[]`, `blobPathPrefix[]`) or the XML `BlobList` blob named by
 * `export.blobListBlobPath`, resolved against the job's storage account.
 *
 * - `blobPath`: one blob, `/container/name` (`/$root/name` for the root container); a
 *   snapshot as `/container/name?snapshot=<time>` (the XML list: a `Snapshot` attribute).
 * - `blobPathPrefix`: `/` the whole account; `/music/` the container `music`; `/book`
 *   every container whose name starts with `book`; `/music/love` the blobs of `music`
 *   whose names start with `love`. Prefixes select base blobs, not their snapshots.
 *
 * Blobs come in listing order: the entries in the order given (the ARM lists: paths, then
 * prefixes), each entry's blobs in the Blob service's order (containers, then names). A blob
 * that several entries match is exported once (where it first appears); entries that match
 * nothing are reported; so are duplicate entries and blobs that cannot be exported (the
 * Archive tier). An XML list that cannot be read fails with `BlobListFormatInvalid`.
 */
import { RestError, type BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { readXml, type XmlElement } from "../xml-files.ts";

export type ExportBlobType = "BlockBlob" | "PageBlob" | "AppendBlob";

/** One entry of the customer's blob list, as given (paths with their leading `/`). */
export type BlobListEntry =
  { kind: "blobPath"; path: string; snapshot?: string } | { kind: "blobPathPrefix"; path: string };

export interface ExportBlob {
  container: string;
  name: string;
  /** The snapshot's time (as the Blob service writes it) when a snapshot is exported. */
  snapshot?: string;
  blobType: ExportBlobType;
  length: number;
  etag: string;
  lastModified: Date;
  /** Base64 Content-MD5 as stored with the blob, if any. */
  contentMD5?: string;
  contentType?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  cacheControl?: string;
  metadata?: Record<string, string>;
}

export interface ResolvedBlobList {
  /** The entries, each once, in the order given. */
  entries: BlobListEntry[];
  /** Entries given more than once (each reported once). */
  duplicateEntries: BlobListEntry[];
  /** The blobs to export, each once, in listing order. */
  blobs: ExportBlob[];
  /** How many matches were dropped because an earlier entry had the blob already. */
  duplicateBlobs: number;
  /** Entries that matched no blob. */
  unmatched: BlobListEntry[];
  /** Blobs that matched but cannot be exported, and why. */
  notExportable: { blob: ExportBlob; reason: string }[];
}

/** Why a blob list cannot be used, in the drive log's status codes (reference/domain.md §5.4). */
export class BlobListError extends Error {
  constructor(
    readonly status: "BlobListFormatInvalid" | "BlobRequestForbidden" | "BlobRequestFailed",
    message: string,
  ) {
    super(message);
    this.name = "BlobListError";
  }
}

/** The largest blob list blob read (the classic API's inline list was 32 KB). */
export const MAX_BLOB_LIST_BYTES = 64 * 1024 * 1024;

/** `container/name` of a blob (the manifest's BlobPath). */
export function blobPathOf(b: Pick<ExportBlob, "container" | "name">): string {
  return `${b.container}/${b.name}`;
}

/** Identity of a blob or snapshot, for duplicates. */
export function blobKey(b: Pick<ExportBlob, "container" | "name" | "snapshot">): string {
  return `${b.container}/${b.name}${b.snapshot ? `?snapshot=${b.snapshot}` : ""}`;
}

/** How an entry is written in logs and reports. */
export function entryText(e: BlobListEntry): string {
  return e.kind === "blobPath" && e.snapshot ? `${e.path}?snapshot=${e.snapshot}` : e.path;
}

const CONTAINER = /^(\$root|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/;
const SNAPSHOT_SUFFIX = /\?snapshot=(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,7})?Z)$/;

/** A `blobPath` string of the ARM list: a trailing `?snapshot=<time>` names a snapshot. */
export function blobPathEntry(text: string): BlobListEntry {
  const m = SNAPSHOT_SUFFIX.exec(text);
  return m
    ? { kind: "blobPath", path: text.slice(0, m.index), snapshot: m[1]! }
    : { kind: "blobPath", path: text };
}

/** The entries of an ARM `export.blobList`: its paths, then its prefixes. */
export function entriesOfBlobList(list: {
  blobPath?: readonly string[];
  blobPathPrefix?: readonly string[];
}): BlobListEntry[] {
  return [
    ...(list.blobPath ?? []).map(blobPathEntry),
    ...(list.blobPathPrefix ?? []).map((path): BlobListEntry => ({ kind: "blobPathPrefix", path })),
  ];
}

function invalid(why: string): BlobListError {
  return new BlobListError("BlobListFormatInvalid", `The blob list is not valid: ${why}.`);
}

function checkEntry(e: BlobListEntry, where: string): void {
  if (!e.path.startsWith("/")) throw invalid(`${where} '${e.path}' does not start with '/'`);
  if (e.kind === "blobPathPrefix" && e.path === "/") return;
  const [container, ...rest] = e.path.slice(1).split("/");
  const name = rest.join("/");
  if (e.kind === "blobPath") {
    if (!CONTAINER.test(container ?? "") || name === "") {
      throw invalid(
        `${where} '${e.path}' is not '/<container>/<blob name>' with a valid container name`,
      );
    }
    return;
  }
  // A prefix without a second '/' is a prefix of container names.
  if (rest.length === 0 ? !/^[$a-z0-9-]+$/.test(container ?? "") : !CONTAINER.test(container!)) {
    throw invalid(`${where} '${e.path}' does not name a container or a container-name prefix`);
  }
}

/**
 * The XML blob list (reference/domain.md §4.1):
 * ```xml
 * <BlobList>
 *   <BlobPath>videos/story.mp4</BlobPath>
 *   <BlobPath Snapshot="2026-12-01T10:00:00.0000000Z">$root/logo.bmp</BlobPath>
 *   <BlobPathPrefix>/music/</BlobPathPrefix>
 * </BlobList>
 * ```
 * `BlobPath` is relative (starts with the container; a leading `/` is accepted),
 * `BlobPathPrefix` starts with `/`. Anything else, or an empty list, is `BlobListFormatInvalid`.
 */
export function parseBlobListXml(xml: string): BlobListEntry[] {
  let root: XmlElement;
  try {
    root = readXml(xml);
  } catch (e) {
    throw invalid((e as Error).message);
  }
  if (root.name !== "BlobList") throw invalid(`the root element is <${root.name}>, not <BlobList>`);
  const entries: BlobListEntry[] = [];
  root.children.forEach((el, i) => {
    const where = `entry ${i + 1} (<${el.name}>)`;
    if (el.children.length > 0) throw invalid(`${where} must hold text, not elements`);
    const text = el.text.trim();
    if (el.name === "BlobPath") {
      const snapshot = el.attributes.Snapshot;
      if (snapshot !== undefined && !SNAPSHOT_SUFFIX.test(`?snapshot=${snapshot}`)) {
        throw invalid(`${where} has Snapshot '${snapshot}', which is not a snapshot time`);
      }
      const entry: BlobListEntry = {
        kind: "blobPath",
        path: text.startsWith("/") ? text : `/${text}`,
        ...(snapshot !== undefined ? { snapshot } : {}),
      };
      checkEntry(entry, where);
      entries.push(entry);
    } else if (el.name === "BlobPathPrefix") {
      const entry: BlobListEntry = { kind: "blobPathPrefix", path: text };
      checkEntry(entry, where);
      entries.push(entry);
    } else {
      throw invalid(`${where} is not <BlobPath> or <BlobPathPrefix>`);
    }
  });
  if (entries.length === 0) throw invalid("it names no <BlobPath> and no <BlobPathPrefix>");
  return entries;
}

/** A storage error in the drive log's words. */
function storageFailure(e: unknown, what: string): BlobListError {
  const status = e instanceof RestError ? e.statusCode : undefined;
  const detail = e instanceof Error ? e.message.split("\n")[0] : String(e);
  return status === 403
    ? new BlobListError("BlobRequestForbidden", `${what}: access denied (${detail}).`)
    : new BlobListError("BlobRequestFailed", `${what}: ${detail}`);
}

const isNotFound = (e: unknown) => e instanceof RestError && e.statusCode === 404;

/** Reads the XML blob list from the account (`blobListBlobPath`, relative: `container/name`). */
export async function readBlobListBlob(
  service: BlobServiceClient,
  blobListBlobPath: string,
): Promise<BlobListEntry[]> {
  const path = blobListBlobPath.replace(/^\//, "");
  const slash = path.indexOf("/");
  const container = path.slice(0, slash);
  const name = path.slice(slash + 1);
  const blob = service.getContainerClient(container).getBlobClient(name);
  let bytes: Buffer;
  try {
    const props = await blob.getProperties();
    if ((props.contentLength ?? 0) > MAX_BLOB_LIST_BYTES) {
      throw invalid(
        `the blob list blob '${path}' has ${props.contentLength} bytes; at most ${MAX_BLOB_LIST_BYTES} are read`,
      );
    }
    bytes = await blob.downloadToBuffer();
  } catch (e) {
    if (e instanceof BlobListError) throw e;
    if (isNotFound(e)) {
      throw invalid(`the blob list blob '${path}' does not exist in the storage account`);
    }
    throw storageFailure(e, `Reading the blob list blob '${path}'`);
  }
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  return parseBlobListXml(text);
}

interface ListedProps {
  contentLength?: number;
  blobType?: string;
  etag?: string;
  lastModified?: Date;
  contentMD5?: Uint8Array;
  accessTier?: string;
  contentType?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  cacheControl?: string;
}

const defined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined && v !== ""),
  ) as Partial<T>;

function exportBlob(
  container: string,
  name: string,
  p: ListedProps,
  metadata: Record<string, string> | undefined,
  snapshot?: string,
): ExportBlob & { accessTier?: string } {
  return {
    ...defined({
      contentType: p.contentType,
      contentEncoding: p.contentEncoding,
      contentLanguage: p.contentLanguage,
      cacheControl: p.cacheControl,
    }),
    ...(metadata && Object.keys(metadata).length > 0 ? { metadata } : {}),
    container,
    name,
    ...(snapshot ? { snapshot } : {}),
    blobType: (p.blobType as ExportBlobType | undefined) ?? "BlockBlob",
    length: p.contentLength ?? 0,
    etag: p.etag ?? "",
    lastModified: p.lastModified ?? new Date(0),
    ...(p.contentMD5 && p.contentMD5.length > 0
      ? { contentMD5: Buffer.from(p.contentMD5).toString("base64") }
      : {}),
    ...(p.accessTier ? { accessTier: p.accessTier } : {}),
  };
}

async function* containersFor(
  service: BlobServiceClient,
  prefix: string,
): AsyncGenerator<ContainerClient> {
  for await (const c of service.listContainers(prefix ? { prefix } : {})) {
    yield service.getContainerClient(c.name);
  }
}

/** The blobs an entry names, in the Blob service's order. */
async function* matches(
  service: BlobServiceClient,
  entry: BlobListEntry,
): AsyncGenerator<ExportBlob & { accessTier?: string }> {
  const [container = "", ...rest] = entry.path.slice(1).split("/");
  const name = rest.join("/");
  if (entry.kind === "blobPath") {
    let client = service.getContainerClient(container).getBlobClient(name);
    if (entry.snapshot) client = client.withSnapshot(entry.snapshot);
    try {
      const p = await client.getProperties();
      yield exportBlob(container, name, p, p.metadata, entry.snapshot);
    } catch (e) {
      if (!isNotFound(e)) throw storageFailure(e, `Reading '${entryText(entry)}'`);
    }
    return;
  }
  // "/" and "/book": containers by name prefix, every blob; "/music/love": one container.
  const containers =
    rest.length === 0 || entry.path === "/"
      ? containersFor(service, entry.path === "/" ? "" : container)
      : (async function* () {
          yield service.getContainerClient(container);
        })();
  for await (const cc of containers) {
    const blobPrefix = rest.length === 0 ? "" : name;
    try {
      const options = { includeMetadata: true, ...(blobPrefix ? { prefix: blobPrefix } : {}) };
      for await (const b of cc.listBlobsFlat(options)) {
        yield exportBlob(cc.containerName, b.name, b.properties, b.metadata);
      }
    } catch (e) {
      if (isNotFound(e)) continue; // the container does not exist: the entry matches nothing
      throw storageFailure(e, `Listing '${entry.path}'`);
    }
  }
}

/**
 * Resolves the entries against the account: each blob once, in listing order; entries that
 * match nothing, duplicate entries and blobs that cannot be exported are reported.
 */
export async function resolveEntries(
  service: BlobServiceClient,
  given: readonly BlobListEntry[],
): Promise<ResolvedBlobList> {
  const entries: BlobListEntry[] = [];
  const duplicateEntries: BlobListEntry[] = [];
  const seenEntries = new Set<string>();
  for (const e of given) {
    const key = `${e.kind}:${entryText(e)}`;
    if (seenEntries.has(key)) {
      if (!duplicateEntries.some((d) => `${d.kind}:${entryText(d)}` === key)) {
        duplicateEntries.push(e);
      }
      continue;
    }
    seenEntries.add(key);
    entries.push(e);
  }
  const out: ResolvedBlobList = {
    entries,
    duplicateEntries,
    blobs: [],
    duplicateBlobs: 0,
    unmatched: [],
    notExportable: [],
  };
  const seen = new Set<string>();
  for (const entry of entries) {
    let matched = 0;
    for await (const found of matches(service, entry)) {
      matched++;
      const key = blobKey(found);
      if (seen.has(key)) {
        out.duplicateBlobs++;
        continue;
      }
      seen.add(key);
      const { accessTier, ...blob } = found;
      if (accessTier?.toLowerCase() === "archive") {
        out.notExportable.push({
          blob,
          reason: "the blob is in the Archive tier; rehydrate it to Hot or Cool first",
        });
      } else {
        out.blobs.push(blob);
      }
    }
    if (matched === 0) out.unmatched.push(entry);
  }
  return out;
}

/** Resolves a job's export definition: its blob list, or the XML list blob it names. */
export async function resolveBlobList(
  service: BlobServiceClient,
  spec: {
    blobList?: { blobPath?: readonly string[]; blobPathPrefix?: readonly string[] };
    blobListBlobPath?: string;
  },
): Promise<ResolvedBlobList> {
  const entries = spec.blobListBlobPath
    ? await readBlobListBlob(service, spec.blobListBlobPath)
    : entriesOfBlobList(spec.blobList ?? {});
  return resolveEntries(service, entries);
}
