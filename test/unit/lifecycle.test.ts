/**
 * Walks every (state, event) pair of the job lifecycle against an expectation matrix
 * written out here from SPEC §2 and §3 (not derived from the table under test), with the
 * effects of each transition, and moves a fake clock across every deadline.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { DAY_MS } from "../../src/domain/clock.ts";
import { DomainError } from "../../src/domain/errors.ts";
import {
  CANCELLABLE_STATES,
  COPYING_STATES,
  DATACENTER_VIEWS,
  DEFAULT_TIMERS,
  DELETABLE_STATES,
  ENDED_STATES,
  EVENT_TYPES,
  allowedEvents,
  awaitsResolution,
  check,
  copyOutlook,
  decide,
  inDatacenterHands,
  initialDeadline,
  purgeOf,
  type DecideContext,
  type Effect,
  type EventType,
  type JobChanges,
  type JobEvent,
  type Timers,
} from "../../src/domain/job/lifecycle.ts";
import { cancelEffect, cancelledJobNote } from "../../src/domain/job/cancel.ts";
import {
  JOB_STATES,
  type Drive,
  type Job,
  type JobState,
  type TimerEvent,
} from "../../src/domain/job/model.ts";
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
    if (purgeOf(d)) return { kind: "purged" };
    return { kind: d.changed ? "changed" : "unchanged", state: d.job.state, job: d.job };
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
    assert.equal(updated.changed, true);
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
    assert.equal(alerted.changed, true);
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
      const a = allowedEvents(makeJob(state), "customer");
      assert.equal(a.includes("cancel"), CANCEL[state].startsWith("changed"), state);
      assert.equal(a.includes("delete"), DELETE[state] === "purged", state);
      assert.equal(
        allowedEvents(makeJob(state, { cancelRequested: true }), "customer").includes("cancel"),
        false,
      );
    }
  });

  test("offers marking as shipped in Creating before the shipping details are set (the form brings them)", () => {
    assert.deepEqual(allowedEvents(makeJob("Creating"), "customer"), [
      "update",
      "replace",
      "markShipping",
      "cancel",
      "delete",
    ]);
    assert.deepEqual(allowedEvents(makeJob("Shipping", shippable), "customer"), [
      "update",
      "cancel",
    ]);
  });
});

// ---------------------------------------------------------------------------------------
// Every (state, event) pair, against a matrix written from SPEC §2, §2.6 and §3.

const AUTOPILOT_TIMERS: Timers = {
  ...DEFAULT_TIMERS,
  autopilot: { arrivalMs: 1000, stepMs: 1000 },
};
const RETURN_PACKAGE = { carrierName: "FedEx", trackingNumber: "RT1" };

/**
 * One job per state, as the datacenter leaves it there: two drives (three while
 * Transferring), with the contents of the drives that were received attached.
 */
function jobIn(state: JobState): Job {
  const drive = (driveId: string, over: Partial<Drive>): Drive => ({
    driveId,
    bitLockerKey: "k",
    manifestFile: "\\m",
    state: "Specified",
    ...over,
  });
  const attached = { state: "Received", contentPath: "/mnt/d1" } as const;
  const drives: Record<JobState, Drive[]> = {
    Creating: [drive("D1", {}), drive("D2", {})],
    Shipping: [drive("D1", {}), drive("D2", {})],
    // D1 attached, D2 received but not (yet) attached.
    Received: [drive("D1", attached), drive("D2", { state: "Received" })],
    // D1 copying, D2 received and not attached, D3 copied.
    Transferring: [
      drive("D1", { state: "Transferring", contentPath: "/mnt/d1", copyStatus: "InProgress" }),
      drive("D2", { state: "Received" }),
      drive("D3", { state: "Completed", copyOutcome: "Completed" }),
    ],
    // D2's only outcomes were dispositions the customer asked for: not an error.
    Packaging: [
      drive("D1", { state: "Completed", copyOutcome: "Completed" }),
      drive("D2", { state: "CompletedMoreInfo", copyOutcome: "CompletedWithWarnings" }),
    ],
    Completed: [drive("D1", { state: "ShippedBack" }), drive("D2", { state: "ShippedBack" })],
    Closed: [drive("D1", { state: "ShippedBack" }), drive("D2", { state: "NeverReceived" })],
    // Faulted while D1 was being copied.
    Faulted: [
      drive("D1", { state: "Transferring", contentPath: "/mnt/d1" }),
      drive("D2", { state: "Received" }),
    ],
  };
  return makeJob(state, {
    ...shippable,
    driveList: drives[state],
    ...(state === "Faulted" ? { faultedFrom: "Transferring", faultReason: "box damaged" } : {}),
  });
}

