/**
 * Durations as ISO-8601 (`P14D`, `PT12H`, `P1DT2H30M`) or the short forms `91d`, `12h`,
 * `30m`, `45s`, `500ms` (used by `clock advance` and the timer settings).
 */
const ISO =
  /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;
const SHORT = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/i;
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  const short = SHORT.exec(s);
  if (short) return Number(short[1]) * UNIT_MS[short[2]!.toLowerCase()]!;
  const iso = ISO.exec(s);
  if (!iso || s.toUpperCase() === "P" || s.toUpperCase().endsWith("T")) return undefined;
  const [, w, d, h, m, sec] = iso;
  const n = (v: string | undefined) => (v ? Number(v) : 0);
  return (
    n(w) * UNIT_MS.w! +
    n(d) * UNIT_MS.d! +
    n(h) * UNIT_MS.h! +
    n(m) * UNIT_MS.m! +
    n(sec) * UNIT_MS.s!
  );
}
