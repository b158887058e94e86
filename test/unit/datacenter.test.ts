/**
 * The datacenter side of the lifecycle (SPEC §2.3, §2.6, §3): operator actions and the
 * autopilot's steps, in every state, against expectations written out here.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DAY_MS } from "../../src/domain/clock.ts";
import { DomainError } from "../../src/domain/errors.ts";
import {
  DEFAULT_TIMERS,
  allowedEvents,
  decide,
  type DecideContext,
  type JobEvent,
  type Timers,
} from "../../src/domain/job/lifecycle.ts";
import { JOB_STATES, type Drive, type Job, type JobState } from "../../src/domain/job/model.ts";
import { sampleJob } from "../support/job-factory.ts";

const T0 = new Date("2026-05-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);
const AUTOPILOT: Timers = { ...DEFAULT_TIMERS, autopilot: { arrivalMs: 2000, stepMs: 1000 } };
const ctx = (now = T0, timers = DEFAULT_TIMERS): DecideContext => ({
  now,
  actor: "operator",
  timers,
});
const pkg = { carrierName: "FedEx", trackingNumber: "RET-1", shipDate: "2026-05-20" };

function makeJob(
  state: JobState,
  drives: Partial<Drive>[] = [{}, {}],
  over: Partial<Job> = {},
  timers = DEFAULT_TIMERS,
): Job {
  return sampleJob(
    {
      name: "dc-job",
      state,
      deliveryPackage: { carrierName: "FedEx", trackingNumber: "TN-1" },
      returnShipping: { carrierName: "DHL", carrierAccountNumber: "1" },
      driveList: drives.map((d, i) => ({ driveId: `D${i + 1}`, state: "Specified", ...d })),
      ...over,
    },
    { at: T0, timers },
  );
}

function run(job: Job, event: JobEvent, c = ctx()): Job {
  const d = decide(job, event, c);
  assert.equal(d.changed, true, `${event.type} did not change the job`);
  return d.job;
}

function refusedWith(job: Job, event: JobEvent, code: string, c = ctx()): DomainError {
  try {
    decide(job, event, c);
  } catch (e) {
    assert.ok(e instanceof DomainError);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`${event.type} in ${job.state} was not refused`);
}

// Where each operator action is possible at all (SPEC §3), independent of the drives.
const ALLOWED: Record<string, JobState[]> = {
  receivePackage: ["Shipping", "Received", "Transferring", "Packaging"],
  attachDrive: ["Received", "Transferring"],
  startTransfer: ["Received", "Transferring"],
  completeDrive: ["Transferring"],
  package: ["Received"],
  shipBack: ["Packaging"],
  fault: ["Shipping", "Received", "Transferring", "Packaging"],
  resolve: ["Faulted"],
};
const SAMPLE: Record<string, JobEvent> = {
  receivePackage: { type: "receivePackage", trackingNumber: "TN-1", driveIds: ["D1"] },
  attachDrive: { type: "attachDrive", driveId: "D1", path: "/mnt/d1" },
  startTransfer: { type: "startTransfer" },
  completeDrive: { type: "completeDrive", driveId: "D1", outcome: "Completed" },
  package: { type: "package" },
  shipBack: { type: "shipBack", returnPackage: pkg },
  fault: { type: "fault", reason: "damaged box" },
  resolve: { type: "resolve", reason: "customer called" },
};

describe("operator actions in every state", () => {
  for (const state of JOB_STATES) {
    test(`${state}`, () => {
      for (const [action, states] of Object.entries(ALLOWED)) {
        const job = makeJob(state, [{ state: "NeverReceived" }, {}]);
        let code: string | undefined;
        try {
          decide(job, SAMPLE[action]!, ctx());
        } catch (e) {
          code = (e as DomainError).code;
        }
        assert.equal(
          code === "OperatorActionNotAllowed",
          !states.includes(state),
          `${action} in ${state}: ${code}`,
        );
      }
    });
  }
});

describe("a package's journey", () => {
  test("receive: listed drives Received, missing NeverReceived, strangers recorded; a late drive turns up", () => {
    const shipping = makeJob("Shipping", [{}, {}, {}]);
    const received = run(shipping, {
      type: "receivePackage",
      trackingNumber: "TN-1",
      driveIds: ["d1", "D3", "X9"],
    });
    assert.equal(received.state, "Received");
    assert.deepEqual(
      received.driveList.map((d) => d.state),
      ["Received", "NeverReceived", "Received"],
    );
    assert.deepEqual(
      received.extraDrives?.map((e) => [e.driveId, e.trackingNumber]),
      [["X9", "TN-1"]],
    );
    refusedWith(
      received,
      { type: "receivePackage", trackingNumber: "TN-1", driveIds: ["D1"] },
      "PackageAlreadyReceived",
    );
    const late = run(received, {
      type: "receivePackage",
      trackingNumber: "TN-1",
      driveIds: ["D2"],
    });
    assert.equal(late.state, "Received");
    assert.equal(late.driveList[1]!.state, "Received");
  });

  test("attach, transfer, complete → Packaging → ship back → Completed; errors → Closed", () => {
    let job = makeJob("Received", [{ state: "Received" }, { state: "Received" }]);
    refusedWith(job, { type: "startTransfer" }, "DriveNotAttached");
    refusedWith(job, { type: "attachDrive", driveId: "NOPE", path: "/x" }, "DriveNotFound");
    job = run(job, { type: "attachDrive", driveId: "D1", path: "/mnt/d1" });
    job = run(job, { type: "attachDrive", driveId: "D2", path: "/mnt/d2" });
    job = run(job, { type: "startTransfer" });
    assert.equal(job.state, "Transferring");
    assert.deepEqual(
      job.driveList.map((d) => [d.state, d.copyStatus]),
      [
        ["Transferring", "InProgress"],
        ["Transferring", "InProgress"],
      ],
    );
    job = run(job, {
      type: "completeDrive",
      driveId: "D1",
      outcome: "Completed",
      bytesSucceeded: 10,
    });
    assert.equal(job.state, "Transferring");
    refusedWith(
      job,
      { type: "completeDrive", driveId: "D1", outcome: "Completed" },
      "DriveNotTransferring",
    );
    const withErrors = run(job, {
      type: "completeDrive",
      driveId: "D2",
      outcome: "CompletedWithErrors",
    });
    assert.equal(withErrors.state, "Packaging");
    const closed = run(withErrors, { type: "shipBack", returnPackage: pkg });
    assert.equal(closed.state, "Closed");
    assert.deepEqual(
      closed.driveList.map((d) => d.state),
      ["ShippedBack", "ShippedBack"],
    );
    assert.deepEqual(closed.returnPackage, { driveCount: 2, ...pkg });
    refusedWith(closed, { type: "shipBack", returnPackage: pkg }, "OperatorActionNotAllowed");
    const clean = run(run(job, { type: "completeDrive", driveId: "D2", outcome: "Completed" }), {
      type: "shipBack",
      returnPackage: pkg,
    });
    assert.equal(clean.state, "Completed");
  });

  test("a drive that never arrived makes a shipped-back job Closed, unless the job was cancelled", () => {
    const packaged = makeJob("Packaging", [{ state: "Received" }, { state: "NeverReceived" }]);
    const closed = run(packaged, { type: "shipBack", returnPackage: pkg });
    assert.equal(closed.state, "Closed");
    assert.deepEqual(
      closed.driveList.map((d) => d.state),
      ["ShippedBack", "NeverReceived"],
    );
    assert.equal(closed.returnPackage?.driveCount, 1);
    const cancelled = run(
      { ...packaged, cancelRequested: true },
      { type: "shipBack", returnPackage: pkg },
    );
    assert.equal(cancelled.state, "Completed");
    assert.equal(cancelled.dueEvent, "retentionExpired");
  });

  test("cancel effects: no copy starts for a cancelled job; in Transferring only drives in flight finish", () => {
    const cancelledReceived = makeJob("Received", [{ state: "Received", contentPath: "/mnt/d1" }], {
      cancelRequested: true,
    });
    refusedWith(cancelledReceived, { type: "startTransfer" }, "JobCancelled");
    const packaged = run(cancelledReceived, { type: "package" });
    assert.equal(packaged.state, "Packaging");
    assert.equal(run(packaged, { type: "shipBack", returnPackage: pkg }).state, "Completed");

    const transferring = makeJob("Transferring", [
      { state: "Transferring", copyStatus: "InProgress" },
      { state: "Received", contentPath: "/mnt/d2" },
    ]);
    const cancelled = run(transferring, { type: "cancel" });
    assert.equal(cancelled.state, "Transferring");
    const done = run(cancelled, { type: "completeDrive", driveId: "D1", outcome: "Completed" });
    assert.equal(done.state, "Packaging", "the drive that had not started is skipped");
    assert.equal(done.driveList[1]!.state, "Received");
    assert.equal(run(done, { type: "shipBack", returnPackage: pkg }).state, "Completed");
  });

  test("fault and resolve return the job to where it was; a faulted job is neither cancellable nor deletable", () => {
    const job = makeJob("Transferring", [{ state: "Transferring" }]);
    const faulted = run(job, { type: "fault", reason: "drive enclosure cracked" });
    assert.equal(faulted.state, "Faulted");
    assert.equal(faulted.faultReason, "drive enclosure cracked");
    refusedWith(faulted, { type: "cancel" }, "JobNotCancellable");
    refusedWith(faulted, { type: "delete" }, "JobNotDeletable");
    refusedWith(faulted, { type: "fault", reason: "again" }, "OperatorActionNotAllowed");
    assert.deepEqual(allowedEvents(faulted, "operator"), ["resolve"]);
    const resolved = run(faulted, { type: "resolve", reason: "re-seated" });
    assert.equal(resolved.state, "Transferring");
    assert.equal(resolved.faultReason, undefined);
    refusedWith(resolved, { type: "resolve", reason: "x" }, "OperatorActionNotAllowed");
  });
});

describe("autopilot", () => {
  test("Shipping → package arrives (docked drives attached) → Packaging → shipped back, each after its delay", () => {
    const job = makeJob("Shipping", [{}, {}], {}, AUTOPILOT);
    assert.equal(job.dueEvent, "autopilotArrive");
    assert.equal(job.dueAt, at(2000).toISOString());
    const docked = { D1: "/data/dock/D1" };
    const early = decide(
      job,
      { type: "autopilotArrive", docked },
      { ...ctx(at(1999), AUTOPILOT), actor: "autopilot" },
    );
    assert.equal(early.changed, false);
    const received = run(
      job,
      { type: "autopilotArrive", docked },
      { ...ctx(at(2000), AUTOPILOT), actor: "autopilot" },
    );
    assert.equal(received.state, "Received");
    assert.deepEqual(
      received.driveList.map((d) => [d.state, d.contentPath]),
      [
        ["Received", "/data/dock/D1"],
        ["NeverReceived", undefined],
      ],
    );
    assert.equal(received.dueEvent, "autopilotAdvance");
    const packaged = run(
      received,
      { type: "autopilotAdvance" },
      { ...ctx(at(3000), AUTOPILOT), actor: "autopilot" },
    );
    assert.equal(packaged.state, "Packaging");
    assert.equal(packaged.dueEvent, "autopilotShipBack");
    const shipped = run(
      packaged,
      { type: "autopilotShipBack", returnPackage: pkg },
      { ...ctx(at(4000), AUTOPILOT), actor: "autopilot" },
    );
    assert.equal(shipped.state, "Closed", "a drive never arrived");
    assert.equal(shipped.returnPackage?.trackingNumber, "RET-1");
  });

  test("with an import engine, the autopilot starts copying attached drives instead of packaging", () => {
    const job = makeJob(
      "Received",
      [{ state: "Received", contentPath: "/dock/D1" }, { state: "NeverReceived" }],
      {},
      AUTOPILOT,
    );
    const c = { ...ctx(at(1000), AUTOPILOT), actor: "autopilot" as const };
    const copying = run(job, { type: "autopilotAdvance", transfer: true }, c);
    assert.equal(copying.state, "Transferring");
    assert.equal(copying.driveList[0]!.state, "Transferring");
    const progressed = run(copying, {
      type: "reportProgress",
      driveId: "D1",
      bytesSucceeded: 50,
      percentComplete: 50,
      jobPercentComplete: 50,
    });
    assert.equal(progressed.driveList[0]!.bytesSucceeded, 50);
    assert.equal(progressed.percentComplete, 50);
    const cancelled = run(job, { type: "cancel" }, ctx(T0, AUTOPILOT));
    assert.equal(
      run(cancelled, { type: "autopilotAdvance", transfer: true }, c).state,
      "Packaging",
      "a cancelled job is never copied",
    );
    assert.equal(
      decide(
        job,
        {
          type: "reportProgress",
          driveId: "D1",
          bytesSucceeded: 1,
          percentComplete: 1,
          jobPercentComplete: 1,
        },
        c,
      ).changed,
      false,
    );
  });

  test("with the autopilot off, a stale autopilot deadline is replaced by the real timer", () => {
    const job = makeJob("Shipping", [{}], {}, AUTOPILOT);
    const d = decide(job, { type: "autopilotArrive", docked: {} }, ctx(at(5000), DEFAULT_TIMERS));
    assert.equal(d.changed, true);
    const next = d.job;
    assert.equal(next.state, "Shipping");
    assert.equal(next.dueEvent, "shippingAlert");
    assert.equal(next.dueAt, at(14 * DAY_MS).toISOString());
  });
});
