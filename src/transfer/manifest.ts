/**
 * Reading and writing the drive manifest (reference/domain.md §3.6; the shape is in
 * manifest-types.ts), plus the naming rules the manifest's paths follow.
 *
 * The reader is strict about structure (what the import cannot work without) and leaves
 * per-blob naming problems to the import, which reports them blob by blob
 * (`FileNameInvalid`, SPEC §4.4) instead of failing the whole drive.
 */
import { isAbsolute, join, resolve, sep } from "node:path";
import {
  RANGE_SIZE,
  type DriveManifest,
  type HashedPath,
  type ImportDisposition,
  type ManifestBlob,
  type ManifestBlobList,
  type ManifestRange,
} from "./manifest-types.ts";
import { md5Hex as md5OfBytes } from "./md5.ts";
import { escapeXml, readXml, type XmlElement } from "./xml-files.ts";

/** The manifest version drivebay writes. */
export const MANIFEST_VERSION = "2014-11-01";
export const CLIENT_CREATOR = "drivebay";
/** Page ranges are aligned to 512-byte pages. */
export const PAGE_SIZE = 512;
/** The Blob service's limit on blocks per blob. */
export const MAX_BLOCKS = 50_000;
export const DISPOSITIONS: readonly ImportDisposition[] = ["rename", "no-overwrite", "overwrite"];

/** A manifest the import cannot use: the drive fails with `ManifestFormatInvalid`. */
export class ManifestError extends Error {
  readonly status = "ManifestFormatInvalid";
}

/** Upper-case hex MD5 of the manifest file's bytes: the job's `manifestHash`. */
export function manifestHash(bytes: Buffer): string {
  return md5OfBytes(bytes);
}

// ---------------------------------------------------------------------------------------
// Reading

function fail(message: string): never {
  throw new ManifestError(message);
}

function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

function optionalChild(el: XmlElement, name: string, where: string): XmlElement | undefined {
  const found = childrenNamed(el, name);
  if (found.length > 1) fail(`${where}: <${name}> appears ${found.length} times; at most once`);
  return found[0];
}

function requiredText(el: XmlElement, name: string, where: string): string {
  const child = optionalChild(el, name, where);
  if (!child) fail(`${where}: <${name}> is missing`);
  if (child.text === "") fail(`${where}: <${name}> is empty`);
  return child.text;
}

function integer(text: string | undefined, what: string, where: string): number {
  if (text === undefined) fail(`${where}: ${what} is missing`);
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    fail(`${where}: ${what} '${text}' is not a whole number of bytes`);
  }
  return n;
}

function md5Hex(text: string | undefined, where: string): string {
  if (text === undefined || text === "") fail(`${where}: the Hash attribute is missing`);
  if (!/^[0-9A-Fa-f]{32}$/.test(text)) {
    fail(`${where}: Hash '${text}' is not an MD5 in hex (32 characters 0-9, A-F)`);
  }
  return text.toUpperCase();
}

function hashedPath(el: XmlElement | undefined, where: string): HashedPath | undefined {
  if (!el) return undefined;
  const at = `${where}: <${el.name}>`;
  if (el.text === "") fail(`${at} is empty`);
  return { path: el.text, hash: md5Hex(el.attributes.Hash, at) };
}

function disposition(el: XmlElement | undefined, where: string): ImportDisposition {
  if (!el) return "rename";
  const value = el.text.toLowerCase() as ImportDisposition;
  if (!DISPOSITIONS.includes(value)) {
    fail(`${where}: ImportDisposition '${el.text}' is not one of ${DISPOSITIONS.join(", ")}`);
  }
  return value;
}

function isBase64(text: string): boolean {
  return /^[A-Za-z0-9+/]*={0,2}$/.test(text) && text.length % 4 === 0;
}

