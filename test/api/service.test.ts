/** Operational behaviour: health, metrics, restarts, concurrent writers, the service profile. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { freshDataDir, startTestServer } from "../support/server.ts";
import { assertConformant } from "../support/conformance.ts";
import { importJob, rejectsWith, shippable, STORAGE } from "./fixtures.ts";

const SUBSCRIPTION = "8a1b2c3d-0000-4000-8000-000000000001";

describe("operations", () => {
  test("/healthz, /readyz and /metrics", async () => {
    const server = await startTestServer();
    try {
      const c = server.client();
      await c.jobs.create("m1", "rg", importJob());
      await c.jobs.get("m1", "rg");
      await rejectsWith(c.jobs.get("m2", "rg"), 404, "ResourceNotFound");
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(
        metrics,
        /drivebay_http_requests_total\{operationId="Jobs_Create",status="201"\} 1/,
      );
      assert.match(
        metrics,
        /drivebay_http_requests_total\{operationId="Jobs_Get",status="200"\} 1/,
      );
      assert.match(
        metrics,
        /drivebay_http_requests_total\{operationId="Jobs_Get",status="404"\} 1/,
      );
      assert.match(
        metrics,
        /drivebay_http_request_duration_seconds_count\{operationId="Jobs_Get"\} 2/,
      );
      assert.match(metrics, /drivebay_jobs\{state="Creating"\} 1/);
    } finally {
      await server.close();
    }
  });

  test("a restart finds every job, its history and the paging position as they were", async () => {
    const dir = freshDataDir();
    try {
      const first = await startTestServer({ dataDir: dir });
      const c1 = first.client();
      for (let i = 0; i < 5; i++) await c1.jobs.create(`keep-${i}`, "rg", importJob());
      await c1.jobs.update("keep-1", "rg", { ...shippable, state: "Shipping" });
      await c1.jobs.update("keep-2", "rg", { cancelRequested: true });
      const before = await c1.jobs.get("keep-1", "rg");
      const page1 = await (
        await fetch(
          `${first.url}/subscriptions/8a1b2c3d-0000-4000-8000-000000000001/providers/Microsoft.ImportExport/jobs?api-version=2021-01-01&$top=2`,
        )
      ).json();
      await first.close();

      const second = await startTestServer({ dataDir: dir });
      try {
        const c2 = second.client();
        assert.deepEqual(await c2.jobs.get("keep-1", "rg"), before);
        assert.equal((await c2.jobs.get("keep-2", "rg")).properties?.state, "Completed");
        // A nextLink issued before the restart still works after it.
        const link = new URL(page1.nextLink);
        const page2 = await (await fetch(`${second.url}${link.pathname}${link.search}`)).json();
        assert.deepEqual(
          page2.value.map((j: { name: string }) => j.name),
          ["keep-2", "keep-3"],
        );
        const history = await (
          await fetch(
            `${second.url}/subscriptions/8a1b2c3d-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/keep-1/history?api-version=2021-01-01`,
          )
        ).json();
        assert.deepEqual(
          history.value.map((h: { to: string }) => h.to),
          ["Creating", "Shipping"],
        );
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("concurrent writers: no lost update, one create, no resurrection", async (t) => {
    const server = await startTestServer();
    try {
      const c = server.client();
      // Twenty PUTs of one new name: exactly one 201.
      const statuses: number[] = [];
      await Promise.all(
        Array.from({ length: 20 }, () =>
          c.jobs.create("racy", "rg", importJob(), { onResponse: (r) => statuses.push(r.status) }),
        ),
      );
      assert.equal(statuses.filter((s) => s === 201).length, 1);
      assert.equal(statuses.filter((s) => s === 200).length, 19);
      // Concurrent PATCHes of different fields all land.
      await Promise.all([
        c.jobs.update("racy", "rg", { returnAddress: shippable.returnAddress }),
        c.jobs.update("racy", "rg", { returnShipping: shippable.returnShipping }),
        c.jobs.update("racy", "rg", { deliveryPackage: shippable.deliveryPackage }),
        c.jobs.update("racy", "rg", { logLevel: "Verbose" }),
      ]);
      const merged = await c.jobs.get("racy", "rg");
      assert.ok(
        merged.properties?.returnAddress &&
          merged.properties.returnShipping &&
          merged.properties.deliveryPackage,
      );
      assert.equal(merged.properties?.logLevel, "Verbose");
      // DELETE racing PATCHes and GETs: once deleted, nothing brings the job back.
      const results = await Promise.allSettled([
        c.jobs.delete("racy", "rg"),
        ...Array.from({ length: 10 }, (_, i) =>
          c.jobs.update("racy", "rg", { tags: { n: String(i) } }),
        ),
      ]);
      assert.equal(results[0]!.status, "fulfilled");
      for (const r of results.slice(1)) {
        if (r.status === "rejected")
          assert.equal((r.reason as { statusCode: number }).statusCode, 404);
      }
      await rejectsWith(c.jobs.get("racy", "rg"), 404, "ResourceNotFound");
      await assertConformant(t, server.exchanges);
    } finally {
      await server.close();
    }
  });

  test("the portal's wizard creates and never replaces: concurrent creates of one name make one job", async () => {
    const server = await startTestServer();
    const key = { subscriptionId: SUBSCRIPTION, resourceGroup: "rg", name: "wizardly" };
    try {
      const wizard = `${server.url}/portal/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/create-job?type=Import`;
      const post = (i: number) =>
        fetch(wizard, {
          method: "POST",
          redirect: "manual",
          headers: { "content-type": "application/x-www-form-urlencoded", origin: server.url },
          body: new URLSearchParams({
            name: "wizardly",
            location: "westus",
            storageAccount: "drivebaydata",
            "drive-0-driveId": `WD-WIZ-${i}`,
            "drive-0-bitLockerKey": "111111-222222-333333-444444-555555-666666-777777-888888",
            "drive-0-manifestFile": "\\DriveManifest.xml",
          }).toString(),
        });
      const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => post(i)));
      const statuses = responses.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 303).length, 1, `statuses: ${statuses}`);
      assert.equal(statuses.filter((s) => s === 409).length, 11, `statuses: ${statuses}`);
      const refusal = await responses.find((r) => r.status === 409)!.text();
      assert.match(refusal, /JobAlreadyExists/);
      // The one job is the first create, untouched by the others: one creation in its history.
      const job = await server.jobs.get(key);
      assert.equal(job.version, 1);
      assert.equal(job.driveList.length, 1);
      const history = await server.jobs.history(key);
      assert.equal(history.length, 1, JSON.stringify(history));
    } finally {
      await server.close();
    }
  });
});

describe("service profile", () => {
  test("only registered storage accounts are accepted", async () => {
    const server = await startTestServer({
      config: { profile: "service", storageAccounts: [{ name: "drivebaydata" }] },
    });
    try {
      const c = server.client();
      const job = await c.jobs.create("known", "rg", importJob());
      assert.equal(job.properties?.storageAccountId, STORAGE);
      const err = await rejectsWith(
        c.jobs.create(
          "unknown",
          "rg",
          importJob({ storageAccountId: STORAGE.replace("drivebaydata", "strangers") }),
        ),
        400,
        "StorageAccountNotFound",
      );
      assert.match(err.message, /strangers/);
    } finally {
      await server.close();
    }
  });
});