const TIMERS: readonly TimerEvent[] = [
  "creatingExpired",
  "shippingAlert",
  "shippingClose",
  "retentionExpired",
  "autopilotArrive",
  "autopilotAdvance",
  "autopilotShipBack",
];

/** The event of each type that the matrix sends (drive events name D1 or D2). */
function sample(type: EventType): JobEvent {
  switch (type) {
    case "update":
      return { type, changes: { tags: { team: "x" } } };
    case "replace":
      return { type, replacement: { ...jobIn("Creating"), tags: { a: "b" } } };
    case "receivePackage":
      // D1 of the job and a drive that is not the job's.
      return { type, trackingNumber: "TN1", driveIds: ["D1", "X9"] };
    case "attachDrive":
      return { type, driveId: "D2", path: "/mnt/d2" };
    case "completeDrive":
      return { type, driveId: "D1", outcome: "Completed", bytesSucceeded: 10 };
    case "reportProgress":
      return {
        type,
        driveId: "D1",
        bytesSucceeded: 5,
        percentComplete: 50,
        jobPercentComplete: 25,
      };
    case "shipBack":
    case "autopilotShipBack":
      return { type, returnPackage: RETURN_PACKAGE };
    case "fault":
    case "resolve":
      return { type, reason: "test" };
    case "autopilotArrive":
      return { type, docked: {} };
    case "autopilotAdvance":
      return { type, transfer: true, docked: {} };
    default:
      return { type } as JobEvent;
  }
}

/**
 * `→S`: the job moves to (or stays in) S and the history says so; `silent`: a change
 * that writes no history (a field, the stored deadline, progress); `none`: nothing
 * changes; `purged`; or `refused:<code>`.
 */
type Expected = string;
const OAN = "refused:OperatorActionNotAllowed";
const row = (
  fill: Expected,
  cells: Partial<Record<JobState, Expected>>,
): Record<JobState, Expected> =>
  Object.fromEntries(JOB_STATES.map((s) => [s, cells[s] ?? fill])) as Record<JobState, Expected>;

// prettier-ignore
const MATRIX: Record<EventType, Record<JobState, Expected>> = {
  // SPEC §2.2: tags change in every state, recorded in systemData, not in the history.
  update: row("silent", {}),
  // SPEC §1.2: PUT replaces only a job in Creating.
  replace: row("refused:JobNotUpdatable", { Creating: "→Creating" }),
  // SPEC §2.2: state=Shipping only from Creating; the current state again is not a change.
  markShipping: row("refused:InvalidStateTransition", { Creating: "→Shipping", Shipping: "none" }),
  // SPEC §2.3: cancel before Packaging; Creating ends Completed at once.
  cancel: row("refused:JobNotCancellable", {
    Creating: "→Completed", Shipping: "→Shipping", Received: "→Received", Transferring: "→Transferring",
  }),
  // SPEC §2.4.
  delete: row("refused:JobNotDeletable", { Creating: "purged", Completed: "purged", Closed: "purged" }),
  // SPEC §2.5: each timer acts only in its own state; elsewhere the deadline is brought up to date.
  creatingExpired: row("silent", { Creating: "purged" }),
  shippingAlert: row("silent", { Shipping: "→Shipping" }),
  shippingClose: row("silent", { Shipping: "→Closed" }),
  retentionExpired: row("silent", { Completed: "purged", Closed: "purged" }),
  // SPEC §3: the autopilot's steps.
  autopilotArrive: row("silent", { Shipping: "→Received" }),
  autopilotAdvance: row("silent", { Received: "→Transferring" }),
  autopilotShipBack: row("silent", { Packaging: "→Completed" }),
  // SPEC §3: the operator's actions.
  receivePackage: row(OAN, {
    Shipping: "→Received", Received: "→Received", Transferring: "→Transferring", Packaging: "→Packaging",
  }),
  attachDrive: row(OAN, { Received: "→Received", Transferring: "→Transferring" }),
  // Transferring: D2 is received but not attached, so there is nothing to start.
  startTransfer: row(OAN, { Received: "→Transferring", Transferring: "refused:DriveNotAttached" }),
  // SPEC §2.1: the last drive done (D2 was never attached) → Packaging.
  completeDrive: row(OAN, { Transferring: "→Packaging" }),
  package: row(OAN, { Received: "→Packaging" }),
  // SPEC §2.1: D2 had only dispositions, so the job ends Completed.
  shipBack: row(OAN, { Packaging: "→Completed" }),
  fault: row(OAN, {
    Shipping: "→Faulted", Received: "→Faulted", Transferring: "→Faulted", Packaging: "→Faulted",
  }),
  resolve: row(OAN, { Faulted: "→Transferring" }),
  reportProgress: row("none", { Transferring: "silent" }),
};