function blockList(el: XmlElement, length: number, where: string): ManifestRange[] {
  const blocks = childrenNamed(el, "Block");
  if (blocks.length > MAX_BLOCKS) {
    fail(`${where}: ${blocks.length} blocks; a blob has at most ${MAX_BLOCKS}`);
  }
  const ranges: ManifestRange[] = [];
  let expected = 0;
  let idLength: number | undefined;
  for (const [i, b] of blocks.entries()) {
    const offset = integer(b.attributes.Offset, "Offset", `${where}: block ${i + 1}`);
    const at = `${where}: block at offset ${offset}`;
    const size = integer(b.attributes.Length, "Length", at);
    if (offset !== expected) {
      fail(
        offset < expected
          ? `${at} overlaps the previous block or is out of order (expected offset ${expected})`
          : `${at} leaves a gap after offset ${expected}; blocks must be sorted and contiguous`,
      );
    }
    if (size === 0) fail(`${at} has length 0`);
    if (size > RANGE_SIZE) {
      fail(`${at} has length ${size}; a block is at most ${RANGE_SIZE} bytes (4 MiB)`);
    }
    const range: ManifestRange = { offset, length: size, hash: md5Hex(b.attributes.Hash, at) };
    const id = b.attributes.Id;
    if (id !== undefined) {
      const bytes = Buffer.from(id, "base64").length;
      if (id === "" || !isBase64(id) || bytes > 64) {
        fail(`${at}: Id '${id}' is not a Base64 block id of at most 64 bytes`);
      }
      if (idLength !== undefined && bytes !== idLength) {
        fail(`${at}: Id '${id}' has a different length from the other block ids`);
      }
      idLength = bytes;
      range.id = id;
    }
    if ((id === undefined) !== (ranges[0]?.id === undefined) && ranges.length > 0) {
      fail(`${at}: either every block has an Id or none has`);
    }
    ranges.push(range);
    expected = offset + size;
  }
  if (expected !== length) {
    fail(
      `${where}: the blocks cover ${expected} bytes but Length is ${length}; blocks must cover the whole file`,
    );
  }
  return ranges;
}

function pageRangeList(el: XmlElement, length: number, where: string): ManifestRange[] {
  if (length % PAGE_SIZE !== 0) {
    fail(`${where}: a page blob's Length must be a multiple of ${PAGE_SIZE}; it is ${length}`);
  }
  const ranges: ManifestRange[] = [];
  let end = 0;
  for (const [i, r] of childrenNamed(el, "PageRange").entries()) {
    const offset = integer(r.attributes.Offset, "Offset", `${where}: page range ${i + 1}`);
    const at = `${where}: page range at offset ${offset}`;
    const size = integer(r.attributes.Length, "Length", at);
    if (offset % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0) {
      fail(`${at} (length ${size}) is not aligned to ${PAGE_SIZE}-byte pages`);
    }
    if (size === 0) fail(`${at} has length 0`);
    if (size > RANGE_SIZE) {
      fail(`${at} has length ${size}; a page range is at most ${RANGE_SIZE} bytes (4 MiB)`);
    }
    if (offset < end) {
      fail(`${at} overlaps the previous range or is out of order (it ends at ${end})`);
    }
    if (offset + size > length) fail(`${at} ends at ${offset + size}, past Length ${length}`);
    ranges.push({ offset, length: size, hash: md5Hex(r.attributes.Hash, at) });
    end = offset + size;
  }
  return ranges;
}

function blob(el: XmlElement, n: number): ManifestBlob {
  const path = optionalChild(el, "BlobPath", `Blob ${n}`)?.text;
  const where = path ? `Blob ${n} (${path})` : `Blob ${n}`;
  const blobPath = requiredText(el, "BlobPath", where);
  const filePath = requiredText(el, "FilePath", where);
  const length = integer(optionalChild(el, "Length", where)?.text, "<Length>", where);
  const blocks = optionalChild(el, "BlockList", where);
  const pages = optionalChild(el, "PageRangeList", where);
  if (blocks && pages) fail(`${where}: has both a BlockList and a PageRangeList`);
  if (!blocks && !pages) fail(`${where}: has neither a BlockList nor a PageRangeList`);
  const out: ManifestBlob = {
    blobPath,
    filePath,
    length,
    disposition: disposition(optionalChild(el, "ImportDisposition", where), where),
    blobType: blocks ? "BlockBlob" : "PageBlob",
    ranges: blocks ? blockList(blocks, length, where) : pageRangeList(pages!, length, where),
  };
  const metadata = hashedPath(optionalChild(el, "MetadataPath", where), where);
  const properties = hashedPath(optionalChild(el, "PropertiesPath", where), where);
  if (metadata) out.metadata = metadata;
  if (properties) out.properties = properties;
  return out;
}

