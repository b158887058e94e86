/** Small HTTP helpers of the portal: cookies, form bodies, redirects and page errors. */
import type { FastifyReply, FastifyRequest } from "fastify";

/**
 * A refusal that belongs to the portal itself (not a lifecycle rule): a job name already
 * taken in the create wizard, a bad paging parameter, a missing operator login.
 */
export class PageError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "PageError";
  }
}

export function cookies(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    const name = part.slice(0, i).trim();
    if (!name || Object.hasOwn(out, name)) continue;
    try {
      out[name] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      // a cookie that is not ours (or mangled): ignore it
    }
  }
  return out;
}

export interface CookieOptions {
  path: string;
  maxAgeSeconds?: number;
  sameSite: "Strict" | "Lax";
}

export function setCookie(
  reply: FastifyReply,
  name: string,
  value: string,
  options: CookieOptions,
): void {
  const parts = [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${options.path}`,
    "HttpOnly",
    `SameSite=${options.sameSite}`,
  ];
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${options.maxAgeSeconds}`);
  const existing = reply.getHeader("set-cookie");
  const list = Array.isArray(existing) ? existing : existing ? [String(existing)] : [];
  reply.header("set-cookie", [...list, parts.join("; ")]);
}

/** A parsed `application/x-www-form-urlencoded` body: the last value of each name. */
export type Form = Record<string, string>;

export function parseForm(text: string): Form {
  const out: Form = {};
  for (const [k, v] of new URLSearchParams(text)) {
    Object.defineProperty(out, k, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

export function form(req: FastifyRequest): Form {
  const b = req.body;
  return b && typeof b === "object" ? (b as Form) : {};
}

export function queryOf(req: FastifyRequest): Record<string, string | undefined> {
  const q = req.query as Record<string, unknown>;
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(q ?? {})) {
    out[k] = Array.isArray(v) ? String(v[v.length - 1]) : v === undefined ? undefined : String(v);
  }
  return out;
}

/** Post/Redirect/Get: 303 so a reload never repeats the POST. */
export function seeOther(reply: FastifyReply, location: string): FastifyReply {
  return reply.code(303).header("location", location).send();
}

/**
 * Cross-site form posts are refused: the customer pages use development auth (no
 * credential a forged form would lack), so the browser's own Origin / Sec-Fetch-Site
 * headers are the check. Requests without them (scripts, curl) are not browsers' forms.
 */
export function isCrossSite(req: FastifyRequest): boolean {
  const site = req.headers["sec-fetch-site"];
  if (site === "cross-site" || site === "same-site") return true;
  const origin = req.headers.origin;
  if (typeof origin !== "string" || origin === "null") return origin === "null";
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}
