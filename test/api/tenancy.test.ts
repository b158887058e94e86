/**
 * Two tenants on one service-profile server (token auth, a JWKS the test serves), through
 * the official SDK: a job may name only a storage account registered in the subscription
 * and resource group its storageAccountId says, and only when the caller is granted that
 * subscription. Every cross-tenant attempt is refused and changes nothing, and no answer
 * tells whether another tenant's account exists.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startTestServer, type TestServer } from "../support/server.ts";
import { assertConformant } from "../support/conformance.ts";
import { ISSUER, TestIssuer, tokenAuthConfig } from "../support/tokens.ts";
import { exportJob, importJob, rejectsWith } from "./fixtures.ts";

const S1 = "11111111-0000-4000-8000-000000000001";
const S2 = "22222222-0000-4000-8000-000000000002";

const account = (sub: string, rg: string, name: string) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Storage/storageAccounts/${name}`;
const A_DATA = account(S1, "rg-a", "adata");
const B_DATA = account(S2, "rg-b", "bdata");

describe("tenancy: storage accounts belong to a subscription", () => {
  const issuer = new TestIssuer();
  let server: TestServer;
  before(async () => {
    const jwksUri = await issuer.serve();
    server = await startTestServer({
      config: tokenAuthConfig(
        issuer,
        [
          { principal: "oid-alice", subscriptions: [S1] },
          { principal: "oid-bob", subscriptions: [S2] },
          { principal: "oid-carol", subscriptions: [S1, S2] },
        ],
        { jwksUri },
        [
          { name: "adata", subscriptionId: S1, resourceGroup: "rg-a" },
          { name: "bdata", subscriptionId: S2, resourceGroup: "rg-b" },
        ],
      ),
    });
  });
  after(async () => {
    await server.close();
    await issuer.close();
  });

  const alice = () =>
    server.client({ subscriptionId: S1, token: issuer.token({ oid: "oid-alice", sub: "s-a" }) });
  const bob = () =>
    server.client({ subscriptionId: S2, token: issuer.token({ oid: "oid-bob", sub: "s-b" }) });
  const carol = (sub: string) =>
    server.client({ subscriptionId: sub, token: issuer.token({ oid: "oid-carol", sub: "s-c" }) });
  const stored = (sub: string, name: string) =>
    server.jobs.get({ subscriptionId: sub, resourceGroup: "rg", name }).then(
      (j) => j,
      () => undefined,
    );

  test("each tenant uses its own account, import and export alike", async (t) => {
    const a = await alice().jobs.create("a-import", "rg", importJob({ storageAccountId: A_DATA }));
    assert.equal(a.properties?.storageAccountId, A_DATA);
    const b = await bob().jobs.create("b-export", "rg", exportJob({ storageAccountId: B_DATA }));
    assert.equal(b.properties?.jobType, "Export");
    await assertConformant(t, server.exchanges);
  });

  test("another tenant's account: 403 LinkedAuthorizationFailed, the same whether it exists, nothing stored", async () => {
    for (const [name, body] of [
      ["x-import", importJob({ storageAccountId: B_DATA })],
      ["x-export", exportJob({ storageAccountId: B_DATA })],
    ] as const) {
      const existing = await rejectsWith(
        alice().jobs.create(name, "rg", body),
        403,
        "LinkedAuthorizationFailed",
      );
      const missing = await rejectsWith(
        alice().jobs.create(name, "rg", {
          ...body,
          properties: { ...body.properties, storageAccountId: account(S2, "rg-b", "nothere") },
        }),
        403,
        "LinkedAuthorizationFailed",
      );
      assert.equal(existing.message.replace("bdata", "X"), missing.message.replace("nothere", "X"));
      assert.match(
        existing.message,
        /does not have permission to perform action 'Microsoft\.Storage\/storageAccounts\/read' on the linked scope\(s\)/,
      );
      assert.equal(await stored(S1, name), undefined, `${name} was not stored`);
    }
  });

  test("another tenant's account name under one's own subscription: 400 StorageAccountNotFound, as for an unknown name", async () => {
    const named = await rejectsWith(
      alice().jobs.create(
        "why",
        "rg",
        importJob({ storageAccountId: account(S1, "rg-a", "bdata") }),
      ),
      400,
      "StorageAccountNotFound",
    );
    const unknown = await rejectsWith(
      alice().jobs.create(
        "why",
        "rg",
        importJob({ storageAccountId: account(S1, "rg-a", "zzzz") }),
      ),
      400,
      "StorageAccountNotFound",
    );
    assert.equal(named.message.replace("bdata", "X"), unknown.message.replace("zzzz", "X"));
    assert.doesNotMatch(named.message, /adata|one of/, "no registered name is listed");
    // Granted both subscriptions, a wrong resource group is an account that does not exist.
    await rejectsWith(
      carol(S1).jobs.create(
        "why",
        "rg",
        importJob({ storageAccountId: account(S2, "rg-a", "bdata") }),
      ),
      400,
      "StorageAccountNotFound",
    );
    await rejectsWith(
      carol(S1).jobs.create(
        "why",
        "rg",
        exportJob({ storageAccountId: account(S1, "rg-b", "bdata") }),
      ),
      400,
      "StorageAccountNotFound",
    );
    assert.equal(await stored(S1, "why"), undefined);
    // Granted both, an account in the other subscription is a linked scope it may use.
    const linked = await carol(S1).jobs.create(
      "c-linked",
      "rg",
      importJob({ storageAccountId: B_DATA }),
    );
    assert.equal(linked.properties?.storageAccountId, B_DATA);
  });

  test("a replace (PUT on a job in Creating) cannot move a job to another tenant's account", async () => {
    await rejectsWith(
      alice().jobs.create("a-import", "rg", importJob({ storageAccountId: B_DATA })),
      403,
      "LinkedAuthorizationFailed",
    );
    await rejectsWith(
      alice().jobs.create(
        "a-import",
        "rg",
        importJob({ storageAccountId: account(S1, "rg-b", "bdata") }),
      ),
      400,
      "StorageAccountNotFound",
    );
    const job = await stored(S1, "a-import");
    assert.equal(job?.storageAccountId, A_DATA);
    assert.equal(job?.version, 1, "the job was not written");
  });
});

describe("tenancy: identities that cannot be spoofed", () => {
  const issuer = new TestIssuer();
  const OTHER_ISSUER = "https://login.example.test/tenant-2/v2.0";
  const APP = "7f000000-aaaa-4bbb-8ccc-dddddddddddd";
  let server: TestServer;
  before(async () => {
    const jwksUri = await issuer.serve();
    const config = tokenAuthConfig(
      issuer,
      [
        { principal: "oid-alice", issuer: ISSUER, subscriptions: [S1] },
        { principal: APP, kind: "app", issuer: ISSUER, subscriptions: [S2] },
        { principal: "oid-bob", issuer: OTHER_ISSUER, subscriptions: [S2] },
      ],
      { jwksUri },
      [{ name: "adata", subscriptionId: S1, resourceGroup: "rg-a" }],
    );
    const auth = config.auth!;
    server = await startTestServer({
      config: {
        ...config,
        auth: { ...auth, token: { ...auth.token!, issuers: [ISSUER, OTHER_ISSUER] } },
      },
    });
  });
  after(async () => {
    await server.close();
    await issuer.close();
  });

  const as = (sub: string, claims: Record<string, unknown>) =>
    server.client({ subscriptionId: sub, token: issuer.token(claims) });

  test("the granted principals work: a user by oid, an app-only token by its application id", async () => {
    const a = await as(S1, { oid: "oid-alice", sub: "s-a", scp: "user_impersonation" }).jobs.create(
      "alices",
      "rg",
      importJob({ storageAccountId: A_DATA }),
    );
    assert.equal(a.systemData?.createdByType, "User");
    const app = as(S2, { appid: APP, idtyp: "app", oid: "sp-oid", sub: "sp-oid" });
    const listed = [];
    for await (const j of app.jobs.listBySubscription()) listed.push(j.name);
    assert.deepEqual(listed, []);
    // A user of the second issuer, by its own grant.
    const bob = as(S2, { iss: OTHER_ISSUER, oid: "oid-bob", sub: "s-b", scp: "x" });
    const bobs = [];
    for await (const j of bob.jobs.listBySubscription()) bobs.push(j.name);
    assert.deepEqual(bobs, []);
  });

  test("each spoofing token is refused (403) and changes nothing", async () => {
    const spoofs: [string, string, Record<string, unknown>][] = [
      ["email = another's oid", S1, { oid: "oid-mallory", scp: "x", email: "oid-alice" }],
      ["upn = another's oid", S1, { oid: "oid-mallory", scp: "x", upn: "oid-alice" }],
      [
        "preferred_username = another's oid",
        S1,
        { oid: "oid-mallory", scp: "x", preferred_username: "oid-alice" },
      ],
      [
        "a user token carrying a granted app's azp",
        S2,
        { oid: "oid-mallory", sub: "m", scp: "user_impersonation", azp: APP, appid: APP },
      ],
      ["another issuer with the same oid", S1, { iss: OTHER_ISSUER, oid: "oid-alice" }],
      // Bob's grant is a user's of OTHER_ISSUER: the same id and issuer as an app is not Bob.
      [
        "the right oid with the wrong kind",
        S2,
        { iss: OTHER_ISSUER, appid: "oid-bob", idtyp: "app" },
      ],
    ];
    for (const [why, sub, claims] of spoofs) {
      const c = as(sub, claims);
      await rejectsWith(c.jobs.get("alices", "rg"), 403, "AuthorizationFailed").catch((e) => {
        throw new Error(`${why}: ${(e as Error).message}`);
      });
      await rejectsWith(
        c.jobs.create("spoofed", "rg", importJob({ storageAccountId: A_DATA })),
        403,
        "AuthorizationFailed",
      );
      await rejectsWith(
        c.jobs.update("alices", "rg", { tags: { spoofed: why.slice(0, 20) } }),
        403,
        "AuthorizationFailed",
      );
    }
    const alices = await server.jobs.get({
      subscriptionId: S1,
      resourceGroup: "rg",
      name: "alices",
    });
    assert.deepEqual(alices.tags, {});
    assert.equal(alices.version, 1);
    for (const sub of [S1, S2]) {
      await assert.rejects(
        server.jobs.get({ subscriptionId: sub, resourceGroup: "rg", name: "spoofed" }),
      );
    }
  });
});
