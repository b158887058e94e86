/** Token auth: what a verified token is, and which subscriptions its caller gets. */
import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Access, allows } from "../../src/auth/access.ts";
import { principalOf } from "../../src/api/plugins/principal.ts";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  JWKS_MAX_BYTES,
  loadStaticKeys,
  TokenError,
  TokenVerifier,
  type TokenSettings,
} from "../../src/auth/tokens.ts";
import { AUDIENCE, ISSUER, TestIssuer } from "../support/tokens.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { startService } from "../../src/main.ts";

const issuer = new TestIssuer();
after(() => issuer.close());

let monotonicMs = 0;

function verifier(over: Partial<TokenSettings> = {}, now = () => Date.now()) {
  const settings: TokenSettings = {
    issuers: [ISSUER],
    audiences: [AUDIENCE],
    jwksFile: issuer.jwksFile,
    clockSkewMs: 60_000,
    ...over,
  };
  return new TokenVerifier(settings, loadStaticKeys(settings), now, () => monotonicMs);
}

async function refused(v: TokenVerifier, token: string, reason: RegExp) {
  await assert.rejects(v.verify(token), (e: unknown) => {
    assert.ok(e instanceof TokenError, String(e));
    assert.match(e.message, reason);
    return true;
  });
}

describe("token verification", () => {
  test("RS256 and ES256 tokens of the configured issuer and audience verify", async () => {
    const v = verifier();
    const claims = await v.verify(issuer.token({ oid: "u1" }));
    assert.equal(claims.oid, "u1");
    assert.equal((await v.verify(issuer.token({ oid: "u2" }, { kid: "ec-1" }))).oid, "u2");
    // An audience list counts when it holds this service.
    await v.verify(issuer.token({ aud: ["other", AUDIENCE] }));
  });

  test("signature, algorithm and key are checked", async () => {
    const v = verifier();
    const good = issuer.token({ oid: "u1" });
    const [h, p, s] = good.split(".");
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, "base64url").toString()), oid: "admin" })).toString("base64url")}.${s}`;
    await refused(v, tampered, /signature does not verify/);
    const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    await refused(v, issuer.token({}, { key: stranger }), /signature does not verify/);
    await refused(
      v,
      `${issuer
        .token({}, { header: { alg: "none" } })
        .split(".")
        .slice(0, 2)
        .join(".")}.`,
      /algorithm 'none' is not accepted/,
    );
    // An HMAC "signed" with the public key (algorithm confusion) is refused outright.
    const pub = issuer.jwksFile;
    const enc = (x: unknown) => Buffer.from(JSON.stringify(x)).toString("base64url");
    const data = `${enc({ alg: "HS256", kid: "rsa-1" })}.${enc({ iss: ISSUER, aud: AUDIENCE, exp: 9e9 })}`;
    const mac = createHmac("sha256", pub).update(data).digest("base64url");
    await refused(v, `${data}.${mac}`, /algorithm 'HS256' is not accepted/);
    // The header's algorithm must fit the key: an RSA key never checks an ES256 token.
    await refused(
      v,
      issuer.token({}, { header: { alg: "ES256" } }),
      /no signing key with kid 'rsa-1' for algorithm ES256/,
    );
    await refused(
      v,
      issuer.token({}, { header: { kid: "gone" } }),
      /no signing key with kid 'gone'/,
    );
    await refused(v, "not-a-jwt", /not a JWT/);
    await refused(v, "a.b.c", /header is not canonical base64url/);
    await refused(v, "bm90IGpzb24.e30.c2ln", /header is not base64url-encoded JSON/);
  });

  test("issuer, audience, expiry and not-before are checked", async () => {
    const now = Date.now();
    const v = verifier({}, () => now);
    await refused(
      v,
      issuer.token({ iss: "https://evil.test/" }),
      /issuer 'https:\/\/evil.test\/' is not accepted/,
    );
    await refused(
      v,
      issuer.token({ aud: "https://management.azure.com/" }),
      /audience .* is not this service's/,
    );
    const s = Math.floor(now / 1000);
    await refused(v, issuer.token({ exp: s - 120 }), /has expired/);
    await v.verify(issuer.token({ exp: s - 30 })); // within the minute of skew
    await refused(v, issuer.token({ exp: undefined }), /no expiry/);
    await refused(v, issuer.token({ nbf: s + 600 }), /not valid yet/);
  });

  test("keys at a URL are fetched, and fetched again for a kid not seen yet (rotation)", async () => {
    const url = await issuer.serve();
    const v = verifier({ jwksFile: undefined, jwksUri: url });
    await v.verify(issuer.token({ oid: "u1" }));
    const before = issuer.fetches;
    await v.verify(issuer.token({ oid: "u1" }));
    assert.equal(issuer.fetches, before, "cached");
    const kid = issuer.rotate("ES256");
    // A new kid within a minute of the last fetch is not fetched for (no fetch storms).
    monotonicMs += 30_000;
    await refused(v, issuer.token({ oid: "u1" }, { kid }), /no signing key with kid 'es256-3'/);
    assert.equal(issuer.fetches, before);
    monotonicMs += 31_000;
    await v.verify(issuer.token({ oid: "u1" }, { kid }));
    assert.equal(issuer.fetches, before + 1);
  });
});

describe("verified tokens are remembered", () => {
  test("a token verified once is answered from the cache until its exp (plus skew), then refused", async () => {
    let now = Date.now();
    const v = verifier({}, () => now);
    const s = Math.floor(now / 1000);
    const token = issuer.token({ oid: "u1", exp: s + 100 });
    assert.equal(v.cached(token), undefined, "nothing to answer at once before a verification");
    assert.equal((await v.verify(token)).oid, "u1");
    assert.equal(v.cacheHits, 0);
    assert.equal((await v.verify(token)).oid, "u1");
    assert.equal(v.cacheHits, 1, "the second call is a cache hit");
    assert.equal(v.cached(token)?.oid, "u1", "and answers at once");
    assert.ok(Object.isFrozen(await v.verify(token)), "callers cannot change what is cached");
    assert.equal(v.cacheHits, 3);
    now = (s + 100) * 1000 + 60_000; // exp plus the minute of skew
    assert.equal(v.cached(token), undefined);
    await refused(v, token, /has expired/);
    assert.equal(v.cacheHits, 3, "the expired entry answered nothing");
  });

  test("a cached token is refused once its key is gone from the JWKS; tokens of keys kept stay cached", async () => {
    const own = new TestIssuer();
    try {
      const url = await own.serve();
      const kid = own.rotate("RS256");
      const v = verifier({ jwksFile: undefined, jwksUri: url });
      const rotatedOut = own.token({ oid: "u1" }, { kid });
      const kept = own.token({ oid: "u2" });
      await v.verify(rotatedOut);
      await v.verify(kept);
      await v.verify(rotatedOut);
      assert.equal(v.cacheHits, 1);
      own.keys.splice(
        own.keys.findIndex((k) => k.kid === kid),
        1,
      );
      const fetches = own.fetches;
      monotonicMs += 3_600_000 + 1; // the keys are due to be fetched again
      assert.equal(v.cached(rotatedOut), undefined, "not answered at once while keys are due");
      await refused(v, rotatedOut, new RegExp(`no signing key with kid '${kid}'`));
      assert.equal(own.fetches, fetches + 1, "fetched again before the cache answered");
      await v.verify(kept);
      assert.equal(v.cacheHits, 2, "the kept key's token is still a cache hit");
    } finally {
      await own.close();
    }
  });

  test("the cache is bounded: the oldest entry makes room", async () => {
    const settings: TokenSettings = {
      issuers: [ISSUER],
      audiences: [AUDIENCE],
      jwksFile: issuer.jwksFile,
      clockSkewMs: 60_000,
    };
    const v = new TokenVerifier(
      settings,
      loadStaticKeys(settings),
      () => Date.now(),
      () => monotonicMs,
      () => undefined,
      3,
    );
    const tokens = ["a", "b", "c", "d", "e"].map((oid) => issuer.token({ oid }));
    for (const t of tokens) await v.verify(t);
    assert.equal(v.cachedTokens, 3);
    await v.verify(tokens[4]!);
    assert.equal(v.cacheHits, 1, "the newest is cached");
    await v.verify(tokens[0]!);
    assert.equal(v.cacheHits, 1, "the oldest was dropped, and verified again");
    assert.equal(v.cachedTokens, 3);
  });
});

describe("keys at a URL: no redirects, a size limit", () => {
  const servers: Server[] = [];
  after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));
  const serve = async (handler: (res: ServerResponse) => void) => {
    const s = createServer((_req, res) => handler(res));
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}/keys`;
  };

  const own = new TestIssuer();
  test("a redirect is not followed and an oversized answer is not read: the token is a 401", async () => {
    const real = await own.serve();
    servers.push({ close: (cb: () => void) => void own.close().then(cb) } as unknown as Server);
    const redirect = await serve((res) => {
      res.writeHead(302, { location: real }).end();
    });
    const huge = await serve((res) => {
      const jwks = JSON.stringify({ ...own.jwks(), padding: "x".repeat(JWKS_MAX_BYTES) });
      res
        .writeHead(200, {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(jwks),
        })
        .end(jwks);
    });
    const chunked = await serve((res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(JSON.stringify(own.jwks()).slice(0, -1));
      res.end(`, "padding": "${"x".repeat(JWKS_MAX_BYTES)}"}`);
    });
    for (const [uri, why] of [
      [redirect, /answered 302 \(a redirect, which is not followed\)/],
      [huge, /answered with \d+ bytes \(at most 262144\)/],
      [chunked, /answered with more than 262144 bytes/],
    ] as const) {
      const problems: string[] = [];
      const v = new TokenVerifier(
        { issuers: [ISSUER], audiences: [AUDIENCE], jwksUri: uri, clockSkewMs: 0 },
        [],
        () => Date.now(),
        () => 0,
        (m) => problems.push(m),
      );
      await refused(v, own.token({ oid: "u1" }), /no signing key/);
      assert.match(problems.join("\n"), why);
    }
    // The same keys served directly verify.
    const direct = new TokenVerifier(
      { issuers: [ISSUER], audiences: [AUDIENCE], jwksUri: real, clockSkewMs: 0 },
      [],
      () => Date.now(),
      () => 0,
    );
    assert.equal((await direct.verify(own.token({ oid: "u1" }))).oid, "u1");
  });

  test("a PEM RSA key under 2048 bits is refused at start", () => {
    const dir = mkdtempSync(join(tmpdir(), "drivebay-pem-"));
    const weak = join(dir, "weak.pem");
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
    writeFileSync(weak, publicKey.export({ format: "pem", type: "spki" }));
    assert.throws(
      () =>
        loadStaticKeys({
          issuers: [ISSUER],
          audiences: [AUDIENCE],
          publicKeyFile: weak,
          clockSkewMs: 0,
        }),
      /an RSA key of 1024 bits \(at least 2048 are needed\)/,
    );
  });
});

