/**
 * The metadata and properties files of an import (reference/domain.md §3.7), plus the small
 * XML toolkit the drive manifest shares with them: a strict read (well-formed, one root,
 * entities decoded once) and escaping for the writers.
 *
 * ```xml
 * <Metadata><Owner>Jane</Owner><Project>Atlas</Project></Metadata>
 * <Properties><Content-Type>image/jpeg</Content-Type><Cache-Control>no-cache</Cache-Control></Properties>
 * ```
 * A file that cannot be read this way is `XmlReadFailed` in the drive log's vocabulary
 * (reference/domain.md §5.4).
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { BlobPropertiesFile } from "./manifest-types.ts";

/** A parsed element: its text and attributes, and its child elements by name, in order. */
export interface XmlElement {
  name: string;
  text: string;
  attributes: Record<string, string>;
  children: XmlElement[];
}

const ATTRIBUTE_PREFIX = "@_";
const TEXT = "#text";
const CDATA = "#cdata";

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: ATTRIBUTE_PREFIX,
  textNodeName: TEXT,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  // Entities are decoded below, once: the parser leaves numeric references alone and would
  // decode "&amp;#233;" twice if asked to do both.
  processEntities: false,
  cdataPropName: CDATA,
  preserveOrder: true,
});

const ENTITY = /&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(lt|gt|amp|quot|apos));/g;
const NAMED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(ENTITY, (whole, hex: string, dec: string, name: string) => {
    if (name) return NAMED[name]!;
    const code = hex !== undefined ? parseInt(hex, 16) : Number(dec);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

// eslint-disable-next-line no-control-regex -- control characters are escaped too
const NEEDS_ESCAPE = /[&<>"'\u0000-\u001f\u007f]|^ | $/;

/** Text for element content or an attribute value. */
export function escapeXml(text: string): string {
  // Most names and values need nothing: one test instead of six replacements (side files
  // and manifests escape several strings per blob).
  if (!NEEDS_ESCAPE.test(text)) return text;
  return (
    text
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&apos;")
      // Control characters as references: a parser would drop or normalize them (CR becomes
      // LF, a trailing tab is trimmed), and a blob name may hold any of them.
      // eslint-disable-next-line no-control-regex -- control characters are the point
      .replace(/[\u0000-\u001f\u007f]/g, (c) => `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`)
      // Leading and trailing spaces too: the reader trims the text around an element's
      // content (a blob named "report " would be read back as "report").
      .replace(/^ +| +$/g, (spaces) => "&#x20;".repeat(spaces.length))
  );
}

type Ordered = Record<string, unknown>;

function toElement(node: Ordered): XmlElement | undefined {
  const name = Object.keys(node).find((k) => k !== ":@");
  if (name === undefined || name === TEXT || name === CDATA || /^[?!]/.test(name)) {
    return undefined;
  }
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries((node[":@"] ?? {}) as Record<string, unknown>)) {
    attributes[k.slice(ATTRIBUTE_PREFIX.length)] = decodeEntities(String(v));
  }
  const children: XmlElement[] = [];
  let text = "";
  for (const child of (node[name] ?? []) as Ordered[]) {
    if (TEXT in child) text += decodeEntities(String(child[TEXT]));
    else if (CDATA in child) {
      for (const part of child[CDATA] as Ordered[]) text += String(part[TEXT] ?? "");
    } else {
      const el = toElement(child);
      if (el) children.push(el);
    }
  }
  return { name, text, attributes, children };
}

/**
 * Parses a whole XML document into its root element. Throws an Error whose message says what
 * is wrong (not well-formed, with line and column; several roots; no root).
 *
 * Documents written as drive tools write them (see `readPlainXml`) take a fast path;
 * anything else, and every error, goes through fast-xml-parser's validator and parser. A
 * drive's manifest is read before its first blob is copied, so its parse is time the blob
 * endpoint waits: fast-xml-parser took 60–300 ms for a 1,000-blob manifest.
 */
export function readXml(xml: string): XmlElement {
  const source = xml.replace(/^\uFEFF/, "");
  return readPlainXml(source) ?? readAnyXml(source);
}

/** readXml through fast-xml-parser only (every document; the errors' wording). */
export function readAnyXml(source: string): XmlElement {
  const valid = XMLValidator.validate(source);
  if (valid !== true) {
    throw new Error(
      `not well-formed XML (line ${valid.err.line}, column ${valid.err.col}): ${valid.err.msg}`,
    );
  }
  const roots = (parser.parse(source) as Ordered[])
    .map(toElement)
    .filter((e): e is XmlElement => e !== undefined);
  if (roots.length === 0) throw new Error("no root element");
  if (roots.length > 1) {
    throw new Error(`more than one root element (<${roots.map((r) => r.name).join(">, <")}>)`);
  }
  return roots[0]!;
}

/** `<?xml version="1.0" encoding="utf-8" standalone="yes"?>` and the like, at the very start. */
const DECLARATION =
  /^<\?xml[ \t\n]+version=(?:"1\.[0-9]"|'1\.[0-9]')(?:[ \t\n]+(?:encoding|standalone)=(?:"[A-Za-z0-9._-]*"|'[A-Za-z0-9._-]*'))*[ \t\n]*\?>/;
/** Control characters other than tab and line feed (after CR LF became LF). */
// eslint-disable-next-line no-control-regex -- control characters are the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;
/** An attribute value as the fast path takes it: no markup, quotes or control characters. */
// eslint-disable-next-line no-control-regex -- control characters are the point
const PLAIN_VALUE = /^[^<>\u0000-\u001f]*$/;
const ENTITY_REF = /&(?:#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);/g;

function isNameStart(c: number): boolean {
  // A–Z a–z _
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function isNameChar(c: number): boolean {
  // A–Z a–z 0–9 _ . -
  return isNameStart(c) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 45;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10;
}

/** Text or an attribute value with its references decoded; undefined for any other `&`. */
function plainText(raw: string): string | undefined {
  if (!raw.includes("&")) return raw;
  if (raw.replace(ENTITY_REF, "").includes("&")) return undefined;
  return decodeEntities(raw);
}

/**
 * The fast path of readXml: one pass over a document made only of an optional XML
 * declaration, elements with ASCII names (letters, digits, `_ . -`, starting with a
 * letter or `_`), attributes `name="value"` / `name='value'`, text, and the five named and numeric
 * character references. Returns undefined for anything else (comments, CDATA, DOCTYPE,
 * processing instructions, other names, any doubt or error), which readAnyXml then reads.
 * Where it returns an element, readAnyXml returns the same one (the unit tests compare the
 * two): text trimmed as fast-xml-parser trims it, CR LF read as LF, references decoded once.
 */
export function readPlainXml(source: string): XmlElement | undefined {
  const s = source.includes("\r") ? source.replace(/\r\n?/g, "\n") : source;
  if (CONTROL.test(s)) return undefined;
  const n = s.length;
  let i = 0;
  if (s.startsWith("<?")) {
    const m = DECLARATION.exec(s);
    if (!m) return undefined;
    i = m[0].length;
  }
  const open: XmlElement[] = [];
  let root: XmlElement | undefined;
  const name = (): string | undefined => {
    const start = i;
    if (!isNameStart(s.charCodeAt(i))) return undefined;
    i++;
    while (i < n && isNameChar(s.charCodeAt(i))) i++;
    const found = s.slice(start, i);
    // Names fast-xml-parser guards or renames (prototype pollution) take the slow path.
    return found in Object.prototype || found === "prototype" ? undefined : found;
  };
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c !== 60 /* < */) {
      const next = s.indexOf("<", i);
      if (next === -1) {
        // After the root: only XML white space.
        if (open.length > 0) return undefined;
        for (; i < n; i++) if (!isSpace(s.charCodeAt(i))) return undefined;
        break;
      }
      const raw = s.slice(i, next);
      i = next;
      if (open.length === 0) {
        // Before or after the root: only XML white space.
        for (let k = 0; k < raw.length; k++) if (!isSpace(raw.charCodeAt(k))) return undefined;
        continue;
      }
      const trimmed = raw.trim();
      if (trimmed !== "") {
        const text = plainText(trimmed);
        if (text === undefined) return undefined;
        open[open.length - 1]!.text += text;
      }
      continue;
    }
    // A tag.
    i++;
    const d = s.charCodeAt(i);
    if (d === 47 /* / */) {
      i++;
      const closing = name();
      if (closing === undefined) return undefined;
      while (i < n && isSpace(s.charCodeAt(i))) i++;
      if (s.charCodeAt(i) !== 62 /* > */) return undefined;
      i++;
      const el = open.pop();
      if (!el || el.name !== closing) return undefined;
      if (open.length === 0) root = el;
      continue;
    }
    if (root !== undefined) return undefined; // a second root
    const tag = name();
    if (tag === undefined) return undefined;
    const el: XmlElement = { name: tag, text: "", attributes: {}, children: [] };
    for (;;) {
      const before = i;
      while (i < n && isSpace(s.charCodeAt(i))) i++;
      const e = s.charCodeAt(i);
      if (e === 62 /* > */) {
        i++;
        open[open.length - 1]?.children.push(el);
        open.push(el);
        break;
      }
      if (e === 47 /* / */) {
        if (s.charCodeAt(i + 1) !== 62) return undefined;
        i += 2;
        const parent = open[open.length - 1];
        if (parent) parent.children.push(el);
        else root = el;
        break;
      }
      // An attribute, after white space.
      if (i === before) return undefined;
      const attr = name();
      if (attr === undefined || s.charCodeAt(i) !== 61 /* = */) return undefined;
      const quote = s.charCodeAt(i + 1);
      if (quote !== 34 && quote !== 39) return undefined;
      const end = s.indexOf(quote === 34 ? '"' : "'", i + 2);
      if (end === -1) return undefined;
      const raw = s.slice(i + 2, end);
      i = end + 1;
      if (!PLAIN_VALUE.test(raw) || Object.hasOwn(el.attributes, attr)) return undefined;
      const value = plainText(raw.trim());
      if (value === undefined) return undefined;
      el.attributes[attr] = value;
    }
  }
  return open.length === 0 ? root : undefined;
}

/** Thrown for a metadata or properties file that cannot be used. */
export class XmlFileError extends Error {
  readonly status = "XmlReadFailed";
}

/** Azure metadata names are C# identifiers (ASCII letters, digits, `_`; not starting with a digit). */
const METADATA_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Metadata values travel as HTTP header values: printable ASCII, spaces and tabs. */
const METADATA_VALUE = /^[\t\x20-\x7e]*$/;
/** The Blob service's limit on the total size of a blob's metadata names and values. */
export const METADATA_MAX_BYTES = 8 * 1024;

function readRoot(xml: string, root: string, what: string): XmlElement {
  let el: XmlElement;
  try {
    el = readXml(xml);
  } catch (e) {
    throw new XmlFileError(`${what}: ${(e as Error).message}`);
  }
  if (el.name !== root) {
    throw new XmlFileError(`${what}: the root element is <${el.name}>; expected <${root}>`);
  }
  return el;
}

/** A metadata file (root `Metadata`, one child element per name) → name → value. */
export function parseMetadataFile(xml: string): Record<string, string> {
  const root = readRoot(xml, "Metadata", "metadata file");
  const out: Record<string, string> = {};
  const seen = new Map<string, string>();
  let bytes = 0;
  for (const el of root.children) {
    bytes += checkMetadataEntry(el.name, el.text, seen, el.children.length > 0);
    out[el.name] = el.text;
  }
  checkMetadataBytes(bytes);
  return out;
}

/**
 * One name and value of a metadata file, checked as the reader checks them (`seen`: the
 * names so far, lower-cased → as written); returns the bytes they count.
 */
function checkMetadataEntry(
  name: string,
  value: string,
  seen: Map<string, string>,
  hasChildren = false,
): number {
  if (!METADATA_NAME.test(name)) {
    throw new XmlFileError(
      `metadata file: '${name}' is not a valid metadata name (letters, digits and '_', not starting with a digit)`,
    );
  }
  const earlier = seen.get(name.toLowerCase());
  if (earlier !== undefined) {
    throw new XmlFileError(
      `metadata file: the name '${name}' appears twice (names are case-insensitive; first as '${earlier}')`,
    );
  }
  if (hasChildren) {
    throw new XmlFileError(`metadata file: <${name}> must hold text, not elements`);
  }
  if (!METADATA_VALUE.test(value)) {
    throw new XmlFileError(
      `metadata file: the value of '${name}' has characters other than printable ASCII`,
    );
  }
  seen.set(name.toLowerCase(), name);
  return name.length + value.length;
}

function checkMetadataBytes(bytes: number): void {
  if (bytes > METADATA_MAX_BYTES) {
    throw new XmlFileError(
      `metadata file: names and values add up to ${bytes} bytes; the Blob service allows ${METADATA_MAX_BYTES}`,
    );
  }
}

/** The properties an import sets, by element name. */
const SETTABLE: Record<string, keyof BlobPropertiesFile> = {
  "content-type": "contentType",
  "content-md5": "contentMD5",
  "content-encoding": "contentEncoding",
  "content-language": "contentLanguage",
  "cache-control": "cacheControl",
};
/** Written on export, ignored on import (reference/domain.md §3.7). */
const EXPORT_ONLY = new Set(["last-modified", "etag", "content-length"]);

/** A properties file (root `Properties`) → the blob properties an import sets. */
export function parsePropertiesFile(xml: string): BlobPropertiesFile {
  const root = readRoot(xml, "Properties", "properties file");
  const out: BlobPropertiesFile = {};
  for (const el of root.children) {
    const key = el.name.toLowerCase();
    if (EXPORT_ONLY.has(key)) continue;
    const field = SETTABLE[key];
    if (!field) {
      throw new XmlFileError(
        `properties file: unknown property <${el.name}>; use Content-Type, Content-MD5, Content-Encoding, Content-Language or Cache-Control`,
      );
    }
    if (out[field] !== undefined) {
      throw new XmlFileError(`properties file: <${el.name}> appears twice`);
    }
    if (el.children.length > 0) {
      throw new XmlFileError(`properties file: <${el.name}> must hold text, not elements`);
    }
    if (!METADATA_VALUE.test(el.text)) {
      throw new XmlFileError(
        `properties file: <${el.name}> has characters other than printable ASCII`,
      );
    }
    if (field === "contentMD5" && !isBase64Md5(el.text)) {
      throw new XmlFileError(
        `properties file: Content-MD5 '${el.text}' is not a Base64 MD5 (24 characters, 16 bytes)`,
      );
    }
    out[field] = el.text;
  }
  return out;
}

function isBase64Md5(text: string): boolean {
  return /^[A-Za-z0-9+/]{22}==$/.test(text) && Buffer.from(text, "base64").length === 16;
}

/**
 * A metadata file for `metadata` (names must be valid; checked as the reader checks them,
 * on the names and values themselves: the file is not parsed back).
 */
export function writeMetadataFile(metadata: Record<string, string>): string {
  const seen = new Map<string, string>();
  let bytes = 0;
  let lines = "";
  for (const [name, value] of Object.entries(metadata)) {
    bytes += checkMetadataEntry(name, value, seen);
    lines += `  <${name}>${escapeXml(value)}</${name}>\n`;
  }
  checkMetadataBytes(bytes);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Metadata>\n${lines}</Metadata>\n`;
}

/** What an export writes besides the settable properties. */
export interface ExportedBlobProperties extends BlobPropertiesFile {
  lastModified?: string;
  etag?: string;
  contentLength?: number;
}

/** A properties file; `Last-Modified`, `Etag` and `Content-Length` only when given (export). */
export function writePropertiesFile(properties: ExportedBlobProperties): string {
  const fields: [string, string | number | undefined][] = [
    ["Last-Modified", properties.lastModified],
    ["Etag", properties.etag],
    ["Content-Length", properties.contentLength],
    ["Content-Type", properties.contentType],
    ["Content-MD5", properties.contentMD5],
    ["Content-Encoding", properties.contentEncoding],
    ["Content-Language", properties.contentLanguage],
    ["Cache-Control", properties.cacheControl],
  ];
  const lines = fields
    .filter(([, v]) => v !== undefined)
    .map(([name, v]) => `  <${name}>${escapeXml(String(v))}</${name}>\n`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Properties>\n${lines.join("")}</Properties>\n`;
}
