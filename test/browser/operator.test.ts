/**
 * The operator pages in a real browser: sign-in with the operator key, receiving a
 * package, attaching drives, a transfer the customer watches live, shipping back, faults,
 * and clock control. Outcomes are checked through the SDK and the operator API.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { startTestServer, SUBSCRIPTION } from "../support/server.ts";
import { ship } from "../support/shipping.ts";
import { importJob } from "../api/fixtures.ts";
import {
  apiError,
  assertUsable,
  browserSkip,
  DESKTOP,
  launch,
  newPage,
  PHONE,
  screenshot,
  serverAndBrowser,
  shownError,
} from "./support.ts";

const DRIVES = ["WD-WCC4N1234567", "WD-WCC4N7654321"];

/** Why the browser tests cannot run here (skipped and counted), or undefined. */
const SKIP = browserSkip();

describe("operator portal", () => {
  const env = serverAndBrowser(SKIP);
  const mounts: string[] = [];
  const portal = (path: string) => `${env.server.url}/portal${path}`;
  const customerJob = (rg: string, name: string) =>
    portal(`/subscriptions/${SUBSCRIPTION}/resourceGroups/${rg}/jobs/${name}`);
  const operatorJob = (rg: string, name: string) =>
    portal(`/operator/jobs/${SUBSCRIPTION}/${rg}/${name}`);
  const mount = () => {
    const d = mkdtempSync(join(tmpdir(), "drivebay-portal-mount-"));
    mounts.push(d);
    return d;
  };

  /** A job of the customer in Shipping with its own tracking number. */
  async function shippingJob(rg: string, name: string): Promise<string> {
    const c = env.server.client();
    await c.jobs.create(name, rg, importJob({}, "westus"));
    const tracking = `TN-${name}`;
    await ship(c, rg, name, { trackingNumber: tracking });
    return tracking;
  }

  async function signIn(page: Page, url = portal("/operator/")): Promise<void> {
    await page.goto(url);
    await page.getByLabel("Operator key").fill(env.server.operatorKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
  }

  after(() => {
    for (const d of mounts) rmSync(d, { recursive: true, force: true });
  });

  test(
    "sign-in: the pages need the operator key, a wrong key is refused, sign-out ends the session",
    { skip: SKIP },
    async (t) => {
      const { page, context, errors } = await newPage(env.browser);
      const first = await page.goto(portal("/operator/jobs?view=all"));
      assert.equal(first?.status(), 200);
      assert.match(page.url(), /\/portal\/operator\/login\?next=/);
      await assertUsable(page);

      await page.getByLabel("Operator key").fill("not-the-key");
      const [refused] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.getByRole("button", { name: "Sign in" }).click(),
      ]);
      assert.equal(refused.status(), 401);
      assert.deepEqual(await shownError(page), {
        code: "AuthenticationFailed",
        message: "The operator key is not valid.",
      });
      assert.equal(await page.getByLabel("Operator key").getAttribute("aria-invalid"), "true");
      await screenshot(page, t.name, "refused");

      await page.getByLabel("Operator key").fill(env.server.operatorKey);
      await page.getByRole("button", { name: "Sign in" }).click();
      // Back where the sign-in was asked for.
      await page.getByRole("heading", { level: 1, name: "All jobs" }).waitFor();
      assert.match(page.url(), /\/operator\/jobs\?view=all$/);
      const cookie = (await context.cookies()).find((k) => k.name === "drivebay_operator");
      assert.ok(cookie, "a session cookie");
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, "Strict");
      assert.equal(cookie.path, "/portal/operator");
      assert.ok(
        !cookie.value.includes(env.server.operatorKey),
        "the key itself is not in the cookie",
      );

      await page.getByRole("button", { name: "Sign out" }).click();
      await page.locator("#notice", { hasText: "You are signed out." }).waitFor();
      // The old session id is worthless now, even if replayed.
      await context.addCookies([{ ...cookie }]);
      await page.goto(portal("/operator/"));
      assert.match(page.url(), /\/portal\/operator\/login/);
      assert.deepEqual(errors, []);
      await page.close();
    },
  );

  test(
    "an operator receives a package, attaches drives, runs the transfer (watched live by the customer) and ships it back",
    { skip: SKIP },
    async (t) => {
      const RG = "dc-flow";
      const NAME = "full-cycle";
      const tracking = await shippingJob(RG, NAME);
      const op = await newPage(env.browser);
      const customer = await newPage(env.browser);
      await signIn(op.page);

      // Inbound: the job and its package are listed; "Receive" fills in the package.
      const row = op.page.getByTestId("inbound-table").locator(`[data-job="${NAME}"]`);
      assert.match((await row.textContent()) ?? "", new RegExp(tracking));
      await assertUsable(op.page);
      await screenshot(op.page, t.name, "1 dashboard");
      await row.getByRole("link", { name: /Receive/ }).click();
      assert.equal(await op.page.getByLabel("Tracking number").inputValue(), tracking);
      assert.equal(
        await op.page.getByLabel("Drive IDs in the package (one per line)").inputValue(),
        DRIVES.join("\n"),
      );
      await op.page.getByRole("button", { name: "Receive package" }).click();
      await op.page.locator("#notice", { hasText: "The package was received." }).waitFor();
      let job = await env.server.client().jobs.get(NAME, RG);
      assert.equal(job.properties?.state, "Received");
      assert.deepEqual(
        job.properties?.driveList?.map((d) => d.state),
        ["Received", "Received"],
      );

      // The customer watches from here on.
      await customer.page.goto(customerJob(RG, NAME));
      assert.equal(await customer.page.locator('[data-field="state"]').textContent(), "Received");

      // Attach both drives, then start the transfer.
      const paths = [mount(), mount()];
      for (const [i, driveId] of DRIVES.entries()) {
        await op.page.getByLabel(`Mounted path of drive ${driveId}`).fill(paths[i]!);
        await op.page
          .locator(`[data-drive="${driveId}"]`)
          .getByRole("button", { name: "Attach" })
          .click();
        await op.page.locator("#notice", { hasText: "The drive was attached." }).waitFor();
      }
      const shown = await env.server.operator("GET", `/jobs/${SUBSCRIPTION}/${RG}/${NAME}`);
      assert.deepEqual(
        shown.body.drives.map((d: { contentPath: string }) => d.contentPath),
        paths,
      );
      await op.page.getByRole("button", { name: "Start transfer" }).click();
      await op.page.locator("#notice", { hasText: "The transfer started." }).waitFor();
      assert.equal(
        (await env.server.client().jobs.get(NAME, RG)).properties?.state,
        "Transferring",
      );
      await customer.page
        .locator('[data-field="state"]', { hasText: "Transferring" })
        .waitFor({ timeout: 15_000 });
      await screenshot(op.page, t.name, "2 transferring");

      // One drive finishes: the customer's page updates in place (no reload: the marker stays).
      await customer.page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
      const first = op.page.locator(`[data-drive="${DRIVES[0]}"]`);
      await first.getByLabel("Bytes copied (optional)").fill("1048576");
      await first.getByRole("button", { name: "Complete drive" }).click();
      await op.page.locator("#notice", { hasText: "The drive was completed." }).waitFor();
      const customerDrive = customer.page.locator(`[data-drive="${DRIVES[0]}"]`);
      await customerDrive
        .locator('[data-field="driveState"]', { hasText: "Completed" })
        .waitFor({ timeout: 15_000 });
      assert.equal(await customerDrive.locator(".progress-text").textContent(), "100%");
      assert.match(
        (await customerDrive.locator('[data-field="bytesSucceeded"]').textContent()) ?? "",
        /1\.00 MiB/,
      );
      assert.equal(
        await customer.page.evaluate(() => (window as unknown as { marker?: number }).marker),
        7,
        "updated without a reload",
      );
      await screenshot(customer.page, t.name, "3 customer sees progress");

      // The other drive finishes with errors: the job goes to Packaging.
      const second = op.page.locator(`[data-drive="${DRIVES[1]}"]`);
      await second.getByLabel(`Outcome for drive ${DRIVES[1]}`).selectOption("CompletedMoreInfo");
      await second.getByRole("button", { name: "Complete drive" }).click();
      await op.page.locator('[data-field="state"]', { hasText: "Packaging" }).waitFor();

      // Ship back.
      await op.page.getByLabel("Carrier").fill("UPS");
      await op.page.getByLabel("Tracking number").fill("1Z999AA10123456784");
      await op.page.getByLabel("Ship date (optional)").fill("2026-12-01");
      await op.page.getByRole("button", { name: "Ship back" }).click();
      await op.page.locator("#notice", { hasText: "The drives were shipped back." }).waitFor();
      job = await env.server.client().jobs.get(NAME, RG);
      assert.equal(job.properties?.state, "Closed", "a drive finished with errors");
      assert.equal(job.properties?.returnPackage?.carrierName, "UPS");
      assert.equal(job.properties?.returnPackage?.trackingNumber, "1Z999AA10123456784");
      assert.equal(job.properties?.returnPackage?.shipDate, "2026-12-01");
      await customer.page
        .locator('[data-field="state"]', { hasText: "Closed" })
        .waitFor({ timeout: 15_000 });
      assert.match((await customer.page.locator("main").textContent()) ?? "", /1Z999AA10123456784/);
      await assertUsable(op.page);
      await screenshot(op.page, t.name, "4 shipped back");
      await screenshot(customer.page, t.name, "5 customer sees closed");
      assert.deepEqual([...op.errors, ...customer.errors], []);
      await op.context.close();
      await customer.context.close();
    },
  );

  test(
    "faults: an operator faults a job and resolves it; the refusals are the services' messages",
    { skip: SKIP },
    async (t) => {
      const RG = "dc-faults";
      const tracking = await shippingJob(RG, "damaged");
      const { page, errors } = await newPage(env.browser);
      await signIn(page);

      // An unknown tracking number: the operator API's own PackageNotFound.
      const expected = await env.server.operator("POST", "/packages/receive", {
        trackingNumber: "NO-SUCH-PACKAGE",
        driveIds: [DRIVES[0]],
      });
      await page.goto(portal("/operator/receive"));
      await page.getByLabel("Tracking number").fill("NO-SUCH-PACKAGE");
      await page.getByLabel("Drive IDs in the package (one per line)").fill(DRIVES[0]!);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.getByRole("button", { name: "Receive package" }).click(),
      ]);
      assert.equal(response.status(), expected.status);
      assert.equal(expected.body.error.code, "PackageNotFound");
      assert.deepEqual(await shownError(page), {
        code: expected.body.error.code,
        message: expected.body.error.message,
      });

      await page.getByLabel("Tracking number").fill(tracking);
      await page.getByLabel("Drive IDs in the package (one per line)").fill(DRIVES.join("\n"));
      await page.getByRole("button", { name: "Receive package" }).click();
      await page.locator("#notice").waitFor();

      // A relative path is refused with the service's InvalidDrivePath message.
      await page.getByLabel(`Mounted path of drive ${DRIVES[0]}`).fill("relative/path");
      await page
        .locator(`[data-drive="${DRIVES[0]}"]`)
        .getByRole("button", { name: "Attach" })
        .click();
      const bad = await env.server.operator(
        "POST",
        `/jobs/${SUBSCRIPTION}/${RG}/damaged/drives/${DRIVES[0]}/attach`,
        { path: "relative/path" },
      );
      assert.deepEqual(await shownError(page), {
        code: bad.body.error.code,
        message: bad.body.error.message,
      });
      assert.equal(
        await page.getByLabel(`Mounted path of drive ${DRIVES[0]}`).getAttribute("aria-invalid"),
        "true",
      );

      await page.getByLabel("Fault reason").fill("Box crushed in transit");
      await page.getByRole("button", { name: "Mark as faulted" }).click();
      await page.locator("#notice", { hasText: "The job is marked as faulted." }).waitFor();
      assert.equal(
        (await env.server.client().jobs.get("damaged", RG)).properties?.state,
        "Faulted",
      );
      await page.goto(portal("/operator/"));
      const faults = page.getByTestId("faults-table");
      assert.match((await faults.textContent()) ?? "", /damaged[\s\S]*Box crushed in transit/);
      await screenshot(page, t.name, "faults");
      await faults.getByRole("link", { name: "damaged" }).click();
      await page.getByLabel("Resolution").fill("Drives checked, all fine");
      await page.getByRole("button", { name: "Resolve fault" }).click();
      await page.locator("#notice", { hasText: "The fault was resolved." }).waitFor();
      assert.equal(
        (await env.server.client().jobs.get("damaged", RG)).properties?.state,
        "Received",
      );
      const history = await env.server.operator("GET", `/jobs/${SUBSCRIPTION}/${RG}/damaged`);
      assert.ok(
        history.body.history.some((h: { reason: string }) => h.reason === "Box crushed in transit"),
      );
      assert.deepEqual(errors, []);
      await page.close();
    },
  );

  test(
    "the clock: 'advance by' 91d ends a finished job's retention; its customer URL is then not found",
    { skip: SKIP },
    async (t) => {
      const RG = "dc-clock";
      const c = env.server.client();
      await c.jobs.create("finished", RG, importJob({}, "westus"));
      await c.jobs.update("finished", RG, { cancelRequested: true });
      assert.equal((await c.jobs.get("finished", RG)).properties?.state, "Completed");
      const { page, errors } = await newPage(env.browser);
      await signIn(page);
      const before = (await page.getByTestId("clock-now").textContent()) ?? "";

      // A bad duration: the operator API's message.
      await page.getByLabel("Advance the clock by").fill("soon");
      await page.getByRole("button", { name: "Advance" }).click();
      const expected = await env.server.operator("POST", "/clock/advance", { by: "soon" });
      assert.deepEqual(await shownError(page), {
        code: expected.body.error.code,
        message: expected.body.error.message,
      });

      await page.getByLabel("Advance the clock by").fill("91d");
      await page.getByRole("button", { name: "Advance" }).click();
      await page
        .locator("#notice", { hasText: /The clock was advanced; .* deleted [1-9]/ })
        .waitFor();
      assert.notEqual(await page.getByTestId("clock-now").textContent(), before);
      assert.match((await page.getByTestId("clock").textContent()) ?? "", /91 days ahead/);
      await screenshot(page, t.name, "advanced");
      assert.equal((await apiError(c.jobs.get("finished", RG))).status, 404);
      const gone = await page.goto(customerJob(RG, "finished"));
      assert.equal(gone?.status(), 404);
      assert.match((await page.locator("main").textContent()) ?? "", /or it was deleted/);
      assert.deepEqual(errors, []);
      await page.close();
    },
  );

  test("operator pages at 1280×800 and 390×844", { skip: SKIP }, async (t) => {
    const RG = "dc-sizes";
    await shippingJob(RG, "sized");
    await env.server.operator("POST", "/packages/receive", {
      trackingNumber: "TN-sized",
      driveIds: DRIVES,
    });
    for (const viewport of [DESKTOP, PHONE]) {
      const { page, context, errors } = await newPage(env.browser, viewport);
      await signIn(page);
      for (const [name, url] of [
        ["dashboard", portal("/operator/")],
        ["job", operatorJob(RG, "sized")],
        ["receive", portal("/operator/receive")],
        ["all jobs", portal("/operator/jobs?view=all")],
      ] as const) {
        await page.goto(url);
        await assertUsable(page);
        await screenshot(page, t.name, `${viewport.width} ${name}`);
      }
      assert.deepEqual(errors, []);
      await context.close();
    }
  });
});