/** The effects a transition must hand to the service layer; none where not listed. */
const EFFECTS: Partial<Record<`${JobState}.${EventType}`, Effect[]>> = {
  "Creating.delete": [{ kind: "purge", reason: "Deleted by the customer." }],
  "Completed.delete": [{ kind: "purge", reason: "Deleted by the customer." }],
  "Closed.delete": [{ kind: "purge", reason: "Deleted by the customer." }],
  "Creating.creatingExpired": [
    {
      kind: "purge",
      reason: "The job stayed in 'Creating' without an update for the expiry period.",
    },
  ],
  "Completed.retentionExpired": [
    { kind: "purge", reason: "The retention period after the job finished ended." },
  ],
  "Closed.retentionExpired": [
    { kind: "purge", reason: "The retention period after the job finished ended." },
  ],
  // SPEC §2.3: drives in flight stop at the next blob boundary.
  "Transferring.cancel": [{ kind: "stopCopy", driveId: "D1", reason: "cancelled" }],
  "Transferring.fault": [{ kind: "stopCopy", driveId: "D1", reason: "faulted" }],
  // The attached drive is copied.
  "Received.startTransfer": [{ kind: "startCopy", driveId: "D1" }],
  "Received.autopilotAdvance": [{ kind: "startCopy", driveId: "D1" }],
  // Back to Transferring: the drive that was being copied resumes.
  "Faulted.resolve": [{ kind: "startCopy", driveId: "D1" }],
};

function summarize(
  job: Job,
  event: JobEvent,
  timers: Timers,
): { outcome: string; effects: Effect[] } {
  const c: DecideContext = { ...ctx(at(1)), actor: "operator", timers };
  try {
    const d = decide(job, event, c);
    if (purgeOf(d)) return { outcome: "purged", effects: d.effects };
    if (!d.changed) return { outcome: "none", effects: d.effects };
    if (d.history.length === 0) {
      assert.equal(d.job.state, job.state, "a silent change never moves the job");
      return { outcome: "silent", effects: d.effects };
    }
    assert.equal(d.history.at(-1)!.to, d.job.state, "the history ends in the job's new state");
    assert.equal(d.history[0]!.from, job.state, "the history starts in the job's old state");
    return { outcome: `→${d.job.state}`, effects: d.effects };
  } catch (e) {
    assert.ok(e instanceof DomainError, `unexpected error ${String(e)}`);
    return { outcome: `refused:${e.code}`, effects: [] };
  }
}

