/**
 * The customer pages in a real browser (Debian's Chromium through playwright-core). Every
 * outcome is checked in the store too, through the official SDK, and every refusal is
 * compared with what the ARM API answers for the same request.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SUBSCRIPTION } from "../support/server.ts";
import { importJob, exportJob, shippable } from "../api/fixtures.ts";
import {
  apiError,
  assertUsable,
  browserSkip,
  newPage,
  parsed,
  PHONE,
  DESKTOP,
  screenshot,
  serverAndBrowser,
  shownError,
  tabTo,
} from "./support.ts";

const KEY = "111111-222222-333333-444444-555555-666666-777777-888888";

/** Why the browser tests cannot run here (skipped and counted), or undefined. */
const SKIP = browserSkip();

describe("customer portal", () => {
  const env = serverAndBrowser(SKIP);
  const portal = (path: string) => `${env.server.url}/portal${path}`;
  const rgUrl = (rg: string) => portal(`/subscriptions/${SUBSCRIPTION}/resourceGroups/${rg}`);
  const jobUrl = (rg: string, name: string) => `${rgUrl(rg)}/jobs/${name}`;
  const armUrl = (rg: string, name: string) =>
    `${env.server.url}/subscriptions/${SUBSCRIPTION}/resourceGroups/${rg}/providers/Microsoft.ImportExport/jobs/${name}?api-version=2021-01-01`;

  /** What the ARM API answers for a raw request (for comparing messages). */
  async function arm(method: string, rg: string, name: string, body: unknown) {
    const res = await fetch(armUrl(rg, name), {
      method,
      headers: { authorization: "Bearer dev", "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { error: { code: string; message: string } };
    return { status: res.status, ...json.error };
  }

  async function ok(method: string, path: string, body?: unknown) {
    const r = await env.server.operator(method, path, body);
    assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  test(
    "an import job from the wizard to gone: create, mark shipped, cancel, Completed, delete, not found",
    { skip: SKIP },
    async (t) => {
      const RG = "flow";
      const NAME = "wizard-import";
      const c = env.server.client();
      const { page, errors, context } = await newPage(env.browser);

      // Choose the subscription and resource group (development sign-in), remembered in a cookie.
      await page.goto(portal("/"));
      await assertUsable(page);
      await page.getByLabel("Subscription ID").fill(SUBSCRIPTION);
      await page.getByLabel("Resource group (optional)").fill(RG);
      await page.getByRole("button", { name: "Show jobs" }).click();
      await page.getByTestId("no-jobs").waitFor();
      assert.ok((await context.cookies()).some((k) => k.name === "drivebay_scope" && k.httpOnly));

      // The wizard: type, then the details; a second drive row keeps what was typed.
      await page.getByRole("link", { name: "Create import job" }).click();
      await assertUsable(page);
      await page.getByLabel("Job name").fill(NAME);
      await page.getByLabel("Shipping location (Azure region)").selectOption("westus");
      await page.getByLabel("Storage account", { exact: true }).fill("mydata");
      await page.locator("#f-drive-0-driveId").fill("WD-BROWSER0001");
      await page.locator("#f-drive-0-bitLockerKey").fill(KEY);
      await page.locator("#f-drive-0-manifestFile").fill("\\DriveManifest.xml");
      await page.locator("#f-drive-0-manifestHash").fill("A1B2C3D4E5F60718293A4B5C6D7E8F90");
      await page.getByRole("button", { name: "Add another drive" }).click();
      assert.equal(await page.locator("#f-drive-0-driveId").inputValue(), "WD-BROWSER0001");
      await page.locator("#f-drive-1-driveId").fill("WD-BROWSER0002");
      await page.locator("#f-drive-1-bitLockerKey").fill(KEY);
      await page.locator("#f-drive-1-manifestFile").fill("\\DriveManifest.xml");
      await page.getByLabel("Recipient name").fill("Ada Lovelace");
      await page.getByLabel("Street address", { exact: true }).fill("1 Analytical Way");
      await page.getByLabel("City").fill("London");
      await page.getByLabel("Postal code").fill("N1 9GU");
      await page.getByLabel("Country or region").fill("United Kingdom");
      await page.getByLabel("Phone").fill("+44 20 0000 0000");
      await page.getByLabel("Email").fill("ada@example.com");
      await page.getByLabel("Carrier", { exact: true }).fill("FedEx");
      await page.getByLabel("Carrier account number").fill("123456789");
      await page
        .getByLabel("Tags (optional, one name=value per line)")
        .fill("project=moon\nowner=ada");
      await screenshot(page, t.name, `1 wizard`);
      await page.getByRole("button", { name: "Create job" }).click();
      await page.locator("#notice").waitFor();
      assert.equal(await page.locator('[data-field="state"]').textContent(), "Creating");
      await assertUsable(page);

      let job = await c.jobs.get(NAME, RG);
      assert.equal(job.properties?.state, "Creating");
      assert.equal(job.location, "westus");
      assert.deepEqual(
        job.properties?.driveList?.map((d) => d.driveId),
        ["WD-BROWSER0001", "WD-BROWSER0002"],
      );
      assert.equal(job.properties?.returnAddress?.recipientName, "Ada Lovelace");
      assert.deepEqual(job.tags, { project: "moon", owner: "ada" });
      assert.match(
        job.properties?.storageAccountId ?? "",
        /\/resourceGroups\/flow\/providers\/Microsoft\.Storage\/storageAccounts\/mydata$/,
      );

      // Mark as shipped: the return details are already there, the package is new.
      await page.getByRole("link", { name: "Mark as shipped" }).click();
      assert.equal(await page.getByLabel("Recipient name").inputValue(), "Ada Lovelace");
      await page.locator("#f-deliveryPackage-carrierName").fill("FedEx");
      await page.locator("#f-deliveryPackage-trackingNumber").fill("TN-BROWSER-1");
      await page.locator("#f-deliveryPackage-driveCount").fill("2");
      await page.getByRole("button", { name: "Mark as shipped" }).click();
      await page.locator("#notice").waitFor();
      assert.equal(await page.locator('[data-field="state"]').textContent(), "Shipping");
      job = await c.jobs.get(NAME, RG);
      assert.equal(job.properties?.state, "Shipping");
      assert.equal(job.properties?.deliveryPackage?.trackingNumber, "TN-BROWSER-1");
      assert.equal(job.properties?.deliveryPackage?.driveCount, 2);
      // Shipping: cancel is offered, delete is not.
      assert.equal(await page.getByRole("link", { name: "Delete job" }).count(), 0);
      assert.equal(await page.getByRole("link", { name: "Mark as shipped" }).count(), 0);

      // Cancel: the confirmation says it is best effort and what happens in Shipping.
      await page.getByRole("link", { name: "Cancel job" }).click();
      const explanation = (await page.getByTestId("cancel-explanation").textContent()) ?? "";
      assert.match(explanation, /best effort/i);
      assert.match(explanation, /Shipping/);
      assert.match(explanation, /no data is copied/);
      assert.match(explanation, /shipped back/);
      await assertUsable(page);
      await screenshot(page, t.name, `2 cancel confirmation`);
      await page.getByRole("button", { name: "Cancel the job" }).click();
      await page.locator("#notice").waitFor();
      job = await c.jobs.get(NAME, RG);
      assert.equal(job.properties?.cancelRequested, true);
      assert.equal(job.properties?.state, "Shipping");
      assert.equal(
        await page.getByRole("link", { name: "Cancel job" }).count(),
        0,
        "cancelled once",
      );

      // The datacenter honours the cancel while the customer watches: the page follows live.
      await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
      await ok("POST", "/packages/receive", {
        trackingNumber: "TN-BROWSER-1",
        driveIds: ["WD-BROWSER0001", "WD-BROWSER0002"],
      });
      const path = `/jobs/${SUBSCRIPTION}/${RG}/${NAME}`;
      await ok("POST", `${path}/package`);
      await ok("POST", `${path}/ship-back`, {
        carrierName: "FedEx",
        trackingNumber: "RT-BROWSER-1",
      });
      await page
        .locator('[data-field="state"]', { hasText: "Completed" })
        .waitFor({ timeout: 20_000 });
      job = await c.jobs.get(NAME, RG);
      assert.equal(job.properties?.state, "Completed");
      assert.equal(job.properties?.returnPackage?.trackingNumber, "RT-BROWSER-1");
      const history = (await page.getByTestId("history").textContent()) ?? "";
      assert.match(history, /Cancel requested by the customer/);
      assert.match(history, /no data is copied/);
      await screenshot(page, t.name, `3 completed`);

      // Delete: offered in Completed; afterwards gone from the list, the API and its URL.
      await page.getByRole("link", { name: "Delete job" }).click();
      await page.getByRole("button", { name: "Delete the job" }).click();
      await page.locator("#notice", { hasText: `Job '${NAME}' was deleted.` }).waitFor();
      assert.equal(await page.locator(`[data-job="${NAME}"]`).count(), 0);
      await page.getByTestId("no-jobs").waitFor();
      const gone = await apiError(c.jobs.get(NAME, RG));
      assert.equal(gone.status, 404);
      const listed = [];
      for await (const j of c.jobs.listByResourceGroup(RG)) listed.push(j.name);
      assert.deepEqual(listed, []);
      await screenshot(page, t.name, `4 deleted`);

      const res = await page.goto(jobUrl(RG, NAME));
      assert.equal(res?.status(), 404);
      assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Job not found");
      assert.match(
        (await page.locator("main").textContent()) ?? "",
        /does not exist in resource group\s+flow\s*, or it was deleted/,
      );
      await assertUsable(page);
      await screenshot(page, t.name, `5 not found`);
      assert.deepEqual(errors, []);
      await page.close();
    },
  );

  test(
    "a job in Shipping shows no delete button; a direct delete attempt shows the API's message",
    { skip: SKIP },
    async (t) => {
      const RG = "no-delete";
      const c = env.server.client();
      await c.jobs.create("on-the-way", RG, importJob({}, "westus"));
      await c.jobs.update("on-the-way", RG, { ...shippable, state: "Shipping" });
      const expected = await apiError(c.jobs.delete("on-the-way", RG));
      assert.equal(expected.code, "JobNotDeletable");

      const { page, errors } = await newPage(env.browser);
      await page.goto(jobUrl(RG, "on-the-way"));
      assert.equal(await page.locator('[data-field="state"]').textContent(), "Shipping");
      assert.equal(await page.getByRole("link", { name: "Delete job" }).count(), 0);
      assert.equal(await page.getByRole("button", { name: /delete/i }).count(), 0);

      // The confirm page typed by hand: the lifecycle's refusal, 409.
      const res = await page.goto(`${jobUrl(RG, "on-the-way")}/delete`);
      assert.equal(res?.status(), 409);
      assert.deepEqual(await shownError(page), { code: expected.code, message: expected.message });

      // A form posted by hand to the delete URL (same origin, as a person with dev tools would).
      await page.goto(jobUrl(RG, "on-the-way"));
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.evaluate(
          (action) => {
            const f = document.createElement("form");
            f.method = "post";
            f.action = action;
            document.body.append(f);
            f.submit();
          },
          `${jobUrl(RG, "on-the-way")}/delete`,
        ),
      ]);
      assert.equal(response.status(), 409);
      await page.getByTestId("error-message").waitFor();
      assert.deepEqual(await shownError(page), { code: expected.code, message: expected.message });
      assert.doesNotMatch(
        (await page.content()) ?? "",
        /at \w+ \(|node_modules|\.ts:\d+/,
        "no stack trace",
      );
      await assertUsable(page);
      await screenshot(page, t.name);

      // And without a browser at all: the same status and message.
      const raw = await fetch(`${jobUrl(RG, "on-the-way")}/delete`, { method: "POST" });
      assert.equal(raw.status, 409);
      assert.match(raw.headers.get("content-type") ?? "", /text\/html/);
      assert.ok((await raw.text()).includes(expected.message.replaceAll("'", "&#39;")));
      assert.equal(
        (await c.jobs.get("on-the-way", RG)).properties?.state,
        "Shipping",
        "still there",
      );
      assert.deepEqual(errors, []);
      await page.close();
    },
  );

  test(
    "the wizard shows the API's own validation messages, at the field",
    { skip: SKIP },
    async (t) => {
      const RG = "validation";
      const { page, errors } = await newPage(env.browser);
      const valid = {
        name: "valid-name",
        location: "westus",
        storageAccount: "mydata",
        "drive-0-driveId": "WD-VALID0001",
        "drive-0-bitLockerKey": KEY,
        "drive-0-manifestFile": "\\DriveManifest.xml",
      };
      const storage = (name: string) =>
        `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${name}`;
      const validBody = {
        location: "westus",
        properties: {
          jobType: "Import",
          storageAccountId: storage("mydata"),
          backupDriveManifest: false,
          driveList: [
            { driveId: "WD-VALID0001", bitLockerKey: KEY, manifestFile: "\\DriveManifest.xml" },
          ],
        },
      };
      const cases: {
        what: string;
        type?: "Import" | "Export";
        form: Record<string, string>;
        name: string;
        body: unknown;
        field: string;
      }[] = [
        {
          what: "bad job name",
          form: { ...valid, name: "1bad" },
          name: "1bad",
          body: validBody,
          field: "name",
        },
        {
          what: "no location",
          form: { ...valid, location: "" },
          name: "valid-name",
          body: { properties: validBody.properties },
          field: "location",
        },
        {
          what: "no drives",
          form: {
            ...valid,
            "drive-0-driveId": "",
            "drive-0-bitLockerKey": "",
            "drive-0-manifestFile": "",
          },
          name: "valid-name",
          body: { ...validBody, properties: { ...validBody.properties, driveList: [] } },
          field: "drive-0-driveId",
        },
        {
          what: "a drive without its BitLocker key",
          form: { ...valid, "drive-0-bitLockerKey": "" },
          name: "valid-name",
          body: {
            ...validBody,
            properties: {
              ...validBody.properties,
              driveList: [{ driveId: "WD-VALID0001", manifestFile: "\\DriveManifest.xml" }],
            },
          },
          field: "drive-0-bitLockerKey",
        },
        {
          what: "a bad storage account",
          form: { ...valid, storageAccount: "Not_An_Account" },
          name: "valid-name",
          body: {
            ...validBody,
            properties: { ...validBody.properties, storageAccountId: storage("Not_An_Account") },
          },
          field: "storageAccount",
        },
        {
          what: "an incomplete return address",
          form: { ...valid, "returnAddress-recipientName": "Ada" },
          name: "valid-name",
          body: {
            ...validBody,
            properties: { ...validBody.properties, returnAddress: { recipientName: "Ada" } },
          },
          field: "returnAddress-streetAddress1",
        },
        {
          what: "a bad tag name",
          form: { ...valid, tags: "bad<name=1" },
          name: "valid-name",
          body: { ...validBody, tags: { "bad<name": "1" } },
          field: "tags",
        },
        {
          what: "an export blob path without its container",
          type: "Export",
          form: {
            name: "valid-name",
            location: "westus",
            storageAccount: "mydata",
            blobPaths: "readme.txt",
          },
          name: "valid-name",
          body: {
            location: "westus",
            properties: {
              jobType: "Export",
              storageAccountId: storage("mydata"),
              backupDriveManifest: false,
              export: { blobList: { blobPath: ["readme.txt"] } },
            },
          },
          field: "blobPaths",
        },
      ];
      for (const k of cases) {
        const expected = await arm("PUT", RG, k.name, k.body);
        assert.ok(expected.status >= 400, `${k.what}: the API refuses it`);
        await page.goto(`${rgUrl(RG)}/create-job?type=${k.type ?? "Import"}`);
        for (const [field, value] of Object.entries(k.form)) {
          const el = page.locator(`#f-${field}`);
          if ((await el.evaluate((e) => e.tagName)) === "SELECT") await el.selectOption(value);
          else await el.fill(value);
        }
        const [response] = await Promise.all([
          page.waitForResponse((r) => r.request().method() === "POST"),
          page.getByRole("button", { name: "Create job" }).click(),
        ]);
        await page.getByTestId("error-message").waitFor();
        assert.equal(response.status(), expected.status, k.what);
        assert.deepEqual(
          await shownError(page),
          { code: expected.code, message: expected.message },
          k.what,
        );
        assert.equal(
          await page.locator(`#f-${k.field}`).getAttribute("aria-invalid"),
          "true",
          `${k.what}: field marked`,
        );
        assert.equal(
          (await page.locator(`#f-${k.field}-error`).textContent())?.trim(),
          expected.message,
          `${k.what}: message at the field`,
        );
        // What was typed is kept.
        for (const [field, value] of Object.entries(k.form)) {
          assert.equal(
            await page.locator(`#f-${field}`).inputValue(),
            value,
            `${k.what}: ${field} kept`,
          );
        }
        await assertUsable(page);
      }
      await screenshot(page, t.name);

      // An existing name is refused instead of silently replacing the job (the wizard creates).
      await env.server.client().jobs.create("taken", RG, importJob({}, "westus"));
      await page.goto(`${rgUrl(RG)}/create-job?type=Import`);
      await page.locator("#f-name").fill("taken");
      await page.locator("#f-location").selectOption("westus");
      await page.locator("#f-storageAccount").fill("other");
      await page.locator("#f-drive-0-driveId").fill("WD-OTHER");
      await page.locator("#f-drive-0-bitLockerKey").fill(KEY);
      await page.locator("#f-drive-0-manifestFile").fill("\\DriveManifest.xml");
      await page.getByRole("button", { name: "Create job" }).click();
      assert.equal((await shownError(page)).code, "JobAlreadyExists");
      const taken = await env.server.client().jobs.get("taken", RG);
      assert.match(taken.properties?.storageAccountId ?? "", /drivebaydata$/, "not replaced");

      // Mark as shipped without the return details: the API's ShippingInformationMissing.
      const expected = await arm("PATCH", RG, "taken", {
        properties: {
          state: "Shipping",
          deliveryPackage: { carrierName: "FedEx", trackingNumber: "T1" },
        },
      });
      assert.equal(expected.code, "ShippingInformationMissing");
      await page.goto(`${jobUrl(RG, "taken")}/ship`);
      await page.locator("#f-deliveryPackage-carrierName").fill("FedEx");
      await page.locator("#f-deliveryPackage-trackingNumber").fill("T1");
      await page.getByRole("button", { name: "Mark as shipped" }).click();
      assert.deepEqual(await shownError(page), { code: expected.code, message: expected.message });
      const badCount = await arm("PATCH", RG, "taken", {
        properties: {
          deliveryPackage: { carrierName: "FedEx", trackingNumber: "T1", driveCount: "two" },
        },
      });
      await page.locator("#f-deliveryPackage-driveCount").fill("two");
      await page.getByRole("button", { name: "Mark as shipped" }).click();
      assert.deepEqual(await shownError(page), { code: badCount.code, message: badCount.message });
      assert.equal((await env.server.client().jobs.get("taken", RG)).properties?.state, "Creating");
      assert.deepEqual(errors, []);
      await page.close();
    },
  );

  test("an export job through the wizard", { skip: SKIP }, async (t) => {
    const RG = "exports";
    const { page, errors } = await newPage(env.browser);
    await page.goto(`${rgUrl(RG)}/create-job`);
    await page.getByRole("link", { name: /Export job/ }).click();
    await page.getByLabel("Job name").fill("photos-out");
    await page.getByLabel("Shipping location (Azure region)").selectOption("eastus");
    await page.getByLabel("Storage account", { exact: true }).fill("mydata");
    await page.getByLabel("Blob paths (one per line)").fill("/docs/readme.txt\n/docs/licence.txt");
    await page.getByLabel("Blob path prefixes (one per line)").fill("/photos/2026/");
    await page.getByLabel("Log level").selectOption("Verbose");
    await page.getByLabel("Back up the drive manifests to the storage account").check();
    await screenshot(page, t.name);
    await page.getByRole("button", { name: "Create job" }).click();
    await page.locator("#notice").waitFor();
    const job = await env.server.client().jobs.get("photos-out", RG);
    assert.equal(job.properties?.jobType, "Export");
    assert.deepEqual(job.properties?.export?.blobPath, ["/docs/readme.txt", "/docs/licence.txt"]);
    assert.deepEqual(job.properties?.export?.blobPathPrefix, ["/photos/2026/"]);
    assert.equal(job.properties?.logLevel, "Verbose");
    assert.equal(job.properties?.backupDriveManifest, true);
    assert.match((await page.locator("main").textContent()) ?? "", /\/photos\/2026\/\s*\(prefix\)/);
    // Cancelling in Creating ends the job at once, and the confirmation says so.
    await page.getByRole("link", { name: "Cancel job" }).click();
    assert.match(
      (await page.getByTestId("cancel-explanation").textContent()) ?? "",
      /ends 'Completed' at once/,
    );
    await page.getByRole("button", { name: "Cancel the job" }).click();
    await page.locator("#notice").waitFor();
    assert.equal(await page.locator('[data-field="state"]').textContent(), "Completed");
    assert.equal(
      (await env.server.client().jobs.get("photos-out", RG)).properties?.state,
      "Completed",
    );
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("text from a job is shown as text, never run as markup", { skip: SKIP }, async (t) => {
    const RG = "escaping";
    const c = env.server.client();
    await c.jobs.create("xss", RG, {
      ...importJob({}, "westus"),
      tags: {
        note: "<script>window.pwned = 1</script>",
        img: '"><img src=x onerror="window.pwned = 2">',
      },
    });
    await c.jobs.update("xss", RG, {
      returnAddress: { ...shippable.returnAddress!, recipientName: "<b id=injected>Ada</b>" },
    });
    const { page, errors } = await newPage(env.browser);
    let dialogs = 0;
    page.on("dialog", (d) => {
      dialogs++;
      void d.dismiss();
    });
    for (const url of [jobUrl(RG, "xss"), `${rgUrl(RG)}/jobs`]) {
      await page.goto(url);
      assert.equal(
        await page.evaluate(() => (window as unknown as { pwned?: number }).pwned),
        undefined,
      );
      assert.equal(await page.locator("#injected").count(), 0);
      assert.equal(await page.locator("main img").count(), 0);
    }
    await page.goto(jobUrl(RG, "xss"));
    const tags = (await page.getByTestId("tags").textContent()) ?? "";
    assert.ok(tags.includes("<script>window.pwned = 1</script>"), tags);
    assert.ok(tags.includes('"><img src=x onerror="window.pwned = 2">'), tags);
    assert.ok(
      (await page.locator("address").allTextContents())
        .join(" ")
        .includes("<b id=injected>Ada</b>"),
    );
    assert.equal(dialogs, 0);
    await screenshot(page, t.name);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test(
    "the job list: filters, sorting, paging, by resource group and by subscription",
    { skip: SKIP },
    async (t) => {
      const RG = "many";
      const c = env.server.client();
      const names: string[] = [];
      for (let i = 0; i < 30; i++) {
        const name = `many-${String(i).padStart(2, "0")}`;
        names.push(name);
        await c.jobs.create(name, RG, i % 3 === 0 ? exportJob() : importJob({}, "westus"));
        if (i % 5 === 0 && i % 3 !== 0)
          await c.jobs.update(name, RG, { ...shippable, state: "Shipping" });
      }
      await c.jobs.create("elsewhere", "other-group", importJob({}, "westus"));
      const { page, errors } = await newPage(env.browser);
      const rows = async () =>
        (await parsed(page))
          .locator("[data-job]")
          .evaluateAll((els) => els.map((e) => e.getAttribute("data-job")));

      // Newest first by default (issue 13 item 14).
      const newest = [...names].reverse();
      await page.goto(`${rgUrl(RG)}/jobs`);
      assert.deepEqual(await rows(), newest);

      // Paging: 25 per page, keyset next / previous / first.
      await page.getByLabel("Jobs per page").selectOption("25");
      await page.getByRole("button", { name: "Apply filters" }).click();
      assert.deepEqual(await rows(), newest.slice(0, 25));
      await page.getByRole("link", { name: "Next page" }).click();
      assert.deepEqual(await rows(), newest.slice(25));
      assert.equal(await page.getByRole("link", { name: "Next page" }).count(), 0);
      await page.getByRole("link", { name: "Previous page" }).click();
      assert.deepEqual(await rows(), newest.slice(0, 25));
      await page.getByRole("link", { name: "Next page" }).click();
      await page.getByRole("link", { name: "First page" }).click();
      assert.deepEqual(await rows(), newest.slice(0, 25));
      // Oldest first on request, pages following that order.
      await page.getByRole("link", { name: /^Created, sort ascending/ }).click();
      assert.deepEqual(await rows(), names.slice(0, 25));
      await page.getByRole("link", { name: "Next page" }).click();
      assert.deepEqual(await rows(), names.slice(25));

      // Filters match the API's $filter (which lists oldest first; the portal newest first).
      const apiNames = async (filter: string) => {
        const out: string[] = [];
        for await (const j of c.jobs.listByResourceGroup(RG, { filter })) out.push(j.name!);
        return out.reverse();
      };
      await page.goto(`${rgUrl(RG)}/jobs`);
      await page.getByLabel("State", { exact: true }).selectOption("Shipping");
      await page.getByRole("button", { name: "Apply filters" }).click();
      assert.deepEqual(await rows(), await apiNames("state eq 'Shipping'"));
      assert.ok((await rows()).length > 0);
      await page.getByLabel("State", { exact: true }).selectOption("");
      await page.getByLabel("Type", { exact: true }).selectOption("Export");
      await page.getByRole("button", { name: "Apply filters" }).click();
      assert.deepEqual(await rows(), await apiNames("jobType eq 'Export'"));
      await page.getByRole("link", { name: "Clear filters" }).click();
      assert.equal((await rows()).length, 30);

      // Sorting the page: by a column heading, and by the form (which works on a phone too).
      await page.getByRole("link", { name: /^Name, sort ascending/ }).click();
      assert.deepEqual(await rows(), [...names].sort());
      await page.getByRole("link", { name: /^Name, sort descending/ }).click();
      assert.deepEqual(await rows(), [...names].sort().reverse());
      await page.getByLabel("Sort this page by").selectOption("state");
      await page.getByLabel("Order").selectOption("asc");
      await page.getByRole("button", { name: "Apply filters" }).click();
      const states = await (
        await parsed(page)
      )
        .locator("[data-job] .badge:first-child")
        .allTextContents();
      assert.equal(states[0], "Creating");
      assert.equal(states[states.length - 1], "Shipping");
      await screenshot(page, t.name, `resource group`);

      // Bad query parameters are a clear 400 page, not a 500.
      const bad = await page.goto(`${rgUrl(RG)}/jobs?state=Lost`);
      assert.equal(bad?.status(), 400);
      assert.match((await shownError(page)).message, /'Lost' is not a valid value for 'state'/);

      // By subscription: every resource group, with its column; the scope is remembered.
      await page.goto(portal("/jobs"));
      await page.getByText("Change subscription or resource group").click();
      await page.getByLabel("Resource group (optional)").fill("");
      await page.getByRole("button", { name: "Show jobs" }).click();
      assert.match(page.url(), new RegExp(`/portal/subscriptions/${SUBSCRIPTION}/jobs$`));
      const all = await rows();
      assert.ok(all.includes("elsewhere") && all.includes("many-00"));
      assert.ok(await page.getByRole("columnheader", { name: "Resource group" }).isVisible());
      await page.goto(portal("/jobs"));
      assert.match(
        page.url(),
        new RegExp(`/portal/subscriptions/${SUBSCRIPTION}/jobs$`),
        "remembered",
      );
      await assertUsable(page);
      await screenshot(page, t.name, `subscription`);
      assert.deepEqual(errors, []);
      await page.close();
    },
  );

  test(
    "pages work at 1280×800 and 390×844: no sideways scrolling, every control labelled",
    { skip: SKIP },
    async (t) => {
      const RG = "sizes";
      const c = env.server.client();
      await c.jobs.create("sizes-creating", RG, importJob({}, "westus"));
      await c.jobs.create("sizes-shipping", RG, importJob({}, "westus"));
      await c.jobs.update("sizes-shipping", RG, { ...shippable, state: "Shipping" });
      const pages = [
        ["list", `${rgUrl(RG)}/jobs`],
        ["job", jobUrl(RG, "sizes-shipping")],
        ["wizard type", `${rgUrl(RG)}/create-job`],
        ["import wizard", `${rgUrl(RG)}/create-job?type=Import`],
        ["export wizard", `${rgUrl(RG)}/create-job?type=Export`],
        ["mark as shipped", `${jobUrl(RG, "sizes-creating")}/ship`],
        ["cancel", `${jobUrl(RG, "sizes-shipping")}/cancel`],
        ["delete", `${jobUrl(RG, "sizes-creating")}/delete`],
        ["not found", jobUrl(RG, "no-such-job")],
        ["scope", portal("/jobs")],
      ] as const;
      for (const viewport of [DESKTOP, PHONE]) {
        const { page, errors } = await newPage(env.browser, viewport);
        for (const [name, url] of pages) {
          await page.goto(url);
          await assertUsable(page);
          await screenshot(page, t.name, `${viewport.width} ${name}`);
        }
        // The header and the job's actions stay reachable on a phone.
        await page.goto(jobUrl(RG, "sizes-shipping"));
        assert.ok(await page.getByRole("link", { name: "Cancel job" }).isVisible());
        assert.ok(await page.getByRole("link", { name: "Datacenter" }).isVisible());
        assert.deepEqual(errors, []);
        await page.context().close();
      }
    },
  );

  test(
    "keyboard only: create a job through the wizard and cancel it with Tab and Enter",
    { skip: SKIP },
    async (t) => {
      const RG = "keyboard";
      const { page, errors } = await newPage(env.browser);
      await page.goto(`${rgUrl(RG)}/jobs`);
      // The skip link comes first and moves focus to the main content.
      await page.keyboard.press("Tab");
      assert.equal(
        await page.evaluate(() => document.activeElement?.textContent?.trim()),
        "Skip to main content",
      );
      const focusStyle = await page.evaluate(() => getComputedStyle(document.activeElement!).top);
      assert.notEqual(focusStyle, "-48px", "the skip link shows when focused");
      await page.keyboard.press("Enter");
      await tabTo(page, (el) => el.tag === "a" && el.text === "Create import job");
      await page.keyboard.press("Enter");
      await page.waitForURL(/create-job\?type=Import/);

      const type = async (id: string, text: string) => {
        await tabTo(page, (el) => el.id === id);
        await page.keyboard.type(text);
      };
      await type("f-name", "by-keyboard");
      await tabTo(page, (el) => el.id === "f-location");
      await page.keyboard.type("West US (westus)");
      await type("f-storageAccount", "mydata");
      await type("f-drive-0-driveId", "WD-KEYS0001");
      await type("f-drive-0-bitLockerKey", KEY);
      await type("f-drive-0-manifestFile", "\\DriveManifest.xml");
      await tabTo(page, (el) => el.tag === "button" && el.text === "Create job");
      await screenshot(page, t.name, `1 create button focused`);
      await page.keyboard.press("Enter");
      await page.locator("#notice").waitFor();
      const job = await env.server.client().jobs.get("by-keyboard", RG);
      assert.equal(job.location, "westus");
      assert.equal(job.properties?.driveList?.[0]?.driveId, "WD-KEYS0001");

      // Enter in a field creates the job too (the form's default button is "Create job").
      await page.goto(`${rgUrl(RG)}/create-job?type=Import`);
      await page.locator("#f-name").focus();
      await page.keyboard.type("by-enter");
      await page.keyboard.press("Enter");
      await page.getByTestId("error-message").waitFor();
      assert.equal(
        (await shownError(page)).code,
        "MissingRequiredProperty",
        "validated, not 'add a drive'",
      );
      assert.equal(
        await page.evaluate(() => document.activeElement?.id),
        "error-summary",
        "focus on the message",
      );

      // Cancel by keyboard: the link, the confirmation, the button.
      await page.goto(jobUrl(RG, "by-keyboard"));
      await tabTo(page, (el) => el.tag === "a" && el.text === "Cancel job");
      await page.keyboard.press("Enter");
      await page.waitForURL(/\/cancel$/);
      await tabTo(page, (el) => el.tag === "button" && el.text === "Cancel the job");
      await page.keyboard.press("Enter");
      await page.locator("#notice").waitFor();
      assert.equal(
        (await env.server.client().jobs.get("by-keyboard", RG)).properties?.state,
        "Completed",
      );
      await screenshot(page, t.name, `2 cancelled`);
      assert.deepEqual(errors, []);
      await page.close();
    },
  );
});
