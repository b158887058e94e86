/** Sizes, rates and durations as a person reads them: `12.3 MiB`, `415 B/s`, `2 min 5 s`. */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function humanBytes(bytes: number): string {
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < UNITS.length - 1) {
    n /= 1024;
    u++;
  }
  // 1023.96 KiB must not print as "1024.0 KiB": round first, then pick the unit.
  if (u > 0 && Number(n.toFixed(1)) >= 1024 && u < UNITS.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(n)} B` : `${n.toFixed(1)} ${UNITS[u]}`;
}

/** Bytes per second over `ms`; undefined when nothing was moved or no time passed. */
export function humanRate(bytes: number, ms: number): string | undefined {
  if (bytes <= 0 || ms <= 0) return undefined;
  return `${humanBytes((bytes * 1000) / ms)}/s`;
}

/** `45 s`, `2 min 5 s`, `3 h 20 min`. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
