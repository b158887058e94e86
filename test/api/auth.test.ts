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
      assert.equal(res.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
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
