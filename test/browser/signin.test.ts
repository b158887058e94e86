/**
 * The customer pages under token auth (SPEC §6): sign-in with an access token, only the
 * granted subscriptions, the API's own refusals, sign-out. Real Chromium, real JWTs.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { TestIssuer, tokenAuthConfig } from "../support/tokens.ts";
import { importJob } from "../api/fixtures.ts";
import { assertUsable, browserSkip, launch, newPage, screenshot, shownError } from "./support.ts";

const SKIP = browserSkip();
const OTHER = "bbbb0000-0000-4000-8000-000000000002";
const KEY = "111111-222222-333333-444444-555555-666666-777777-888888";

describe("customer portal, token auth", () => {
  const issuer = new TestIssuer();
  let server: TestServer;
  let browser: Browser;
  before(async () => {
    if (SKIP) return;
    server = await startTestServer({
      config: tokenAuthConfig(issuer, [
        { principal: "oid-grace", subscriptions: [SUBSCRIPTION] },
        { principal: "ops-pipeline", kind: "app", subscriptions: ["*"] },
      ]),
    });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test(
    "sign in with a token, see only granted subscriptions, create a job as yourself, sign out",
    { skip: SKIP },
    async (t) => {
      const ops = server.client({
        subscriptionId: OTHER,
        token: issuer.token({ appid: "ops-pipeline", idtyp: "app" }),
      });
      await ops.jobs.create("not-yours", "rg", importJob());
      const { page, errors } = await newPage(browser);
      const portal = (p: string) => `${server.url}/portal${p}`;

      // Every customer page sends a stranger to the sign-in page, and back after it.
      const target = portal(`/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/jobs`);
      await page.goto(target);
      assert.match(page.url(), /\/portal\/signin\?next=/);
      await assertUsable(page);
      await screenshot(page, t.name, "sign in");

      // A token this service does not accept: the API's own message, at the field.
      const wrongAudience = issuer.token({
        upn: "grace@example.test",
        aud: "https://management.azure.com/",
      });
      await page.getByLabel("Access token").fill(wrongAudience);
      await page.getByRole("button", { name: "Sign in" }).click();
      const api = await fetch(
        `${server.url}/providers/Microsoft.ImportExport/operations?api-version=2021-01-01`,
        {
          headers: { authorization: `Bearer ${wrongAudience}` },
        },
      );
      const expected = ((await api.json()) as { error: { code: string; message: string } }).error;
      assert.deepEqual(await shownError(page), { code: expected.code, message: expected.message });
      assert.match(expected.message, /audience/);

      await page
        .getByLabel("Access token")
        .fill(issuer.token({ oid: "oid-grace", upn: "grace@example.test" }));
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(target);
      assert.ok(await page.getByRole("button", { name: "Sign out" }).isVisible());

      // The scope form names the granted subscriptions and refuses another at the field.
      await page.getByText("Change subscription or resource group").click();
      assert.deepEqual(await page.getByTestId("granted").locator("a").allTextContents(), [
        SUBSCRIPTION,
      ]);
      await page.getByLabel("Subscription ID").fill(OTHER);
      await page.getByLabel("Resource group (optional)").fill("");
      const [refusal] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.getByRole("button", { name: "Show jobs" }).click(),
      ]);
      assert.equal(refusal.status(), 403);
      assert.equal((await shownError(page)).code, "AuthorizationFailed");
      assert.equal(await page.locator("#f-subscriptionId").getAttribute("aria-invalid"), "true");
      await assertUsable(page);

      // Another subscription: ARM's AuthorizationFailed, whether it holds a job or not.
      for (const path of [
        `/subscriptions/${OTHER}/resourceGroups/rg/jobs/not-yours`,
        `/subscriptions/${OTHER}/resourceGroups/rg/jobs/nothing`,
        `/subscriptions/${OTHER}/jobs`,
        `/subscriptions/${OTHER}/resourceGroups/rg/jobs/not-yours/bitlocker-keys`,
        `/subscriptions/${OTHER}/resourceGroups/rg/jobs/not-yours/incomplete-blob-list`,
      ]) {
        const res = await page.goto(portal(path));
        assert.equal(res?.status(), 403, path);
        const shown = await shownError(page);
        assert.equal(shown.code, "AuthorizationFailed");
        assert.match(shown.message, /'grace@example.test' does not have authorization/);
        assert.doesNotMatch((await page.locator("main").textContent()) ?? "", /not-yours/);
      }

      // The wizard creates the job as the signed-in caller.
      await page.goto(
        portal(`/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/create-job?type=Import`),
      );
      await page.locator("#f-name").fill("graces-job");
      await page.locator("#f-location").selectOption("westus");
      // Under token auth the account is the one registered in its own resource group.
      await page
        .locator("#f-storageAccount")
        .fill(
          `/subscriptions/${SUBSCRIPTION}/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/drivebaydata`,
        );
      await page.locator("#f-drive-0-driveId").fill("WD-GRACE-1");
      await page.locator("#f-drive-0-bitLockerKey").fill(KEY);
      await page.locator("#f-drive-0-manifestFile").fill("\\DriveManifest.xml");
      await page.getByRole("button", { name: "Create job" }).click();
      await page.locator("#notice", { hasText: "The job was created." }).waitFor();
      const created = await server
        .client({ token: issuer.token({ oid: "oid-grace", upn: "grace@example.test" }) })
        .jobs.get("graces-job", "rg");
      assert.equal(created.systemData?.createdBy, "grace@example.test");

      // The scope page lists the groups holding jobs in the granted subscriptions only:
      // another tenant's subscription (with a job) is never named.
      await page.goto(portal("/jobs?choose=1"));
      const listed = await page
        .getByTestId("scopes")
        .locator("li[data-subscription]")
        .evaluateAll((els) => els.map((e) => e.getAttribute("data-subscription")));
      assert.deepEqual(listed, [SUBSCRIPTION]);
      assert.doesNotMatch((await page.locator("main").textContent()) ?? "", new RegExp(OTHER));

      // Signing out ends the session: the same page asks for a token again.
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.locator("#notice", { hasText: "You are signed out." }).waitFor();
      await page.goto(target);
      assert.match(page.url(), /\/portal\/signin\?next=/);
      assert.deepEqual(errors, []);
      await page.close();
    },
  );
});