describe("every (state, event) pair of the job table", () => {
  test("the matrix names every event of the table", () => {
    assert.deepEqual(Object.keys(MATRIX).sort(), [...EVENT_TYPES].sort());
  });

  for (const state of JOB_STATES) {
    for (const type of EVENT_TYPES) {
      test(`${state} × ${type}: ${MATRIX[type][state]}`, () => {
        let job = jobIn(state);
        const timer = (TIMERS as readonly string[]).includes(type);
        // A timer event is sent at its deadline (when the deadline fires is tested below).
        if (timer) job = { ...job, dueEvent: type as TimerEvent, dueAt: T0.toISOString() };
        const timers = type.startsWith("autopilot") ? AUTOPILOT_TIMERS : DEFAULT_TIMERS;
        const got = summarize(job, sample(type), timers);
        assert.equal(got.outcome, MATRIX[type][state]);
        assert.deepEqual(got.effects, EFFECTS[`${state}.${type}`] ?? []);
      });
    }
  }
});

describe("the job's outcome is derived from its drives (SPEC §2.1, §2.6)", () => {
  const packaged = (drives: Partial<Drive>[], over: Partial<Job> = {}) =>
    makeJob("Packaging", {
      ...shippable,
      driveList: drives.map((d, i) => ({ driveId: `D${i + 1}`, state: "Completed", ...d })),
      ...over,
    });
  const endOf = (job: Job) =>
    decide(job, { type: "shipBack", returnPackage: RETURN_PACKAGE }, ctx()).job.state;

  test("dispositions only (renamed, skipped, overwritten) end Completed; the drive keeps CompletedMoreInfo", () => {
    const job = packaged([
      { copyOutcome: "Completed" },
      { state: "CompletedMoreInfo", copyOutcome: "CompletedWithWarnings" },
    ]);
    const d = decide(job, { type: "shipBack", returnPackage: RETURN_PACKAGE }, ctx());
    assert.equal(d.job.state, "Completed");
    assert.deepEqual(
      d.job.driveList.map((x) => [x.state, x.copyOutcome]),
      [
        ["ShippedBack", "Completed"],
        ["ShippedBack", "CompletedWithWarnings"],
      ],
    );
    assert.match(d.history[0]!.reason, /^2 drive\(s\) shipped back with FedEx 'RT1'\.$/);
  });

  test("a failed blob or drive, a drive that never arrived, or one received and never copied end Closed", () => {
    const failures: Partial<Drive>[] = [
      { state: "CompletedMoreInfo", copyOutcome: "CompletedWithErrors" },
      { state: "NeverReceived" },
      { state: "Received" },
      // Completed before outcomes were recorded: a CompletedMoreInfo drive of old had errors.
      { state: "CompletedMoreInfo" },
    ];
    for (const failure of failures) {
      const job = packaged([{ copyOutcome: "Completed" }, failure]);
      assert.equal(endOf(job), "Closed", JSON.stringify(failure));
      assert.equal(
        endOf({ ...job, cancelRequested: true }),
        "Completed",
        "a cancelled job ends Completed",
      );
    }
    assert.equal(
      endOf(packaged([{}, {}])),
      "Completed",
      "drives Completed before outcomes were recorded",
    );
  });

  test("a drive that completes with warnings is CompletedMoreInfo, with errors too, cleanly Completed", () => {
    const transferring = jobIn("Transferring");
    for (const [outcome, state] of [
      ["Completed", "Completed"],
      ["CompletedWithWarnings", "CompletedMoreInfo"],
      ["CompletedWithErrors", "CompletedMoreInfo"],
    ] as const) {
      const d = decide(transferring, { type: "completeDrive", driveId: "D1", outcome }, ctx());
      assert.equal(d.job.driveList[0]!.state, state, outcome);
      assert.equal(d.job.driveList[0]!.copyOutcome, outcome);
    }
  });

  test("an attached drive waiting for its copy keeps the job Transferring, unless the job was cancelled", () => {
    const job = jobIn("Transferring");
    const waiting: Job = {
      ...job,
      driveList: job.driveList.map((d) =>
        d.driveId === "D2" ? { ...d, contentPath: "/mnt/d2" } : d,
      ),
    };
    const done = { type: "completeDrive", driveId: "D1", outcome: "Completed" } as const;
    assert.equal(decide(waiting, done, ctx()).job.state, "Transferring");
    assert.equal(decide({ ...waiting, cancelRequested: true }, done, ctx()).job.state, "Packaging");
    // Started, it finishes like the others.
    const started = decide(waiting, { type: "startTransfer" }, ctx());
    assert.deepEqual(started.effects, [{ kind: "startCopy", driveId: "D2" }]);
    const first = decide(started.job, done, ctx()).job;
    assert.equal(first.state, "Transferring");
    assert.equal(decide(first, { ...done, driveId: "D2" }, ctx()).job.state, "Packaging");
  });
});

