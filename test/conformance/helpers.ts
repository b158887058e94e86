/**
 * Shared by the conformance tests: the spec-availability gate, one SpecValidator per process,
 * the "conforms or print why" assertion and a JSON shape/value comparison with named exemptions.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { SpecValidator, specAvailability, type Exchange } from "../support/spec-validator.ts";

export const availability = specAvailability();

/**
 * Whether a conformance test can run. Without the spec folder the test is skipped with the
 * reason (so the output says why), except on CI (`CI=true`) where it fails: there a missing
 * spec means the conformance tier silently tested nothing.
 */
export function specGate(t: TestContext): boolean {
  if (availability.available) return true;
  const reason = `${availability.reason}; set AZURE_SPEC_DIR to the folder holding <version>/storageimportexport.json`;
  if (process.env.CI === "true") assert.fail(`conformance cannot run on CI: ${reason}`);
  t.skip(`conformance skipped: ${reason}`);
  return false;
}

let validator: Promise<SpecValidator> | undefined;

export function loadValidator(): Promise<SpecValidator> {
  validator ??= SpecValidator.load(availability.available ? availability.dir : undefined);
  return validator;
}

export function problemsOf(v: SpecValidator, exchanges: readonly Exchange[]): string[] {
  return exchanges.flatMap((ex) => v.validate(ex).map((p) => `${ex.method} ${ex.url}: ${p}`));
}

export function assertConforms(v: SpecValidator, ex: Exchange): void {
  const problems = v.validate(ex);
  assert.deepEqual(
    problems,
    [],
    `${ex.method} ${ex.url} → ${ex.status} does not conform to the spec:\n  ${problems.join("\n  ")}\nbody: ${ex.body ?? "(none)"}`,
  );
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export function isObject(x: unknown): x is JsonObject {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function jsonType(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "array";
  return typeof x;
}

/** Key path → why it is exempt. Paths use `.` for keys and `[]` for any array element. */
export type Exemptions = Readonly<Record<string, string>>;

function exempt(table: Exemptions | undefined, path: string): boolean {
  if (!table) return false;
  return Object.keys(table).some(
    (p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`),
  );
}

/**
 * Differences between our body and an example body, walking the example: every key path of
 * the example must exist in ours with the same JSON type (unless `shape` exempts it), and every
 * leaf value must be equal (unless `shapeOnly`, or `values` exempts it). Keys only we have are
 * not reported here: the spec validator decides whether they are allowed. Arrays whose values
 * are compared must have the example's length; otherwise each example element is compared with
 * ours at the same index (or our last element when ours is shorter).
 */
export function differences(
  ours: unknown,
  example: unknown,
  options: { shape?: Exemptions; values?: Exemptions; shapeOnly?: boolean } = {},
): string[] {
  const problems: string[] = [];
  const walk = (ex: unknown, ou: unknown, path: string, compareValues: boolean): void => {
    if (exempt(options.shape, path)) return;
    const label = path === "" ? "(root)" : path;
    if (ou === undefined) {
      problems.push(`${label}: missing (the example has a ${jsonType(ex)})`);
      return;
    }
    if (jsonType(ou) !== jsonType(ex)) {
      problems.push(`${label}: a ${jsonType(ou)} where the example has a ${jsonType(ex)}`);
      return;
    }
    const values = compareValues && !exempt(options.values, path);
    if (Array.isArray(ex)) {
      const ourItems = ou as unknown[];
      if (values && ourItems.length !== ex.length) {
        problems.push(`${label}: ${ourItems.length} items where the example has ${ex.length}`);
      }
      ex.forEach((item, i) => {
        const counterpart = i < ourItems.length ? ourItems[i] : ourItems[ourItems.length - 1];
        walk(item, counterpart, `${path}[]`, values);
      });
      return;
    }
    if (isObject(ex)) {
      const ourObject = ou as JsonObject;
      for (const [key, value] of Object.entries(ex)) {
        walk(value, ourObject[key], path === "" ? key : `${path}.${key}`, values);
      }
      return;
    }
    if (values && ou !== ex) {
      problems.push(`${label}: ${JSON.stringify(ou)} where the example has ${JSON.stringify(ex)}`);
    }
  };
  walk(example, ours, "", !options.shapeOnly);
  return problems;
}

export function assertNoDifferences(problems: string[], what: string): void {
  assert.deepEqual(problems, [], `${what}:\n  ${problems.join("\n  ")}`);
}