/**
 * Parses and checks a drive manifest. Throws a ManifestError naming the element at fault
 * (e.g. "Blob 3 (photos/a.jpg): block at offset 4194304 …"; blobs are numbered from 1
 * across the whole manifest). FilePath values are returned as written (`\` or `/`).
 */
export function parseManifest(xml: string): DriveManifest {
  let root: XmlElement;
  try {
    root = readXml(xml);
  } catch (e) {
    fail(`the manifest is ${(e as Error).message}`);
  }
  if (root.name !== "DriveManifest") {
    fail(`the root element is <${root.name}>; expected <DriveManifest>`);
  }
  const version = root.attributes.Version;
  if (!version) fail("<DriveManifest>: the Version attribute is missing");
  const drives = childrenNamed(root, "Drive");
  if (drives.length !== 1) {
    fail(`<DriveManifest> must hold exactly one <Drive>; it holds ${drives.length}`);
  }
  const drive = drives[0]!;
  const driveId = requiredText(drive, "DriveId", "<Drive>");
  let n = 0;
  const blobLists = childrenNamed(drive, "BlobList").map((list, i): ManifestBlobList => {
    const where = `BlobList ${i + 1}${list.attributes.Id ? ` (${list.attributes.Id})` : ""}`;
    const out: ManifestBlobList = {
      blobs: childrenNamed(list, "Blob").map((b) => blob(b, ++n)),
    };
    if (list.attributes.Id !== undefined) out.id = list.attributes.Id;
    const metadata = hashedPath(optionalChild(list, "MetadataPath", where), where);
    const properties = hashedPath(optionalChild(list, "PropertiesPath", where), where);
    if (metadata) out.metadata = metadata;
    if (properties) out.properties = properties;
    return out;
  });
  return { version, driveId, blobLists };
}

// ---------------------------------------------------------------------------------------
// Writing

function hashedPathXml(name: string, p: HashedPath | undefined, indent: string): string {
  return p ? `${indent}<${name} Hash="${p.hash}">${escapeXml(p.path)}</${name}>\n` : "";
}

function rangeXml(r: ManifestRange, element: "Block" | "PageRange"): string {
  const id = element === "Block" && r.id !== undefined ? ` Id="${escapeXml(r.id)}"` : "";
  return `          <${element} Offset="${r.offset}" Length="${r.length}"${id} Hash="${r.hash.toUpperCase()}"/>\n`;
}

function blobXml(b: ManifestBlob): string {
  const [list, element] =
    b.blobType === "PageBlob"
      ? (["PageRangeList", "PageRange"] as const)
      : (["BlockList", "Block"] as const);
  const ranges =
    b.ranges.length === 0
      ? `        <${list}/>\n`
      : `        <${list}>\n${b.ranges.map((r) => rangeXml(r, element)).join("")}        </${list}>\n`;
  return (
    "      <Blob>\n" +
    `        <BlobPath>${escapeXml(b.blobPath)}</BlobPath>\n` +
    `        <FilePath>${escapeXml(b.filePath)}</FilePath>\n` +
    `        <Length>${b.length}</Length>\n` +
    `        <ImportDisposition>${b.disposition}</ImportDisposition>\n` +
    ranges +
    hashedPathXml("MetadataPath", b.metadata, "        ") +
    hashedPathXml("PropertiesPath", b.properties, "        ") +
    "      </Blob>\n"
  );
}

/**
 * The manifest as drivebay writes it: UTF-8 with an XML declaration, two-space indentation,
 * `Version="2014-11-01"` (the schema written, whatever `m.version` was read),
 * `ClientCreator` drivebay, upper-case hashes. The same manifest always gives the same bytes.
 */
