/**
 * Every (drive state, drive event) pair of the drive table against a matrix written from
 * SPEC §2.6 (and §3, §4.5 for where drives start), with the effects of each transition.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DomainError } from "../../src/domain/errors.ts";
import {
  DRIVE_EVENTS,
  decideDrive,
  driveAllows,
  driveFailed,
  recordedExportDrive,
  specifiedDrive,
  type DriveEvent,
  type DriveEventType,
} from "../../src/domain/job/drive-lifecycle.ts";
import { DRIVE_STATES, type Drive, type DriveState } from "../../src/domain/job/model.ts";

const SAMPLE: Record<DriveEventType, DriveEvent> = {
  arrive: { type: "arrive" },
  missing: { type: "missing" },
  attach: { type: "attach", path: "/mnt/other" },
  startCopy: { type: "startCopy" },
  progress: { type: "progress", bytesSucceeded: 7, percentComplete: 70 },
  complete: { type: "complete", outcome: "CompletedWithWarnings", bytesSucceeded: 10 },
  shipBack: { type: "shipBack" },
};

// `→S` the drive moves to (or stays in, changed) S; `none` nothing changes; `refused:<code>`.
// prettier-ignore
const MATRIX: Record<DriveEventType, Record<DriveState, string>> = {
  // A drive listed in a received package; one that turns up late is received too.
  arrive: {
    Specified: "→Received", NeverReceived: "→Received", Received: "none", Transferring: "none",
    Completed: "none", CompletedMoreInfo: "none", ShippedBack: "none",
  },
  // Missing from the package, or no package in the shipping period.
  missing: {
    Specified: "→NeverReceived", NeverReceived: "none", Received: "none", Transferring: "none",
    Completed: "none", CompletedMoreInfo: "none", ShippedBack: "none",
  },
  // Only a received drive's contents can be attached (SPEC §3).
  attach: {
    Specified: "refused:DriveNotReceived", NeverReceived: "refused:DriveNotReceived",
    Received: "→Received", Transferring: "refused:DriveNotReceived",
    Completed: "refused:DriveNotReceived", CompletedMoreInfo: "refused:DriveNotReceived",
    ShippedBack: "refused:DriveNotReceived",
  },
  // An attached, received drive starts copying; nothing else does.
  startCopy: {
    Specified: "none", NeverReceived: "none", Received: "→Transferring", Transferring: "none",
    Completed: "none", CompletedMoreInfo: "none", ShippedBack: "none",
  },
  progress: {
    Specified: "none", NeverReceived: "none", Received: "none", Transferring: "→Transferring",
    Completed: "none", CompletedMoreInfo: "none", ShippedBack: "none",
  },
  // SPEC §2.6: CompletedMoreInfo when blobs were renamed, skipped, overwritten or failed.
  complete: {
    Specified: "refused:DriveNotTransferring", NeverReceived: "refused:DriveNotTransferring",
    Received: "refused:DriveNotTransferring", Transferring: "→CompletedMoreInfo",
    Completed: "refused:DriveNotTransferring", CompletedMoreInfo: "refused:DriveNotTransferring",
    ShippedBack: "refused:DriveNotTransferring",
  },
  // Every drive the datacenter has goes back; one it never had does not.
  shipBack: {
    Specified: "none", NeverReceived: "none", Received: "→ShippedBack", Transferring: "→ShippedBack",
    Completed: "→ShippedBack", CompletedMoreInfo: "→ShippedBack", ShippedBack: "none",
  },
};

/** A drive in `state` as the lifecycle leaves it there (received drives attached). */
function driveIn(state: DriveState): Drive {
  const received = !["Specified", "NeverReceived"].includes(state);
  return { driveId: "D1", state, ...(received ? { contentPath: "/mnt/d1" } : {}) };
}

function outcome(
  drive: Drive,
  event: DriveEvent,
): { summary: string; step?: ReturnType<typeof decideDrive> } {
  try {
    const step = decideDrive(drive, event);
    return { summary: step.changed ? `→${step.drive.state}` : "none", step };
  } catch (e) {
    assert.ok(e instanceof DomainError, String(e));
    return { summary: `refused:${e.code}` };
  }
}

