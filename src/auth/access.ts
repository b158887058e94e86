/**
 * Who is calling and which subscriptions they may use (SPEC §6). Development auth lets
 * anyone use every subscription; token auth verifies the bearer token and grants the
 * subscriptions configured for the caller (`auth.grants`) and those a token claim lists
 * (`auth.subscriptionsClaim`). A subscription that is not granted is 403
 * `AuthorizationFailed` whether or not anything exists in it, so nothing leaks.
 */
import { DomainError } from "../domain/errors.ts";
import type { Principal } from "../service/job-service.ts";
import { TokenError, tokenId, type Claims, type TokenVerifier } from "./tokens.ts";

/**
 * A grant names one principal of one issuer: `kind` "user" (the default) matches a token
 * whose `oid` (or, from an issuer that has no `oid`, whose `sub`) equals `principal`;
 * "app" matches an app-only token whose application id (`appid`, else `azp`) equals it.
 * Display claims (`upn`, `email`, `preferred_username`, `unique_name`, `name`) never match.
 */
export interface Grant {
  principal: string;
  kind?: "user" | "app";
  /** The issuer the principal belongs to; may be left out when one issuer is configured. */
  issuer?: string;
  /** Subscription ids, or "*" for all. */
  subscriptions: string[];
}

export interface AuthSettings {
  mode: "development" | "token";
  grants: Grant[];
  /** A claim holding the caller's subscription ids (an array, or a space-separated string). */
  subscriptionsClaim?: string;
}

/** Who a verified token is: its issuer, the kind of principal, and the immutable id. */
export interface Identity {
  issuer: string;
  kind: "user" | "app";
  id: string;
}

export interface Caller {
  principal: Principal;
  /** "*" or lower-cased subscription ids. */
  subscriptions: "*" | ReadonlySet<string>;
  /** When the caller's token expires (ms since the epoch); absent under development auth. */
  expiresAt?: number;
  /** The verified identity (token auth only). */
  identity?: Identity;
}

export const DEVELOPER: Principal = { id: "developer@drivebay.local", type: "User" };

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/**
 * The identity of a verified token (ADR 0009). App-only tokens, by Entra ID's token
 * reference: `idtyp: "app"` when the optional claim is sent; without it, a token with no
 * `scp` (no delegated scopes) whose `oid` equals its `sub` (the service principal is its
 * own subject). An app is named by its application id (`appid` in v1 tokens, `azp` in
 * v2). Everything else is a user (or a delegated call on a user's behalf) named by `oid`,
 * or by `sub` from issuers without `oid`: in delegated tokens `appid`/`azp` name only the
 * client application the user signed in with, so they never make the caller that app.
 */
export function identityOf(claims: Claims): Identity | undefined {
  const issuer = str(claims.iss);
  if (!issuer) return undefined;
  const oid = str(claims.oid);
  const sub = str(claims.sub);
  const idtyp = str(claims.idtyp);
  const appOnly =
    idtyp === "app" ||
    (idtyp === undefined && claims.scp === undefined && oid !== undefined && oid === sub);
  if (appOnly) {
    const app = str(claims.appid) ?? str(claims.azp);
    return app ? { issuer, kind: "app", id: app } : undefined;
  }
  const id = oid ?? sub;
  return id ? { issuer, kind: "user", id } : undefined;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids compare exactly, except GUIDs (Entra's oids and appids), which ignore case. */
function sameId(a: string, b: string): boolean {
  return a === b || (GUID.test(a) && a.toLowerCase() === b.toLowerCase());
}

function grantMatches(g: Grant, who: Identity, onlyIssuer: string | undefined): boolean {
  const issuer = g.issuer ?? onlyIssuer;
  return issuer === who.issuer && (g.kind ?? "user") === who.kind && sameId(g.principal, who.id);
}

/**
 * systemData's createdBy, and nothing else (display claims never authorize): a user's name
 * when the token has one, else their id; an app-only caller's application id.
 */
export function principalOfClaims(claims: Claims): Principal | undefined {
  const who = identityOf(claims);
  if (who?.kind === "app") return { id: who.id, type: "Application" };
  const user =
    str(claims.upn) ??
    str(claims.unique_name) ??
    str(claims.preferred_username) ??
    str(claims.email);
  if (user) return { id: user, type: "User" };
  if (who) return { id: who.id, type: "User" };
  const app = str(claims.appid) ?? str(claims.azp);
  if (app) return { id: app, type: "Application" };
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
    /** The configured token issuers (grants without `issuer` need exactly one). */
    private readonly issuers: readonly string[] = [],
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
    return this.callerOf(await this.verifiedClaims(authorization));
  }

  /**
   * Token auth: the caller at once (no promise) when the verifier's cache answers for a
   * token verified before (see TokenVerifier.cached), else authenticate()'s promise. The
   * token is hashed once either way: a miss hands its cache key on to the verification.
   */
  caller(authorization: string | undefined): Caller | Promise<Caller> {
    const token = this.verifier && bearerOf(authorization);
    if (!token) return this.authenticate(authorization);
    const id = tokenId(token);
    const claims = this.verifier!.cached(token, id);
    if (claims) return this.callerOf(claims);
    return this.verifiedClaims(authorization, id).then((c) => this.callerOf(c));
  }

  /**
   * Token auth: the verified claims of the request's token; 401 `AuthenticationFailed` if
   * none. `id`: the token's cache key when the caller has it already.
   */
  async verifiedClaims(authorization: string | undefined, id?: string): Promise<Claims> {
    if (!this.verifier) throw new Error("development auth verifies no token");
    const token = bearerOf(authorization);
    if (!token) {
      throw authenticationFailed(
        "The request has no bearer token: send 'Authorization: Bearer <access token>' issued for this service.",
      );
    }
    let claims: Claims;
    try {
      claims = await this.verifier.verify(token, id);
    } catch (e) {
      if (e instanceof TokenError) {
        throw authenticationFailed(`The access token is not accepted: ${e.message}.`);
      }
      throw e;
    }
    return claims;
  }

  /** The issuer a grant without `issuer` belongs to: the configured one, when there is one. */
  private get onlyIssuer(): string | undefined {
    return this.issuers.length === 1 ? this.issuers[0] : undefined;
  }

  callerOf(claims: Claims): Caller {
    const who = identityOf(claims);
    const subs = new Set<string>();
    let all = false;
    const add = (list: unknown[]) => {
      for (const s of list) {
        if (typeof s !== "string") continue;
        if (s === "*") all = true;
        else subs.add(s.toLowerCase());
      }
    };
    if (who) {
      for (const g of this.settings.grants) {
        if (grantMatches(g, who, this.onlyIssuer)) add(g.subscriptions);
      }
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
      ...(who ? { identity: who } : {}),
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
