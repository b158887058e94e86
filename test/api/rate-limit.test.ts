/**
 * Per-subscription request limits (issue 10, item 6) through the official SDK: reads and
 * writes are counted apart per subscription, ARM's remaining headers count down, and the
 * request over the limit is 429 SubscriptionRequestsThrottled with Retry-After; another
 * tenant's budget is untouched, and callers refused by auth spend nobody's.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../src/config.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { TestIssuer, tokenAuthConfig } from "../support/tokens.ts";
import { importJob, rejectsWith } from "./fixtures.ts";

const S1 = "11111111-0000-4000-8000-000000000001";
const S2 = "22222222-0000-4000-8000-000000000002";

describe("per-subscription request limits", () => {
  const issuer = new TestIssuer();
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: {
        ...tokenAuthConfig(
          issuer,
          [
            { principal: "oid-alice", subscriptions: [S1] },
            { principal: "oid-bob", subscriptions: [S2] },
          ],
          {},
          [{ name: "adata", subscriptionId: S1, resourceGroup: "rg-a" }],
        ),
        rateLimit: { enabled: true, reads: 3, writes: 2, windowMs: 3_600_000 },
      },
    });
  });
  after(() => server.close());

  const url = (sub: string) =>
    `${server.url}/subscriptions/${sub}/providers/Microsoft.ImportExport/jobs?api-version=2021-01-01`;
  const get = (sub: string, who: string) =>
    fetch(url(sub), { headers: { authorization: `Bearer ${issuer.token({ oid: who })}` } });

  test("reads count down per subscription, then 429 with Retry-After; writes and other tenants are apart", async () => {
    // Bob asking for S1 is refused by auth and spends none of S1's budget.
    assert.equal((await get(S1, "oid-bob")).status, 403);
    for (const left of [2, 1, 0]) {
      const res = await get(S1, "oid-alice");
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-ms-ratelimit-remaining-subscription-reads"), String(left));
    }
    const over = await get(S1, "oid-alice");
    assert.equal(over.status, 429);
    assert.ok(Number(over.headers.get("retry-after")) > 0, "Retry-After in seconds");
    assert.ok(over.headers.get("x-ms-request-id"));
    const body = (await over.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, "SubscriptionRequestsThrottled");
    assert.match(body.error.message, /limit of 3 per 3600 seconds\. Try again after \d+ seconds/);
    // Through the SDK: the same refusal.
    const alice = server.client({ subscriptionId: S1, token: issuer.token({ oid: "oid-alice" }) });
    await rejectsWith(alice.jobs.listBySubscription().next(), 429, "SubscriptionRequestsThrottled");
    // Writes have their own budget; another subscription has its own.
    const created = await alice.jobs.create(
      "limited",
      "rg",
      importJob({
        storageAccountId: `/subscriptions/${S1}/resourceGroups/rg-a/providers/Microsoft.Storage/storageAccounts/adata`,
      }),
    );
    assert.equal(created.name, "limited");
    // Two writes an hour: the second is the last, the third is refused and changes nothing.
    const patch = (tag: string) =>
      fetch(
        `${server.url}/subscriptions/${S1}/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/limited?api-version=2021-01-01`,
        {
          method: "PATCH",
          headers: {
            authorization: `Bearer ${issuer.token({ oid: "oid-alice" })}`,
            "content-type": "application/json",
          },
          body: JSON.stringify({ tags: { tag } }),
        },
      );
    const second = await patch("second");
    assert.equal(second.status, 200, await second.text());
    assert.equal(second.headers.get("x-ms-ratelimit-remaining-subscription-writes"), "0");
    const third = await patch("third");
    assert.equal(third.status, 429);
    assert.ok(Number(third.headers.get("retry-after")) > 0);
    assert.equal(
      ((await third.json()) as { error: { code: string } }).error.code,
      "SubscriptionRequestsThrottled",
    );
    assert.deepEqual(
      (await server.jobs.get({ subscriptionId: S1, resourceGroup: "rg", name: "limited" })).tags,
      { tag: "second" },
    );
    const bob = await get(S2, "oid-bob");
    assert.equal(bob.status, 200);
    assert.equal(bob.headers.get("x-ms-ratelimit-remaining-subscription-reads"), "2");
  });

  test("on in the service profile, off in the emulator profile", () => {
    const base = { DRIVEBAY_DATA_DIR: "/tmp/x", DRIVEBAY_OPERATOR_KEY: "0123456789abcdef0123" };
    assert.equal(loadConfig({ env: base }).rateLimit.enabled, false);
    const service = loadConfig({
      env: {
        ...base,
        DRIVEBAY_PROFILE: "service",
        DRIVEBAY_AUTH_MODE: "development",
        DRIVEBAY_RATE_LIMIT_READS: "100",
      },
    }).rateLimit;
    assert.deepEqual(service, { enabled: true, reads: 100, writes: 1200, windowMs: 3_600_000 });
    assert.throws(
      () => loadConfig({ env: { ...base, DRIVEBAY_RATE_LIMIT_WRITES: "0" } }),
      /rateLimit.writes: '0'/,
    );
  });
});