describe("operator portal, service profile", () => {
  test("no clock control outside the emulator profile", { skip: SKIP }, async (t) => {
    const server = await startTestServer({
      config: { profile: "service", operatorKey: "service-profile-operator-key-0123456789" },
    });
    let browser: Browser | undefined;
    try {
      browser = await launch();
      const { page, errors } = await newPage(browser);
      await page.goto(`${server.url}/portal/operator/`);
      await page.getByLabel("Operator key").fill(server.operatorKey);
      await page.getByRole("button", { name: "Sign in" }).click();
      const clock = page.getByTestId("clock");
      assert.match((await clock.textContent()) ?? "", /runs on real time/);
      assert.equal(await page.getByLabel("Advance the clock by").count(), 0);
      // A hand-made form still meets the service's refusal.
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.evaluate(() => {
          const f = document.createElement("form");
          f.method = "post";
          f.action = "/portal/operator/clock/advance";
          const by = document.createElement("input");
          by.name = "by";
          by.value = "1d";
          f.append(by);
          document.body.append(f);
          f.submit();
        }),
      ]);
      assert.equal(response.status(), 403);
      await page.getByTestId("error-code").waitFor();
      assert.equal((await shownError(page)).code, "ClockControlDisabled");
      await screenshot(page, t.name);
      assert.deepEqual(errors, []);
    } finally {
      await browser?.close();
      await server.close();
    }
  });
});
