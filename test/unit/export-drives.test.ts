/**
 * Export drives arrive and are recorded (issue 11 item 2): the lifecycle records the drives
 * of an export job's package `Received` with their BitLocker keys, attaches capacities, caps
 * a job at ten drives; keys are BitLocker recovery passwords; sizes are decimal.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DomainError } from "../../src/domain/errors.ts";
import { generateBitLockerKey, isRecoveryPassword } from "../../src/domain/export/bitlocker.ts";
import { autopilotExportDriveIds } from "../../src/domain/export/drives.ts";
import { formatDecimalSize, parseDriveSize } from "../../src/domain/export/sizes.ts";
import { DEFAULT_TIMERS, decide, type DecideContext } from "../../src/domain/job/lifecycle.ts";
import type { Job } from "../../src/domain/job/model.ts";
import { sampleJob } from "../support/job-factory.ts";
import { operatorJobDetails } from "../../src/cli/output.ts";

const ctx: DecideContext = {
  now: new Date("2026-01-02T00:00:00.000Z"),
  actor: "operator",
  timers: DEFAULT_TIMERS,
};
const KEY = "000011-000022-000033-000044-000055-000066-000077-000088";

function exportJobShipping(over: Partial<Job> = {}): Job {
  return sampleJob({
    jobType: "Export",
    driveList: [],
    export: { blobList: { blobPathPrefix: ["/"] } },
    state: "Shipping",
    deliveryPackage: { carrierName: "FedEx", trackingNumber: "TN1", driveCount: 2 },
    ...over,
  });
}

describe("BitLocker recovery passwords", () => {
  test("48 digits in 8 groups of 6, each group a multiple of 11 below 720,896", () => {
    for (let i = 0; i < 200; i++) {
      const key = generateBitLockerKey();
      assert.match(key, /^\d{6}(-\d{6}){7}$/);
      assert.equal(key.replace(/-/g, "").length, 48);
      assert.ok(isRecoveryPassword(key), key);
    }
    assert.notEqual(generateBitLockerKey(), generateBitLockerKey());
  });
  test("a group that is not a multiple of 11, or too large, is not a recovery password", () => {
    assert.equal(isRecoveryPassword(KEY), true);
    assert.equal(isRecoveryPassword(KEY.replace("000011", "000012")), false);
    assert.equal(isRecoveryPassword(KEY.replace("000011", "720896")), false);
    assert.equal(isRecoveryPassword("123456"), false);
  });
});

describe("drive sizes (1 GB = 10^9 bytes)", () => {
  test("decimal and binary units, plain bytes; anything else is not a size", () => {
    assert.equal(parseDriveSize("500GB"), 500e9);
    assert.equal(parseDriveSize("2TB"), 2e12);
    assert.equal(parseDriveSize("1.5 tb"), 1.5e12);
    assert.equal(parseDriveSize("4096"), 4096);
    assert.equal(parseDriveSize("1GiB"), 2 ** 30);
    for (const bad of ["", "GB", "-1GB", "0", "5 PB", "1e3"]) {
      assert.equal(parseDriveSize(bad), undefined, bad);
    }
    assert.equal(formatDecimalSize(1_234_000_000), "1.23 GB");
    assert.equal(formatDecimalSize(999), "999 B");
  });
});

describe("export drives in the lifecycle", () => {
  test("the operator's package records its drives Received, each with its key; none is extra", () => {
    const job = exportJobShipping();
    const d = decide(
      job,
      {
        type: "receivePackage",
        trackingNumber: "TN1",
        driveIds: ["E1", "E2"],
        exportDrives: [
          { driveId: "E1", bitLockerKey: KEY },
          { driveId: "E2", bitLockerKey: KEY.replace("000011", "000099") },
        ],
      },
      ctx,
    );
    assert.equal(d.job.state, "Received");
    assert.deepEqual(
      d.job.driveList.map((x) => [x.driveId, x.state, x.bitLockerKey]),
      [
        ["E1", "Received", KEY],
        ["E2", "Received", KEY.replace("000011", "000099")],
      ],
    );
    assert.equal(d.job.extraDrives, undefined);
    assert.match(d.history[0]!.reason, /export drives recorded.*E1, E2/);
  });

  test("a second package adds its new drives and keeps the recorded keys; one with nothing new is refused", () => {
    const first = decide(
      exportJobShipping(),
      {
        type: "receivePackage",
        trackingNumber: "TN1",
        driveIds: ["E1"],
        exportDrives: [{ driveId: "E1", bitLockerKey: KEY }],
      },
      ctx,
    ).job;
    const other = generateBitLockerKey();
    const second = decide(
      first,
      {
        type: "receivePackage",
        trackingNumber: "TN1",
        driveIds: ["e1", "E2"],
        exportDrives: [
          { driveId: "e1", bitLockerKey: other },
          { driveId: "E2", bitLockerKey: other },
        ],
      },
      ctx,
    ).job;
    assert.deepEqual(
      second.driveList.map((x) => [x.driveId, x.bitLockerKey]),
      [
        ["E1", KEY],
        ["E2", other],
      ],
    );
    assert.throws(
      () =>
        decide(
          second,
          {
            type: "receivePackage",
            trackingNumber: "TN1",
            driveIds: ["E2"],
            exportDrives: [{ driveId: "E2", bitLockerKey: other }],
          },
          ctx,
        ),
      (e: unknown) => e instanceof DomainError && e.code === "PackageAlreadyReceived",
    );
  });

  test("more than ten drives are refused with TooManyDrives and the job is unchanged", () => {
    const ids = Array.from({ length: 11 }, (_, i) => `E${i}`);
    assert.throws(
      () =>
        decide(
          exportJobShipping(),
          {
            type: "receivePackage",
            trackingNumber: "TN1",
            driveIds: ids,
            exportDrives: ids.map((driveId) => ({ driveId, bitLockerKey: KEY })),
          },
          ctx,
        ),
      (e: unknown) =>
        e instanceof DomainError && e.code === "TooManyDrives" && /at most 10/.test(e.message),
    );
  });

  test("an import job records no export drive: its unknown drives stay extra drives", () => {
    const job = sampleJob({
      state: "Shipping",
      deliveryPackage: { carrierName: "FedEx", trackingNumber: "TN1" },
    });
    const d = decide(
      job,
      {
        type: "receivePackage",
        trackingNumber: "TN1",
        driveIds: ["D1", "X9"],
        exportDrives: [{ driveId: "X9", bitLockerKey: KEY }],
      },
      ctx,
    );
    assert.deepEqual(
      d.job.driveList.map((x) => x.driveId),
      ["D1"],
    );
    assert.deepEqual(
      d.job.extraDrives?.map((x) => x.driveId),
      ["X9"],
    );
  });

  test("attach records an export drive's capacity; the autopilot's drives arrive attached with theirs", () => {
    const received = decide(
      exportJobShipping(),
      {
        type: "receivePackage",
        trackingNumber: "TN1",
        driveIds: ["E1"],
        exportDrives: [{ driveId: "E1", bitLockerKey: KEY }],
      },
      ctx,
    ).job;
    const attached = decide(
      received,
      { type: "attachDrive", driveId: "E1", path: "/mnt/e1", capacityBytes: 4e12 },
      ctx,
    ).job;
    assert.equal(attached.driveList[0]!.capacityBytes, 4e12);
    assert.equal(attached.driveList[0]!.contentPath, "/mnt/e1");

    const job = exportJobShipping();
    const ids = autopilotExportDriveIds(job);
    assert.equal(ids.length, 2);
    assert.deepEqual(ids, autopilotExportDriveIds(job), "the same job gets the same ids");
    const due = { ...job, dueAt: ctx.now.toISOString(), dueEvent: "autopilotArrive" as const };
    const auto = decide(
      due,
      {
        type: "autopilotArrive",
        docked: Object.fromEntries(ids.map((id) => [id, `/dock/${id}`])),
        exportDrives: ids.map((driveId) => ({
          driveId,
          bitLockerKey: KEY,
          capacityBytes: 5e9,
        })),
      },
      {
        ...ctx,
        actor: "autopilot",
        timers: { ...DEFAULT_TIMERS, autopilot: { arrivalMs: 1, stepMs: 1 } },
      },
    ).job;
    assert.equal(auto.state, "Received");
    assert.deepEqual(
      auto.driveList.map((x) => [x.state, x.contentPath, x.capacityBytes]),
      ids.map((id) => ["Received", `/dock/${id}`, 5e9]),
    );
  });

  test("the autopilot brings driveCount drives, at least one and at most ten", () => {
    const ids = (driveCount?: number) =>
      autopilotExportDriveIds({
        uid: "0190f0e0-0000-7000-8000-00000000abcd",
        deliveryPackage: { carrierName: "F", trackingNumber: "T", driveCount },
      });
    assert.deepEqual(ids(undefined), ["EX-00000000ABCD-1"]);
    assert.equal(ids(0).length, 1);
    assert.equal(ids(3).length, 3);
    assert.equal(ids(50).length, 10);
    for (const id of ids(10)) assert.match(id, /^[A-Za-z0-9_-]{1,128}$/);
  });
});

describe("the operator's view of export drives", () => {
  test("drivebay operator show lists an export drive's capacity and the folder it was exported to", () => {
    const out = operatorJobDetails({
      id: "/x",
      subscriptionId: "s",
      resourceGroup: "rg",
      name: "exp",
      jobType: "Export",
      state: "Transferring",
      cancelRequested: false,
      drives: [
        {
          driveId: "E1",
          state: "Transferring",
          contentPath: "/data/dock/E1",
          capacityBytes: 2e12,
          percentComplete: 40,
        },
      ],
      extraDrives: [],
      allowedActions: [],
    });
    assert.match(out, /CAPACITY +EXPORTED TO/);
    assert.match(out, /E1 +Transferring .*2000000000000 +\/data\/dock\/E1/);
  });
});