describe("grants", () => {
  const S1 = "aaaa0000-0000-4000-8000-000000000001";
  const S2 = "bbbb0000-0000-4000-8000-000000000002";
  const OID = "0e5a4b3c-1111-4222-8333-944455556666";
  const APP = "7f000000-aaaa-4bbb-8ccc-dddddddddddd";
  const access = new Access(
    {
      mode: "token",
      grants: [
        { principal: OID, subscriptions: [S1] },
        { principal: APP, kind: "app", subscriptions: ["*"] },
      ],
      subscriptionsClaim: "subscriptions",
    },
    verifier(),
    [ISSUER],
  );
  const of = (claims: Record<string, unknown>) => access.callerOf({ iss: ISSUER, ...claims });

  test("a user by oid (GUIDs in any case), an app-only caller by its application id, or by claim", () => {
    const u1 = of({ oid: OID.toUpperCase(), sub: "pairwise-1", upn: "ada@example.test", scp: "x" });
    assert.deepEqual(u1.principal, { id: "ada@example.test", type: "User" });
    assert.deepEqual(u1.identity, { issuer: ISSUER, kind: "user", id: OID.toUpperCase() });
    assert.ok(allows(u1, S1));
    assert.ok(!allows(u1, S2));
    // App-only: idtyp "app", or (no idtyp) no scp and oid equal to sub.
    for (const claims of [
      { appid: APP, idtyp: "app", oid: "sp-1", sub: "sp-1" },
      { azp: APP, oid: "sp-1", sub: "sp-1" },
    ]) {
      const app = of(claims);
      assert.deepEqual(app.principal, { id: APP, type: "Application" });
      assert.ok(allows(app, S2), JSON.stringify(claims));
    }
    const claimed = of({ oid: "u9", subscriptions: [S2, "*"] });
    assert.ok(allows(claimed, S2.toUpperCase()));
    assert.ok(!allows(claimed, "cccc0000-0000-4000-8000-000000000003"), "a claim never grants all");
    assert.ok(!allows(of({ oid: "u9" }), S1));
  });

  test("spoofing: display claims, a delegated token's azp/appid, another issuer, another kind", () => {
    const refusedEverywhere = (claims: Record<string, unknown>, why: string) => {
      const c = access.callerOf(claims);
      assert.ok(!allows(c, S1) && !allows(c, S2), why);
    };
    for (const claim of ["email", "upn", "preferred_username", "unique_name", "name"]) {
      refusedEverywhere({ iss: ISSUER, oid: "mallory", scp: "x", [claim]: OID }, `${claim} = oid`);
    }
    // A user signed in through the granted app: its token names the app in azp/appid.
    refusedEverywhere(
      { iss: ISSUER, oid: "mallory", sub: "m", scp: "user_impersonation", azp: APP, appid: APP },
      "delegated token with the app's azp",
    );
    refusedEverywhere(
      { iss: ISSUER, oid: "mallory", sub: "m", idtyp: "user", azp: APP },
      "idtyp user with the app's azp",
    );
    // The same oid from another issuer is another principal.
    refusedEverywhere({ iss: "https://other.example.test/", oid: OID }, "other issuer");
    // A user's oid as an app's id, or an app-only token whose oid is the granted user's.
    refusedEverywhere({ iss: ISSUER, idtyp: "app", appid: OID, oid: OID }, "app with a user's id");
    refusedEverywhere({ iss: ISSUER, sub: "x", oid: APP, scp: "x" }, "user with an app's id");
  });

  test("systemData never names a caller from an unverified token under token auth", () => {
    const unverified = `Bearer ${issuer.token({ oid: "x", upn: "mallory@example.test" })}`;
    const req = (developmentAuth: boolean) =>
      ({ caller: undefined, developmentAuth, headers: { authorization: unverified } }) as never;
    assert.throws(
      () => principalOf(req(false)),
      (e: Error & { code?: string }) => e.code === "AuthenticationFailed",
    );
    assert.equal(principalOf(req(true)).id, "mallory@example.test", "development auth only");
  });

  test("Access.caller (the ARM routes'): a promise for a token not seen, then the caller at once from the cache", async () => {
    const v = verifier();
    const access = new Access(
      { mode: "token", grants: [{ principal: "oid-c", subscriptions: [S1] }] },
      v,
      [ISSUER],
    );
    const bearer = `Bearer ${issuer.token({ oid: "oid-c" })}`;
    const first = access.caller(bearer);
    assert.ok(first instanceof Promise, "verified the first time");
    assert.equal((await first).principal.id, "oid-c");
    assert.equal(v.cachedTokens, 1);
    const again = access.caller(bearer);
    assert.ok(!(again instanceof Promise), "answered at once");
    assert.deepEqual(again.subscriptions, new Set([S1]));
    assert.equal(v.cacheHits, 1);
    await assert.rejects(
      Promise.resolve(access.caller(undefined)),
      (e: Error & { code?: string }) => e.code === "AuthenticationFailed",
    );
  });

  test("no token or a bad one is AuthenticationFailed; development auth takes anything", async () => {
    const strict = new Access({ mode: "token", grants: [] }, verifier(), [ISSUER]);
    await assert.rejects(strict.authenticate(undefined), /AuthenticationFailed|no bearer token/);
    await assert.rejects(
      strict.authenticate("Bearer nope"),
      (e: Error & { code?: string }) =>
        e.code === "AuthenticationFailed" && /not a JWT/.test(e.message),
    );
    const dev = new Access({ mode: "development", grants: [] }, undefined);
    assert.throws(
      () => new Access({ mode: "token", grants: [] }, undefined),
      /needs a token verifier/,
    );
    const c = await dev.authenticate(undefined);
    assert.equal(c.subscriptions, "*");
    assert.equal(c.principal.id, "developer@drivebay.local");
  });
});

