/**
 * Token auth (SPEC §6): bearer tokens are JWTs signed by a key of a configured JWKS (a
 * file, a URL such as Entra ID's `…/discovery/v2.0/keys`, or one PEM public key), issued by
 * a configured issuer for a configured audience. Only asymmetric algorithms are accepted
 * (RS*, PS*, ES*, EdDSA), each only with a key of its own type (ES* with its own curve,
 * RSA of at least 2048 bits), so neither `none` nor an HMAC "signed" with a public key can
 * pass. Parsing is strict (RFC 7515, 7519, 8725): canonical base64url only, numeric time
 * claims, no `crit`, `typ` absent or a JWT's, and a JWK's own `use`, `alg` and `key_ops`
 * are honoured.
 *
 * Verified tokens are remembered (a bounded cache keyed by the token's SHA-256) until
 * their `exp`, and only while the key that verified them is still one of the keys in
 * use: a key gone from the JWKS at its next fetch takes its tokens' entries with it.
 */
import {
  createHash,
  createPublicKey,
  verify as verifySignature,
  type KeyObject,
} from "node:crypto";
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
  /** The JWK's own `alg`: the key verifies only tokens of that algorithm. */
  alg?: string;
  key: KeyObject;
}

/** alg → how to verify, and which key type (and EC curve) it needs. */
const ALGORITHMS: Record<
  string,
  { hash: string | null; type: "rsa" | "ec" | "ed25519"; pss?: boolean; curve?: string }
> = {
  RS256: { hash: "sha256", type: "rsa" },
  RS384: { hash: "sha384", type: "rsa" },
  RS512: { hash: "sha512", type: "rsa" },
  PS256: { hash: "sha256", type: "rsa", pss: true },
  PS384: { hash: "sha384", type: "rsa", pss: true },
  PS512: { hash: "sha512", type: "rsa", pss: true },
  ES256: { hash: "sha256", type: "ec", curve: "prime256v1" },
  ES384: { hash: "sha384", type: "ec", curve: "secp384r1" },
  ES512: { hash: "sha512", type: "ec", curve: "secp521r1" },
  EdDSA: { hash: null, type: "ed25519" },
};

/** RFC 8725 §3.5 and NIST: shorter RSA keys are refused. */
export const MIN_RSA_BITS = 2048;
/** The most a JWKS URL may answer with. */
export const JWKS_MAX_BYTES = 256 * 1024;
/** `typ` values of a JWT access token (RFC 7519 §5.1, RFC 9068 §2.1), compared ignoring case. */
const TYPES = new Set(["jwt", "at+jwt", "application/jwt", "application/at+jwt"]);

/** Why a key cannot verify tokens, or undefined when it can. */
function keyProblem(key: KeyObject): string | undefined {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType === "rsa" || key.asymmetricKeyType === "rsa-pss") {
    if (bits === undefined || bits < MIN_RSA_BITS) {
      return `an RSA key of ${bits ?? "?"} bits (at least ${MIN_RSA_BITS} are needed)`;
    }
  }
  if (key.type !== "public") return "not a public key";
  return undefined;
}

/** Verified tokens remembered at most (the oldest entry makes room for a new one). */
export const VERIFIED_TOKENS_MAX = 10_000;

interface Verified {
  claims: Claims;
  /** When the token stops being accepted: exp plus the allowed skew (ms since the epoch). */
  until: number;
  /** The key that verified it: the entry holds only while this key is in use. */
  key: Key;
}