describe("received by hand while the autopilot runs (SPEC §3)", () => {
  const c = { ...ctx(at(1)), actor: "autopilot" as const, timers: AUTOPILOT_TIMERS };
  function handReceived(): Job {
    const shipping = makeJob("Shipping", {
      ...shippable,
      driveList: [{ driveId: "D1", state: "Specified" }],
    });
    const received = decide(
      { ...shipping, dueEvent: undefined, dueAt: undefined },
      { type: "receivePackage", trackingNumber: "TN1", driveIds: ["D1"] },
      { ...ctx(), actor: "operator", timers: AUTOPILOT_TIMERS },
    ).job;
    assert.equal(received.state, "Received");
    assert.equal(received.driveList[0]!.contentPath, undefined, "nothing attached by hand");
    assert.equal(received.dueEvent, "autopilotAdvance");
    return received;
  }

  test("the autopilot attaches the drive from the dock and copies it before packaging", () => {
    const d = decide(
      handReceived(),
      { type: "autopilotAdvance", transfer: true, docked: { D1: "/dock/D1" } },
      c,
    );
    assert.equal(d.job.state, "Transferring");
    assert.deepEqual(
      d.job.driveList.map((x) => [x.state, x.contentPath]),
      [["Transferring", "/dock/D1"]],
    );
    assert.deepEqual(d.effects, [{ kind: "startCopy", driveId: "D1" }]);
    assert.deepEqual(
      d.history.map((h) => [h.event, h.from, h.to]),
      [
        ["attachDrive", "Received", "Received"],
        ["startTransfer", "Received", "Transferring"],
      ],
    );
  });

  test("with no dock folder, no transfer runner, or a cancelled job, it packages", () => {
    const job = handReceived();
    for (const [event, j] of [
      [{ type: "autopilotAdvance", transfer: true, docked: {} }, job],
      [{ type: "autopilotAdvance", transfer: false, docked: { D1: "/dock/D1" } }, job],
      [
        { type: "autopilotAdvance", transfer: true, docked: { D1: "/dock/D1" } },
        { ...job, cancelRequested: true },
      ],
    ] as const) {
      const d = decide(j, event, c);
      assert.equal(d.job.state, "Packaging", JSON.stringify(event));
      assert.deepEqual(d.effects, []);
    }
  });
});

