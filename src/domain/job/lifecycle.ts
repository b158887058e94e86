/**
 * Carries out the lifecycle tables (job-table.ts, drive-lifecycle.ts): a pure decide()
 * returns the next job, its history entries and the effects the service layer carries out;
 * allowedEvents()/check() tell every surface what may happen now, from the same table, so
 * no surface re-checks states itself.
 */
import { DomainError } from "../errors.ts";
import {
  decideDrive,
  driveAllows,
  recordedExportDrive,
  isBeingCopied,
  type DriveEvent,
  type DriveEventType,
} from "./drive-lifecycle.ts";
import { isDue, withDeadline, type Timers } from "./deadlines.ts";
import {
  DATACENTER_EVENTS,
  DRIVE_EVENT_OF,
  EVENTS,
  EVENT_TYPES,
  JOB_GUARDS,
  TIMED_EVENTS,
  jobRule,
  type EventType,
  type ExportArrival,
  type JobEffectTag,
  type JobEvent,
  type JobFacts,
  type JobGuardName,
  type JobRefusal,
  type JobRule,
} from "./job-table.ts";
import type {
  Actor,
  Drive,
  HistoryEntry,
  Job,
  JobState,
  PackageInformation,
  TimerEvent,
} from "./model.ts";
import { JOB_STATES } from "./model.ts";
import { admit, leaves, targetOf, targetsOf, type Leaf } from "./table.ts";
import {
  FIELD_WINDOWS,
  KEPT_OUTSIDE_WINDOW,
  applyField,
  changedFields,
  sameValue,
  type JobChanges,
} from "./updates.ts";

export {
  DEFAULT_TIMERS,
  initialDeadline,
  nextDeadline,
  type AutopilotDelays,
  type Timers,
} from "./deadlines.ts";
export {
  DATACENTER_EVENTS,
  EVENTS,
  EVENT_TYPES,
  type CustomerEvent,
  type DatacenterEvent,
  type EventType,
  type JobEvent,
  type JobFacts,
} from "./job-table.ts";
export {
  FIELD_WINDOWS,
  KEPT_OUTSIDE_WINDOW,
  sameValue,
  updatableFields,
  type JobChanges,
  type UpdatableField,
} from "./updates.ts";

/** What the service layer does after it stored a decision. */
export type Effect =
  /** A drive is to be copied (it started, or resumes): the transfer runner copies it. */
  | { kind: "startCopy"; driveId: string }
  /** A drive being copied stops at its next blob boundary (the job was cancelled or faulted). */
  | { kind: "stopCopy"; driveId: string; reason: "cancelled" | "faulted" }
  /** The job and its history are deleted (instead of stored). */
  | { kind: "purge"; reason: string };

export interface DecideContext {
  now: Date;
  actor: Actor;
  timers: Timers;
  /** Who made the change, for systemData (customer requests only). */
  principal?: { id: string; type: string };
}

export interface Decision {
  /** False when the event changes nothing: `job` is the job as it was. */
  changed: boolean;
  job: Job;
  history: HistoryEntry[];
  effects: Effect[];
}

/** The purge a decision asks for, if it does. */
export function purgeOf(d: Decision): Extract<Effect, { kind: "purge" }> | undefined {
  return d.effects.find((e): e is Extract<Effect, { kind: "purge" }> => e.kind === "purge");
}

// ---------------------------------------------------------------------------------------
// Questions the surfaces ask.

const optimistic = (job: JobFacts) => (g: keyof typeof JOB_GUARDS) =>
  JOB_GUARDS[g].request === true || JOB_GUARDS[g].holds(job, undefined);

function leafFor(job: JobFacts, event: EventType) {
  return admit(jobRule(job.state, event), optimistic(job));
}

/**
 * The events `actor` may send now: the table neither refuses nor ignores them for the job
 * as it is (details the request itself brings, like the shipping details, are taken to
 * come with it), and an event that acts on a drive has a drive that allows it.
 */
export function allowedEvents(job: JobFacts, actor: Actor): EventType[] {
  return EVENT_TYPES.filter((event) => {
    if (!EVENTS[event].actors.includes(actor)) return false;
    const leaf = leafFor(job, event);
    if (leaf.kind === "refuse" || leaf.kind === "ignore") return false;
    const driveEvent = DRIVE_EVENT_OF[event];
    return !driveEvent || job.driveList.some((d) => driveAllows(d, driveEvent));
  });
}

