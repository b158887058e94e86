/**
 * Portal sign-in sessions (ADR 0014). A credential (the operator key, or a customer's
 * access token under token auth) is checked once and exchanged for a random 256-bit
 * session id: the cookie carries the id, the store keeps a row under its SHA-256 (never the
 * id, never the credential). Every node of a store knows every session, and a restart
 * signs nobody out; signing out deletes the row, so a replayed cookie finds nothing.
 *
 * Lifetimes are fixed, not sliding: at most `SESSION_TTL_MS` from sign-in, and a
 * customer's never longer than their token's `exp`. They run on the real clock (SystemClock),
 * never the service clock, which clock control moves by days.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Access, Caller } from "../auth/access.ts";
import { SystemClock, type Clock } from "../domain/clock.ts";
import type { Claims } from "../auth/tokens.ts";
import type { PortalSession, SessionStore } from "../store/ports.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** Set by the operator pages' hook: the request carries a live operator session. */
    operatorSignedIn?: boolean;
  }
}

export const OPERATOR_COOKIE = "drivebay_operator";
export const CUSTOMER_COOKIE = "drivebay_customer";

/** How long a session lasts at most (fixed from sign-in). */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** Expired rows deleted at each sign-in (a bounded batch; expired rows are refused anyway). */
export const SWEEP_BATCH = 100;
/** A session id as the portal issues it: 32 random bytes, base64url. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * What an operator session holds: a fingerprint of the operator key it was opened with,
 * so a new key (configured, then a restart) ends every session opened with the old one.
 */
function keyFingerprint(operatorKey: string): string {
  // The key is the same for the life of the process: hashed once, not on every page.
  if (lastKey?.key === operatorKey) return lastKey.fingerprint;
  const fingerprint = createHash("sha256")
    .update(`drivebay operator session\0${operatorKey}`)
    .digest("base64url")
    .slice(0, 22);
  lastKey = { key: operatorKey, fingerprint };
  return fingerprint;
}
let lastKey: { key: string; fingerprint: string } | undefined;

export class PortalSessions {
  constructor(
    private readonly store: SessionStore,
    /** The real clock (never the service clock). */
    private readonly clock: Clock = new SystemClock(),
    private readonly ttlMs = SESSION_TTL_MS,
  ) {}

  private async create(
    kind: PortalSession["kind"],
    data: Record<string, unknown>,
    ttlMs: number,
  ): Promise<string> {
    const id = randomBytes(32).toString("base64url");
    const now = this.clock.now().getTime();
    await this.store.createSession(id, {
      kind,
      data,
      createdAt: new Date(now),
      expiresAt: new Date(now + Math.min(ttlMs, this.ttlMs)),
    });
    // Each sign-in deletes a bounded batch of expired rows, so they never pile up (the
    // API nodes that serve the portal run no timer sweep). A failure here costs nothing.
    void this.store.deleteExpiredSessions(new Date(now), SWEEP_BATCH).catch(() => undefined);
    return id;
  }

  /** The live session of `kind` under the cookie's id (anything else, or nothing, is none). */
  private async find(
    kind: PortalSession["kind"],
    id: string | undefined,
  ): Promise<PortalSession | undefined> {
    if (!id || !SESSION_ID.test(id)) return undefined;
    const session = await this.store.findSession(id, this.clock.now());
    return session?.kind === kind ? session : undefined;
  }

  /** Revokes the session (sign-out); an unknown id changes nothing. */
  async end(id: string | undefined): Promise<void> {
    if (id && SESSION_ID.test(id)) await this.store.deleteSession(id);
  }

  /** A new operator session, after the key was checked. */
  operatorSignIn(operatorKey: string): Promise<string> {
    return this.create("operator", { key: keyFingerprint(operatorKey) }, this.ttlMs);
  }

  /** Whether `id` is an operator session opened with the current key. */
  async operatorValid(id: string | undefined, operatorKey: string): Promise<boolean> {
    const session = await this.find("operator", id);
    return session !== undefined && session.data.key === keyFingerprint(operatorKey);
  }

  /**
   * A new customer session holding the token's verified claims (not the token), until the
   * token expires at the latest.
   */
  customerSignIn(claims: Claims, caller: Caller): Promise<string> {
    const ttl = (caller.expiresAt ?? Infinity) - this.clock.now().getTime();
    return this.create("customer", { claims }, ttl);
  }

  /**
   * The caller of a customer session: the grants are worked out again from the stored
   * claims with the configuration in force now, so a grant taken away (and a restart)
   * applies to sessions already open.
   */
  async customer(id: string | undefined, access: Access): Promise<Caller | undefined> {
    const session = await this.find("customer", id);
    const claims = session?.data.claims;
    if (!claims || typeof claims !== "object") return undefined;
    return access.callerOf(claims as Claims);
  }
}
