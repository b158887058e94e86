/**
 * The portal a new user expects (issue 13 items 13–16, issue 11 item 7): the scope page
 * lists the subscriptions and resource groups with jobs, the job list on a phone, the
 * wizard filled from `drive prepare --output json`, and an export job's drives and keys.
 * Real Chromium; every job is created through the official SDK.
 */
import { describe, test } from "node:test";
import { mkdirSync, readFileSync } from "node:fs";
import { BlobServiceClient } from "@azure/storage-blob";
import assert from "node:assert/strict";
import { SUBSCRIPTION } from "../support/server.ts";
import { shipAndReceive } from "../support/shipping.ts";
import { importJob, STORAGE } from "../api/fixtures.ts";
import { join } from "node:path";
import { argv, runCli } from "../cli/helpers.ts";
import { tempDir, writeData } from "../transfer/helpers.ts";
import { DEFAULT_SUBSCRIPTION as CLI_DEFAULT_SUBSCRIPTION } from "../../src/cli/client.ts";
import { DEFAULT_SUBSCRIPTION } from "../../src/portal/customer-views.ts";
import {
  assertUsable,
  browserSkip,
  DESKTOP,
  newPage,
  PHONE,
  parsed,
  screenshot,
  serverAndBrowser,
  shownError,
} from "./support.ts";

const SKIP = browserSkip();
const SECOND = "cccc0000-0000-4000-8000-000000000003";
const KEY = "111111-222222-333333-444444-555555-666666-777777-888888";
const KEY2 = "999999-888888-777777-666666-555555-444444-333333-222222";

