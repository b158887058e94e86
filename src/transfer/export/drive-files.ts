/**
 * What an export writes onto a drive besides the blobs' bytes (SPEC §4.5, reference/domain.md
 * §3.6, §3.7, §4.3): the drive manifest `<driveId>.manifest` at the root (the Azure format,
 * per-block and per-page-range MD5s, the service as ClientCreator), each blob's `.metadata`
 * and `.properties` files, and the XML list of blobs that did not fit (incompleteBlobListUri).
 *
 * ```xml
 * <DriveManifest Version="2014-11-01">
 *   <Drive>
 *     <DriveId>EX-…-1</DriveId>
 *     <ClientCreator>drivebay Import/Export service</ClientCreator>
 *     <BlobList>
 *       <Blob>
 *         <BlobPath>music/love/a.mp3</BlobPath>
 *         <FilePath>\music\love\a.mp3</FilePath>
 *         <Snapshot>2026-12-01T10:00:00.0000000Z</Snapshot>           (snapshots only)
 *         <Length>5242880</Length>
 *         <BlockList>
 *           <Block Offset="0" Length="4194304" Hash="…"/>
 *           <Block Offset="4194304" Length="1048576" Hash="…"/>
 *         </BlockList>                                   (page blobs: PageRangeList/PageRange)
 *         <MetadataPath Hash="…">\music\love\a.mp3.metadata</MetadataPath>
 *         <PropertiesPath Hash="…">\music\love\a.mp3.properties</PropertiesPath>
 *       </Blob>
 *     </BlobList>
 *   </Drive>
 * </DriveManifest>
 * ```
 * The manifest is written blob by blob (head, entries, tail), so a drive of a million blobs
 * never holds its manifest in memory; the same entries always give the same bytes.
 */
import type { HashedPath, ManifestRange } from "../manifest-types.ts";
import { RANGE_SIZE } from "../manifest-types.ts";
import { escapeXml, writeMetadataFile, writePropertiesFile } from "../xml-files.ts";
import type { ExportBlob, ExportBlobType } from "./blob-list.ts";

export const EXPORT_MANIFEST_VERSION = "2014-11-01";
/** Azure writes "Windows Azure Import/Export service"; drivebay names itself. */
export const EXPORT_CLIENT_CREATOR = "drivebay Import/Export service";

export interface ExportManifestEntry {
  /** `container/name` (`$root/name` for the root container). */
  blobPath: string;
  /** The file on the drive: `\container\name`, mapped where NTFS needs it. */
  filePath: string;
  snapshot?: string;
  length: number;
  blobType: ExportBlobType;
  /** Blocks covering the file (block and append blobs), or the written page ranges. */
  ranges: ManifestRange[];
  metadata?: HashedPath;
  properties?: HashedPath;
}

/** The manifest's file name at the drive's root. */
export function manifestName(driveId: string): string {
  return `${driveId}.manifest`;
}