describe("every (state, event) pair of the drive table", () => {
  test("the matrix names every drive event", () => {
    assert.deepEqual(Object.keys(MATRIX).sort(), [...DRIVE_EVENTS].sort());
  });
  for (const state of DRIVE_STATES) {
    for (const type of DRIVE_EVENTS) {
      test(`${state} × ${type}: ${MATRIX[type][state]}`, () => {
        const drive = driveIn(state);
        const got = outcome(drive, SAMPLE[type]);
        assert.equal(got.summary, MATRIX[type][state]);
        // The one effect of the drive table: a drive that starts copying is to be copied.
        const starts = state === "Received" && type === "startCopy";
        assert.deepEqual(got.step?.effects ?? [], starts ? ["startCopy"] : []);
        assert.equal(driveAllows(drive, type), got.summary.startsWith("→"), "driveAllows agrees");
      });
    }
  }

  test("a received drive that is not attached does not start copying", () => {
    const drive: Drive = { driveId: "D1", state: "Received" };
    assert.equal(outcome(drive, SAMPLE.startCopy).summary, "none");
    assert.equal(driveAllows(drive, "startCopy"), false);
  });

  test("what the events record: the path, the progress, how the copy ended", () => {
    const received: Drive = { driveId: "D1", state: "Received" };
    assert.equal(decideDrive(received, SAMPLE.attach).drive.contentPath, "/mnt/other");
    assert.equal(
      decideDrive(driveIn("Received"), { type: "attach", path: "/mnt/d1" }).changed,
      false,
    );
    const copying = decideDrive(driveIn("Received"), SAMPLE.startCopy).drive;
    assert.deepEqual(
      [copying.copyStatus, copying.percentComplete, copying.bytesSucceeded],
      ["InProgress", 0, 0],
    );
    const progressed = decideDrive(copying, SAMPLE.progress).drive;
    assert.deepEqual([progressed.bytesSucceeded, progressed.percentComplete], [7, 70]);
    const clean = decideDrive(copying, { type: "complete", outcome: "Completed" }).drive;
    assert.deepEqual(
      [clean.state, clean.copyOutcome, clean.copyStatus, clean.percentComplete],
      ["Completed", "Completed", "Completed", 100],
    );
    const failed = decideDrive(copying, { type: "complete", outcome: "CompletedWithErrors" }).drive;
    assert.deepEqual(
      [failed.state, failed.copyStatus],
      ["CompletedMoreInfo", "CompletedWithErrors"],
    );
  });
});

describe("where drives start and what counts as an error", () => {
  test("import drives start Specified; export drives start Received with a capacity and a key", () => {
    assert.equal(specifiedDrive({ driveId: "D1", bitLockerKey: "k" }).state, "Specified");
    const exported = recordedExportDrive({
      driveId: "E1",
      capacityBytes: 4e12,
      bitLockerKey: "123456-123456-123456-123456-123456-123456-123456-123456",
    });
    assert.equal(exported.state, "Received");
    assert.equal(exported.capacityBytes, 4e12);
    assert.equal(driveAllows(exported, "attach"), true);
  });

  test("errors are failures, never dispositions (SPEC §2.1)", () => {
    const cases: [Partial<Drive>, boolean][] = [
      [{ state: "NeverReceived" }, true],
      [{ state: "Received" }, true],
      [{ state: "ShippedBack" }, true],
      [{ state: "CompletedMoreInfo", copyOutcome: "CompletedWithErrors" }, true],
      [{ state: "ShippedBack", copyOutcome: "CompletedWithErrors" }, true],
      [{ state: "CompletedMoreInfo", copyOutcome: "CompletedWithWarnings" }, false],
      [{ state: "ShippedBack", copyOutcome: "CompletedWithWarnings" }, false],
      [{ state: "Completed" }, false],
      [{ state: "Specified" }, false],
      [{ state: "Transferring" }, false],
    ];
    for (const [d, failed] of cases) {
      assert.equal(
        driveFailed({ driveId: "D", state: "Specified", ...d }),
        failed,
        JSON.stringify(d),
      );
    }
  });
});
