/**
 * Token auth of the ARM API (SPEC §6) through the official SDK: verified JWTs from a real
 * JWKS URL, subscriptions granted per caller, 401 and 403 in ARM's envelope, no existence
 * leak, and the operator surface untouched.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { assertConformant } from "../support/conformance.ts";
import { TestIssuer, tokenAuthConfig } from "../support/tokens.ts";
import { importJob, rejectsWith } from "./fixtures.ts";

const OTHER = "bbbb0000-0000-4000-8000-000000000002";

describe("token auth", () => {
  const issuer = new TestIssuer();
  let server: TestServer;
  before(async () => {
    const jwksUri = await issuer.serve();
    server = await startTestServer({
      config: tokenAuthConfig(
        issuer,
        [
          { principal: "oid-ada", subscriptions: [SUBSCRIPTION] },
          { principal: "ops-pipeline", kind: "app", subscriptions: ["*"] },
        ],
        { jwksUri },
      ),
    });
  });
  after(async () => {
    await server.close();
    await issuer.close();
  });

  const ada = () => issuer.token({ oid: "oid-ada", upn: "ada@example.test" });
  const url = (path: string) => `${server.url}${path}?api-version=2021-01-01`;
  const jobPath = (sub: string, name: string) =>
    `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/${name}`;

  test("a granted caller works through the SDK, and systemData names them", async (t) => {
    const c = server.client({ token: ada() });
    const job = await c.jobs.create("tok-1", "rg", importJob());
    assert.equal(job.systemData?.createdBy, "ada@example.test");
    assert.equal(job.systemData?.createdByType, "User");
    assert.equal((await c.jobs.get("tok-1", "rg")).name, "tok-1");
    const listed = [];
    for await (const j of c.jobs.listBySubscription()) listed.push(j.name);
    assert.deepEqual(listed, ["tok-1"]);
    // The ES256 key of the same issuer works too; tenant-level operations need only a token.
    const ec = server.client({
      token: issuer.token({ oid: "oid-ada", upn: "ada@example.test" }, { kid: "ec-1" }),
    });
    assert.ok((await ec.locations.get("westus")).name);
    await assertConformant(t, server.exchanges);
  });

  test("no token, a bad one, an expired one: 401 AuthenticationFailed with WWW-Authenticate", async () => {
    for (const [authorization, reason] of [
      [undefined, /no bearer token/],
      ["Bearer dev", /not a JWT/],
      [
        `Bearer ${issuer.token({ upn: "ada@example.test", exp: Math.floor(Date.now() / 1000) - 3600 })}`,
        /has expired/,
      ],
      [
        `Bearer ${issuer.token({ upn: "ada@example.test", aud: "https://management.azure.com/" })}`,
        /audience/,
      ],
    ] as const) {
      // A write: refused before it is looked at, so nothing of it lands.
      const res = await fetch(url(jobPath(SUBSCRIPTION, "tok-1")), {
        method: "PATCH",
        headers: {
          "content-type": "application/json",
          ...(authorization ? { authorization } : {}),
        },
        body: JSON.stringify({ tags: { intruder: "yes" } }),
      });
      assert.equal(res.status, 401, String(authorization));
      // RFC 6750 §3.1: an error code only when credentials were sent.
      assert.equal(
        res.headers.get("www-authenticate"),
        authorization ? 'Bearer error="invalid_token"' : "Bearer",
      );
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "AuthenticationFailed");
      assert.match(body.error.message, reason);
    }
    const job = await server.client({ token: ada() }).jobs.get("tok-1", "rg");
    assert.deepEqual(job.tags ?? {}, {}, "no refused PATCH changed the job");
  });

  test("another subscription is 403 AuthorizationFailed, the same whether it holds the job or not", async () => {
    // ops-pipeline may use every subscription; it creates a job in OTHER.
    const ops = server.client({
      subscriptionId: OTHER,
      token: issuer.token({ appid: "ops-pipeline", idtyp: "app" }),
    });
    const theirs = await ops.jobs.create("theirs", "rg", importJob());
    assert.equal(theirs.systemData?.createdByType, "Application");
    const adaThere = server.client({ subscriptionId: OTHER, token: ada() });
    const existing = await rejectsWith(
      adaThere.jobs.get("theirs", "rg"),
      403,
      "AuthorizationFailed",
    );
    const missing = await rejectsWith(
      adaThere.jobs.get("nothing", "rg"),
      403,
      "AuthorizationFailed",
    );
    assert.equal(existing.message.replace("theirs", "X"), missing.message.replace("nothing", "X"));
    assert.match(
      existing.message,
      /'ada@example.test' does not have authorization to perform action 'Microsoft.ImportExport\/jobs\/read'/,
    );
    await rejectsWith(
      adaThere.jobs.update("theirs", "rg", { tags: { a: "b" } }),
      403,
      "AuthorizationFailed",
    );
    await rejectsWith(adaThere.jobs.delete("theirs", "rg"), 403, "AuthorizationFailed");
    await rejectsWith(
      adaThere.bitLockerKeys.list("theirs", "rg").next(),
      403,
      "AuthorizationFailed",
    );
    await rejectsWith(adaThere.jobs.listBySubscription().next(), 403, "AuthorizationFailed");
    // The job is untouched.
    const still = await ops.jobs.get("theirs", "rg");
    assert.deepEqual(still.tags ?? {}, {});
    // A token claim can grant a subscription too (never "*").
    const claimed = server.client({
      subscriptionId: OTHER,
      token: issuer.token({ oid: "oid-eve", subscriptions: [OTHER] }),
    });
    assert.equal((await claimed.jobs.get("theirs", "rg")).name, "theirs");
  });

  test("the operator key is still refused here, and customer tokens on /operator/v1/", async () => {
    const res = await fetch(url(jobPath(SUBSCRIPTION, "tok-1")), {
      headers: { authorization: `Bearer ${server.operatorKey}` },
    });
    assert.equal(res.status, 403);
    assert.equal(
      ((await res.json()) as { error: { code: string } }).error.code,
      "OperatorCredentialsNotAccepted",
    );
    const op = await server.operator("GET", "/jobs?view=all", undefined, ada());
    assert.equal(op.status, 401);
    assert.equal((await server.operator("GET", "/jobs?view=all")).status, 200);
  });
});

describe("token auth over https", () => {
  const issuer = new TestIssuer();
  const tls = join(import.meta.dirname, "..", "fixtures", "tls");
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: {
        ...tokenAuthConfig(issuer, [{ principal: "oid-ada", subscriptions: [SUBSCRIPTION] }]),
        tls: { certFile: join(tls, "localhost.crt"), keyFile: join(tls, "localhost.key") },
      },
    });
  });
  after(async () => {
    await server.close();
  });

  test("the official SDK, unchanged (its own bearer-token policy), creates and reads a job", async () => {
    assert.match(server.url, /^https:\/\//);
    // A process of its own: Node reads NODE_EXTRA_CA_CERTS (the test certificate) at start.
    const script = `
      import { StorageImportExport } from "@azure/arm-storageimportexport";
      const [url, token, sub] = process.argv.slice(-3);
      const credential = { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600000 }) };
      const client = new StorageImportExport(credential, sub, { endpoint: url });
      const created = await client.jobs.create("over-tls", "rg", JSON.parse(process.env.JOB));
      const got = await client.jobs.get("over-tls", "rg");
      console.log(JSON.stringify({ createdBy: created.systemData.createdBy, state: got.properties.state }));
    `;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          script,
          "--",
          server.url,
          issuer.token({ oid: "oid-ada", upn: "ada@example.test" }),
          SUBSCRIPTION,
        ],
        {
          cwd: join(import.meta.dirname, "..", ".."),
          env: {
            ...process.env,
            NODE_EXTRA_CA_CERTS: join(tls, "localhost.crt"),
            JOB: JSON.stringify(importJob()),
          },
        },
        (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    assert.deepEqual(JSON.parse(out), { createdBy: "ada@example.test", state: "Creating" });
    const stored = await server.jobs.get({
      subscriptionId: SUBSCRIPTION,
      resourceGroup: "rg",
      name: "over-tls",
    });
    assert.equal(stored.systemData.createdBy, "ada@example.test");
  });
});

describe("strict JWT (RFC 7515, 7519, 8725): every case is a 401", () => {
  const issuer = new TestIssuer();
  let server: TestServer;
  before(async () => {
    issuer.addKey("ec-384", "ES384", { curve: "P-384" }, { alg: undefined });
    issuer.addKey("rs512-only", "RS512", {});
    issuer.addKey("no-verify", "RS256", {}, { key_ops: ["encrypt"] });
    issuer.addKey("for-encryption", "RS256", {}, { use: "enc" });
    issuer.addKey("weak-rsa", "RS256", { rsaBits: 1024 });
    const jwksUri = await issuer.serve();
    server = await startTestServer({
      config: tokenAuthConfig(issuer, [{ principal: "oid-ada", subscriptions: [SUBSCRIPTION] }], {
        jwksUri,
      }),
    });
  });
  after(async () => {
    await server.close();
    await issuer.close();
  });

  const claims = { oid: "oid-ada" };
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const parts = (t: string) => t.split(".") as [string, string, string];

  test("the accepted forms still work: typ JWT, at+jwt or none, ES384 on P-384, RS512 on its own key", async () => {
    for (const token of [
      issuer.token(claims),
      issuer.token(claims, { header: { typ: "at+jwt" } }),
      issuer.token(claims, { header: { typ: undefined } }),
      issuer.token(claims, { kid: "ec-384" }),
      issuer.token(claims, { kid: "rs512-only" }),
    ]) {
      const location = await server.client({ token }).locations.get("westus");
      assert.equal(location.id, "/providers/Microsoft.ImportExport/locations/westus");
    }
  });

  test("each malformed, ambiguous or mis-keyed token is 401 AuthenticationFailed and changes nothing", async () => {
    const good = issuer.token(claims);
    const [h, p, s] = parts(good);
    const last = s.at(-1)!;
    const cases: [string, string, RegExp][] = [
      [
        "junk inside the signature",
        `${h}.${p}.${s.slice(0, 20)}*${s.slice(20)}`,
        /signature is not canonical/,
      ],
      ["padding on the signature", `${h}.${p}.${s}=`, /signature is not canonical/],
      [
        "base64 (not url) characters",
        `${h}.${p}.${s.replace(/-/g, "+").replace(/_/g, "/")}${s.includes("-") || s.includes("_") ? "" : "+"}`,
        /not canonical/,
      ],
      [
        "non-zero trailing bits in the signature",
        `${h}.${p}.${s.slice(0, -1)}${ALPHABET[ALPHABET.indexOf(last) ^ 1]}`,
        /signature is not canonical/,
      ],
      [
        "junk inside the payload",
        `${h}.${p.slice(0, 10)} ${p.slice(10)}.${s}`,
        /payload is not canonical/,
      ],
      [
        "exp as a string",
        issuer.token({ ...claims, exp: String(Math.floor(Date.now() / 1000) + 3600) }),
        /exp is not a number/,
      ],
      ["nbf not a number", issuer.token({ ...claims, nbf: "tomorrow" }), /nbf is not a number/],
      ["iat not a number", issuer.token({ ...claims, iat: "now" }), /iat is not a number/],
      ["a crit header", issuer.token(claims, { header: { crit: ["exp"] } }), /'crit'/],
      ["an empty crit header", issuer.token(claims, { header: { crit: [] } }), /'crit'/],
      [
        "typ JOSE+JSON",
        issuer.token(claims, { header: { typ: "JOSE+JSON" } }),
        /type 'JOSE\+JSON' is not a JWT/,
      ],
      ["typ JWE", issuer.token(claims, { header: { typ: "JWE" } }), /is not a JWT/],
      [
        "ES256 made with a P-384 key",
        issuer.token(claims, { kid: "ec-384", header: { alg: "ES256" } }),
        /no signing key with kid 'ec-384' for algorithm ES256/,
      ],
      [
        "RS256 with a key whose JWK says RS512",
        issuer.token(claims, { kid: "rs512-only", header: { alg: "RS256" } }),
        /no signing key with kid 'rs512-only'/,
      ],
      [
        "a key whose key_ops leave out verify",
        issuer.token(claims, { kid: "no-verify" }),
        /no signing key with kid 'no-verify'/,
      ],
      [
        "a key for encryption (use enc)",
        issuer.token(claims, { kid: "for-encryption" }),
        /no signing key with kid 'for-encryption'/,
      ],
      [
        "an RSA key of 1024 bits",
        issuer.token(claims, { kid: "weak-rsa" }),
        /no signing key with kid 'weak-rsa'/,
      ],
    ];
    for (const [why, token, reason] of cases) {
      const res = await fetch(
        `${server.url}/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/strict?api-version=2021-01-01`,
        {
          method: "PUT",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(importJob()),
        },
      );
      assert.equal(res.status, 401, why);
      assert.ok(res.headers.get("x-ms-request-id"), why);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "AuthenticationFailed", why);
      assert.match(body.error.message, reason, why);
    }
    // And through the SDK: the same 401.
    await rejectsWith(
      server
        .client({ token: issuer.token(claims, { header: { crit: ["exp"] } }) })
        .jobs.get("strict", "rg"),
      401,
      "AuthenticationFailed",
    );
    await assert.rejects(
      server.jobs.get({ subscriptionId: SUBSCRIPTION, resourceGroup: "rg", name: "strict" }),
    );
  });
});