export function manifestHead(driveId: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<DriveManifest Version="${EXPORT_MANIFEST_VERSION}">\n` +
    "  <Drive>\n" +
    `    <DriveId>${escapeXml(driveId)}</DriveId>\n` +
    `    <ClientCreator>${EXPORT_CLIENT_CREATOR}</ClientCreator>\n` +
    "    <BlobList>\n"
  );
}

export const MANIFEST_TAIL = "    </BlobList>\n  </Drive>\n</DriveManifest>\n";

const hashed = (name: string, p: HashedPath | undefined) =>
  p ? `        <${name} Hash="${p.hash.toUpperCase()}">${escapeXml(p.path)}</${name}>\n` : "";

export function manifestEntryXml(e: ExportManifestEntry): string {
  const [list, element] =
    e.blobType === "PageBlob"
      ? (["PageRangeList", "PageRange"] as const)
      : (["BlockList", "Block"] as const);
  const ranges =
    e.ranges.length === 0
      ? `        <${list}/>\n`
      : `        <${list}>\n` +
        e.ranges
          .map(
            (r) =>
              `          <${element} Offset="${r.offset}" Length="${r.length}" Hash="${r.hash.toUpperCase()}"/>\n`,
          )
          .join("") +
        `        </${list}>\n`;
  return (
    "      <Blob>\n" +
    `        <BlobPath>${escapeXml(e.blobPath)}</BlobPath>\n` +
    `        <FilePath>${escapeXml(e.filePath)}</FilePath>\n` +
    (e.snapshot ? `        <Snapshot>${escapeXml(e.snapshot)}</Snapshot>\n` : "") +
    `        <Length>${e.length}</Length>\n` +
    ranges +
    hashed("MetadataPath", e.metadata) +
    hashed("PropertiesPath", e.properties) +
    "      </Blob>\n"
  );
}

/** A whole manifest (for small drives and tests; the copier streams head, entries, tail). */
export function exportManifestXml(
  driveId: string,
  entries: readonly ExportManifestEntry[],
): string {
  return manifestHead(driveId) + entries.map(manifestEntryXml).join("") + MANIFEST_TAIL;
}

/** The blocks a file of `length` bytes is hashed in: 4 MiB each, the last one shorter. */
export function blockSpans(length: number): { offset: number; length: number }[] {
  const out = [];
  for (let offset = 0; offset < length; offset += RANGE_SIZE) {
    out.push({ offset, length: Math.min(RANGE_SIZE, length - offset) });
  }
  return out;
}

/** Page ranges (from the Blob service) cut into manifest ranges of at most 4 MiB. */
export function pageSpans(
  ranges: readonly { offset: number; count: number }[],
): { offset: number; length: number }[] {
  const out = [];
  for (const r of ranges) {
    for (let at = r.offset; at < r.offset + r.count; at += RANGE_SIZE) {
      out.push({ offset: at, length: Math.min(RANGE_SIZE, r.offset + r.count - at) });
    }
  }
  return out;
}

const PLACEHOLDER_HASH = "0".repeat(32);

/**
 * The bytes a blob's manifest entry takes at most: exact for block and append blobs, an
 * upper bound for page blobs (as if every page were written). Hash values do not change
 * an entry's length.
 */
export function manifestEntryBytes(
  blob: Pick<ExportBlob, "container" | "name" | "snapshot" | "blobType" | "length">,
  filePath: string,
): number {
  const spans = blockSpans(blob.length);
  const side = (suffix: string): HashedPath => ({
    path: filePath + suffix,
    hash: PLACEHOLDER_HASH,
  });
  return Buffer.byteLength(
    manifestEntryXml({
      blobPath: `${blob.container}/${blob.name}`,
      filePath,
      ...(blob.snapshot ? { snapshot: blob.snapshot } : {}),
      length: blob.length,
      blobType: blob.blobType,
      ranges: spans.map((s) => ({ ...s, hash: PLACEHOLDER_HASH })),
      metadata: side(".metadata"),
      properties: side(".properties"),
    }),
  );
}

/** The `.metadata` file of an exported blob (an empty `<Metadata>` when it has none). */
export function exportMetadataXml(blob: Pick<ExportBlob, "metadata">): string {
  return writeMetadataFile(blob.metadata ?? {});
}

/** The `.properties` file of an exported blob, with the export-only Last-Modified, Etag, Content-Length. */
export function exportPropertiesXml(blob: ExportBlob): string {
  return writePropertiesFile({
    lastModified: blob.lastModified.toUTCString(),
    etag: blob.etag,
    contentLength: blob.length,
    ...(blob.contentType !== undefined ? { contentType: blob.contentType } : {}),
    ...(blob.contentMD5 !== undefined ? { contentMD5: blob.contentMD5 } : {}),
    ...(blob.contentEncoding !== undefined ? { contentEncoding: blob.contentEncoding } : {}),
    ...(blob.contentLanguage !== undefined ? { contentLanguage: blob.contentLanguage } : {}),
    ...(blob.cacheControl !== undefined ? { cacheControl: blob.cacheControl } : {}),
  });
}

/**
 * The blobs that did not fit, as a `BlobList` the customer can give a new export job
 * (`blobListBlobPath`): relative paths, a snapshot as its `Snapshot` attribute.
 */
export function incompleteBlobListXml(
  blobs: readonly Pick<ExportBlob, "container" | "name" | "snapshot">[],
): string {
  const lines = blobs.map(
    (b) =>
      `  <BlobPath${b.snapshot ? ` Snapshot="${escapeXml(b.snapshot)}"` : ""}>${escapeXml(`${b.container}/${b.name}`)}</BlobPath>\n`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<BlobList>\n${lines.join("")}</BlobList>\n`;
}