/** A verified token's cache key (its SHA-256): computed once per request, see Access.caller. */
export function tokenId(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

/** How long keys from a URL are trusted before they are fetched again. */
const JWKS_TTL_MS = 60 * 60 * 1000;
/** An unknown `kid` fetches the URL again, but not more often than this. */
const JWKS_REFETCH_MS = 60 * 1000;

function keysOfJwks(jwks: unknown, source: string): Key[] {
  const list = (jwks as { keys?: unknown })?.keys;
  if (!Array.isArray(list)) throw new Error(`${source} is not a JWKS (no "keys" array)`);
  const out: Key[] = [];
  for (const jwk of list as Record<string, unknown>[]) {
    if (!jwk || typeof jwk !== "object") continue;
    // Keys for encryption, or of a symmetric kind, never verify a token; nor does a key
    // whose key_ops leave out "verify", or whose alg is not one accepted here.
    if (jwk.use !== undefined && jwk.use !== "sig") continue;
    if (jwk.kty === "oct") continue;
    if (
      jwk.key_ops !== undefined &&
      !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes("verify"))
    )
      continue;
    if (jwk.alg !== undefined && (typeof jwk.alg !== "string" || !ALGORITHMS[jwk.alg])) continue;
    try {
      const key = createPublicKey({ key: jwk as never, format: "jwk" });
      if (keyProblem(key)) continue;
      out.push({
        kid: typeof jwk.kid === "string" ? jwk.kid : undefined,
        ...(typeof jwk.alg === "string" ? { alg: jwk.alg } : {}),
        key,
      });
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
    const key = createPublicKey(readFileSync(settings.publicKeyFile, "utf8"));
    const problem = keyProblem(key);
    if (problem) throw new Error(`${settings.publicKeyFile} holds ${problem}`);
    keys.push({ key });
  }
  return keys;
}

/** base64url without padding, in its one canonical spelling (RFC 7515 §2, §3.1). */
function isCanonicalBase64url(part: string): boolean {
  if (!/^[A-Za-z0-9_-]*$/.test(part) || part.length % 4 === 1) return false;
  return Buffer.from(part, "base64url").toString("base64url") === part;
}

/** Numeric time claims (RFC 7519 §4.1.4–6): absent, or a finite number. */
function timeClaim(c: Claims, name: "exp" | "nbf" | "iat"): number | undefined {
  const v = c[name];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new TokenError(`the token's ${name} is not a number of seconds (NumericDate)`);
  }
  return v;
}

