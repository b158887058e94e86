/**
 * `$top`, `$filter` and keyset continuation tokens for the job lists. A token is the last
 * sequence number of a page, bound to the list's scope and filter and signed, so a
 * tampered or transplanted nextLink is refused instead of returning the wrong jobs.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { DomainError } from "../../domain/errors.ts";
import { JOB_STATES, JOB_TYPES } from "../../domain/job/model.ts";
import type { JobState, JobType } from "../../domain/job/model.ts";

export const MAX_TOP = 100;

export function parseTop(raw: unknown): number {
  if (raw === undefined || raw === "") return MAX_TOP;
  const s = Array.isArray(raw) ? raw[0] : raw;
  if (typeof s !== "string" || !/^\d{1,9}$/.test(s) || Number(s) < 1 || Number(s) > MAX_TOP) {
    throw new DomainError(
      "InvalidQueryParameterValue",
      `'$top' must be an integer from 1 to ${MAX_TOP}; got '${String(s)}'.`,
      { target: "$top" },
    );
  }
  return Number(s);
}

export interface JobFilter {
  state?: JobState;
  jobType?: JobType;
}

const CLAUSE = /^\s*(\w+)\s+(\w+)\s+'([^']*)'\s*$/;

function badFilter(detail: string): DomainError {
  return new DomainError(
    "InvalidFilter",
    `${detail} Supported: "state eq '<State>'" and "jobType eq '<Import|Export>'", optionally joined with 'and'.`,
    { target: "$filter" },
  );
}

export function parseFilter(raw: unknown): JobFilter {
  if (raw === undefined || raw === "") return {};
  const s = Array.isArray(raw) ? raw[0] : raw;
  if (typeof s !== "string" || s.length > 512) throw badFilter("The $filter value is not valid.");
  const filter: JobFilter = {};
  for (const clause of s.split(/\s+and\s+/i)) {
    const m = CLAUSE.exec(clause);
    if (!m) throw badFilter(`The $filter clause '${clause.trim()}' is not supported.`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    if (op.toLowerCase() !== "eq")
      throw badFilter(`The operator '${op}' is not supported; use 'eq'.`);
    switch (field.toLowerCase()) {
      case "state": {
        const state = JOB_STATES.find((x) => x.toLowerCase() === value.toLowerCase());
        if (!state) throw badFilter(`'${value}' is not a job state (${JOB_STATES.join(", ")}).`);
        if (filter.state && filter.state !== state) throw badFilter("Only one state can be given.");
        filter.state = state;
        break;
      }
      case "jobtype": {
        const jobType = JOB_TYPES.find((x) => x.toLowerCase() === value.toLowerCase());
        if (!jobType) throw badFilter(`'${value}' is not a job type (${JOB_TYPES.join(", ")}).`);
        if (filter.jobType && filter.jobType !== jobType)
          throw badFilter("Only one jobType can be given.");
        filter.jobType = jobType;
        break;
      }
      default:
        throw badFilter(`The $filter property '${field}' is not supported.`);
    }
  }
  return filter;
}

export class PageTokens {
  constructor(private readonly secret: Buffer) {}

  private mac(payload: string): Buffer {
    return createHmac("sha256", this.secret).update(payload).digest().subarray(0, 16);
  }

  /** `scope` names the list (subscription, resource group, filter) the token belongs to. */
  issue(afterSeq: number, scope: string): string {
    const payload = Buffer.from(JSON.stringify({ a: afterSeq, s: scope })).toString("base64url");
    return `${payload}.${this.mac(payload).toString("base64url")}`;
  }

  read(token: unknown, scope: string): number {
    const invalid = () =>
      new DomainError(
        "InvalidSkipToken",
        "The continuation token ($skipToken) is not valid for this list. Start again from the first page without $skipToken.",
        { target: "$skipToken" },
      );
    const t = Array.isArray(token) ? token[0] : token;
    if (typeof t !== "string" || t.length > 512) throw invalid();
    const [payload, sig] = t.split(".");
    if (!payload || !sig) throw invalid();
    const expected = this.mac(payload);
    const given = Buffer.from(sig, "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    } catch {
      throw invalid();
    }
    const p = parsed as { a?: unknown; s?: unknown };
    if (typeof p.a !== "number" || !Number.isSafeInteger(p.a) || p.a < 0 || p.s !== scope)
      throw invalid();
    return p.a;
  }
}
