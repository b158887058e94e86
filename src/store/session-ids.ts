/**
 * How a portal session id is kept in a store: its SHA-256, hex. The id is 256 random bits,
 * so a plain hash (no salt, no stretching) is enough: nothing can be guessed from it, and
 * the row can still be found with one index lookup.
 */
import { createHash } from "node:crypto";

export function sessionIdHash(id: string): string {
  return createHash("sha256").update(id, "utf8").digest("hex");
}