describe("customer portal: the first hour", () => {
  const env = serverAndBrowser(SKIP);
  const portal = (path: string) => `${env.server.url}/portal${path}`;

  test(
    "the scope page lists the subscriptions and resource groups with jobs, the default subscription prefilled",
    { skip: SKIP },
    async (t) => {
      assert.equal(DEFAULT_SUBSCRIPTION, CLI_DEFAULT_SUBSCRIPTION, "the CLI's default is offered");
      await env.server.client().jobs.create("scope-a1", "Scope-RG-A", importJob());
      await env.server.client().jobs.create("scope-a2", "Scope-RG-A", importJob());
      await env.server.client().jobs.create("scope-b1", "scope-rg-b", importJob());
      await env.server
        .client({ subscriptionId: SECOND })
        .jobs.create("scope-c1", "Second-RG", importJob());

      const { page, errors } = await newPage(env.browser);
      await page.goto(portal("/jobs"));
      const scopes = page.getByTestId("scopes");
      const listed = await scopes.locator("li[data-subscription]").evaluateAll((subs) =>
        subs.map((s) => ({
          subscription: s.getAttribute("data-subscription"),
          groups: [...s.querySelectorAll("li[data-resource-group]")].map((g) =>
            (g.textContent ?? "").replace(/\s+/g, " ").trim(),
          ),
        })),
      );
      // Other tests of this file may add jobs to the same subscriptions: look for ours.
      const first = listed.find((l) => l.subscription === SUBSCRIPTION);
      const second = listed.find((l) => l.subscription === SECOND);
      assert.ok(first && second, JSON.stringify(listed));
      assert.ok(first.groups.includes("Scope-RG-A 2 jobs"), JSON.stringify(first.groups));
      assert.ok(first.groups.includes("scope-rg-b 1 job"), JSON.stringify(first.groups));
      assert.deepEqual(second.groups, ["Second-RG 1 job"]);
      assert.equal(await page.getByLabel("Subscription ID").inputValue(), DEFAULT_SUBSCRIPTION);
      await assertUsable(page);
      await screenshot(page, t.name);

      // A resource group's link opens its jobs; the scope page stays one link away.
      await scopes.getByRole("link", { name: "Second-RG" }).click();
      await parsed(page);
      assert.equal(
        new URL(page.url()).pathname,
        `/portal/subscriptions/${SECOND}/resourceGroups/Second-RG/jobs`,
      );
      assert.deepEqual(
        await page
          .getByTestId("jobs-table")
          .locator("tbody tr")
          .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-job"))),
        ["scope-c1"],
      );
      await page.getByText("Change subscription or resource group").click();
      await page.getByRole("link", { name: /every subscription and resource group/ }).click();
      await parsed(page);
      await page.getByTestId("scopes").waitFor();
      // The remembered scope is what the form offers now.
      assert.equal(await page.getByLabel("Subscription ID").inputValue(), SECOND);
      assert.deepEqual(errors, []);
      await page.close();
    },
  );

  test(
    "on a phone the job list's filters fold behind one button, with or without script, and the table fits",
    { skip: SKIP },
    async (t) => {
      const RG = "phone";
      const c = env.server.client();
      for (const name of ["phone-old", "phone-new-with-a-rather-long-job-name-to-wrap"]) {
        await c.jobs.create(name, RG, importJob());
      }
      const url = portal(`/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/jobs`);
      for (const script of [true, false]) {
        const context = await env.browser.newContext({
          viewport: PHONE,
          javaScriptEnabled: script,
        });
        const page = await context.newPage();
        await page.goto(url);
        const fold = page.getByText("Filters and sorting");
        assert.ok(await fold.isVisible(), "the one button is shown");
        assert.equal(await page.getByLabel("State", { exact: true }).isVisible(), false);
        assert.equal(await page.getByRole("button", { name: "Apply filters" }).isVisible(), false);
        // Newest first: the job created last leads.
        assert.deepEqual(
          await page
            .locator("[data-job]")
            .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-job"))),
          ["phone-new-with-a-rather-long-job-name-to-wrap", "phone-old"],
        );
        await assertUsable(page); // nothing wider than the 390 px window
        await screenshot(page, t.name, `folded${script ? "" : " no script"}`);
        await fold.click();
        await page.getByLabel("State", { exact: true }).selectOption("Creating");
        await page.getByRole("button", { name: "Apply filters" }).click();
        await parsed(page);
        assert.match(page.url(), /state=Creating/);
        assert.equal(await page.locator("[data-job]").count(), 2);
        // The button says that filters are on while they are folded away.
        assert.match((await fold.textContent()) ?? "", /on/);
        await assertUsable(page);
        await screenshot(page, t.name, `filtered${script ? "" : " no script"}`);
        await context.close();
      }

      // On a wide screen the filters are simply there, without the button.
      const { page, errors } = await newPage(env.browser, DESKTOP);
      await page.goto(url);
      assert.ok(await page.getByLabel("State", { exact: true }).isVisible());
      assert.equal(await page.getByText("Filters and sorting").isVisible(), false);
      assert.deepEqual(errors, []);
      await page.close();
    },
  );

  test(
    "the create wizard fills its drives from drive prepare's JSON; bad JSON is refused with nothing typed lost",
    { skip: SKIP },
    async (t) => {
      const RG = "paste";
      // Two real drives, prepared by the CLI as a customer would, its JSON output kept.
      const root = tempDir("drivebay-paste-");
      writeData(root, "src/a.txt", "alpha\n");
      writeData(root, "src/b.bin", 5000);
      const csv = writeData(root, "data.csv", "BasePath,DstBlobPathOrPrefix\nsrc/,photos/\n");
      const outputs: string[] = [];
      for (const id of ["WD-PASTE-1", "WD-PASTE-2"]) {
        const r = await runCli(
          argv`drive prepare --dataset ${csv} --drive ${join(root, id)} --drive-id ${id} --output json`,
        );
        assert.equal(r.code, 0, r.err);
        outputs.push(r.out);
      }
      const prepared = outputs.map((o) => JSON.parse(o) as Record<string, string>);
      assert.match(prepared[0]!.manifestHash!, /^[0-9A-F]{32}$/);

      const { page, errors } = await newPage(env.browser);
      await page.goto(
        portal(`/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/create-job?type=Import`),
      );
      await page.locator("#f-name").fill("pasted-drives");
      await page.locator("#f-location").selectOption("westus");
      await page.locator("#f-storageAccount").fill(STORAGE);
      await page.locator("#f-drive-0-bitLockerKey").fill(KEY);

      // Bad JSON: a clear message at the field; everything typed, the paste included, kept.
      const broken = outputs[0]!.slice(0, -4);
      await page.locator("#f-preparedJson").fill(broken);
      await page.getByRole("button", { name: "Fill the drives from the JSON" }).click();
      await parsed(page);
      const shown = await shownError(page);
      assert.equal(shown.code, "InvalidPreparedDrives");
      assert.match(shown.message, /ends before its last object is closed/);
      assert.equal(await page.locator("#f-preparedJson").getAttribute("aria-invalid"), "true");
      assert.equal((await page.locator("#f-preparedJson").inputValue()).trim(), broken.trim());
      assert.equal(await page.locator("#f-name").inputValue(), "pasted-drives");
      assert.equal(await page.locator("#f-drive-0-bitLockerKey").inputValue(), KEY);
      await assertUsable(page);
      await screenshot(page, t.name, "bad json");

      // Both outputs one after another, as two runs print them: two rows filled.
      await page.locator("#f-preparedJson").fill(outputs.join(""));
      await page.getByRole("button", { name: "Fill the drives from the JSON" }).click();
      await parsed(page);
      for (const [i, d] of prepared.entries()) {
        for (const f of ["driveId", "manifestFile", "manifestHash", "driveHeaderHash"]) {
          assert.equal(await page.locator(`#f-drive-${i}-${f}`).inputValue(), d[f] ?? "", f);
        }
      }
      assert.equal(await page.locator("#f-drive-0-bitLockerKey").inputValue(), KEY, "kept");
      assert.equal(await page.locator("#f-preparedJson").inputValue(), "");
      await page.locator("#f-drive-1-bitLockerKey").fill(KEY2);
      await assertUsable(page);
      await screenshot(page, t.name, "filled");
      await page.getByRole("button", { name: "Create job" }).last().click();
      await page.locator("#notice", { hasText: "The job was created." }).waitFor();
      const job = await env.server.client().jobs.get("pasted-drives", RG);
      assert.deepEqual(
        job.properties?.driveList?.map((d) => [d.driveId, d.manifestFile, d.manifestHash]),
        prepared.map((d) => [d.driveId, d.manifestFile, d.manifestHash]),
      );
      const keys: string[] = [];
      for await (const k of env.server.client().bitLockerKeys.list("pasted-drives", RG)) {
        keys.push(k.bitLockerKey!);
      }
      assert.deepEqual(keys, [KEY, KEY2]);

      // The file picker (script only) reads the saved output into the same place.
      const file = writeData(root, "drive.json", outputs[0]!);
      await page.goto(
        portal(`/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/create-job?type=Import`),
      );
      await page.locator("#f-preparedFile").setInputFiles(file);
      await page.waitForFunction(
        (id) => (document.getElementById("f-drive-0-driveId") as HTMLInputElement)?.value === id,
        prepared[0]!.driveId,
      );
      assert.equal(
        await page.locator("#f-drive-0-manifestHash").inputValue(),
        prepared[0]!.manifestHash,
      );
      assert.deepEqual(errors, []);
      await page.close();
    },
  );
});

