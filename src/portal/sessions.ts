/**
 * Operator sign-in for the portal: the operator key is checked once (constant time, the
 * operator API's own check) and exchanged for a random session id kept in memory, so the
 * key itself never sits in a cookie and signing out really ends the session. Sessions
 * expire on the machine's monotonic clock — never the service clock, which clock control
 * moves by days.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";

export const OPERATOR_COOKIE = "drivebay_operator";
const MAX_SESSIONS = 1000;

export class OperatorSessions {
  private readonly sessions = new Map<string, number>();

  constructor(
    private readonly ttlMs = 12 * 60 * 60 * 1000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  create(): string {
    const id = randomBytes(32).toString("base64url");
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    this.sessions.set(id, this.now() + this.ttlMs);
    return id;
  }

  valid(id: string | undefined): boolean {
    if (!id) return false;
    const expires = this.sessions.get(id);
    if (expires === undefined) return false;
    if (expires <= this.now()) {
      this.sessions.delete(id);
      return false;
    }
    return true;
  }

  end(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }
}
