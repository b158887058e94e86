/**
 * Blob paths as NTFS file paths (SPEC §4.5, reference/domain.md §3.9, §4.3): a blob
 * `container/dir/name` becomes the file `container\dir\name` on the drive, and a name NTFS
 * cannot hold gets a mapped path that the manifest's `FilePath` records:
 *
 * - the characters `< > : " | ? * \` and control characters (U+0000–U+001F, U+007F) become
 *   `%XX`
 *   (their hex code);
 * - trailing dots and spaces of a segment become `%2E` / `%20`;
 * - reserved device names (`CON`, `PRN`, `AUX`, `NUL`, `COM1`–`COM9`, `LPT1`–`LPT9`, also
 *   with an extension, as `nul.txt`) get `_` after the device name (`CON_`, `nul_.txt`);
 * - empty segments (`a//b`, a name ending in `/`) become `%2F`, and `.` / `..` become
 *   `%2E` / `%2E%2E`, so nothing climbs out of its folder;
 * - a segment longer than NTFS's 255 UTF-16 units is cut and given a hash of the whole;
 * - a snapshot is written beside its blob as `name (snapshot <time>).ext`.
 *
 * NTFS compares names without case, so two blobs whose paths differ only in case (or whose
 * mapped paths meet) cannot share a file: DrivePaths gives the later one `name (2).ext`,
 * the import rename rule (reference/domain.md §3.10). A file's `.metadata` and
 * `.properties` files are reserved with it.
 */
import { createHash } from "node:crypto";

// eslint-disable-next-line no-control-regex -- control characters are what NTFS refuses
const FORBIDDEN = /[<>:"|?*\\\u0000-\u001f\u007f]/g;
const RESERVED = /^(con|prn|aux|nul|com[1-9¹²³]|lpt[1-9¹²³])(\..*)?$/i;
const MAX_SEGMENT = 255;

const hex = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;

/** One path segment as NTFS can hold it (the same segment always maps the same way). */
export function ntfsSegment(segment: string): string {
  if (segment === "") return "%2F";
  if (segment === ".") return "%2E";
  if (segment === "..") return "%2E%2E";
  let s = segment.replace(FORBIDDEN, hex);
  const trailing = /[. ]+$/.exec(s);
  if (trailing) s = s.slice(0, trailing.index) + [...trailing[0]].map(hex).join("");
  const reserved = RESERVED.exec(s);
  if (reserved) s = `${reserved[1]}_${reserved[2] ?? ""}`;
  if (s.length > MAX_SEGMENT) {
    const digest = createHash("sha256").update(segment).digest("hex").slice(0, 16);
    const dot = s.lastIndexOf(".");
    const ext = dot > 0 && s.length - dot <= 16 ? s.slice(dot) : "";
    s = `${s.slice(0, MAX_SEGMENT - 17 - ext.length)}~${digest}${ext}`;
  }
  return s;
}

/** Inserts `suffix` before the last extension of the file name (`a.txt` → `a<suffix>.txt`). */
function beforeExtension(name: string, suffix: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? `${name.slice(0, dot)}${suffix}${name.slice(dot)}` : `${name}${suffix}`;
}

/**
 * The path segments of a blob's file (container first), before collisions are resolved.
 * A snapshot's time is in its file name; `:` in it becomes `-`.
 */
export function ntfsSegments(container: string, name: string, snapshot?: string): string[] {
  const parts = name.split("/").map(ntfsSegment);
  if (snapshot) {
    const last = parts.length - 1;
    parts[last] = ntfsSegment(
      beforeExtension(parts[last]!, ` (snapshot ${snapshot.replace(/:/g, "-")})`),
    );
  }
  return [ntfsSegment(container), ...parts];
}

/** A drive-relative path as the manifest writes it: `\` separators, leading `\`. */
export function manifestFilePath(segments: readonly string[]): string {
  return `\\${segments.join("\\")}`;
}

/** Suffixes written beside each exported file. */
export const SIDE_FILES = [".metadata", ".properties"] as const;

/**
 * The file paths of one drive: each blob gets a path no other file of the drive has
 * (compared as NTFS compares, without case), its `.metadata` and `.properties` included.
 */
export class DrivePaths {
  private readonly used = new Set<string>();

  constructor(reserved: readonly string[] = []) {
    for (const r of reserved) this.used.add(r.toLowerCase());
  }

  private free(path: string): boolean {
    return [path, ...SIDE_FILES.map((s) => path + s)].every((p) => !this.used.has(p.toLowerCase()));
  }

  /** Records a file (and its side files and folders); a folder may not take a file's name, nor the reverse. */
  claim(segments: readonly string[]): void {
    for (let i = 1; i < segments.length; i++) {
      this.used.add(`dir:${segments.slice(0, i).join("/")}`.toLowerCase());
    }
    const path = segments.join("/");
    for (const p of [path, ...SIDE_FILES.map((s) => path + s)]) this.used.add(p.toLowerCase());
  }

  /** The file (or one of its side files) exists, or a folder has its name. */
  private clashes(segments: readonly string[]): boolean {
    const path = segments.join("/");
    return !this.free(path) || this.used.has(`dir:${path}`.toLowerCase());
  }

  /** The blob's file path segments on this drive (container first), claimed. */
  assign(container: string, name: string, snapshot?: string): string[] {
    const segments = this.propose(container, name, snapshot);
    this.claim(segments);
    return segments;
  }

  /** The path assign() would give the blob now, without claiming it. */
  propose(container: string, name: string, snapshot?: string): string[] {
    let segments = ntfsSegments(container, name, snapshot);
    // A folder on the way that is a file of the drive already: the folder gets ` (n)`.
    for (let i = 1; i < segments.length; i++) {
      if (!this.used.has(segments.slice(0, i).join("/").toLowerCase())) continue;
      const folder = segments[i - 1]!;
      let renamed = folder;
      for (
        let n = 2;
        this.used.has([...segments.slice(0, i - 1), renamed].join("/").toLowerCase());
        n++
      ) {
        renamed = ntfsSegment(`${folder} (${n})`);
      }
      segments = [...segments.slice(0, i - 1), renamed, ...segments.slice(i)];
    }
    const base = segments;
    const last = base[base.length - 1]!;
    for (let n = 2; this.clashes(segments); n++) {
      segments = [...base.slice(0, -1), ntfsSegment(beforeExtension(last, ` (${n})`))];
    }
    return segments;
  }
}
