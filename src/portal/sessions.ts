/**
 * Portal sign-in sessions. A credential (the operator key, or a customer's access token
 * under token auth) is checked once and exchanged for a random session id kept in memory,
 * so the credential never sits in a cookie and signing out really ends the session.
 * Sessions expire on the machine's monotonic clock — never the service clock, which clock
 * control moves by days.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Caller } from "../auth/access.ts";

export const OPERATOR_COOKIE = "drivebay_operator";
export const CUSTOMER_COOKIE = "drivebay_customer";
const MAX_SESSIONS = 1000;

export class Sessions<T> {
  private readonly sessions = new Map<string, { value: T; expires: number }>();

  constructor(
    private readonly ttlMs = 12 * 60 * 60 * 1000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A new session holding `value`, for at most `ttlMs` (never longer than the default). */
  create(value: T, ttlMs = this.ttlMs): string {
    const id = randomBytes(32).toString("base64url");
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    this.sessions.set(id, { value, expires: this.now() + Math.min(ttlMs, this.ttlMs) });
    return id;
  }

  get(id: string | undefined): T | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (s === undefined) return undefined;
    if (s.expires <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return s.value;
  }

  valid(id: string | undefined): boolean {
    return this.get(id) !== undefined;
  }

  end(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }
}

export type OperatorSessions = Sessions<true>;
export type CustomerSessions = Sessions<Caller>;
