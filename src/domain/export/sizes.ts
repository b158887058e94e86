/**
 * Drive sizes as the WAImportExport tool takes them (`/DriveSize:500GB`): decimal units,
 * 1 KB = 10^3 bytes, 1 GB = 10^9 bytes, 1 TB = 10^12 bytes (reference/domain.md §4.2);
 * a plain number is bytes. Binary units (KiB, MiB, GiB, TiB) are accepted as such.
 */
const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)?$/i;
const UNIT: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Bytes of a size like `500GB`, `2TB`, `1.5TB`, `4096`; undefined when it is not one. */
export function parseDriveSize(text: string): number | undefined {
  const m = SIZE.exec(text.trim());
  if (!m) return undefined;
  const bytes = Math.floor(Number(m[1]) * UNIT[(m[2] ?? "b").toLowerCase()]!);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/** A byte count in the tool's decimal units, e.g. `1.23 GB`. */
export function formatDecimalSize(bytes: number): string {
  const units: [number, string][] = [
    [1e12, "TB"],
    [1e9, "GB"],
    [1e6, "MB"],
    [1e3, "KB"],
  ];
  for (const [size, unit] of units) {
    if (bytes >= size) return `${(bytes / size).toFixed(2)} ${unit}`;
  }
  return `${bytes} B`;
}
