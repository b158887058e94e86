/**
 * Token auth (SPEC §6): bearer tokens are JWTs signed by a key of a configured JWKS (a
 * file, a URL such as Entra ID's `…/discovery/v2.0/keys`, or one PEM public key), issued by
 * a configured issuer for a configured audience. Only asymmetric algorithms are accepted
 * (RS*, PS*, ES*, EdDSA), each only with a key of its own type, so neither `none` nor an
 * HMAC "signed" with a public key can pass.
 */
import { createPublicKey, verify as verifySignature, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";

export interface TokenSettings {
  issuers: string[];
  audiences: string[];
  jwksFile?: string;
  jwksUri?: string;
  publicKeyFile?: string;
  /** Allowed clock difference for `exp` and `nbf`. */
  clockSkewMs: number;
}

export type Claims = Record<string, unknown>;

/** Why a token was not accepted; the message is for the caller (no secrets in it). */
export class TokenError extends Error {
  override readonly name = "TokenError";
}

interface Key {
  kid?: string;
  key: KeyObject;
}

/** alg → how to verify, and which key type it needs. */
const ALGORITHMS: Record<
  string,
  { hash: string | null; type: "rsa" | "ec" | "ed25519"; pss?: boolean }
> = {
  RS256: { hash: "sha256", type: "rsa" },
  RS384: { hash: "sha384", type: "rsa" },
  RS512: { hash: "sha512", type: "rsa" },
  PS256: { hash: "sha256", type: "rsa", pss: true },
  PS384: { hash: "sha384", type: "rsa", pss: true },
  PS512: { hash: "sha512", type: "rsa", pss: true },
  ES256: { hash: "sha256", type: "ec" },
  ES384: { hash: "sha384", type: "ec" },
  ES512: { hash: "sha512", type: "ec" },
  EdDSA: { hash: null, type: "ed25519" },
};

/** How long keys from a URL are trusted before they are fetched again. */
const JWKS_TTL_MS = 60 * 60 * 1000;
/** An unknown `kid` fetches the URL again, but not more often than this. */
const JWKS_REFETCH_MS = 60 * 1000;

function keysOfJwks(jwks: unknown, source: string): Key[] {
  const list = (jwks as { keys?: unknown })?.keys;
  if (!Array.isArray(list)) throw new Error(`${source} is not a JWKS (no "keys" array)`);
  const out: Key[] = [];
  for (const jwk of list as Record<string, unknown>[]) {
    // Keys for encryption, or of a symmetric kind, never verify a token.
    if (jwk.use !== undefined && jwk.use !== "sig") continue;
    if (jwk.kty === "oct") continue;
    try {
      const key = createPublicKey({ key: jwk as never, format: "jwk" });
      out.push({ kid: typeof jwk.kid === "string" ? jwk.kid : undefined, key });
    } catch {
      // A key this runtime cannot use is skipped; the others still work.
    }
  }
  if (out.length === 0) throw new Error(`${source} holds no usable signing key`);
  return out;
}

/** Reads a JWKS file or a PEM public key at start (errors name the file). */
export function loadStaticKeys(settings: TokenSettings): Key[] {
  const keys: Key[] = [];
  if (settings.jwksFile) {
    keys.push(
      ...keysOfJwks(JSON.parse(readFileSync(settings.jwksFile, "utf8")), settings.jwksFile),
    );
  }
  if (settings.publicKeyFile) {
    keys.push({ key: createPublicKey(readFileSync(settings.publicKeyFile, "utf8")) });
  }
  return keys;
}

function decodePart(part: string, what: string): Claims {
  try {
    const v = JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as unknown;
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Claims;
  } catch {
    // fall through
  }
  throw new TokenError(`the token's ${what} is not base64url-encoded JSON`);
}

export class TokenVerifier {
  private remote: Key[] = [];
  private fetchedAt = -Infinity;
  private fetching: Promise<void> | undefined;

  constructor(
    private readonly settings: TokenSettings,
    private readonly staticKeys: Key[],
    /** Real time in ms (never the service clock, which clock control moves). */
    private readonly now: () => number,
    private readonly monotonic: () => number,
    /** Told when the JWKS URL cannot be read (the keys held so far stay in use). */
    private readonly onKeysError: (message: string) => void = () => undefined,
  ) {}

  /** The verified claims, or a TokenError saying what is wrong. */
  async verify(token: string): Promise<Claims> {
    const parts = token.split(".");
    if (parts.length !== 3) throw new TokenError("the bearer token is not a JWT");
    const [h, p, s] = parts as [string, string, string];
    const header = decodePart(h, "header");
    const alg = typeof header.alg === "string" ? header.alg : "";
    const spec = ALGORITHMS[alg];
    if (!spec) {
      throw new TokenError(
        `the token's algorithm '${alg}' is not accepted; sign with ${Object.keys(ALGORITHMS).join(", ")}`,
      );
    }
    const kid = typeof header.kid === "string" ? header.kid : undefined;
    const candidates = (await this.keysFor(kid)).filter((k) => {
      const t = k.key.asymmetricKeyType;
      return spec.type === "ed25519" ? t === "ed25519" || t === "ed448" : t === spec.type;
    });
    if (candidates.length === 0) {
      throw new TokenError(
        kid
          ? `no signing key with kid '${kid}' for algorithm ${alg} is configured`
          : `no signing key for algorithm ${alg} is configured`,
      );
    }
    const data = Buffer.from(`${h}.${p}`);
    const signature = Buffer.from(s, "base64url");
    const valid = candidates.some((k) =>
      verifySignature(
        spec.hash,
        data,
        {
          key: k.key,
          ...(spec.type === "ec" ? { dsaEncoding: "ieee-p1363" as const } : {}),
          ...(spec.pss ? { padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: -1 } : {}),
        },
        signature,
      ),
    );
    if (!valid) throw new TokenError("the token's signature does not verify");
    const claims = decodePart(p, "payload");
    this.checkClaims(claims);
    return claims;
  }

  private checkClaims(c: Claims): void {
    const { issuers, audiences, clockSkewMs } = this.settings;
    if (typeof c.iss !== "string" || !issuers.includes(c.iss)) {
      throw new TokenError(`the token's issuer '${String(c.iss)}' is not accepted`);
    }
    const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
    if (!aud.some((a) => typeof a === "string" && audiences.includes(a))) {
      throw new TokenError(
        `the token's audience '${aud.map(String).join(", ")}' is not this service's (${audiences.join(", ")})`,
      );
    }
    const now = this.now();
    if (typeof c.exp !== "number") throw new TokenError("the token has no expiry (exp)");
    if (c.exp * 1000 + clockSkewMs <= now) throw new TokenError("the token has expired");
    if (typeof c.nbf === "number" && c.nbf * 1000 - clockSkewMs > now) {
      throw new TokenError("the token is not valid yet (nbf)");
    }
  }

  private async keysFor(kid: string | undefined): Promise<Key[]> {
    if (this.settings.jwksUri) {
      const age = this.monotonic() - this.fetchedAt;
      const unknown = kid !== undefined && !this.remote.some((k) => k.kid === kid);
      if (age > JWKS_TTL_MS || (unknown && age > JWKS_REFETCH_MS)) await this.refresh();
    }
    const all = [...this.staticKeys, ...this.remote];
    return kid === undefined ? all : all.filter((k) => k.kid === undefined || k.kid === kid);
  }

  /** Fetches the JWKS URL (one fetch at a time); on failure the keys held so far stay. */
  refresh(): Promise<void> {
    const uri = this.settings.jwksUri;
    if (!uri) return Promise.resolve();
    this.fetching ??= (async () => {
      try {
        const res = await fetch(uri, { signal: AbortSignal.timeout(10_000) });
        if (!res.ok) throw new Error(`${uri} answered ${res.status}`);
        this.remote = keysOfJwks(await res.json(), uri);
      } catch (e) {
        // Keep what we had; the next unknown kid or the TTL tries again.
        this.onKeysError(`the signing keys at ${uri} could not be read: ${(e as Error).message}`);
      } finally {
        this.fetchedAt = this.monotonic();
        this.fetching = undefined;
      }
    })();
    return this.fetching;
  }
}
