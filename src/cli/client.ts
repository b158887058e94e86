/**
 * The customer commands' way to the API: the official SDK (recipe in
 * shared/reference/clients-and-deps.md), plus plain fetch for drivebay's own extensions.
 * Failures become a CliFailure with the message and exit code the user sees.
 */
import { StorageImportExport } from "@azure/arm-storageimportexport";

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
  ) {
    super(message);
  }
}

export function armClient(conn: Connection): StorageImportExport {
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

export function jobPath(conn: Connection, jobName: string): string {
  const e = encodeURIComponent;
  return (
    `/subscriptions/${e(conn.subscription)}/resourceGroups/${e(conn.resourceGroup)}` +
    `/providers/Microsoft.ImportExport/jobs/${e(jobName)}`
  );
}

/** GET of a drivebay extension (not in the SDK), with the same errors as SDK calls. */
export async function getJson(conn: Connection, path: string): Promise<unknown> {
  const url = new URL(path, conn.endpoint.endsWith("/") ? conn.endpoint : `${conn.endpoint}/`);
  url.searchParams.set("api-version", conn.apiVersion ?? DEFAULT_API_VERSION);
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { authorization: `Bearer ${conn.token}`, accept: "application/json" },
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw unreachable(conn.endpoint, cause?.code, cause?.message ?? (e as Error).message);
  }
  const body = await res.text();
  if (!res.ok) {
    let error: { code?: string; message?: string } = {};
    try {
      error = (JSON.parse(body) as { error?: typeof error }).error ?? {};
    } catch {
      // not an ARM envelope: report the raw text
    }
    throw httpFailure(res.status, error.code, error.message ?? body);
  }
  return JSON.parse(body);
}

function httpFailure(status: number, code: string | undefined, message: string): CliFailure {
  return new CliFailure(`error ${status}${code ? ` ${code}` : ""}: ${message}`, 1);
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