describe("auth and tls settings", () => {
  const base = { DRIVEBAY_OPERATOR_KEY: "0123456789abcdef0123", DRIVEBAY_DATA_DIR: "/tmp/x" };
  const load = (env: Record<string, string>, file?: Record<string, unknown>) => {
    const path = file ? join(mkdtempSync(join(tmpdir(), "drivebay-auth-")), "c.json") : undefined;
    if (path) writeFileSync(path, JSON.stringify(file));
    return loadConfig({ env: { ...base, ...env }, flags: path ? { config: path } : {} });
  };
  const refused = (env: Record<string, string>, pattern: RegExp, file?: Record<string, unknown>) =>
    assert.throws(
      () => load(env, file),
      (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
    );

  test("the emulator accepts any token; the service profile verifies them and says what it needs", () => {
    assert.equal(load({}).auth.mode, "development");
    refused(
      { DRIVEBAY_PROFILE: "service" },
      /token auth \(the service profile's default\) needs auth.issuer .*auth.audience .*auth.jwksUri, auth.jwksFile or auth.publicKeyFile.*set auth.mode to 'development'/,
    );
    assert.equal(
      load({ DRIVEBAY_PROFILE: "service", DRIVEBAY_AUTH_MODE: "development" }).auth.mode,
      "development",
    );
    refused({ DRIVEBAY_AUTH_MODE: "jwt" }, /auth.mode: 'jwt' is not a mode/);
  });

  test("token settings from the environment and the config file", () => {
    const env = {
      DRIVEBAY_PROFILE: "service",
      DRIVEBAY_AUTH_ISSUER: `${ISSUER}, https://sts.example.test/`,
      DRIVEBAY_AUTH_AUDIENCE: AUDIENCE,
      DRIVEBAY_AUTH_JWKS_URI: "https://login.example.test/keys",
    };
    refused(env, /nobody could use any subscription/);
    refused(env, /the grant for 'ada' must name its issuer/, {
      auth: { grants: [{ principal: "ada", subscriptions: ["*"] }] },
    });
    refused(env, /names issuer 'https:\/\/x\/', which is not one of auth.issuer/, {
      auth: { grants: [{ principal: "ada", issuer: "https://x/", subscriptions: ["*"] }] },
    });
    refused(env, /'ada@example.test' looks like a mail address.*grant the user's object id/, {
      auth: { grants: [{ principal: "ada@example.test", issuer: ISSUER, subscriptions: ["*"] }] },
    });
    const c = load(env, {
      auth: { grants: [{ principal: "ada", issuer: ISSUER, kind: "user", subscriptions: ["*"] }] },
    });
    assert.deepEqual(c.auth.token?.issuers, [ISSUER, "https://sts.example.test/"]);
    assert.equal(c.auth.token?.jwksUri, "https://login.example.test/keys");
    assert.equal(c.auth.token?.clockSkewMs, 300_000);
    assert.equal(
      load({ ...env, DRIVEBAY_AUTH_SUBSCRIPTIONS_CLAIM: "subs" }).auth.subscriptionsClaim,
      "subs",
    );
    for (const uri of ["file:///etc/keys", "http://login.example.test/keys", "http://10.0.0.1/k"]) {
      refused(
        { ...env, DRIVEBAY_AUTH_JWKS_URI: uri },
        /is not an https URL \(plain http only for a loopback address\)/,
        {
          auth: { grants: [{ principal: "a", issuer: ISSUER, subscriptions: ["*"] }] },
        },
      );
    }
    for (const uri of ["http://127.0.0.1:9/k", "http://[::1]:9/k", "http://localhost/k"]) {
      const ok = load(
        { ...env, DRIVEBAY_AUTH_JWKS_URI: uri },
        {
          auth: { grants: [{ principal: "a", issuer: ISSUER, subscriptions: ["*"] }] },
        },
      );
      assert.equal(ok.auth.token?.jwksUri, uri);
    }
    refused({ ...env, DRIVEBAY_AUTH_JWKS_URI: "file:///etc/keys" }, /not an https URL/, {
      auth: { grants: [{ principal: "a", issuer: ISSUER, subscriptions: ["*"] }] },
    });
    refused(env, /auth.grants: use a list/, { auth: { grants: [{ principal: "a" }] } });
  });

  test("under token auth every storage account names its subscription and resource group", () => {
    const env = {
      DRIVEBAY_PROFILE: "service",
      DRIVEBAY_AUTH_ISSUER: ISSUER,
      DRIVEBAY_AUTH_AUDIENCE: AUDIENCE,
      DRIVEBAY_AUTH_JWKS_URI: "https://login.example.test/keys",
      DRIVEBAY_AUTH_SUBSCRIPTIONS_CLAIM: "subs",
    };
    const key = { blobEndpoint: "https://x.blob.core.windows.net", accountKey: "a2V5" };
    refused(
      env,
      /storageAccounts: under token auth every account names the subscriptionId and resourceGroup .*\(missing for mydata\)/,
      { storageAccounts: [{ name: "mydata", subscriptionId: "s1", ...key }] },
    );
    refused(env, /mydata: subscriptionId 'a\/b' is not a subscription id/, {
      storageAccounts: [{ name: "mydata", subscriptionId: "a/b", resourceGroup: "rg", ...key }],
    });
    const owned = { name: "mydata", subscriptionId: "s1", resourceGroup: "rg", ...key };
    assert.deepEqual(load(env, { storageAccounts: [owned] }).storageAccounts, [owned]);
    // Development auth: an account without an owner is shared by name.
    assert.equal(load({}, { storageAccounts: [{ name: "mydata" }] }).storageAccounts.length, 1);
  });

  test("tls: both files or neither, and files that are a certificate and its key", async () => {
    refused({ DRIVEBAY_TLS_CERT_FILE: "cert.pem" }, /tls: give both the certificate and its key/);
    const fixtures = join(import.meta.dirname, "..", "fixtures", "tls");
    const c = load({
      DRIVEBAY_TLS_CERT_FILE: join(fixtures, "localhost.crt"),
      DRIVEBAY_TLS_KEY_FILE: join(fixtures, "localhost.key"),
    });
    assert.equal(c.tls?.certFile, join(fixtures, "localhost.crt"));
    // Checked at start, before anything is opened.
    await assert.rejects(
      startService({ ...c, tls: { certFile: "/nonexistent.crt", keyFile: c.tls!.keyFile } }),
      /tls: the certificate \/nonexistent.crt cannot be read/,
    );
    await assert.rejects(
      startService({ ...c, tls: { certFile: c.tls!.keyFile, keyFile: c.tls!.keyFile } }),
      /are not a PEM certificate and its key/,
    );
  });
});