describe("what the surfaces ask, derived from the table", () => {
  test("the states SPEC §2 names for each question", () => {
    assert.deepEqual(CANCELLABLE_STATES, ["Creating", "Shipping", "Received", "Transferring"]);
    assert.deepEqual(DELETABLE_STATES, ["Creating", "Completed", "Closed"]);
    assert.deepEqual(ENDED_STATES, ["Completed", "Closed"]);
    assert.deepEqual(COPYING_STATES, ["Transferring"]);
    assert.deepEqual(DATACENTER_VIEWS.inbound, ["Shipping"]);
    assert.deepEqual(DATACENTER_VIEWS["in-progress"], [
      "Received",
      "Transferring",
      "Packaging",
      "Faulted",
    ]);
    const live = JOB_STATES.filter((s) => inDatacenterHands({ state: s }));
    assert.deepEqual(live, ["Shipping", "Received", "Transferring", "Packaging", "Faulted"]);
  });

  test("the operator is offered what the job and its drives allow", () => {
    assert.deepEqual(allowedEvents(jobIn("Shipping"), "operator"), ["receivePackage", "fault"]);
    assert.deepEqual(allowedEvents(jobIn("Received"), "operator"), [
      "attachDrive",
      "startTransfer",
      "package",
      "fault",
    ]);
    assert.deepEqual(allowedEvents(jobIn("Transferring"), "operator"), [
      "attachDrive",
      "completeDrive",
      "fault",
    ]);
    assert.deepEqual(allowedEvents(jobIn("Packaging"), "operator"), ["shipBack", "fault"]);
    assert.deepEqual(allowedEvents(jobIn("Faulted"), "operator"), ["resolve"]);
    assert.equal(awaitsResolution(jobIn("Faulted")), true);
    assert.equal(awaitsResolution(jobIn("Transferring")), false);
    // A drive that turns up late can still be received; a cancelled job starts no copy.
    const late = jobIn("Received");
    late.driveList[1] = { ...late.driveList[1]!, state: "NeverReceived" };
    assert.ok(allowedEvents(late, "operator").includes("receivePackage"));
    assert.ok(
      !allowedEvents({ ...late, cancelRequested: true }, "operator").includes("startTransfer"),
    );
    assert.deepEqual(allowedEvents(jobIn("Transferring"), "engine"), [
      "completeDrive",
      "reportProgress",
    ]);
  });

  test("check gives the table's refusal without deciding anything", () => {
    assert.equal(check(jobIn("Shipping"), "delete")?.code, "JobNotDeletable");
    assert.match(
      check(jobIn("Packaging"), "cancel")?.message ?? "",
      /'Packaging'.*'Creating', 'Shipping', 'Received', 'Transferring'/,
    );
    assert.equal(
      check(makeJob("Creating"), "markShipping"),
      undefined,
      "the shipping details may come with it",
    );
    assert.equal(check(jobIn("Shipping"), "cancel"), undefined);
  });

  test("a copy goes on, stops for a cancel, or pauses for a fault", () => {
    const job = jobIn("Transferring");
    assert.equal(copyOutlook(job, "D1"), "copy");
    assert.equal(copyOutlook({ ...job, cancelRequested: true }, "D1"), "cancelled");
    const faulted = decide(job, { type: "fault", reason: "x" }, ctx()).job;
    assert.equal(copyOutlook(faulted, "D1"), "paused");
    assert.equal(copyOutlook(undefined, "D1"), "paused");
    assert.equal(copyOutlook(job, "D3"), "paused", "a drive that finished is not copied again");
  });
});

describe("what a cancel does, in the customer's words (SPEC §2.3)", () => {
  test("an explanation for every state where cancelling is possible, and none elsewhere", () => {
    for (const state of JOB_STATES) {
      assert.equal(cancelEffect(state) !== undefined, CANCEL[state].startsWith("changed"), state);
    }
    assert.match(cancelEffect("Creating")!, /ends 'Completed' at once/);
  });

  test("after a cancel: only what is true of the job now", () => {
    const cancel = (job: Job) => decide(job, { type: "cancel" }, ctx()).job;
    const creating = cancelledJobNote(cancel(makeJob("Creating", shippable)));
    assert.equal(creating.bestEffort, false);
    assert.match(creating.text, /ended 'Completed' at once/);
    const shipping = cancelledJobNote(cancel(makeJob("Shipping", shippable)));
    assert.equal(shipping.bestEffort, true);
    assert.match(shipping.text, /no data is copied/);
    const transferring = cancelledJobNote(cancel(jobIn("Transferring")));
    assert.match(transferring.text, /stop at the next blob boundary/);
    const returned = cancelledJobNote({
      ...jobIn("Completed"),
      cancelRequested: true,
      returnPackage: { carrierName: "FedEx", trackingNumber: "RT1" },
    });
    assert.deepEqual(returned, {
      bestEffort: false,
      text: "The job has ended 'Completed'; its drives were shipped back.",
    });
    const neverArrived = cancelledJobNote({
      ...jobIn("Completed"),
      cancelRequested: true,
      driveList: [{ driveId: "D1", state: "NeverReceived" }],
    });
    assert.match(neverArrived.text, /package never arrived/);
  });
});