export function serializeManifest(m: DriveManifest): string {
  const lists = m.blobLists.map((l) => {
    const id = l.id !== undefined ? ` Id="${escapeXml(l.id)}"` : "";
    return (
      `    <BlobList${id}>\n` +
      hashedPathXml("MetadataPath", l.metadata, "      ") +
      hashedPathXml("PropertiesPath", l.properties, "      ") +
      l.blobs.map(blobXml).join("") +
      "    </BlobList>\n"
    );
  });
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<DriveManifest Version="${MANIFEST_VERSION}">\n` +
    "  <Drive>\n" +
    `    <DriveId>${escapeXml(m.driveId)}</DriveId>\n` +
    `    <ClientCreator>${CLIENT_CREATOR}</ClientCreator>\n` +
    lists.join("") +
    "  </Drive>\n" +
    "</DriveManifest>\n"
  );
}

// ---------------------------------------------------------------------------------------
// Names and paths

/** A container name: 3–63 lower-case letters, digits and single hyphens, starting and ending alphanumeric. */
export const CONTAINER_NAME = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;
export const ROOT_CONTAINER = "$root";
export const MAX_BLOB_NAME = 1024;
const MAX_SEGMENTS = 254;

/**
 * Why `blobPath` (`container/name`) cannot be imported, or undefined when it can. The
 * Blob service's rules plus drivebay's: no empty, `.` or `..` segments (a name must not
 * climb out of anything it is mapped onto), no trailing dot, no control characters.
 */
export function blobPathProblem(blobPath: string): string | undefined {
  const slash = blobPath.indexOf("/");
  const container = slash < 0 ? blobPath : blobPath.slice(0, slash);
  const name = slash < 0 ? "" : blobPath.slice(slash + 1);
  if (container !== ROOT_CONTAINER && !CONTAINER_NAME.test(container)) {
    return `'${container}' is not a valid container name (3-63 lower-case letters, digits and hyphens, no double hyphen, or $root)`;
  }
  if (name === "") return `'${blobPath}' has no blob name after the container`;
  if (name.length > MAX_BLOB_NAME) {
    return `the blob name has ${name.length} characters; at most ${MAX_BLOB_NAME} are allowed`;
  }
  if (container === ROOT_CONTAINER && name.includes("/")) {
    return `'${name}': blobs in the root container ($root) cannot contain '/'`;
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return `'${name}' contains control characters`;
  const segments = name.split("/");
  if (segments.length > MAX_SEGMENTS) {
    return `'${name}' has ${segments.length} path segments; at most ${MAX_SEGMENTS} are allowed`;
  }
  if (segments.some((s) => s === ""))
    return `'${name}' has an empty path segment ('//' or a trailing '/')`;
  if (segments.some((s) => s === "." || s === "..")) {
    return `'${name}' has a '.' or '..' path segment`;
  }
  if (name.endsWith(".")) return `'${name}' ends with '.'`;
  return undefined;
}

/** A manifest FilePath's segments (`\a\b.txt` or `/a/b.txt` → ["a", "b.txt"]). */
export function filePathSegments(filePath: string): string[] {
  return filePath.split(/[\\/]/).filter((s) => s !== "");
}

/**
 * Where a manifest FilePath (or manifestFile, relative to the drive root, `\` or `/`)
 * lives under `driveDir`, or undefined when it would leave the drive (`..`, a drive letter,
 * a UNC or otherwise absolute path) or names nothing.
 */
export function resolveDriveFile(driveDir: string, filePath: string): string | undefined {
  if (/^[A-Za-z]:/.test(filePath) || /^[\\/]{2}/.test(filePath)) return undefined;
  const segments = filePathSegments(filePath);
  if (segments.length === 0 || segments.some((s) => s === "." || s === "..")) return undefined;
  const root = resolve(driveDir);
  const full = join(root, ...segments);
  if (isAbsolute(segments[0]!) || !full.startsWith(root + sep)) return undefined;
  return full;
}

/** A path on the drive as the manifest writes it: `\a\b.txt`. */
export function toManifestPath(segments: readonly string[]): string {
  return `\\${segments.join("\\")}`;
}
