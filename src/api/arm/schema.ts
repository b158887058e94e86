/**
 * A small request-body checker that reports the first problem with the JSON path of the
 * offending property as the ARM error `target`. Read-only properties that clients echo
 * back (the Python SDK always sends `state` and `cancelRequested`) are dropped, unknown
 * ones are refused, and enum values are matched case-insensitively and canonicalised.
 */
import { DomainError } from "../../domain/errors.ts";

export type Schema =
  | { kind: "string"; enum?: readonly string[]; maxLength?: number }
  | { kind: "boolean" }
  | { kind: "integer"; min?: number; max?: number }
  | { kind: "array"; items: Schema; maxItems?: number }
  | { kind: "map"; values: Schema }
  | {
      kind: "object";
      props: Record<string, Schema>;
      required?: readonly string[];
      /** Accepted and ignored (read-only properties a client may echo). */
      ignored?: readonly string[];
    };

export const str = (opts: { enum?: readonly string[]; maxLength?: number } = {}): Schema => ({
  kind: "string",
  maxLength: 4096,
  ...opts,
});
export const bool = (): Schema => ({ kind: "boolean" });
export const int = (min?: number, max?: number): Schema => ({ kind: "integer", min, max });
export const arr = (items: Schema, maxItems = 1000): Schema => ({ kind: "array", items, maxItems });
export const map = (values: Schema): Schema => ({ kind: "map", values });
export const obj = (
  props: Record<string, Schema>,
  opts: { required?: readonly string[]; ignored?: readonly string[] } = {},
): Schema => ({ kind: "object", props, ...opts });

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function bad(target: string, message: string): DomainError {
  return new DomainError("InvalidRequestContent", message, target ? { target } : {});
}

function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/** Checks `value` against `schema`; returns a cleaned copy (ignored and null properties removed). */
export function check(schema: Schema, value: unknown, path: string): unknown {
  const where = path || "body";
  switch (schema.kind) {
    case "string": {
      if (typeof value !== "string")
        throw bad(path, `'${where}' must be a string, not ${typeName(value)}.`);
      if (schema.maxLength !== undefined && value.length > schema.maxLength) {
        throw bad(
          path,
          `'${where}' is ${value.length} characters long; at most ${schema.maxLength} are allowed.`,
        );
      }
      if (schema.enum) {
        const match = schema.enum.find((e) => e.toLowerCase() === value.toLowerCase());
        if (match === undefined) {
          throw bad(
            path,
            `'${value}' is not a valid value for '${where}'. Allowed values: ${schema.enum.join(", ")}.`,
          );
        }
        return match;
      }
      return value;
    }
    case "boolean":
      if (typeof value !== "boolean")
        throw bad(path, `'${where}' must be true or false, not ${typeName(value)}.`);
      return value;
    case "integer":
      if (typeof value !== "number" || !Number.isInteger(value)) {
        throw bad(path, `'${where}' must be an integer, not ${typeName(value)}.`);
      }
      if (
        (schema.min !== undefined && value < schema.min) ||
        (schema.max !== undefined && value > schema.max)
      ) {
        throw bad(
          path,
          `'${where}' must be between ${schema.min ?? "-∞"} and ${schema.max ?? "∞"}; got ${value}.`,
        );
      }
      return value;
    case "array": {
      if (!Array.isArray(value))
        throw bad(path, `'${where}' must be an array, not ${typeName(value)}.`);
      if (schema.maxItems !== undefined && value.length > schema.maxItems) {
        throw bad(
          path,
          `'${where}' has ${value.length} items; at most ${schema.maxItems} are allowed.`,
        );
      }
      return value.map((v, i) => check(schema.items, v, join(path, i)));
    }
    case "map": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw bad(
          path,
          `'${where}' must be an object of name/value pairs, not ${typeName(value)}.`,
        );
      }
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        // defineProperty: a key named "__proto__" stays a plain key instead of setting the prototype.
        Object.defineProperty(out, k, {
          value: check(schema.values, v, join(path, k)),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw bad(path, `'${where}' must be a JSON object, not ${typeName(value)}.`);
      }
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (schema.ignored?.includes(k)) continue;
        const prop = Object.hasOwn(schema.props, k) ? schema.props[k] : undefined;
        if (!prop) {
          const known = Object.keys(schema.props);
          throw bad(
            join(path, k),
            `'${join(path, k)}' is not a known property${path ? ` of '${path}'` : ""}. Known properties: ${known.join(", ")}.`,
          );
        }
        // JSON null means "not given" (SDKs send it for unset optional fields).
        if (v === null) continue;
        out[k] = check(prop, v, join(path, k));
      }
      for (const r of schema.required ?? []) {
        if (out[r] === undefined) {
          throw new DomainError("MissingRequiredProperty", `'${join(path, r)}' is required.`, {
            target: join(path, r),
          });
        }
      }
      return out;
    }
  }
}
