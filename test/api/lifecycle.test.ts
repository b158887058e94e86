/**
 * Cancel, delete and the timers through the official SDK. The service clock is moved with
 * the test server's clock and the engine ticked right after, as clock control will do.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DAY_MS } from "../../src/domain/clock.ts";
import { freshDataDir, startTestServer, type TestServer } from "../support/server.ts";
import { assertConformant } from "../support/conformance.ts";
import { API_VERSIONS, importJob, rejectsWith, shippable } from "./fixtures.ts";

async function advance(server: TestServer, days: number): Promise<void> {
  server.clock.advance(days * DAY_MS);
  await server.engine!.tick();
}

async function history(server: TestServer, name: string, rg = "rg") {
  const res = await fetch(
    `${server.url}/subscriptions/8a1b2c3d-0000-4000-8000-000000000001/resourceGroups/${rg}/providers/Microsoft.ImportExport/jobs/${name}/history?api-version=2021-01-01`,
  );
  return {
    status: res.status,
    body: (await res.json()) as {
      value?: {
        actor: string;
        event: string;
        from: string | null;
        to: string | null;
        reason: string;
      }[];
      error?: { code: string };
    },
  };
}

for (const apiVersion of API_VERSIONS) {
  describe(`lifecycle at api-version ${apiVersion}`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer();
    });
    after(async () => {
      await server.close();
    });

    test("cancel in Creating ends Completed in the same request; a repeat is a no-op; the job is then deletable", async () => {
      const c = server.client({ apiVersion });
      await c.jobs.create("cancel-creating", "rg", importJob());
      const cancelled = await c.jobs.update("cancel-creating", "rg", { cancelRequested: true });
      assert.equal(cancelled.properties?.state, "Completed");
      assert.equal(cancelled.properties?.cancelRequested, true);
      const again = await c.jobs.update("cancel-creating", "rg", { cancelRequested: true });
      assert.equal(again.properties?.state, "Completed");
      const h = await history(server, "cancel-creating");
      assert.deepEqual(
        h.body.value?.map((e) => [e.actor, e.event, e.from, e.to]),
        [
          ["customer", "create", null, "Creating"],
          ["customer", "cancel", "Creating", "Completed"],
        ],
      );
      await c.jobs.delete("cancel-creating", "rg");
      await rejectsWith(c.jobs.get("cancel-creating", "rg"), 404, "ResourceNotFound");
      assert.equal((await history(server, "cancel-creating")).status, 404);
    });

    test("cancel in Shipping is recorded and the job stays Shipping; delete there is 409 JobNotDeletable", async () => {
      const c = server.client({ apiVersion });
      await c.jobs.create("cancel-shipping", "rg", importJob());
      await c.jobs.update("cancel-shipping", "rg", { ...shippable, state: "Shipping" });
      const notDeletable = await rejectsWith(
        c.jobs.delete("cancel-shipping", "rg"),
        409,
        "JobNotDeletable",
      );
      assert.match(notDeletable.message, /'Shipping'/);
      assert.match(notDeletable.message, /'Creating', 'Completed', 'Closed'/);
      const cancelled = await c.jobs.update("cancel-shipping", "rg", { cancelRequested: true });
      assert.equal(cancelled.properties?.state, "Shipping");
      assert.equal(cancelled.properties?.cancelRequested, true);
      // cancelRequested:false never undoes a cancel.
      const still = await c.jobs.update("cancel-shipping", "rg", { cancelRequested: false });
      assert.equal(still.properties?.cancelRequested, true);
      await rejectsWith(c.jobs.delete("cancel-shipping", "rg"), 409, "JobNotDeletable");
    });

    test("Creating expiry: 14 days after the last update, reset by every update", async () => {
      const c = server.client({ apiVersion });
      await c.jobs.create("idle", "rg", importJob());
      await c.jobs.create("busy", "rg", importJob());
      await advance(server, 13);
      await c.jobs.update("busy", "rg", { tags: { touched: "yes" } });
      await advance(server, 1.01);
      await rejectsWith(c.jobs.get("idle", "rg"), 404, "ResourceNotFound");
      assert.equal((await c.jobs.get("busy", "rg")).properties?.state, "Creating");
      await advance(server, 12.9);
      assert.equal((await c.jobs.get("busy", "rg")).properties?.state, "Creating");
      await advance(server, 0.2);
      await rejectsWith(c.jobs.get("busy", "rg"), 404, "ResourceNotFound");
    });

    test("Shipping without a package: alert at 14 d (drives NeverReceived), Closed 30 d later; cancel then refused, delete allowed", async () => {
      const c = server.client({ apiVersion });
      await c.jobs.create("lost-package", "rg", importJob());
      await c.jobs.create("lost-cancelled", "rg", importJob());
      for (const n of ["lost-package", "lost-cancelled"])
        await c.jobs.update(n, "rg", { ...shippable, state: "Shipping" });
      await c.jobs.update("lost-cancelled", "rg", { cancelRequested: true });
      await advance(server, 13.9);
      assert.deepEqual(
        (await c.jobs.get("lost-package", "rg")).properties?.driveList?.map((d) => d.state),
        ["Specified", "Specified"],
      );
      await advance(server, 0.2);
      const alerted = await c.jobs.get("lost-package", "rg");
      assert.equal(alerted.properties?.state, "Shipping");
      assert.deepEqual(
        alerted.properties?.driveList?.map((d) => d.state),
        ["NeverReceived", "NeverReceived"],
      );
      const h = await history(server, "lost-package");
      assert.ok(h.body.value?.some((e) => e.actor === "timer" && e.event === "shippingAlert"));
      await advance(server, 30);
      const closed = await c.jobs.get("lost-package", "rg");
      assert.equal(closed.properties?.state, "Closed");
      const cancelledEnd = await c.jobs.get("lost-cancelled", "rg");
      assert.equal(cancelledEnd.properties?.state, "Completed");
      assert.equal(cancelledEnd.properties?.cancelRequested, true);
      const refused = await rejectsWith(
        c.jobs.update("lost-package", "rg", { cancelRequested: true }),
        409,
        "JobNotCancellable",
      );
      assert.match(refused.message, /'Closed'/);
      assert.match(refused.message, /'Creating', 'Shipping', 'Received', 'Transferring'/);
      await rejectsWith(
        c.jobs.update("lost-package", "rg", {
          returnShipping: { carrierName: "DHL", carrierAccountNumber: "1" },
        }),
        409,
        "JobNotUpdatable",
      );
      // Tags stay editable in every state.
      await c.jobs.update("lost-package", "rg", { tags: { archived: "true" } });
      await c.jobs.delete("lost-package", "rg");
      await rejectsWith(c.jobs.get("lost-package", "rg"), 404, "ResourceNotFound");
    });

    test("retention: a cancelled job is kept 90 days in Completed, then gone from get, lists, keys and history", async () => {
      const c = server.client({ apiVersion });
      await c.jobs.create("kept", "rg", importJob());
      await c.jobs.update("kept", "rg", { cancelRequested: true });
      await advance(server, 89.9);
      assert.equal((await c.jobs.get("kept", "rg")).properties?.state, "Completed");
      await advance(server, 0.2);
      await rejectsWith(c.jobs.get("kept", "rg"), 404, "ResourceNotFound");
      await rejectsWith(c.bitLockerKeys.list("kept", "rg").next(), 404, "ResourceNotFound");
      const names = [];
      for await (const j of c.jobs.listByResourceGroup("rg")) names.push(j.name);
      for await (const j of c.jobs.listBySubscription()) names.push(j.name);
      assert.ok(!names.includes("kept"));
      assert.equal((await history(server, "kept")).status, 404);
    });

    test("every response conforms to the spec", async (t) => {
      await assertConformant(t, server.exchanges);
    });
  });
}

describe("purged data", () => {
  test("a deleted job leaves no personal data in the SQLite file", async () => {
    const { readFileSync, readdirSync, rmSync } = await import("node:fs");
    const dir = freshDataDir();
    const server = await startTestServer({ dataDir: dir });
    const c = server.client();
    await c.jobs.create("private", "rg", importJob());
    await c.jobs.update("private", "rg", {
      ...shippable,
      returnAddress: { ...shippable.returnAddress!, recipientName: "Zebediah Quux-Secret" },
    });
    await c.jobs.update("private", "rg", { cancelRequested: true });
    await c.jobs.delete("private", "rg");
    await server.close();
    const files = readdirSync(dir).filter((f) => f.startsWith("drivebay.sqlite"));
    assert.ok(files.length > 0);
    for (const f of files) {
      const bytes = readFileSync(`${dir}/${f}`);
      assert.equal(
        bytes.includes("Zebediah Quux-Secret"),
        false,
        `${f} still holds the deleted job's recipient`,
      );
      assert.equal(
        bytes.includes("111111-222222-333333"),
        false,
        `${f} still holds the deleted job's BitLocker key`,
      );
    }
    rmSync(dir, { recursive: true, force: true });
  });
});