describe("customer portal: an export job's drives", () => {
  const env = serverAndBrowser(SKIP, { blob: "memory" });

  test(
    "the export job page shows its drives, where to read them, the keys only on request, and the incomplete blob list",
    { skip: SKIP },
    async (t) => {
      const RG = "exports";
      const NAME = "portal-export";
      const ACCOUNT = "portalexport";
      const account = await env.server.operator("GET", `/storage/${ACCOUNT}`);
      const blobs = BlobServiceClient.fromConnectionString(account.body.connectionString);
      const music = blobs.getContainerClient("music");
      await music.create();
      await music.getBlockBlobClient("a.txt").upload("alpha", 5);
      const big = Buffer.alloc(2 * 1024 * 1024, 7);
      await music.getBlockBlobClient("zz-big.bin").upload(big, big.length);
      const c = env.server.client();
      await c.jobs.create(NAME, RG, {
        location: "westus",
        properties: {
          storageAccountId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${ACCOUNT}`,
          jobType: "Export",
          export: { blobPathPrefix: ["/music/"] },
        },
      });
      await shipAndReceive(c, env.server.operator, RG, NAME, {
        trackingNumber: `TN-${NAME}`,
        driveCount: 1,
        driveIds: ["PEXP1"],
      });
      // A drive too small for the big blob: it goes to the incomplete blob list.
      const dir = join(tempDir("drivebay-portal-export-"), "PEXP1");
      mkdirSync(dir, { recursive: true });
      const attached = await env.server.operator(
        "POST",
        `/jobs/${SUBSCRIPTION}/${RG}/${NAME}/drives/PEXP1/attach`,
        { path: dir, capacityBytes: 1024 * 1024 },
      );
      assert.equal(attached.status, 200, JSON.stringify(attached.body));
      await env.server.runner!.drain();
      const job = await c.jobs.get(NAME, RG);
      const drive = job.properties!.driveList![0]!;
      assert.ok(job.properties!.incompleteBlobListUri, "the big blob did not fit");
      const keys: string[] = [];
      for await (const k of c.bitLockerKeys.list(NAME, RG)) keys.push(k.bitLockerKey!);
      assert.equal(keys.length, 1);
      assert.match(keys[0]!, /^(\d{6}-){7}\d{6}$/);

      const { page, errors } = await newPage(env.browser);
      const url = `${env.server.url}/portal/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/jobs/${NAME}`;
      await page.goto(url);
      // The drive: its state, percent and bytes as the API reports them.
      const row = page.locator('[data-drive="PEXP1"]');
      assert.equal(
        (await row.locator('[data-field="driveState"]').textContent())?.trim(),
        drive.state,
      );
      assert.match(
        (await row.locator('[data-progress="drive"]').textContent()) ?? "",
        new RegExp(`${Math.round(drive.percentComplete ?? -1)}%`),
      );
      assert.match(
        (await row.locator('[data-field="bytesSucceeded"]').textContent()) ?? "",
        new RegExp(`${drive.bytesSucceeded} B`),
      );
      // Where the drive can be read (the folder the datacenter wrote it to).
      assert.equal(
        (await page.locator('[data-drive-location="PEXP1"] code').last().textContent())?.trim(),
        dir,
      );
      // The key is not in the page until asked for.
      assert.doesNotMatch(await page.content(), new RegExp(keys[0]!));
      // History: times to the second, no internal names.
      const history = (await page.getByTestId("history").textContent()) ?? "";
      assert.match(history, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
      assert.match(history, /A drive's data copy finished/);
      assert.doesNotMatch(history, /completeDrive|receivePackage|attachDrive|engine|autopilot/);
      await assertUsable(page);
      await screenshot(page, t.name, "job");

      // The incomplete blob list opens through the portal's own route.
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("link", { name: "download the incomplete blob list" }).click(),
      ]);
      const list = readFileSync((await download.path())!, "utf8");
      assert.match(list, /<BlobList>/);
      assert.match(list, /zz-big\.bin/);
      assert.doesNotMatch(list, /a\.txt/);

      await page.getByRole("link", { name: "Show the BitLocker keys" }).click();
      await parsed(page);
      assert.deepEqual(
        await page
          .getByTestId("bitlocker-keys")
          .locator("tbody tr")
          .evaluateAll((rows) =>
            rows.map((r) => [
              r.getAttribute("data-drive"),
              r.querySelector("td")?.textContent?.trim(),
            ]),
          ),
        [["PEXP1", keys[0]]],
      );
      await assertUsable(page);
      await screenshot(page, t.name, "keys");
      assert.deepEqual(errors, []);
      await page.close();
    },
  );
});
