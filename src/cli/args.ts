/**
 * Parsing of the CLI's structured option values (`key=value,key=value`, `k=v` tags,
 * booleans, counts). Every function throws commander's InvalidArgumentError so a bad value
 * is reported as a usage error (exit 2) naming the option.
 */
import { InvalidArgumentError } from "commander";
import { parseDriveSize } from "../domain/export/sizes.ts";
import { jobStateNamed, unknownJobStateMessage } from "../domain/job/state-names.ts";

/** A `key=value,…` group: its keys (canonical spelling) and which of them are integers. */
export interface KeyValueShape {
  keys: readonly string[];
  integers?: readonly string[];
}

export const DRIVE: KeyValueShape = {
  keys: ["driveId", "bitLockerKey", "manifestFile", "manifestHash", "driveHeaderHash"],
};
export const RETURN_ADDRESS: KeyValueShape = {
  keys: [
    "recipientName",
    "streetAddress1",
    "streetAddress2",
    "city",
    "stateOrProvince",
    "postalCode",
    "countryOrRegion",
    "phone",
    "email",
  ],
};
export const RETURN_SHIPPING: KeyValueShape = { keys: ["carrierName", "carrierAccountNumber"] };
export const DELIVERY_PACKAGE: KeyValueShape = {
  keys: ["carrierName", "trackingNumber", "driveCount", "shipDate"],
  integers: ["driveCount"],
};

/** Splits on commas; `\,` is a literal comma (addresses often contain one). */
function splitPairs(text: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\" && text[i + 1] === ",") {
      current += ",";
      i++;
    } else if (c === ",") {
      parts.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

/** `a=1,b=2` → {a: "1", b: "2"}; splits each pair at its first `=` (base64 values end in `=`). */
export function parseKeyValues(
  text: string,
  shape: KeyValueShape,
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  const pairs = splitPairs(text);
  if (pairs.length === 0) throw new InvalidArgumentError(`expected key=value pairs.`);
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new InvalidArgumentError(`'${pair}' is not key=value.`);
    const rawKey = pair.slice(0, eq).trim();
    const key = shape.keys.find((k) => k.toLowerCase() === rawKey.toLowerCase());
    if (!key) {
      throw new InvalidArgumentError(`unknown key '${rawKey}'; use ${shape.keys.join(", ")}.`);
    }
    if (key in out) throw new InvalidArgumentError(`'${key}' is given twice.`);
    const value = pair.slice(eq + 1).trim();
    out[key] = shape.integers?.includes(key) ? integer(value, key) : value;
  }
  return out;
}

function integer(value: string, name: string): number {
  if (!/^\d{1,9}$/.test(value)) {
    throw new InvalidArgumentError(`'${name}' must be a whole number; got '${value}'.`);
  }
  return Number(value);
}

/** An argParser for a `key=value,…` option given once. */
export function keyValues<T>(shape: KeyValueShape): (text: string) => T {
  return (text) => parseKeyValues(text, shape) as T;
}

/** An argParser for a repeatable `key=value,…` option: one object per occurrence. */
export function repeatedKeyValues<T>(shape: KeyValueShape): (text: string, previous?: T[]) => T[] {
  return (text, previous = []) => [...previous, parseKeyValues(text, shape) as T];
}

/** An argParser for a repeatable plain value. */
export function repeated(text: string, previous: string[] = []): string[] {
  return [...previous, text];
}

/**
 * Tags, given as repeated or space-separated `key=value` words. An empty word (`--tags ""`)
 * contributes nothing, so `--tags ""` sends an empty tag set (which clears tags on update).
 */
export function tags(text: string, previous: Record<string, string> = {}): Record<string, string> {
  if (text.trim() === "") return previous;
  const eq = text.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`'${text}' is not key=value.`);
  const key = text.slice(0, eq);
  if (key in previous) throw new InvalidArgumentError(`tag '${key}' is given twice.`);
  return { ...previous, [key]: text.slice(eq + 1) };
}

export function boolean(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === "true") return true;
  if (t === "false") return false;
  throw new InvalidArgumentError(`use true or false; got '${text}'.`);
}

export function positiveInt(text: string): number {
  if (!/^\d{1,9}$/.test(text.trim()) || Number(text) < 1) {
    throw new InvalidArgumentError(`must be a whole number of at least 1; got '${text}'.`);
  }
  return Number(text);
}

/** An argParser for a repeatable comma-separated list (`--drives a,b --drives c`). */
export function commaList(text: string, previous: string[] = []): string[] {
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (items.length === 0) throw new InvalidArgumentError(`expected a comma-separated list.`);
  return [...previous, ...items];
}

/** A whole number of bytes (0 or more, up to 2^53 - 1). */
export function byteCount(text: string): number {
  const n = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`must be a whole number of bytes (0 or more); got '${text}'.`);
  }
  return n;
}

/** A job state in any case, as the API spells it (`shipping` → `Shipping`). */
export function jobState(text: string): string {
  const state = jobStateNamed(text);
  if (state === undefined) throw new InvalidArgumentError(unknownJobStateMessage(text));
  return state;
}

/** A drive size: bytes, or decimal units like `500GB` / `2TB` (1 GB = 10^9 bytes). */
export function driveSize(text: string): number {
  const n = parseDriveSize(text);
  if (n === undefined) {
    throw new InvalidArgumentError(
      `must be a size like 500GB, 2TB or a number of bytes (1 GB = 10^9 bytes); got '${text}'.`,
    );
  }
  return n;
}