/** The table's refusal of `event` for the job as it is (its code and message), if it refuses. */
export function check(job: Job, event: EventType): DomainError | undefined {
  const leaf = leafFor(job, event);
  return leaf.kind === "refuse" ? refusal(leaf.code, job, event) : undefined;
}

/** The states in which some job can do `event` (the table does not refuse it everywhere). */
export function statesAllowing(event: EventType): JobState[] {
  return JOB_STATES.filter((s) =>
    leaves(jobRule(s, event)).some((l) => l.kind === "go" || l.kind === "purge"),
  );
}

export const CANCELLABLE_STATES: readonly JobState[] = JOB_STATES.filter((s) =>
  leaves(jobRule(s, "cancel")).some((l) => l.kind === "go"),
);
export const DELETABLE_STATES: readonly JobState[] = statesAllowing("delete");

/** States no event leads out of (only deletion ends them). */
export const ENDED_STATES: readonly JobState[] = JOB_STATES.filter((s) =>
  EVENT_TYPES.every((e) =>
    leaves(jobRule(s, e)).every(
      (l) => l.kind !== "go" || targetsOf(l.to).every((t) => t === "same" || t === s),
    ),
  ),
);

/** The job has ended (Completed or Closed): nothing but deletion changes its state. */
export function hasEnded(job: Pick<Job, "state">): boolean {
  return ENDED_STATES.includes(job.state);
}

/**
 * The states one event can move a job in `state` to. A resolve returns a faulted job to the
 * state it was faulted from: `faultedFrom` says which states that may be.
 */
function nextStates(state: JobState, faultedFrom: readonly JobState[]): Set<JobState> {
  const out = new Set<JobState>();
  for (const event of EVENT_TYPES) {
    for (const leaf of leaves(jobRule(state, event))) {
      if (leaf.kind !== "go") continue;
      for (const t of targetsOf(leaf.to)) {
        if (t === "same") out.add(state);
        else if (t === "faultedFrom") for (const s of faultedFrom) out.add(s);
        else out.add(t);
      }
    }
  }
  return out;
}

/**
 * Every state a job in `from` may still reach (itself included). A job faulted on the way
 * returns to a state already on the way, so a resolve adds nothing; a job that is Faulted
 * now may return to any state a fault is allowed in (the API does not say which it was).
 */
