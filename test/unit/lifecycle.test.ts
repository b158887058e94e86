/**
 * Walks every (state, event) pair of the lifecycle against the expectations written out
 * here from SPEC §2 (not derived from the table under test), and moves a fake clock
 * across every deadline.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { DAY_MS } from "../../src/domain/clock.ts";
import { DomainError } from "../../src/domain/errors.ts";
import {
  DEFAULT_TIMERS,
  EVENT_TYPES,
  allowedEvents,
  decide,
  initialDeadline,
  type DecideContext,
  type JobChanges,
  type JobEvent,
} from "../../src/domain/job/lifecycle.ts";
import { JOB_STATES, type Job, type JobState } from "../../src/domain/job/model.ts";
import { sampleJob } from "../support/job-factory.ts";

const T0 = new Date("2026-01-01T00:00:00.000Z");
const ctx = (now = T0): DecideContext => ({
  now,
  actor: "customer",
  timers: DEFAULT_TIMERS,
  principal: { id: "tester", type: "User" },
});
const at = (days: number) => new Date(T0.getTime() + days * DAY_MS);

const returnAddress = {
  recipientName: "R",
  streetAddress1: "S",
  city: "C",
  postalCode: "1",
  countryOrRegion: "US",
  phone: "1",
  email: "a@b.c",
};
const returnShipping = { carrierName: "FedEx", carrierAccountNumber: "123" };
const deliveryPackage = { carrierName: "FedEx", trackingNumber: "TN1" };

function makeJob(state: JobState, over: Partial<Job> = {}): Job {
  return sampleJob({ uid: "u1", name: "job1", state, version: 3, ...over }, { at: T0 });
}

function outcome(
  job: Job,
  event: JobEvent,
  now = T0,
): { kind: string; state?: JobState; code?: string; job?: Job } {
  try {
    const d = decide(job, event, ctx(now));
    if (d.kind === "purged") return { kind: "purged" };
    return { kind: d.kind, state: d.job.state, job: d.job };
  } catch (e) {
    assert.ok(e instanceof DomainError, `unexpected error ${String(e)}`);
    return { kind: "refused", code: e.code };
  }
}

// SPEC §2.3: cancel accepted in Creating, Shipping, Received, Transferring; Creating ends Completed at once.
const CANCEL: Record<JobState, string> = {
  Creating: "changed:Completed",
  Shipping: "changed:Shipping",
  Received: "changed:Received",
  Transferring: "changed:Transferring",
  Packaging: "refused:JobNotCancellable",
  Completed: "refused:JobNotCancellable",
  Closed: "refused:JobNotCancellable",
  Faulted: "refused:JobNotCancellable",
};
// SPEC §2.4: delete in Creating, Completed, Closed.
const DELETE: Record<JobState, string> = {
  Creating: "purged",
  Shipping: "refused:JobNotDeletable",
  Received: "refused:JobNotDeletable",
  Transferring: "refused:JobNotDeletable",
  Packaging: "refused:JobNotDeletable",
  Completed: "purged",
  Closed: "purged",
  Faulted: "refused:JobNotDeletable",
};
// SPEC §1.2: PUT to an existing job only while Creating.
const REPLACE: Record<JobState, string> = {
  Creating: "changed:Creating",
  Shipping: "refused:JobNotUpdatable",
  Received: "refused:JobNotUpdatable",
  Transferring: "refused:JobNotUpdatable",
  Packaging: "refused:JobNotUpdatable",
  Completed: "refused:JobNotUpdatable",
  Closed: "refused:JobNotUpdatable",
  Faulted: "refused:JobNotUpdatable",
};
// SPEC §2.2: state=Shipping only from Creating; the same value is not a change.
const MARK_SHIPPING: Record<JobState, string> = {
  Creating: "changed:Shipping",
  Shipping: "unchanged:Shipping",
  Received: "refused:InvalidStateTransition",
  Transferring: "refused:InvalidStateTransition",
  Packaging: "refused:InvalidStateTransition",
  Completed: "refused:InvalidStateTransition",
  Closed: "refused:InvalidStateTransition",
  Faulted: "refused:InvalidStateTransition",
};
// SPEC §2.2 field windows.
const FIELD_STATES: Record<string, JobState[]> = {
  tags: [...JOB_STATES],
  returnAddress: ["Creating", "Shipping", "Received", "Transferring", "Faulted"],
  returnShipping: ["Creating", "Shipping", "Received", "Transferring", "Faulted"],
  deliveryPackage: ["Creating", "Shipping"],
  driveList: ["Creating"],
  logLevel: ["Creating", "Shipping"],
  backupDriveManifest: ["Creating", "Shipping"],
};
const FIELD_CHANGE: Record<string, JobChanges> = {
  tags: { tags: { team: "x" } },
  returnAddress: { returnAddress: { ...returnAddress, city: "Elsewhere" } },
  returnShipping: { returnShipping: { carrierName: "DHL", carrierAccountNumber: "9" } },
  deliveryPackage: { deliveryPackage: { carrierName: "DHL", trackingNumber: "TN2" } },
  driveList: { driveList: [{ driveId: "D2", bitLockerKey: "k2", manifestFile: "\\m2" }] },
  logLevel: { logLevel: "Verbose" },
  backupDriveManifest: { backupDriveManifest: true },
};

function sampleEvent(type: (typeof EVENT_TYPES)[number], job: Job): JobEvent {
  const pkg = { carrierName: "FedEx", trackingNumber: "RT1" };
  switch (type) {
    case "update":
      return { type, changes: { tags: { a: "b" } } };
    case "replace":
      return { type, replacement: job };
    case "receivePackage":
      return { type, trackingNumber: "TN1", driveIds: ["D1"] };
    case "attachDrive":
      return { type, driveId: "D1", path: "/mnt/d1" };
    case "completeDrive":
      return { type, driveId: "D1", outcome: "Completed" };
    case "shipBack":
    case "autopilotShipBack":
      return { type, returnPackage: pkg };
    case "fault":
    case "resolve":
      return { type, reason: "test" };
    case "autopilotArrive":
      return { type, docked: {} };
    case "reportProgress":
      return { type, driveId: "D1", bytesSucceeded: 1, percentComplete: 1, jobPercentComplete: 1 };
    default:
      return { type } as JobEvent;
  }
}

function summary(o: ReturnType<typeof outcome>): string {
  if (o.kind === "refused") return `refused:${o.code}`;
  if (o.kind === "purged") return "purged";
  return `${o.kind}:${o.state}`;
}

const shippable = { returnAddress, returnShipping, deliveryPackage };

describe("customer events in every state", () => {
  for (const state of JOB_STATES) {
    test(`${state}: cancel, delete, replace, markShipping`, () => {
      const job = makeJob(state, shippable);
      const cancel = outcome(job, { type: "cancel" });
      assert.equal(summary(cancel), CANCEL[state]);
      if (cancel.job) assert.equal(cancel.job.cancelRequested, true);
      assert.equal(summary(outcome(job, { type: "delete" })), DELETE[state]);
      assert.equal(
        summary(outcome(job, { type: "replace", replacement: { ...job, tags: { a: "b" } } })),
        REPLACE[state],
      );
      assert.equal(summary(outcome(job, { type: "markShipping" })), MARK_SHIPPING[state]);
    });

    test(`${state}: a repeated cancel is a no-op`, () => {
      const job = makeJob(state, { ...shippable, cancelRequested: true });
      assert.equal(summary(outcome(job, { type: "cancel" })), `unchanged:${state}`);
    });

    for (const [field, states] of Object.entries(FIELD_STATES)) {
      test(`${state}: update ${field}`, () => {
        const job = makeJob(state, shippable);
        const o = outcome(job, { type: "update", changes: FIELD_CHANGE[field]! });
        if (states.includes(state)) {
          assert.equal(o.kind, "changed");
          assert.equal(o.state, state);
        } else if (field === "backupDriveManifest") {
          // Decided: kept as it is, not refused (the Python SDK sends it on every PATCH).
          assert.equal(o.kind, "unchanged");
        } else {
          assert.equal(summary(o), "refused:JobNotUpdatable");
        }
        // The value the field already has is never refused.
        const same = {
          [field]:
            field === "driveList"
              ? job.driveList.map(({ state: _s, ...d }) => d)
              : (job as unknown as Record<string, unknown>)[field],
        };
        const o2 = outcome(job, { type: "update", changes: same as JobChanges });
        assert.notEqual(
          o2.kind,
          "refused",
          `${field} with its current value was refused in ${state}`,
        );
      });
    }

    test(`${state}: cancelRequested false and state equal to the current state are no-ops`, () => {
      const job = makeJob(state, shippable);
      const o = outcome(job, {
        type: "update",
        changes: { cancelRequested: false, state, backupDriveManifest: false },
      });
      assert.notEqual(o.kind, "refused");
      assert.equal(o.state, state);
      assert.equal(o.job?.cancelRequested, false);
    });

    test(`${state}: the table covers every event`, () => {
      for (const type of EVENT_TYPES) {
        const job = makeJob(state, shippable);
        const o = outcome(job, sampleEvent(type, job), at(1000));
        assert.ok(
          ["changed", "unchanged", "purged", "refused"].includes(o.kind),
          `${state} × ${type}`,
        );
      }
    });
  }
});

describe("Python SDK round-trips", () => {
  test("backupDriveManifest outside its window is kept, not refused, so other changes still land", () => {
    for (const state of ["Received", "Transferring"] as const) {
      const job = makeJob(state, { ...shippable, backupDriveManifest: true });
      const o = outcome(job, {
        type: "update",
        changes: {
          backupDriveManifest: false,
          cancelRequested: true,
          returnShipping: { carrierName: "DHL", carrierAccountNumber: "2" },
        },
      });
      assert.equal(o.kind, "changed");
      assert.equal(o.job?.backupDriveManifest, true);
      assert.equal(o.job?.cancelRequested, true);
      assert.equal(o.job?.returnShipping?.carrierName, "DHL");
    }
    const creating = outcome(makeJob("Creating", { backupDriveManifest: true }), {
      type: "update",
      changes: { backupDriveManifest: false },
    });
    assert.equal(creating.job?.backupDriveManifest, false, "inside its window it changes as asked");
  });
});

describe("Creating → Shipping", () => {
  test("needs returnAddress, returnShipping and deliveryPackage, in this request or before", () => {
    const bare = makeJob("Creating");
    const refused = outcome(bare, {
      type: "update",
      changes: { state: "Shipping", returnAddress },
    });
    assert.equal(refused.code, "ShippingInformationMissing");
    const ok = outcome(bare, { type: "update", changes: { state: "Shipping", ...shippable } });
    assert.equal(ok.state, "Shipping");
    assert.equal(ok.job?.deliveryPackage?.trackingNumber, "TN1");
  });

  test("any other target state is InvalidStateTransition; an empty state is not a change", () => {
    const job = makeJob("Creating", shippable);
    assert.equal(
      outcome(job, { type: "update", changes: { state: "Completed" } }).code,
      "InvalidStateTransition",
    );
    assert.equal(outcome(job, { type: "update", changes: { state: "" } }).state, "Creating");
  });

  test("shipping and cancelling in one request leaves a cancelled Shipping job", () => {
    const o = outcome(makeJob("Creating", shippable), {
      type: "update",
      changes: { state: "Shipping", cancelRequested: true },
    });
    assert.equal(o.state, "Shipping");
    assert.equal(o.job?.cancelRequested, true);
  });
});

describe("deadlines against a fake clock", () => {
  test("Creating expires 14 d after the last update, and every accepted update resets it", () => {
    const job = makeJob("Creating");
    assert.equal(job.dueEvent, "creatingExpired");
    assert.equal(job.dueAt, at(14).toISOString());
    assert.equal(outcome(job, { type: "creatingExpired" }, at(13.99)).kind, "unchanged");
    assert.equal(outcome(job, { type: "creatingExpired" }, at(14)).kind, "purged");
    const updated = decide(job, { type: "update", changes: { tags: { a: "1" } } }, ctx(at(10)));
    assert.equal(updated.kind, "changed");
    const touched = (updated as { job: Job }).job;
    assert.equal(touched.dueAt, at(24).toISOString());
    assert.equal(outcome(touched, { type: "creatingExpired" }, at(14)).kind, "unchanged");
    assert.equal(outcome(touched, { type: "creatingExpired" }, at(24)).kind, "purged");
    // A no-change update while Creating still counts as activity.
    const noop = decide(job, { type: "update", changes: { cancelRequested: false } }, ctx(at(5)));
    assert.equal((noop as { job: Job }).job.dueAt, at(19).toISOString());
  });

  test("Shipping: alert after 14 d marks unreceived drives NeverReceived, close 30 d later", () => {
    const job = makeJob("Shipping", shippable);
    assert.equal(job.dueEvent, "shippingAlert");
    assert.equal(job.dueAt, at(14).toISOString());
    assert.equal(outcome(job, { type: "shippingAlert" }, at(13)).kind, "unchanged");
    const alerted = decide(job, { type: "shippingAlert" }, { ...ctx(at(14)), actor: "timer" });
    assert.equal(alerted.kind, "changed");
    const a = (alerted as { job: Job }).job;
    assert.equal(a.state, "Shipping");
    assert.deepEqual(
      a.driveList.map((d) => d.state),
      ["NeverReceived"],
    );
    assert.equal(a.dueEvent, "shippingClose");
    assert.equal(a.dueAt, at(44).toISOString());
    assert.equal(outcome(a, { type: "shippingClose" }, at(43.9)).kind, "unchanged");
    const closed = outcome(a, { type: "shippingClose" }, at(44));
    assert.equal(closed.state, "Closed");
    assert.equal(closed.job?.dueEvent, "retentionExpired");
    assert.equal(closed.job?.dueAt, at(134).toISOString());
  });

  test("a cancelled job whose package never arrives ends Completed at the shipping deadline", () => {
    const job = makeJob("Shipping", {
      ...shippable,
      cancelRequested: true,
      shippingAlertedAt: T0.toISOString(),
    });
    const done = outcome(initialDeadline(job, DEFAULT_TIMERS), { type: "shippingClose" }, at(30));
    assert.equal(done.state, "Completed");
    assert.equal(done.job?.cancelRequested, true);
  });

  test("Completed and Closed are purged 90 d after entering", () => {
    for (const state of ["Completed", "Closed"] as const) {
      const job = makeJob(state);
      assert.equal(job.dueAt, at(90).toISOString());
      assert.equal(outcome(job, { type: "retentionExpired" }, at(89.99)).kind, "unchanged");
      assert.equal(outcome(job, { type: "retentionExpired" }, at(90)).kind, "purged");
    }
  });

  test("a cancel in Creating starts the 90-day retention of the Completed job", () => {
    const o = outcome(makeJob("Creating"), { type: "cancel" }, at(3));
    assert.equal(o.state, "Completed");
    assert.equal(o.job?.dueEvent, "retentionExpired");
    assert.equal(o.job?.dueAt, at(93).toISOString());
  });

  test("states without a timer have no deadline, and a stale timer changes nothing", () => {
    for (const state of ["Received", "Transferring", "Packaging", "Faulted"] as const) {
      const job = makeJob(state);
      assert.equal(job.dueAt, undefined);
      for (const t of [
        "creatingExpired",
        "shippingAlert",
        "shippingClose",
        "retentionExpired",
      ] as const) {
        assert.equal(outcome(job, { type: t }, at(1000)).kind, "unchanged");
      }
    }
  });
});

describe("allowedEvents", () => {
  test("offers cancel only before Packaging and delete only in Creating, Completed, Closed", () => {
    for (const state of JOB_STATES) {
      const a = allowedEvents(makeJob(state));
      assert.equal(a.events.includes("cancel"), CANCEL[state].startsWith("changed"), state);
      assert.equal(a.events.includes("delete"), DELETE[state] === "purged", state);
      assert.equal(
        allowedEvents(makeJob(state, { cancelRequested: true })).events.includes("cancel"),
        false,
      );
    }
  });
});
