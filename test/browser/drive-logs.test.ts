/**
 * A drive's logs from the job page (issue 13, defect 2): the links are the portal's own
 * routes, and a click downloads the file the import wrote into the customer's storage
 * account (the bare blob URL answers AuthorizationFailure to a browser).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SUBSCRIPTION } from "../support/server.ts";
import { shipAndReceive } from "../support/shipping.ts";
import { prepareDrive, type PrepareResult } from "../../src/transfer/prepare.ts";
import { tempDir, writeData } from "../transfer/helpers.ts";
import {
  assertUsable,
  browserSkip,
  newPage,
  screenshot,
  serverAndBrowser,
  shownError,
} from "./support.ts";

const SKIP = browserSkip();
const RG = "logs";
const KEY = "111111-222222-333333-444444-555555-666666-777777-888888";
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex").toUpperCase();

describe("drive logs in the customer portal", () => {
  const env = serverAndBrowser(SKIP, { blob: "memory" });

  /** A small import run to its end: the drive has an error log, a verbose log and a manifest backup. */
  async function importedJob(name: string): Promise<PrepareResult> {
    const root = tempDir("drivebay-logs-");
    writeData(root, "src/a.txt", "alpha\n");
    writeData(root, "src/b.bin", 70_000);
    const prepared = await prepareDrive({
      datasetCsv: writeData(root, "data.csv", "BasePath,DstBlobPathOrPrefix\nsrc/,photos/\n"),
      driveDir: join(root, "drive"),
      driveId: "WD-LOGS-1",
    });
    const c = env.server.client();
    await c.jobs.create(name, RG, {
      location: "westus",
      properties: {
        storageAccountId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/logsacct`,
        jobType: "Import",
        logLevel: "Verbose",
        backupDriveManifest: true,
        driveList: [{ ...prepared.driveListEntry, bitLockerKey: KEY }],
      },
    });
    await shipAndReceive(c, env.server.operator, RG, name, {
      trackingNumber: `TN-${name}`,
      driveIds: ["WD-LOGS-1"],
    });
    const attached = await env.server.operator(
      "POST",
      `/jobs/${SUBSCRIPTION}/${RG}/${name}/drives/WD-LOGS-1/attach`,
      { path: join(root, "drive") },
    );
    assert.equal(attached.status, 200, JSON.stringify(attached.body));
    await env.server.runner!.drain();
    return prepared;
  }

  test(
    "the error-log link downloads the XML log; the verbose log and manifest backup download too",
    { skip: SKIP },
    async (t) => {
      const prepared = await importedJob("with-logs");
      const drive = (await env.server.client().jobs.get("with-logs", RG)).properties!
        .driveList![0]!;
      assert.equal(drive.state, "Completed", drive.copyStatus);
      assert.ok(drive.errorLogUri);
      // What the defect was: the blob URL itself is refused to a browser.
      const bare = await fetch(drive.errorLogUri);
      assert.equal(bare.status, 403);
      await bare.body?.cancel();

      const { page, errors } = await newPage(env.browser);
      await page.goto(
        `${env.server.url}/portal/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/jobs/with-logs`,
      );
      await assertUsable(page);
      await screenshot(page, t.name);
      const open = async (name: RegExp) => {
        const [download] = await Promise.all([
          page.waitForEvent("download"),
          page.getByRole("link", { name }).click(),
        ]);
        return {
          name: download.suggestedFilename(),
          bytes: readFileSync((await download.path())!),
        };
      };

      const error = await open(/^Error log of drive WD-LOGS-1$/);
      assert.match(error.name, /^with-logs_WD-LOGS-1_\d{8}-\d{6}-\d{3}_error\.xml$/);
      const xml = error.bytes.toString("utf8");
      assert.match(xml, /^<\?xml[^>]*>\s*<DriveLog Version="2014-11-01">/);
      assert.match(xml, /<DriveId>WD-LOGS-1<\/DriveId>/);
      assert.match(xml, /<Status>Completed<\/Status>/);

      const verbose = await open(/^Verbose log of drive WD-LOGS-1$/);
      assert.equal(
        (verbose.bytes.toString("utf8").match(/<Blob Status="Completed">/g) ?? []).length,
        2,
      );

      const manifest = await open(/^Manifest backup of drive WD-LOGS-1$/);
      assert.equal(md5(manifest.bytes), prepared.driveListEntry.manifestHash);
      assert.deepEqual(errors, []);

      // A file the drive does not have, or a drive the job does not have: 404 pages that say so.
      const base = `${env.server.url}/portal/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/jobs/with-logs/drives`;
      const res = await page.goto(`${base}/WD-LOGS-1/journal`);
      assert.equal(res?.status(), 404);
      assert.match(
        (await shownError(page)).message,
        /A drive has no 'journal'; its files are error-log, verbose-log, manifest\./,
      );
      const other = await page.goto(`${base}/NO-SUCH/error-log`);
      assert.equal(other?.status(), 404);
      assert.deepEqual(await shownError(page), {
        code: "DriveNotFound",
        message: "Job 'with-logs' has no drive 'NO-SUCH'.",
      });
      await page.close();
    },
  );

  test(
    "a drive whose copy has not ended shows no log links, and its log route says why",
    { skip: SKIP },
    async () => {
      const c = env.server.client();
      await c.jobs.create("no-logs-yet", RG, {
        location: "westus",
        properties: {
          storageAccountId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/logsacct`,
          jobType: "Import",
          driveList: [
            {
              driveId: "WD-WAIT",
              bitLockerKey: KEY,
              manifestFile: "\\WD-WAIT.manifest",
              manifestHash: "00112233445566778899AABBCCDDEEFF",
            },
          ],
        },
      });
      const { page } = await newPage(env.browser);
      const url = `${env.server.url}/portal/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/jobs/no-logs-yet`;
      await page.goto(url);
      assert.equal(await page.locator("a[data-file]").count(), 0);
      const res = await page.goto(`${url}/drives/WD-WAIT/error-log`);
      assert.equal(res?.status(), 404);
      assert.match(
        (await shownError(page)).message,
        /has no error log yet; it is written when the drive's copy ends/,
      );
      await page.close();
    },
  );
});
