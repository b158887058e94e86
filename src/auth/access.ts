/**
 * Who is calling and which subscriptions they may use (SPEC §6). Development auth lets
 * anyone use every subscription; token auth verifies the bearer token and grants the
 * subscriptions configured for the caller (`auth.grants`) and those a token claim lists
 * (`auth.subscriptionsClaim`). A subscription that is not granted is 403
 * `AuthorizationFailed` whether or not anything exists in it, so nothing leaks.
 */
import { DomainError } from "../domain/errors.ts";
import type { Principal } from "../service/job-service.ts";
import { TokenError, type Claims, type TokenVerifier } from "./tokens.ts";

export interface Grant {
  /** Matched against the token's oid, sub, appid, azp, upn, unique_name, preferred_username, email. */
  principal: string;
  /** Subscription ids, or "*" for all. */
  subscriptions: string[];
}

export interface AuthSettings {
  mode: "development" | "token";
  grants: Grant[];
  /** A claim holding the caller's subscription ids (an array, or a space-separated string). */
  subscriptionsClaim?: string;
}

export interface Caller {
  principal: Principal;
  /** "*" or lower-cased subscription ids. */
  subscriptions: "*" | ReadonlySet<string>;
  /** When the caller's token expires (ms since the epoch); absent under development auth. */
  expiresAt?: number;
}

export const DEVELOPER: Principal = { id: "developer@drivebay.local", type: "User" };

const ID_CLAIMS = [
  "oid",
  "sub",
  "appid",
  "azp",
  "upn",
  "unique_name",
  "preferred_username",
  "email",
] as const;

/** systemData's createdBy: the user's name when the token has one, else the application's id. */
export function principalOfClaims(claims: Claims): Principal | undefined {
  const user = claims.upn ?? claims.unique_name ?? claims.preferred_username ?? claims.email;
  if (typeof user === "string") return { id: user, type: "User" };
  const app = claims.appid ?? claims.azp ?? claims.oid ?? claims.sub;
  if (typeof app === "string") return { id: app, type: "Application" };
  return undefined;
}

/** The bearer token of an Authorization header, if any. */
export function bearerOf(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(authorization ?? "")?.[1]?.trim() || undefined;
}

/** Development auth: any token (or none); a JWT's unverified claims name the caller. */
export function developmentCaller(authorization: string | undefined): Caller {
  const token = bearerOf(authorization);
  const parts = token?.split(".");
  if (parts?.length === 3) {
    try {
      const claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as Claims;
      const p = claims && typeof claims === "object" ? principalOfClaims(claims) : undefined;
      if (p) return { principal: p, subscriptions: "*" };
    } catch {
      // not a JWT: the developer
    }
  }
  return { principal: DEVELOPER, subscriptions: "*" };
}

export class Access {
  constructor(
    readonly settings: AuthSettings,
    private readonly verifier: TokenVerifier | undefined,
  ) {
    // Fail closed: token auth without a verifier must never fall back to accepting anything.
    if (settings.mode === "token" && !verifier) {
      throw new Error("token auth needs a token verifier");
    }
  }

  get tokenMode(): boolean {
    return this.settings.mode === "token";
  }

  /** The caller of a request; 401 `AuthenticationFailed` when token auth refuses it. */
  async authenticate(authorization: string | undefined): Promise<Caller> {
    if (!this.verifier) return developmentCaller(authorization);
    const token = bearerOf(authorization);
    if (!token) {
      throw authenticationFailed(
        "The request has no bearer token: send 'Authorization: Bearer <access token>' issued for this service.",
      );
    }
    let claims: Claims;
    try {
      claims = await this.verifier.verify(token);
    } catch (e) {
      if (e instanceof TokenError) {
        throw authenticationFailed(`The access token is not accepted: ${e.message}.`);
      }
      throw e;
    }
    return this.callerOf(claims);
  }

  callerOf(claims: Claims): Caller {
    const ids = new Set(
      ID_CLAIMS.map((c) => claims[c])
        .filter((v): v is string => typeof v === "string")
        .map((v) => v.toLowerCase()),
    );
    const subs = new Set<string>();
    let all = false;
    const add = (list: unknown[]) => {
      for (const s of list) {
        if (typeof s !== "string") continue;
        if (s === "*") all = true;
        else subs.add(s.toLowerCase());
      }
    };
    for (const g of this.settings.grants) {
      if (ids.has(g.principal.toLowerCase())) add(g.subscriptions);
    }
    const claimName = this.settings.subscriptionsClaim;
    if (claimName) {
      const v = claims[claimName];
      if (Array.isArray(v)) add(v.filter((s) => s !== "*"));
      else if (typeof v === "string") add(v.split(/[\s,]+/).filter((s) => s && s !== "*"));
    }
    return {
      principal: principalOfClaims(claims) ?? { id: "unknown", type: "Application" },
      subscriptions: all ? "*" : subs,
      ...(typeof claims.exp === "number" ? { expiresAt: claims.exp * 1000 } : {}),
    };
  }
}

export function allows(caller: Caller, subscriptionId: string): boolean {
  return caller.subscriptions === "*" || caller.subscriptions.has(subscriptionId.toLowerCase());
}

/** ARM's name of what a request does to a resource type, as RBAC and its refusals say it. */
export function armAction(resourceType: string, method: string): string {
  if (method === "POST") return `${resourceType}/listBitLockerKeys/action`;
  return `${resourceType}/${method === "GET" ? "read" : method === "DELETE" ? "delete" : "write"}`;
}

/**
 * Throws ARM's 403 `AuthorizationFailed` unless the caller may use the subscription; the
 * same whether the scope holds anything, so nothing leaks.
 */
export function authorize(
  caller: Caller,
  subscriptionId: string,
  action: string,
  scope = `/subscriptions/${subscriptionId}`,
): void {
  if (allows(caller, subscriptionId)) return;
  throw new DomainError(
    "AuthorizationFailed",
    `The client '${caller.principal.id}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. Ask the service's administrator to grant the subscription (auth.grants), then get a new token.`,
  );
}

function authenticationFailed(message: string): DomainError {
  return new DomainError("AuthenticationFailed", message);
}
