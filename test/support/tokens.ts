/**
 * A token issuer for tests of token auth: real key pairs (RSA and EC), their JWKS in a file
 * and at a real local URL, and JWTs signed the way an identity provider signs them.
 */
import { createServer, type Server } from "node:http";
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Config } from "../../src/config.ts";
import type { Grant } from "../../src/auth/access.ts";
import type { StorageAccountConfig } from "../../src/domain/storage-accounts.ts";
import { SUBSCRIPTION } from "./server.ts";

export const ISSUER = "https://login.example.test/tenant-1/v2.0";
export const AUDIENCE = "https://management.drivebay.test/";

interface SigningKey {
  kid: string;
  alg: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Members of its JWK other than the defaults (alg, use), or undefined to leave one out. */
  jwk?: Record<string, unknown>;
}

function keyPair(kid: string, alg: "RS256" | "ES256"): SigningKey {
  const { privateKey, publicKey } =
    alg === "RS256"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { kid, alg, privateKey, publicKey };
}

export class TestIssuer {
  readonly keys: SigningKey[] = [keyPair("rsa-1", "RS256"), keyPair("ec-1", "ES256")];
  readonly jwksFile: string;
  private server: Server | undefined;
  /** Requests the JWKS URL answered. */
  fetches = 0;

  constructor() {
    this.jwksFile = join(mkdtempSync(join(tmpdir(), "drivebay-jwks-")), "jwks.json");
    this.writeJwks();
  }

  jwks(): { keys: Record<string, unknown>[] } {
    return {
      keys: this.keys.map((k) =>
        Object.fromEntries(
          Object.entries({
            ...(k.publicKey.export({ format: "jwk" }) as Record<string, unknown>),
            kid: k.kid,
            alg: k.alg,
            use: "sig",
            ...k.jwk,
          }).filter(([, v]) => v !== undefined),
        ),
      ),
    };
  }

  writeJwks(): void {
    writeFileSync(this.jwksFile, JSON.stringify(this.jwks()));
  }

  /** Adds a key (as an identity provider rotates keys) and returns its kid. */
  rotate(alg: "RS256" | "ES256" = "RS256"): string {
    const k = keyPair(`${alg.toLowerCase()}-${this.keys.length + 1}`, alg);
    this.keys.push(k);
    this.writeJwks();
    return k.kid;
  }

  /**
   * Adds a key of any shape to the JWKS (an EC curve, an RSA size, JWK members such as
   * alg or key_ops; `alg` is what tokens signed with it name by default).
   */
  addKey(
    kid: string,
    alg: string,
    shape: { curve?: string; rsaBits?: number },
    jwk: Record<string, unknown> = {},
  ): void {
    const { privateKey, publicKey } = shape.curve
      ? generateKeyPairSync("ec", { namedCurve: shape.curve })
      : generateKeyPairSync("rsa", { modulusLength: shape.rsaBits ?? 2048 });
    this.keys.push({ kid, alg, privateKey, publicKey, jwk });
    this.writeJwks();
  }

  /** Serves the JWKS at a local URL (as `…/discovery/v2.0/keys`). */
  async serve(): Promise<string> {
    this.server = createServer((_req, res) => {
      this.fetches++;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(this.jwks()));
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/discovery/v2.0/keys`;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /**
   * A JWT for `claims` (iss, aud, iat and a 1-hour exp unless given), signed with the key
   * `kid` (default: the RSA key). `header` overrides header fields, `key` signs with another key.
   */
  token(
    claims: Record<string, unknown>,
    o: { kid?: string; header?: Record<string, unknown>; key?: KeyObject } = {},
  ): string {
    const k = this.keys.find((x) => x.kid === (o.kid ?? "rsa-1"))!;
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: k.alg, typ: "JWT", kid: k.kid, ...o.header };
    const payload = { iss: ISSUER, aud: AUDIENCE, iat: now, nbf: now, exp: now + 3600, ...claims };
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const data = `${enc(header)}.${enc(payload)}`;
    const alg = String(header.alg);
    const signature = sign(`sha${/\d+$/.exec(alg)?.[0] ?? "256"}`, Buffer.from(data), {
      key: o.key ?? k.privateKey,
      ...(alg.startsWith("ES") ? { dsaEncoding: "ieee-p1363" as const } : {}),
    });
    return `${data}.${signature.toString("base64url")}`;
  }
}

/**
 * The service profile with token auth for `startTestServer`: this issuer's keys (from
 * `keys`: a JWKS URL, else the JWKS file), the given grants, and the claim "subscriptions".
 */
export function tokenAuthConfig(
  issuer: TestIssuer,
  grants: Grant[],
  keys: { jwksUri?: string } = {},
  /** Default: drivebaydata, an account of the embedded Azurite in SUBSCRIPTION's resource group "data". */
  storageAccounts: StorageAccountConfig[] = [
    { name: "drivebaydata", subscriptionId: SUBSCRIPTION, resourceGroup: "data" },
  ],
): Partial<Config> {
  return {
    profile: "service",
    operatorKey: "token-auth-operator-key-0123456789",
    storageAccounts,
    auth: {
      mode: "token",
      grants,
      subscriptionsClaim: "subscriptions",
      token: {
        issuers: [ISSUER],
        audiences: [AUDIENCE],
        ...(keys.jwksUri ? { jwksUri: keys.jwksUri } : { jwksFile: issuer.jwksFile }),
        clockSkewMs: 60_000,
      },
    },
  };
}
