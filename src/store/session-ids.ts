/**
 * How a portal session id is kept in a store: its SHA-256, hex. The id is 256 random bits,
 * so a plain hash (no salt, no stretching) is enough: nothing can be guessed from it, and
 * the row can still be found with one index lookup.
 */
import { createHash } from "node:crypto";
import type { PortalSession } from "./ports.ts";

export function sessionIdHash(id: string): string {
  return createHash("sha256").update(id, "utf8").digest("hex");
}

/** A portal_sessions row as either store reads it (data: JSON text or parsed; times: ms or Date). */
export interface SessionRow {
  kind: string;
  data: string | Record<string, unknown>;
  created_at: number | Date;
  expires_at: number | Date;
}

/** The session a row holds; undefined when it has expired at `now` (the caller deletes it). */
export function liveSession(row: SessionRow, now: Date): PortalSession | undefined {
  const expiresAt = new Date(row.expires_at);
  if (expiresAt.getTime() <= now.getTime()) return undefined;
  return {
    kind: row.kind as PortalSession["kind"],
    data:
      typeof row.data === "string" ? (JSON.parse(row.data) as Record<string, unknown>) : row.data,
    createdAt: new Date(row.created_at),
    expiresAt,
  };
}