export function reachableStates(from: JobState): Set<JobState> {
  const faultedNow = statesAllowing("resolve").includes(from);
  const faultedFrom = faultedNow ? statesAllowing("fault") : [];
  const seen = new Set<JobState>([from]);
  const todo: JobState[] = [from];
  while (todo.length > 0) {
    const state = todo.pop()!;
    // Only the first resolve of a job faulted now can go anywhere; later ones go back.
    for (const next of nextStates(state, state === from ? faultedFrom : [])) {
      if (!seen.has(next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return seen;
}

/** States in which an operator can do something to the job. */
const DATACENTER_STATES: readonly JobState[] = JOB_STATES.filter((s) =>
  DATACENTER_EVENTS.some((e) => statesAllowing(e).includes(s)),
);

/** The datacenter can still move the job (its pages follow it live). */
export function inDatacenterHands(job: Pick<Job, "state">): boolean {
  return DATACENTER_STATES.includes(job.state);
}

/** Job states whose drives the transfer runner copies. */
export const COPYING_STATES: readonly JobState[] = statesAllowing("completeDrive");

/** States the job leaves when its package is received: the package is on its way. */
const AWAITING_PACKAGE: readonly JobState[] = JOB_STATES.filter((s) =>
  leaves(jobRule(s, "receivePackage")).some(
    (l) => l.kind === "go" && targetsOf(l.to).some((t) => t !== "same" && t !== s),
  ),
);

/** The operator's lists (SPEC §3): packages on their way, work in the datacenter, everything. */
export const DATACENTER_VIEWS = {
  /** Jobs whose package is on its way to the datacenter. */
  inbound: AWAITING_PACKAGE,
  /** Jobs the datacenter is working on (faulted ones too). */
  "in-progress": DATACENTER_STATES.filter((s) => !AWAITING_PACKAGE.includes(s)),
  all: JOB_STATES,
} as const satisfies Record<string, readonly JobState[]>;

/** The job waits for an operator to resolve a fault. */
export function awaitsResolution(job: JobFacts): boolean {
  return allowedEvents(job, "operator").includes("resolve");
}

/**
 * Whether a drive's copy goes on, asked at a blob boundary with the job as stored now:
 * `cancelled` — stop and report the drive (SPEC §2.3); `paused` — stop and leave the drive
 * to be resumed (the job was faulted, or is gone).
 */
export function copyOutlook(
  job: Job | undefined,
  driveId: string,
): "copy" | "cancelled" | "paused" {
  if (!job) return "paused";
  if (job.cancelRequested) return "cancelled";
  const drive = job.driveList.find((d) => sameId(d.driveId, driveId));
  return COPYING_STATES.includes(job.state) && drive !== undefined && isBeingCopied(drive)
    ? "copy"
    : "paused";
}

// ---------------------------------------------------------------------------------------
// Refusals.

const STATE_LIST = (states: readonly JobState[]) => states.map((s) => `'${s}'`).join(", ");

function shippingDetailsMissing(job: Job): string[] {
  const missing: string[] = [];
  if (!job.returnAddress) missing.push("returnAddress");
  if (!job.returnShipping) missing.push("returnShipping");
  if (!job.deliveryPackage) missing.push("deliveryPackage");
  return missing;
}

function refusal(code: JobRefusal, job: Job, event: EventType): DomainError {
  switch (code) {
    case "JobNotCancellable":
      return new DomainError(
        "JobNotCancellable",
        `Job '${job.name}' is in state '${job.state}' and can no longer be cancelled. ` +
          `A job can be cancelled only in the states ${STATE_LIST(CANCELLABLE_STATES)} (before Packaging).`,
        { target: "properties.cancelRequested" },
      );
    case "JobNotDeletable":
      return new DomainError(
        "JobNotDeletable",
        `Job '${job.name}' is in state '${job.state}' and cannot be deleted. ` +
          `A job can be deleted only in the states ${STATE_LIST(DELETABLE_STATES)}. ` +
          (job.cancelRequested
            ? "The job is cancelled; it can be deleted once it has ended 'Completed'."
            : CANCELLABLE_STATES.includes(job.state)
              ? "To stop it, cancel it (cancelRequested: true); it can be deleted once it has ended 'Completed'."
              : "It can be deleted once it has ended."),
      );
    case "JobNotUpdatable":
      return new DomainError(
        "JobNotUpdatable",
        `Job '${job.name}' is in state '${job.state}'; the job (PUT) can be replaced only while the job is 'Creating'. ` +
          `Use PATCH (Jobs_Update) for the fields that may still change.`,
      );
    case "InvalidStateTransition":
      return new DomainError(
        "InvalidStateTransition",
        `Job '${job.name}' is in state '${job.state}'; only a job in 'Creating' can be set to 'Shipping'.`,
        { target: "properties.state" },
      );
    case "ShippingInformationMissing": {
      const missing = shippingDetailsMissing(job);
      return new DomainError(
        "ShippingInformationMissing",
        `The job cannot be set to 'Shipping' before ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} set; ` +
          `send ${missing.length === 1 ? "it" : "them"} in this request or an earlier one.`,
        { target: `properties.${missing[0]}` },
      );
    }
    case "JobCancelled":
      return new DomainError(
        "JobCancelled",
        `Job '${job.name}' was cancelled, so no copy starts. Package its drives for return instead.`,
      );
    case "DriveNotAttached":
      return new DomainError(
        "DriveNotAttached",
        `No received drive of job '${job.name}' is attached yet. Attach a drive's contents first.`,
      );
    case "OperatorActionNotAllowed":
      return new DomainError(
        "OperatorActionNotAllowed",
        `'${EVENTS[event].label}' is not possible while job '${job.name}' is in state '${job.state}'. ` +
          `It is possible in the states ${STATE_LIST(statesAllowing(event))}.`,
      );
  }
}

// ---------------------------------------------------------------------------------------
// decide().

function entry(
  ctx: DecideContext,
  event: string,
  from: JobState | null,
  to: JobState | null,
  reason: string,
): HistoryEntry {
  return { at: ctx.now.toISOString(), actor: ctx.actor, event, from, to, reason };
}

export function historyOfCreation(ctx: DecideContext): HistoryEntry {
  return entry(ctx, "create", null, "Creating", "The customer created the job.");
}

function enter(job: Job, state: JobState, now: Date): Job {
  return { ...job, state, stateEnteredAt: now.toISOString() };
}

function touchSystemData(job: Job, ctx: DecideContext): Job {
  if (!ctx.principal) return job;
  return {
    ...job,
    systemData: {
      ...job.systemData,
      lastModifiedBy: ctx.principal.id,
      lastModifiedByType: ctx.principal.type,
      lastModifiedAt: ctx.now.toISOString(),
    },
  };
}

const unchanged = (job: Job): Decision => ({ changed: false, job, history: [], effects: [] });

/** A timer that is not due only brings the stored deadline up to date. */
function refreshed(job: Job, ctx: DecideContext): Decision {
  const fresh = withDeadline(job, ctx.timers);
  return sameValue(fresh, job)
    ? unchanged(job)
    : { changed: true, job: fresh, history: [], effects: [] };
}

const sameId = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function findDrive(job: Job, driveId: string): Drive {
  const drive = job.driveList.find((d) => sameId(d.driveId, driveId));
  if (!drive) {
    throw new DomainError(
      "DriveNotFound",
      `Job '${job.name}' has no drive '${driveId}'. Its drives: ${job.driveList.map((d) => d.driveId).join(", ") || "(none)"}.`,
      { target: "driveId" },
    );
  }
  return drive;
}

/** The job's drives after the drive table applied `eventOf(drive)` to each (undefined: none). */
interface DriveMoves {
  job: Job;
  moved: Drive[];
  effects: Effect[];
}

function moveDrives(job: Job, eventOf: (d: Drive) => DriveEvent | undefined): DriveMoves {
  const moved: Drive[] = [];
  const effects: Effect[] = [];
  const driveList = job.driveList.map((d) => {
    const event = eventOf(d);
    if (!event) return d;
    const step = decideDrive(d, event);
    if (!step.changed) return d;
    moved.push(step.drive);
    for (const tag of step.effects) effects.push({ kind: tag, driveId: d.driveId });
    return step.drive;
  });
  return { job: moved.length > 0 ? { ...job, driveList } : job, moved, effects };
}

/** One drive, by id, through the drive table (DriveNotFound when the job has no such drive). */
function moveDrive(job: Job, driveId: string, event: DriveEvent): DriveMoves {
  const drive = findDrive(job, driveId);
  return moveDrives(job, (d) => (d === drive ? event : undefined));
}

/** What an event's own rules did to the job, before the table moves it to its next state. */
interface Step {
  job: Job;
  effects: Effect[];
  /** The history entries, once the next state (`to`) is known. */
  history(to: JobState): HistoryEntry[];
}

type GoLeaf = Extract<Leaf<JobState, JobGuardName, JobRefusal, JobEffectTag>, { kind: "go" }>;

type Handler<T extends EventType> = (
  job: Job,
  event: Extract<JobEvent, { type: T }>,
  ctx: DecideContext,
  leaf: GoLeaf,
) => Step | "unchanged";

const ids = (drives: readonly Drive[]) => drives.map((d) => d.driveId).join(", ");

function receive(
  job: Job,
  trackingNumber: string,
  listed: readonly string[],
  ctx: DecideContext,
  arriving: boolean,
  docked: Record<string, string> = {},
  arrivals: readonly ExportArrival[] = [],
): Step {
  const recorded = recordExportDrives(job, arrivals);
  job = recorded.job;
  const own = new Set(job.driveList.map((d) => d.driveId.toLowerCase()));
  const inPackage = new Set(listed.map((d) => d.toLowerCase()));
  const extras = listed.filter((d) => !own.has(d.toLowerCase()));
  const arrived = moveDrives(job, (d) =>
    inPackage.has(d.driveId.toLowerCase()) ? { type: "arrive" } : undefined,
  );
  const fresh = [...arrived.moved, ...recorded.added];
  // From Shipping the package is the job's package: the drives not in it never arrived.
  const missing = arriving
    ? moveDrives(arrived.job, (d) =>
        inPackage.has(d.driveId.toLowerCase()) ? undefined : { type: "missing" },
      )
    : { job: arrived.job, moved: [], effects: [] };
  let next = missing.job;
  // The autopilot's docked drives arrive with their contents attached.
  const attached = moveDrives(next, (d) => {
    const path = docked[d.driveId] ?? docked[d.driveId.toLowerCase()];
    return path && fresh.some((m) => m.driveId === d.driveId)
      ? { type: "attach", path }
      : undefined;
  });
  next = attached.job;
  if (!arriving && fresh.length === 0 && extras.length === 0) {
    throw new DomainError(
      "PackageAlreadyReceived",
      `The package '${trackingNumber}' of job '${job.name}' was already received and brings no drive that is still missing.`,
    );
  }
  const known = new Set((job.extraDrives ?? []).map((e) => e.driveId.toLowerCase()));
  const extraDrives = [
    ...(job.extraDrives ?? []),
    ...extras
      .filter((e) => !known.has(e.toLowerCase()))
      .map((driveId) => ({ driveId, trackingNumber, receivedAt: ctx.now.toISOString() })),
  ];
  if (extraDrives.length) next = { ...next, extraDrives };
  const parts = [
    arrived.moved.length ? `drives received: ${ids(arrived.moved)}` : "",
    recorded.added.length
      ? `export drives recorded, each with a BitLocker key: ${ids(recorded.added)}`
      : "",
    missing.moved.length ? `never received: ${ids(missing.moved)}` : "",
    extras.length ? `drives that are not the job's: ${extras.join(", ")}` : "",
  ].filter(Boolean);
  return {
    job: next,
    effects: [],
    history: (to) => [
      entry(
        ctx,
        "receivePackage",
        job.state,
        to,
        `Package '${trackingNumber}' arrived; ${parts.join("; ") || "it held no drive"}.`,
      ),
    ],
  };
}

/** An export job holds at most this many drives (reference/domain.md §6). */
export const MAX_DRIVES_PER_JOB = 10;

/**
 * Export drives arriving in a package: the ones the job does not have yet are recorded
 * `Received` with their keys (an import job records none: its drives are the customer's).
 */
function recordExportDrives(
  job: Job,
  arrivals: readonly ExportArrival[],
): { job: Job; added: Drive[] } {
  if (job.jobType !== "Export" || arrivals.length === 0) return { job, added: [] };
  const own = new Set(job.driveList.map((d) => d.driveId.toLowerCase()));
  const added: Drive[] = [];
  for (const a of arrivals) {
    const id = a.driveId.toLowerCase();
    if (own.has(id)) continue;
    own.add(id);
    added.push(recordedExportDrive(a));
  }
  if (job.driveList.length + added.length > MAX_DRIVES_PER_JOB) {
    throw new DomainError(
      "TooManyDrives",
      `Export job '${job.name}' would hold ${job.driveList.length + added.length} drives; a job holds at most ${MAX_DRIVES_PER_JOB}. ` +
        `Receive at most ${Math.max(0, MAX_DRIVES_PER_JOB - job.driveList.length)} more drive(s) for it and return the others to the sender.`,
      { target: "driveIds" },
    );
  }
  return { job: added.length ? { ...job, driveList: [...job.driveList, ...added] } : job, added };
}

function startCopies(job: Job): DriveMoves {
  return moveDrives(job, () => ({ type: "startCopy" }));
}

function copyStarted(ctx: DecideContext, from: JobState, to: JobState, started: Drive[]) {
  return entry(ctx, "startTransfer", from, to, `Copy started for ${ids(started)}.`);
}

function packaged(ctx: DecideContext, job: Job, to: JobState): HistoryEntry {
  const reason = job.cancelRequested
    ? "The job was cancelled: no data is copied; the drives are packaged for return."
    : "The drives are packaged for return.";
  return entry(ctx, "package", job.state, to, reason);
}

function shipBack(
  job: Job,
  event: { returnPackage: PackageInformation },
  ctx: DecideContext,
): Step {
  const shipped = moveDrives(job, () => ({ type: "shipBack" }));
  const pkg = event.returnPackage;
  const next: Job = {
    ...shipped.job,
    // PackageInformation requires driveCount and shipDate; default them from what is shipped and when.
    returnPackage: {
      driveCount: shipped.moved.length,
      shipDate: ctx.now.toISOString().slice(0, 10),
      ...pkg,
    },
  };
  return {
    job: next,
    effects: [],
    history: (to) => [
      entry(
        ctx,
        "shipBack",
        job.state,
        to,
        `${shipped.moved.length} drive(s) shipped back with ${pkg.carrierName} '${pkg.trackingNumber}'` +
          (to === "Closed" ? "; some drives had errors or never arrived." : "."),
      ),
    ],
  };
}

const HANDLERS: { [T in Exclude<EventType, "update">]: Handler<T> } = {
  replace: (job, event, ctx) => ({
    job: {
      ...event.replacement,
      uid: job.uid,
      version: job.version,
      state: job.state,
      cancelRequested: job.cancelRequested,
      stateEnteredAt: job.stateEnteredAt,
      lastCustomerUpdateAt: ctx.now.toISOString(),
      systemData: touchSystemData(job, ctx).systemData,
    },
    effects: [],
    history: (to) => [
      entry(ctx, "replace", job.state, to, "The customer replaced the job definition (PUT)."),
    ],
  }),
  markShipping: (job, _event, ctx) => ({
    job,
    effects: [],
    history: (to) => [
      entry(ctx, "markShipping", job.state, to, "The customer shipped the drives."),
    ],
  }),
  cancel: (job, _event, ctx) => ({
    job: { ...job, cancelRequested: true },
    effects: [],
    history: (to) => [
      entry(
        ctx,
        "cancel",
        job.state,
        to,
        to === job.state
          ? "Cancel requested by the customer; the datacenter will skip the data copy where it has not started and ship the drives back."
          : "Cancelled by the customer before any drive was shipped.",
      ),
    ],
  }),
  // Purges: the table's purge leaf ends them before a handler runs.
  delete: () => "unchanged",
  creatingExpired: () => "unchanged",
  retentionExpired: () => "unchanged",
  shippingAlert: (job, _event, ctx) => {
    const missing = moveDrives(job, () => ({ type: "missing" }));
    return {
      job: { ...missing.job, shippingAlertedAt: ctx.now.toISOString() },
      effects: [],
      history: (to) => [
        entry(
          ctx,
          "shippingAlert",
          job.state,
          to,
          "No package arrived within the shipping period; the drives are marked NeverReceived and the customer is alerted.",
        ),
      ],
    };
  },
  shippingClose: (job, _event, ctx) => ({
    job,
    effects: [],
    history: (to) => [
      entry(
        ctx,
        "shippingClose",
        job.state,
        to,
        job.cancelRequested
          ? "The cancelled job's package never arrived; nothing to return."
          : "No package arrived after the alert period; the job is closed.",
      ),
    ],
  }),
  autopilotArrive: (job, event, ctx, leaf) =>
    receive(
      job,
      job.deliveryPackage?.trackingNumber ?? "(autopilot)",
      Object.keys(event.docked),
      ctx,
      leaf.to !== "same",
      event.docked,
      event.exportDrives,
    ),
  receivePackage: (job, event, ctx, leaf) =>
    receive(
      job,
      event.trackingNumber,
      event.driveIds,
      ctx,
      leaf.to !== "same",
      {},
      event.exportDrives,
    ),
  attachDrive: (job, event, ctx) => {
    const attached = moveDrive(job, event.driveId, {
      type: "attach",
      path: event.path,
      ...(event.capacityBytes !== undefined ? { capacityBytes: event.capacityBytes } : {}),
    });
    if (attached.moved.length === 0) return "unchanged";
    const [drive] = attached.moved;
    const started =
      event.startCopy && !job.cancelRequested
        ? moveDrive(attached.job, drive!.driveId, { type: "startCopy" })
        : { job: attached.job, moved: [], effects: [] };
    return {
      job: started.job,
      effects: started.effects,
      history: (to) => [
        // The datacenter's mount path is the operator's business (it is on the operator view).
        entry(ctx, "attachDrive", job.state, job.state, `Drive '${drive!.driveId}' attached.`),
        ...(started.moved.length ? [copyStarted(ctx, job.state, to, started.moved)] : []),
      ],
    };
  },
  startTransfer: (job, _event, ctx) => {
    const started = startCopies(job);
    return {
      job: started.job,
      effects: started.effects,
      history: (to) => [copyStarted(ctx, job.state, to, started.moved)],
    };
  },
  autopilotAdvance: (job, event, ctx) => {
    // With a transfer runner, received drives are copied before the job is packaged
    // (whoever received them): a drive whose dock folder exists is attached first.
    const copy = event.transfer === true && !job.cancelRequested;
    const docked = event.docked ?? {};
    const attached = copy
      ? moveDrives(job, (d) =>
          !d.contentPath && docked[d.driveId]
            ? { type: "attach", path: docked[d.driveId]! }
            : undefined,
        )
      : { job, moved: [], effects: [] };
    const started = copy ? startCopies(attached.job) : { job, moved: [], effects: [] };
    return {
      job: started.job,
      effects: started.effects,
      history: (to) => [
        ...attached.moved.map((d) =>
          entry(ctx, "attachDrive", job.state, job.state, `Drive '${d.driveId}' attached.`),
        ),
        started.moved.length
          ? copyStarted(ctx, job.state, to, started.moved)
          : packaged(ctx, job, to),
      ],
    };
  },
  completeDrive: (job, event, ctx) => {
    const done = moveDrive(job, event.driveId, {
      type: "complete",
      outcome: event.outcome,
      bytesSucceeded: event.bytesSucceeded,
      copyStatus: event.copyStatus,
      errorLogUri: event.errorLogUri,
      verboseLogUri: event.verboseLogUri,
      manifestUri: event.manifestUri,
    });
    const drive = done.moved[0] ?? findDrive(done.job, event.driveId);
    const withList =
      event.incompleteBlobListUri && done.moved.length > 0
        ? { ...done.job, incompleteBlobListUri: event.incompleteBlobListUri }
        : done.job;
    return {
      job: withList,
      effects: done.effects,
      history: (to) => [
        entry(
          ctx,
          "completeDrive",
          job.state,
          job.state,
          `Drive '${drive.driveId}' finished: ${drive.state}.`,
        ),
        ...(to !== job.state
          ? [
              entry(
                ctx,
                "package",
                job.state,
                to,
                "Every drive has finished; the drives are packaged for return.",
              ),
            ]
          : []),
      ],
    };
  },
  reportProgress: (job, event) => {
    const drive = job.driveList.find((d) => sameId(d.driveId, event.driveId));
    if (!drive) return "unchanged";
    // Progress that arrives after the drive moved on changes nothing.
    if (!driveAllows(drive, "progress")) return "unchanged";
    const progressed = moveDrive(job, drive.driveId, {
      type: "progress",
      bytesSucceeded: event.bytesSucceeded,
      percentComplete: event.percentComplete,
    });
    const next = { ...progressed.job, percentComplete: event.jobPercentComplete };
    return sameValue(next, job) ? "unchanged" : { job: next, effects: [], history: () => [] };
  },
  package: (job, _event, ctx) => ({
    job,
    effects: [],
    history: (to) => [packaged(ctx, job, to)],
  }),
  shipBack: (job, event, ctx) => shipBack(job, event, ctx),
  autopilotShipBack: (job, event, ctx) => shipBack(job, event, ctx),
  fault: (job, event, ctx) => ({
    job: { ...job, faultedFrom: job.state, faultReason: event.reason },
    effects: [],
    history: (to) => [entry(ctx, "fault", job.state, to, event.reason)],
  }),
  resolve: (job, event, ctx) => {
    const next: Job = { ...job };
    delete next.faultedFrom;
    delete next.faultReason;
    return {
      job: next,
      effects: [],
      history: (to) => [entry(ctx, "resolve", job.state, to, event.reason)],
    };
  },
};

/** The table's effect tags as effects on the job's drives. */
function effectsOf(tags: readonly JobEffectTag[], job: Job, event: JobEvent): Effect[] {
  const copying = job.driveList.filter(isBeingCopied);
  return tags.flatMap((tag): Effect[] =>
    tag === "stopCopies"
      ? copying.map((d) => ({
          kind: "stopCopy",
          driveId: d.driveId,
          reason: event.type === "fault" ? "faulted" : "cancelled",
        }))
      : copying.map((d) => ({ kind: "startCopy", driveId: d.driveId })),
  );
}

const AUTOPILOT_EVENTS: readonly TimerEvent[] = [
  "autopilotArrive",
  "autopilotAdvance",
  "autopilotShipBack",
];

/**
 * Decides what an event does to a job: the next job, its history entries and the effects
 * to carry out once it is stored (a purge instead of a write is an effect). Refusals are
 * thrown as DomainError.
 */
export function decide(job: Job, event: JobEvent, ctx: DecideContext): Decision {
  const type = event.type;
  let at = ctx;
  const timed = (TIMED_EVENTS as readonly string[]).includes(type);
  if (timed) {
    const timer = type as TimerEvent;
    const autopilot = AUTOPILOT_EVENTS.includes(timer);
    // A stale or early deadline never acts: the job moved on, or its deadline moved.
    if (!isDue(job, timer, ctx.now) || (autopilot && !ctx.timers.autopilot)) {
      return refreshed(job, ctx);
    }
    // A timer takes effect at its deadline, even when the sweep runs later (the service was
    // down, or the clock was advanced past several deadlines): chained timers stay on time.
    if (!autopilot) at = { ...ctx, now: new Date(job.dueAt!) };
  }
  const rule: JobRule = jobRule(job.state, type);
  const leaf = admit(rule, (g) => JOB_GUARDS[g].holds(job, event));
  switch (leaf.kind) {
    case "refuse":
      throw refusal(leaf.code, job, type);
    case "ignore":
      return timed ? refreshed(job, ctx) : unchanged(job);
    case "purge":
      return { changed: true, job, history: [], effects: [{ kind: "purge", reason: leaf.why }] };
  }
  if (event.type === "update") return decideUpdate(job, event.changes, ctx);
  const handler = HANDLERS[event.type] as unknown as (
    job: Job,
    event: JobEvent,
    ctx: DecideContext,
    leaf: GoLeaf,
  ) => Step | "unchanged";
  const step = handler(job, event, at, leaf);
  if (step === "unchanged") return unchanged(job);
  const to = targetOf(
    leaf.to,
    job.state,
    (g) => JOB_GUARDS[g].holds(step.job, event),
    job.faultedFrom,
  );
  const moved = to === job.state ? step.job : enter(step.job, to, at.now);
  const next = withDeadline(moved, ctx.timers);
  return {
    changed: true,
    job: next,
    history: step.history(to),
    effects: [...step.effects, ...effectsOf(leaf.effects, next, event)],
  };
}

/**
 * Jobs_Update: the fields within their window (SPEC §2.2), then `state: Shipping` and
 * `cancelRequested: true` as the table's markShipping and cancel.
 */
function decideUpdate(job: Job, changes: JobChanges, ctx: DecideContext): Decision {
  const fields = changedFields(job, changes).filter(
    (f) => FIELD_WINDOWS[f].includes(job.state) || !KEPT_OUTSIDE_WINDOW.includes(f),
  );
  for (const field of fields) {
    if (!FIELD_WINDOWS[field].includes(job.state)) {
      const label = field === "exportDriveKeys" ? "driveList (BitLocker keys)" : field;
      throw new DomainError(
        "JobNotUpdatable",
        `'${label}' cannot be changed while job '${job.name}' is in state '${job.state}'. ` +
          `It can be changed only in the states ${STATE_LIST(FIELD_WINDOWS[field])}.`,
        { target: `properties.${field === "exportDriveKeys" ? "driveList" : field}` },
      );
    }
  }
  let next = job;
  for (const field of fields) next = applyField(next, field, changes);
  const history: HistoryEntry[] = [];
  const effects: Effect[] = [];

  // state: "" (as in the spec's own UpdateJob example) or the current state is not a change.
  const wanted = changes.state;
  if (wanted !== undefined && wanted !== "" && wanted !== job.state) {
    if (wanted !== "Shipping") {
      throw new DomainError(
        "InvalidStateTransition",
        `The job state can only be set to 'Shipping' by a customer; '${wanted}' is set by the service.`,
        { target: "properties.state" },
      );
    }
    const shipped = decide(next, { type: "markShipping" }, ctx);
    next = shipped.job;
    history.push(...shipped.history);
  }

  if (job.state === "Creating") next = { ...next, lastCustomerUpdateAt: ctx.now.toISOString() };

  if (changes.cancelRequested === true) {
    const cancelled = decide(next, { type: "cancel" }, ctx);
    next = cancelled.job;
    history.push(...cancelled.history);
    effects.push(...cancelled.effects);
  }

  const changed = fields.length > 0 || history.length > 0;
  next = withDeadline(changed ? touchSystemData(next, ctx) : next, ctx.timers);
  if (!changed && sameValue(next, job)) return unchanged(job);
  return { changed: true, job: next, history, effects };
}

export type { DriveEventType };
