/**
 * Validates every response an API test saw against the official spec of its api-version.
 * Without ../shared/azure-spec the check is skipped with the reason (a failure under CI).
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { SpecValidator, specAvailability, type Exchange } from "./spec-validator.ts";

let validator: Promise<SpecValidator> | undefined;

export async function assertConformant(
  t: TestContext,
  exchanges: readonly Exchange[],
): Promise<void> {
  const availability = specAvailability();
  if (!availability.available) {
    if (process.env.CI === "true")
      assert.fail(`the Azure specs are required under CI: ${availability.reason}`);
    t.diagnostic(`spec validation skipped: ${availability.reason}`);
    return;
  }
  validator ??= SpecValidator.load(availability.dir);
  const v = await validator;
  const problems = exchanges.flatMap((ex) =>
    v.validate(ex).map((p) => `${ex.method} ${ex.url} → ${p}`),
  );
  assert.deepEqual(
    problems,
    [],
    `responses that do not conform to the spec:\n${problems.join("\n")}`,
  );
  assert.ok(exchanges.length > 0, "no exchanges were recorded");
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw JSON of any shape
  json: () => any;
}

/** Raw HTTP for what the SDK cannot send (malformed bodies, tampered links), recorded like SDK calls. */
export async function rawRequest(
  exchanges: Exchange[] | undefined,
  method: string,
  url: string,
  options: { body?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const res = await fetch(url, {
    method,
    headers: {
      authorization: "Bearer test",
      ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
      ...options.headers,
    },
    body: options.body,
  });
  const text = await res.text();
  exchanges?.push({ method, url, status: res.status, body: text });
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}
