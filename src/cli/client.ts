/**
 * The customer commands' way to the API: the official SDK (recipe in
 * shared/reference/clients-and-deps.md), plus plain fetch for drivebay's own extensions.
 * Failures become a CliFailure with the message and exit code the user sees.
 */
import { createRequire } from "node:module";
import type { StorageImportExport, JobResponse } from "@azure/arm-storageimportexport";
import type { JobFacts } from "../domain/job/lifecycle.ts";
import type { Drive, Job, JobState, JobType } from "../domain/job/model.ts";

export const DEFAULT_API_VERSION = "2021-01-01";
export const DEFAULT_ENDPOINT = "http://127.0.0.1:8080";
export const DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";
export const DEFAULT_RESOURCE_GROUP = "default";

export interface Connection {
  endpoint: string;
  subscription: string;
  resourceGroup: string;
  apiVersion?: string;
  token: string;
}

/** An error the CLI reports as one line on stderr and turns into an exit code. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    /** The HTTP status, when the server answered with an error. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * What the lifecycle needs to know of a job, read from the API's answer: the CLI asks the
 * same rules as the server (allowedEvents, the field windows) instead of comparing states.
 */
export function jobFacts(job: JobResponse): JobFacts & Pick<Job, "returnPackage"> {
  const p = job.properties;
  return {
    state: p?.state as JobState,
    cancelRequested: p?.cancelRequested === true,
    jobType: (p?.jobType ?? "Import") as JobType,
    driveList: (p?.driveList ?? []).map(
      (d) => ({ driveId: d.driveId ?? "", state: d.state ?? "Specified" }) as Drive,
    ),
    returnPackage: p?.returnPackage as Job["returnPackage"],
  };
}

/**
 * The SDK, loaded on first use: it takes longer to load than the rest of the CLI, and
 * `--help` or a usage error needs none of it (docs/benchmarks.md, CLI start-up).
 */
function sdk(): typeof import("@azure/arm-storageimportexport") {
  return createRequire(import.meta.url)(
    "@azure/arm-storageimportexport",
  ) as typeof import("@azure/arm-storageimportexport");
}

export function armClient(conn: Connection): StorageImportExport {
  const { StorageImportExport } = sdk();
  const credential = {
    getToken: async () => ({ token: conn.token, expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
  const client = new StorageImportExport(credential, conn.subscription, {
    endpoint: conn.endpoint,
    allowInsecureConnection: conn.endpoint.startsWith("http:"),
    retryOptions: { maxRetries: 0 },
    ...(conn.apiVersion ? { apiVersion: conn.apiVersion } : {}),
  });
  // The stock policy refuses bearer tokens over http; this one sends the token as-is.
  client.pipeline.removePolicy({ name: "bearerTokenAuthenticationPolicy" });
  client.pipeline.addPolicy(
    {
      name: "drivebayBearer",
      async sendRequest(req, next) {
        req.headers.set("Authorization", `Bearer ${conn.token}`);
        return next(req);
      },
    },
    { phase: "Sign" },
  );
  return client;
}

/** A storage account ARM id as given, or a bare account name in the connection's scope. */
export function storageAccountId(value: string, conn: Connection): string {
  if (value.startsWith("/")) return value;
  return (
    `/subscriptions/${conn.subscription}/resourceGroups/${conn.resourceGroup}` +
    `/providers/Microsoft.Storage/storageAccounts/${value}`
  );
}

export function jobPath(conn: Connection, jobName: string): string {
  const e = encodeURIComponent;
  return (
    `/subscriptions/${e(conn.subscription)}/resourceGroups/${e(conn.resourceGroup)}` +
    `/providers/Microsoft.ImportExport/jobs/${e(jobName)}`
  );
}

/** Where plain-fetch requests go, with the bearer token they carry. */
export interface HttpTarget {
  endpoint: string;
  token: string;
}

export interface JsonRequest {
  method?: "GET" | "POST";
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

/** A JSON request outside the SDK; ARM error envelopes become CliFailures like SDK errors. */
export async function requestJson(
  target: HttpTarget,
  path: string,
  request: JsonRequest = {},
): Promise<unknown> {
  const base = target.endpoint.endsWith("/") ? target.endpoint : `${target.endpoint}/`;
  const url = new URL(path, base);
  for (const [name, value] of Object.entries(request.query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }
  const headers: Record<string, string> = {
    authorization: `Bearer ${target.token}`,
    accept: "application/json",
  };
  if (request.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(url, {
      method: request.method ?? "GET",
      headers,
      ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw unreachable(target.endpoint, cause?.code, cause?.message ?? (e as Error).message);
  }
  const text = await res.text();
  if (!res.ok) {
    let error: { code?: string; message?: string } = {};
    try {
      error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
    } catch {
      // not an ARM envelope: report the raw text
    }
    throw httpFailure(res.status, error.code, error.message ?? text);
  }
  return text === "" ? undefined : JSON.parse(text);
}

/** GET of a drivebay extension of the ARM API (not in the SDK). */
export function getJson(conn: Connection, path: string): Promise<unknown> {
  return requestJson(conn, path, {
    query: { "api-version": conn.apiVersion ?? DEFAULT_API_VERSION },
  });
}

function httpFailure(status: number, code: string | undefined, message: string): CliFailure {
  return new CliFailure(`error ${status}${code ? ` ${code}` : ""}: ${message}`, 1, status);
}

function unreachable(endpoint: string, code: string | undefined, message: string): CliFailure {
  if (code === "ECONNREFUSED") {
    return new CliFailure(
      `cannot reach drivebay at ${endpoint}: is \`drivebay serve\` running?`,
      1,
    );
  }
  return new CliFailure(`cannot reach drivebay at ${endpoint}: ${message}`, 1);
}

/** Maps an SDK RestError (HTTP or network) to what the user sees; other errors pass through. */
export function failureOf(e: unknown, endpoint: string): unknown {
  const err = e as { name?: string; statusCode?: number; code?: string; message?: string };
  if (err?.name !== "RestError") return e;
  if (err.statusCode !== undefined) {
    return httpFailure(err.statusCode, err.code, err.message || "(no message)");
  }
  return unreachable(endpoint, err.code, err.message ?? "network error");
}