function decodePart(part: string, what: string): Claims {
  if (!isCanonicalBase64url(part)) {
    throw new TokenError(`the token's ${what} is not canonical base64url`);
  }
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
  /** Verified tokens by SHA-256, oldest first (see VERIFIED_TOKENS_MAX). */
  private readonly verified = new Map<string, Verified>();
  /** Verifications answered from the cache (for tests and diagnostics). */
  cacheHits = 0;

  constructor(
    private readonly settings: TokenSettings,
    private readonly staticKeys: Key[],
    /** Real time in ms (never the service clock, which clock control moves). */
    private readonly now: () => number,
    private readonly monotonic: () => number,
    /** Told when the JWKS URL cannot be read (the keys held so far stay in use). */
    private readonly onKeysError: (message: string) => void = () => undefined,
    private readonly cacheSize = VERIFIED_TOKENS_MAX,
  ) {}

  /** How many verified tokens are remembered now. */
  get cachedTokens(): number {
    return this.verified.size;
  }

  /**
   * The verified claims (frozen: the same object may answer later calls with the same
   * token), or a TokenError saying what is wrong. A token verified before is answered from
   * the cache while it has not expired and the key that verified it is still in use;
   * keys at a URL are fetched again when they are due first, so a key rotated out ends
   * its tokens' entries no later than it would end their verification.
   */
  async verify(token: string, id = tokenId(token)): Promise<Claims> {
    if (this.keysDue()) await this.refresh();
    const hit = this.hit(id);
    if (hit) return hit;
    const { claims, key } = await this.verifyFully(token);
    if (this.cacheSize > 0) {
      if (this.verified.size >= this.cacheSize) {
        this.verified.delete(this.verified.keys().next().value!);
      }
      this.verified.set(id, {
        claims,
        until: (claims.exp as number) * 1000 + this.settings.clockSkewMs,
        key,
      });
    }
    return claims;
  }

  /**
   * The claims of a token verified before, at once (no promise), when the cache can
   * answer: undefined when it cannot (never seen, expired, its key gone, or keys due to
   * be fetched again), and then verify() decides.
   */
  cached(token: string, id = tokenId(token)): Claims | undefined {
    if (this.keysDue()) return undefined;
    return this.hit(id);
  }

  private keysDue(): boolean {
    return this.settings.jwksUri !== undefined && this.monotonic() - this.fetchedAt > JWKS_TTL_MS;
  }

  private hit(id: string): Claims | undefined {
    const hit = this.verified.get(id);
    if (!hit) return undefined;
    if (hit.until > this.now() && this.inUse(hit.key)) {
      this.cacheHits++;
      return hit.claims;
    }
    this.verified.delete(id);
    return undefined;
  }

  private inUse(key: Key): boolean {
    return this.staticKeys.includes(key) || this.remote.includes(key);
  }

  private async verifyFully(token: string): Promise<{ claims: Claims; key: Key }> {
    const parts = token.split(".");
    if (parts.length !== 3) throw new TokenError("the bearer token is not a JWT");
    const [h, p, s] = parts as [string, string, string];
    const header = decodePart(h, "header");
    if (!isCanonicalBase64url(p))
      throw new TokenError("the token's payload is not canonical base64url");
    if (header.crit !== undefined) {
      throw new TokenError(
        "the token's header has 'crit' extensions, which this service does not understand",
      );
    }
    if (
      header.typ !== undefined &&
      !(typeof header.typ === "string" && TYPES.has(header.typ.toLowerCase()))
    ) {
      throw new TokenError(
        `the token's type '${String(header.typ)}' is not a JWT (use JWT or at+jwt)`,
      );
    }
    const alg = typeof header.alg === "string" ? header.alg : "";
    const spec = ALGORITHMS[alg];
    if (!spec) {
      throw new TokenError(
        `the token's algorithm '${alg}' is not accepted; sign with ${Object.keys(ALGORITHMS).join(", ")}`,
      );
    }
    if (!isCanonicalBase64url(s) || s === "") {
      throw new TokenError("the token's signature is not canonical base64url");
    }
    const kid = typeof header.kid === "string" ? header.kid : undefined;
    const candidates = (await this.keysFor(kid)).filter((k) => {
      if (k.alg !== undefined && k.alg !== alg) return false;
      const t = k.key.asymmetricKeyType;
      if (spec.curve) return t === "ec" && k.key.asymmetricKeyDetails?.namedCurve === spec.curve;
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
    const key = candidates.find((k) =>
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
    if (!key) throw new TokenError("the token's signature does not verify");
    const claims = decodePart(p, "payload");
    this.checkClaims(claims);
    return { claims: Object.freeze(claims), key };
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
    const exp = timeClaim(c, "exp");
    const nbf = timeClaim(c, "nbf");
    timeClaim(c, "iat");
    if (exp === undefined) throw new TokenError("the token has no expiry (exp)");
    if (exp * 1000 + clockSkewMs <= now) throw new TokenError("the token has expired");
    if (nbf !== undefined && nbf * 1000 - clockSkewMs > now) {
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
        // A key fetched again unchanged stays the same object, so the tokens it verified
        // stay cached; a key no longer listed is dropped, and its tokens' entries with it.
        const held = this.remote;
        this.remote = keysOfJwks(await fetchJwks(uri), uri).map(
          (k) => held.find((h) => h.kid === k.kid && h.alg === k.alg && h.key.equals(k.key)) ?? k,
        );
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

/** Plain http is allowed only to this machine (tests, a local issuer). */
export function jwksUriProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `'${uri}' is not a URL`;
  }
  if (url.protocol === "https:") return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const loopback = host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (url.protocol === "http:" && loopback) return undefined;
  return `'${uri}' is not an https URL (plain http only for a loopback address)`;
}

/** GETs a JWKS: https (or loopback http), no redirects, at most JWKS_MAX_BYTES. */
async function fetchJwks(uri: string): Promise<unknown> {
  const problem = jwksUriProblem(uri);
  if (problem) throw new Error(problem);
  const res = await fetch(uri, { redirect: "manual", signal: AbortSignal.timeout(10_000) });
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    throw new Error(`${uri} answered ${res.status} (a redirect, which is not followed)`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${uri} answered ${res.status}`);
  }
  const declared = Number(res.headers.get("content-length") ?? 0);
  if (declared > JWKS_MAX_BYTES) {
    await res.body?.cancel();
    throw new Error(`${uri} answered with ${declared} bytes (at most ${JWKS_MAX_BYTES})`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += (chunk as Uint8Array).byteLength;
    if (size > JWKS_MAX_BYTES) {
      throw new Error(`${uri} answered with more than ${JWKS_MAX_BYTES} bytes`);
    }
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
}
