/**
 * Export drives arrive and are recorded (issue 11 item 2), through the operator API with
 * the customer's view through the official SDK: ids from the operator's package or from
 * the autopilot's deliveryPackage.driveCount, each Received with a capacity (the operator's,
 * the folder's free space, or the autopilot's configured one) and a BitLocker key that
 * listBitLockerKeys returns and Jobs_Get never shows.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { ship } from "../support/shipping.ts";
import { exportJob, importJob } from "./fixtures.ts";

const RG = "exp";
const jobPath = (sub: string, name: string) => `/jobs/${sub}/${RG}/${name}`;
const RECOVERY = /^(\d{6})(-\d{6}){7}$/;
const mountDir = mkdtempSync(join(tmpdir(), "drivebay-export-mount-"));

async function keysOf(server: TestServer, name: string): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for await (const k of server.client().bitLockerKeys.list(name, RG)) {
    keys.set(k.driveId!, k.bitLockerKey!);
  }
  return keys;
}

async function shippedExportJob(server: TestServer, name: string, driveCount = 2) {
  const c = server.client();
  await c.jobs.create(name, RG, exportJob());
  await ship(c, RG, name, { trackingNumber: `TN-${name}`, driveCount });
}

describe("export drives received by an operator", () => {
  let server: TestServer;
  const sub = SUBSCRIPTION;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
    rmSync(mountDir, { recursive: true, force: true });
  });

  test("the package's drives become the job's, Received, each with its own recovery key", async () => {
    await shippedExportJob(server, "exp-recv");
    const r = await server.operator("POST", "/packages/receive", {
      trackingNumber: "TN-exp-recv",
      driveIds: ["EXPDRIVE01", "EXPDRIVE02"],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.state, "Received");
    assert.deepEqual(r.body.extraDrives, []);
    const got = await server.client().jobs.get("exp-recv", RG);
    assert.deepEqual(
      got.properties?.driveList?.map((d) => [d.driveId, d.state, d.bitLockerKey]),
      [
        ["EXPDRIVE01", "Received", undefined],
        ["EXPDRIVE02", "Received", undefined],
      ],
    );
    const keys = await keysOf(server, "exp-recv");
    assert.deepEqual([...keys.keys()], ["EXPDRIVE01", "EXPDRIVE02"]);
    for (const key of keys.values()) {
      assert.match(key, RECOVERY);
      for (const g of key.split("-")) assert.equal(Number(g) % 11, 0, key);
    }
    assert.notEqual(keys.get("EXPDRIVE01"), keys.get("EXPDRIVE02"));
  });

  test("attach records the operator's capacity, else the folder's free space; import drives take none", async () => {
    await shippedExportJob(server, "exp-cap");
    await server.operator("POST", "/packages/receive", {
      trackingNumber: "TN-exp-cap",
      driveIds: ["CAPDRIVE01", "CAPDRIVE02"],
    });
    const given = await server.operator(
      "POST",
      `${jobPath(sub, "exp-cap")}/drives/CAPDRIVE01/attach`,
      { path: mountDir, capacityBytes: 500e9 },
    );
    assert.equal(given.status, 200, JSON.stringify(given.body));
    const free = statfsSync(mountDir);
    const measured = await server.operator(
      "POST",
      `${jobPath(sub, "exp-cap")}/drives/CAPDRIVE02/attach`,
      { path: mountDir },
    );
    assert.equal(measured.status, 200);
    const [d1, d2] = measured.body.drives;
    assert.equal(d1.capacityBytes, 500e9);
    // Free space moves as other processes write; it is the folder's file system's.
    const expected = free.bavail * free.bsize;
    assert.ok(
      Math.abs(d2.capacityBytes - expected) <= 0.05 * free.blocks * free.bsize,
      `${d2.capacityBytes} vs ${expected}`,
    );
    assert.equal(measured.body.state, "Received", "no export copier runs in this server");

    const c = server.client();
    await c.jobs.create("imp-cap", RG, importJob());
    await ship(c, RG, "imp-cap", { trackingNumber: "TN-imp-cap" });
    const driveId = (await c.jobs.get("imp-cap", RG)).properties!.driveList![0]!.driveId!;
    await server.operator("POST", "/packages/receive", {
      trackingNumber: "TN-imp-cap",
      driveIds: [driveId],
    });
    const refused = await server.operator(
      "POST",
      `${jobPath(sub, "imp-cap")}/drives/${driveId}/attach`,
      { path: mountDir, capacityBytes: 10 },
    );
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, "InvalidRequestContent");
    assert.equal(refused.body.error.target, "capacityBytes");
    const after = await server.operator("GET", jobPath(sub, "imp-cap"));
    assert.equal(after.body.drives[0].contentPath, undefined, "nothing half-applied");
  });

  test("more than ten drives for one export job: TooManyDrives, nothing recorded", async () => {
    await shippedExportJob(server, "exp-many");
    const r = await server.operator("POST", "/packages/receive", {
      trackingNumber: "TN-exp-many",
      driveIds: Array.from({ length: 11 }, (_, i) => `MANY${i}`),
    });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, "TooManyDrives");
    const job = await server.operator("GET", jobPath(sub, "exp-many"));
    assert.equal(job.body.state, "Shipping");
    assert.deepEqual(job.body.drives, []);
  });
});

describe("export drives brought by the autopilot", () => {
  test("driveCount empty dock drives arrive Received and attached, with the configured capacity and keys", async () => {
    const server = await startTestServer({
      autopilot: { arrivalDelayMs: 1000, stepDelayMs: 1000, exportDriveCapacityBytes: 2e12 },
    });
    try {
      await shippedExportJob(server, "exp-auto", 3);
      await server.operator("POST", "/clock/advance", { by: "1s" });
      const got = await server.client().jobs.get("exp-auto", RG);
      assert.equal(got.properties?.state, "Received");
      const op = await server.operator("GET", jobPath(SUBSCRIPTION, "exp-auto"));
      assert.equal(op.body.drives.length, 3);
      for (const d of op.body.drives) {
        assert.equal(d.state, "Received");
        assert.equal(d.capacityBytes, 2e12);
        assert.equal(d.contentPath, join(server.dockDir, d.driveId));
        assert.ok(existsSync(d.contentPath), "the dock folder is the drive");
      }
      const keys = await keysOf(server, "exp-auto");
      assert.equal(keys.size, 3);
      for (const key of keys.values()) assert.match(key, RECOVERY);
    } finally {
      await server.close();
    }
  });
});
