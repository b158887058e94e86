/**
 * The job lifecycle of SPEC §2 as one table (state × event → rule) and a pure decide().
 * Every rule about what may happen in which state lives here; the API, CLI, portal and
 * engine ask `decide` / `allowedEvents` instead of re-checking states themselves.
 */
import { DomainError } from "../errors.ts";
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
import { DAY_MS } from "../clock.ts";

export interface Timers {
  /** Creating expiry: after the last customer update (default 14 d). */
  creatingExpiryMs: number;
  /** Shipping alert: after entering Shipping with no package (default 14 d). */
  shippingAlertMs: number;
  /** Shipping close: after the alert (default 30 d). */
  shippingCloseMs: number;
  /** Retention: after entering Completed or Closed (default 90 d). */
  retentionMs: number;
  /** The simulated datacenter's delays; absent when the autopilot is off. */
  autopilot?: AutopilotDelays;
}

export interface AutopilotDelays {
  /** From Shipping to the package's arrival. */
  arrivalMs: number;
  /** Between the later steps (received → packaged → shipped back). */
  stepMs: number;
}

export const DEFAULT_TIMERS: Timers = Object.freeze({
  creatingExpiryMs: 14 * DAY_MS,
  shippingAlertMs: 14 * DAY_MS,
  shippingCloseMs: 30 * DAY_MS,
  retentionMs: 90 * DAY_MS,
});

/** The customer-updatable fields of Jobs_Update (SPEC §2.2). */
export type UpdatableField =
  | "tags"
  | "returnAddress"
  | "returnShipping"
  | "deliveryPackage"
  | "driveList"
  | "exportDriveKeys"
  | "logLevel"
  | "backupDriveManifest";

export type CustomerEvent = "update" | "replace" | "markShipping" | "cancel" | "delete";
export type DatacenterEvent =
  | "receivePackage"
  | "attachDrive"
  | "startTransfer"
  | "completeDrive"
  | "package"
  | "shipBack"
  | "fault"
  | "resolve"
  | "reportProgress";
export type EventType = CustomerEvent | TimerEvent | DatacenterEvent;

type RefusalCode =
  | "JobNotUpdatable"
  | "JobNotCancellable"
  | "JobNotDeletable"
  | "InvalidStateTransition"
  | "OperatorActionNotAllowed";

type Rule =
  | { kind: "allow" }
  | { kind: "to"; state: JobState }
  | { kind: "purge" }
  | { kind: "refuse"; code: RefusalCode }
  /** A timer whose deadline no longer applies in this state (e.g. the job moved on). */
  | { kind: "ignore" };

const A: Rule = { kind: "allow" };
const P: Rule = { kind: "purge" };
const I: Rule = { kind: "ignore" };
const to = (state: JobState): Rule => ({ kind: "to", state });
const refuse = (code: RefusalCode): Rule => ({ kind: "refuse", code });
const NU = refuse("JobNotUpdatable");
const NC = refuse("JobNotCancellable");
const ND = refuse("JobNotDeletable");
const ST = refuse("InvalidStateTransition");
const DC = refuse("OperatorActionNotAllowed");

export const DATACENTER_EVENTS: readonly DatacenterEvent[] = [
  "receivePackage",
  "attachDrive",
  "startTransfer",
  "completeDrive",
  "package",
  "shipBack",
  "fault",
  "resolve",
];

/** The columns of the lifecycle table, in order. */
export const EVENT_TYPES: readonly EventType[] = [
  "update",
  "replace",
  "markShipping",
  "cancel",
  "delete",
  "creatingExpired",
  "shippingAlert",
  "shippingClose",
  "retentionExpired",
  "autopilotArrive",
  "autopilotAdvance",
  "autopilotShipBack",
  ...DATACENTER_EVENTS,
  "reportProgress",
];

/**
 * The lifecycle table (SPEC §2, §3): state × event → rule. `A` allow (the event's own
 * rules decide the details), `to(S)` move to S, `P` purge the job, `I` a stale timer that
 * does nothing, anything else a refusal with its error code. `update` is allowed in every
 * state; which fields may change is FIELD_WINDOWS below. A cancel in Creating ends the job
 * at once; in Shipping…Transferring it is recorded and the datacenter side honours it.
 */
// prettier-ignore
const GRID: Readonly<Record<JobState, readonly Rule[]>> = {
  //             customer: update replace markShipping   cancel           delete   timers: creating shipAlert shipClose     retention   autopilot: arrive advance shipBack   datacenter: receive          attach start              complete package          shipBack fault            resolve progress
  Creating:     [A,        A,      to("Shipping"), to("Completed"), P,       P,              I,        I,            I,          I,                 I,      I,         DC,                       DC,    DC,                DC,      DC,              DC,      DC,              DC, I],
  Shipping:     [A,        NU,     ST,             A,               ND,      I,              A,        to("Closed"), I,          A,                 I,      I,         to("Received"),           DC,    DC,                DC,      DC,              DC,      to("Faulted"),   DC, I],
  Received:     [A,        NU,     ST,             A,               ND,      I,              I,        I,            I,          I,                 A,      I,         A,                        A,     to("Transferring"), DC,     to("Packaging"), DC,      to("Faulted"),   DC, I],
  Transferring: [A,        NU,     ST,             A,               ND,      I,              I,        I,            I,          I,                 I,      I,         A,                        A,     A,                 A,       DC,              DC,      to("Faulted"),   DC, A],
  Packaging:    [A,        NU,     ST,             NC,              ND,      I,              I,        I,            I,          I,                 I,      A,         A,                        DC,    DC,                DC,      DC,              A,       to("Faulted"),   DC, I],
  Completed:    [A,        NU,     ST,             NC,              P,       I,              I,        I,            P,          I,                 I,      I,         DC,                       DC,    DC,                DC,      DC,              DC,      DC,              DC, I],
  Closed:       [A,        NU,     ST,             NC,              P,       I,              I,        I,            P,          I,                 I,      I,         DC,                       DC,    DC,                DC,      DC,              DC,      DC,              DC, I],
  Faulted:      [A,        NU,     ST,             NC,              ND,      I,              I,        I,            I,          I,                 I,      I,         DC,                       DC,    DC,                DC,      DC,              DC,      DC,              A, I],
};

export const LIFECYCLE: Readonly<Record<JobState, Readonly<Record<EventType, Rule>>>> =
  Object.fromEntries(
    JOB_STATES.map((state) => [
      state,
      Object.fromEntries(EVENT_TYPES.map((event, i) => [event, GRID[state][i]!])),
    ]),
  ) as Record<JobState, Record<EventType, Rule>>;

const BEFORE_PACKAGING: readonly JobState[] = ["Creating", "Shipping", "Received", "Transferring"];

/** In which states a customer may change each field (SPEC §2.2). */
export const FIELD_WINDOWS: Readonly<Record<UpdatableField, readonly JobState[]>> = {
  tags: JOB_STATES,
  returnAddress: [...BEFORE_PACKAGING, "Faulted"],
  returnShipping: [...BEFORE_PACKAGING, "Faulted"],
  deliveryPackage: ["Creating", "Shipping"],
  driveList: ["Creating"],
  exportDriveKeys: BEFORE_PACKAGING,
  logLevel: ["Creating", "Shipping"],
  backupDriveManifest: ["Creating", "Shipping"],
};

export const CANCELLABLE_STATES: readonly JobState[] = JOB_STATES.filter(
  (s) => LIFECYCLE[s].cancel.kind !== "refuse",
);
export const DELETABLE_STATES: readonly JobState[] = JOB_STATES.filter(
  (s) => LIFECYCLE[s].delete.kind === "purge",
);

/** The changes a Jobs_Update carries, already type-checked by the API layer. */
export interface JobChanges {
  tags?: Record<string, string>;
  returnAddress?: Job["returnAddress"];
  returnShipping?: Job["returnShipping"];
  deliveryPackage?: Job["deliveryPackage"];
  /** Import jobs: the full new drive list. */
  driveList?: Omit<Drive, "state">[];
  /** Export jobs: new BitLocker keys for drives the datacenter already recorded. */
  exportDriveKeys?: { driveId: string; bitLockerKey: string }[];
  logLevel?: Job["logLevel"];
  backupDriveManifest?: boolean;
  /** The requested job state; only "Shipping" (or the current state) is meaningful. */
  state?: string;
  cancelRequested?: boolean;
}

export type JobEvent =
  | { type: "update"; changes: JobChanges }
  | { type: "replace"; replacement: Job }
  | { type: "markShipping" }
  | { type: "cancel" }
  | { type: "delete" }
  | { type: "creatingExpired" | "shippingAlert" | "shippingClose" | "retentionExpired" }
  // Datacenter side (operator or autopilot).
  | { type: "receivePackage"; trackingNumber: string; driveIds: string[] }
  | { type: "attachDrive"; driveId: string; path: string }
  | { type: "startTransfer" }
  | {
      type: "completeDrive";
      driveId: string;
      outcome: "Completed" | "CompletedMoreInfo";
      bytesSucceeded?: number;
      /** Free text for the drive's copyStatus (default from the outcome). */
      copyStatus?: string;
      errorLogUri?: string;
      verboseLogUri?: string;
      manifestUri?: string;
    }
  | {
      type: "reportProgress";
      driveId: string;
      bytesSucceeded: number;
      percentComplete: number;
      /** The job's bytes done / bytes to move over all drives. */
      jobPercentComplete: number;
    }
  | { type: "package" }
  | { type: "shipBack"; returnPackage: PackageInformation }
  | { type: "fault"; reason: string }
  | { type: "resolve"; reason: string }
  // Autopilot steps: the engine looks at the dock and passes what it found.
  | { type: "autopilotArrive"; docked: Record<string, string> }
  /** `transfer`: an import engine runs, so attached drives are copied before packaging. */
  | { type: "autopilotAdvance"; transfer?: boolean }
  | { type: "autopilotShipBack"; returnPackage: PackageInformation };

export interface DecideContext {
  now: Date;
  actor: Actor;
  timers: Timers;
  /** Who made the change, for systemData (customer requests only). */
  principal?: { id: string; type: string };
}

export type Decision =
  | { kind: "changed"; job: Job; history: HistoryEntry[] }
  | { kind: "unchanged"; job: Job }
  | { kind: "purged"; reason: string };

const STATE_LIST = (states: readonly JobState[]) => states.map((s) => `'${s}'`).join(", ");

function refusal(rule: Extract<Rule, { kind: "refuse" }>, job: Job, what: string): DomainError {
  switch (rule.code) {
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
        `Job '${job.name}' is in state '${job.state}'; ${what} can be replaced only while the job is 'Creating'. ` +
          `Use PATCH (Jobs_Update) for the fields that may still change.`,
      );
    case "InvalidStateTransition":
      return new DomainError(
        "InvalidStateTransition",
        `Job '${job.name}' is in state '${job.state}'; only a job in 'Creating' can be set to 'Shipping'.`,
        { target: "properties.state" },
      );
    case "OperatorActionNotAllowed":
      return new DomainError(
        "OperatorActionNotAllowed",
        `'${what}' is not possible while job '${job.name}' is in state '${job.state}'. ` +
          `It is possible in the states ${STATE_LIST(statesAllowing(what as EventType))}.`,
      );
  }
}

/** The states in which an event is not refused. */
export function statesAllowing(event: EventType): JobState[] {
  return JOB_STATES.filter((s) => LIFECYCLE[s][event].kind !== "refuse");
}

function entry(
  ctx: DecideContext,
  event: string,
  from: JobState | null,
  to: JobState | null,
  reason: string,
): HistoryEntry {
  return { at: ctx.now.toISOString(), actor: ctx.actor, event, from, to, reason };
}

function enter(job: Job, state: JobState, now: Date): Job {
  return { ...job, state, stateEnteredAt: now.toISOString() };
}

/** The stored deadline (SPEC §2.5) for a job in its current state. */
export function nextDeadline(job: Job, timers: Timers): { dueAt?: string; dueEvent?: TimerEvent } {
  const plus = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();
  const autopilot = timers.autopilot;
  switch (job.state) {
    case "Creating":
      return {
        dueAt: plus(job.lastCustomerUpdateAt, timers.creatingExpiryMs),
        dueEvent: "creatingExpired",
      };
    case "Shipping": {
      const deadline = job.shippingAlertedAt
        ? ({
            dueAt: plus(job.shippingAlertedAt, timers.shippingCloseMs),
            dueEvent: "shippingClose",
          } as const)
        : ({
            dueAt: plus(job.stateEnteredAt, timers.shippingAlertMs),
            dueEvent: "shippingAlert",
          } as const);
      if (autopilot && !job.shippingAlertedAt && autopilot.arrivalMs < timers.shippingAlertMs) {
        return {
          dueAt: plus(job.stateEnteredAt, autopilot.arrivalMs),
          dueEvent: "autopilotArrive",
        };
      }
      return deadline;
    }
    case "Received":
      return autopilot
        ? { dueAt: plus(job.stateEnteredAt, autopilot.stepMs), dueEvent: "autopilotAdvance" }
        : {};
    case "Packaging":
      return autopilot
        ? { dueAt: plus(job.stateEnteredAt, autopilot.stepMs), dueEvent: "autopilotShipBack" }
        : {};
    case "Completed":
    case "Closed":
      return {
        dueAt: plus(job.stateEnteredAt, timers.retentionMs),
        dueEvent: "retentionExpired",
      };
    default:
      return {};
  }
}

function withDeadline(job: Job, timers: Timers): Job {
  const { dueAt, dueEvent } = nextDeadline(job, timers);
  const next: Job = { ...job };
  delete next.dueAt;
  delete next.dueEvent;
  if (dueAt && dueEvent) {
    next.dueAt = dueAt;
    next.dueEvent = dueEvent;
  }
  return next;
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

/** Deep equality for JSON-shaped values ("a field sent with the value it already has is not a change"). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) {
    if (ao[k] === undefined && bo[k] === undefined) continue;
    if (!sameValue(ao[k], bo[k])) return false;
  }
  return true;
}

/** The customer-visible part of a drive, for "same value" comparisons of driveList. */
function driveInput(d: Omit<Drive, "state">) {
  return {
    driveId: d.driveId,
    bitLockerKey: d.bitLockerKey,
    manifestFile: d.manifestFile,
    manifestHash: d.manifestHash,
    driveHeaderHash: d.driveHeaderHash,
  };
}

function currentValue(job: Job, field: UpdatableField): unknown {
  switch (field) {
    case "driveList":
      return job.driveList.map(driveInput);
    case "exportDriveKeys":
      return undefined;
    default:
      return job[field];
  }
}

function changedFields(job: Job, changes: JobChanges): UpdatableField[] {
  const fields: UpdatableField[] = [];
  for (const field of Object.keys(FIELD_WINDOWS) as UpdatableField[]) {
    const value = changes[field];
    if (value === undefined) continue;
    if (field === "driveList") {
      if (!sameValue((value as Omit<Drive, "state">[]).map(driveInput), currentValue(job, field)))
        fields.push(field);
    } else if (field === "exportDriveKeys") {
      const keys = value as NonNullable<JobChanges["exportDriveKeys"]>;
      const differs = keys.some(
        (k) =>
          job.driveList.find((d) => d.driveId.toLowerCase() === k.driveId.toLowerCase())
            ?.bitLockerKey !== k.bitLockerKey,
      );
      if (differs) fields.push(field);
    } else if (!sameValue(value, currentValue(job, field))) {
      fields.push(field);
    }
  }
  return fields;
}

function applyField(job: Job, field: UpdatableField, changes: JobChanges): Job {
  switch (field) {
    case "driveList":
      return {
        ...job,
        driveList: changes.driveList!.map((d) => ({ ...d, state: "Specified" as const })),
      };
    case "exportDriveKeys": {
      const keys = new Map(
        changes.exportDriveKeys!.map((k) => [k.driveId.toLowerCase(), k.bitLockerKey]),
      );
      return {
        ...job,
        driveList: job.driveList.map((d) => {
          const key = keys.get(d.driveId.toLowerCase());
          return key === undefined ? d : { ...d, bitLockerKey: key };
        }),
      };
    }
    default:
      return { ...job, [field]: changes[field] };
  }
}

/** Which customer actions the job allows now; pages and CLI use this instead of re-checking states. */
export function allowedEvents(job: Job): { events: EventType[]; fields: UpdatableField[] } {
  const customerEvents: EventType[] = ["update", "replace", "markShipping", "cancel", "delete"];
  const events = customerEvents.filter((e) => {
    const rule = LIFECYCLE[job.state][e];
    if (e === "cancel") return rule.kind !== "refuse" && !job.cancelRequested;
    return rule.kind !== "refuse" && rule.kind !== "ignore";
  });
  const fields = (Object.keys(FIELD_WINDOWS) as UpdatableField[]).filter(
    (f) =>
      FIELD_WINDOWS[f].includes(job.state) &&
      (job.jobType === "Import" ? f !== "exportDriveKeys" : f !== "driveList"),
  );
  return { events, fields };
}

/** Requirements for Creating → Shipping (SPEC §2.2). */
function shippingInformationMissing(job: Job): string[] {
  const missing: string[] = [];
  if (!job.returnAddress) missing.push("returnAddress");
  if (!job.returnShipping) missing.push("returnShipping");
  if (!job.deliveryPackage) missing.push("deliveryPackage");
  return missing;
}

function decideCancel(job: Job, ctx: DecideContext): Decision {
  if (job.cancelRequested) return { kind: "unchanged", job };
  const rule = LIFECYCLE[job.state].cancel;
  if (rule.kind === "refuse") throw refusal(rule, job, "");
  const cancelled: Job = { ...job, cancelRequested: true };
  if (rule.kind === "to") {
    const done = withDeadline(enter(cancelled, rule.state, ctx.now), ctx.timers);
    return {
      kind: "changed",
      job: done,
      history: [
        entry(
          ctx,
          "cancel",
          job.state,
          rule.state,
          "Cancelled by the customer before any drive was shipped.",
        ),
      ],
    };
  }
  return {
    kind: "changed",
    job: cancelled,
    history: [
      entry(
        ctx,
        "cancel",
        job.state,
        job.state,
        "Cancel requested by the customer; the datacenter will skip the data copy where it has not started and ship the drives back.",
      ),
    ],
  };
}

/**
 * Fields a PATCH may carry outside their window without being refused: the value is kept
 * as it is. The Python SDK sends `backupDriveManifest: false` on every PATCH, so refusing
 * it after Shipping would make every later update (a cancel, a new return address) fail.
 */
export const KEPT_OUTSIDE_WINDOW: readonly UpdatableField[] = ["backupDriveManifest"];

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
    const rule = LIFECYCLE[next.state].markShipping;
    if (rule.kind === "refuse") throw refusal(rule, next, "");
    const missing = shippingInformationMissing(next);
    if (missing.length > 0) {
      throw new DomainError(
        "ShippingInformationMissing",
        `The job cannot be set to 'Shipping' before ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} set; ` +
          `send ${missing.length === 1 ? "it" : "them"} in this request or an earlier one.`,
        { target: `properties.${missing[0]}` },
      );
    }
    if (rule.kind === "to") {
      history.push(
        entry(ctx, "markShipping", next.state, rule.state, "The customer shipped the drives."),
      );
      next = enter(next, rule.state, ctx.now);
    }
  }

  if (job.state === "Creating") next = { ...next, lastCustomerUpdateAt: ctx.now.toISOString() };

  if (changes.cancelRequested === true) {
    const cancelled = decideCancel(next, ctx);
    if (cancelled.kind === "changed") {
      next = cancelled.job;
      history.push(...cancelled.history);
    }
  }

  const changed = fields.length > 0 || history.length > 0;
  next = withDeadline(changed ? touchSystemData(next, ctx) : next, ctx.timers);
  if (!changed && sameValue(next, job)) return { kind: "unchanged", job };
  return { kind: "changed", job: next, history };
}

/**
 * Decide what an event does to a job. Returns the next job and its history entries, or
 * that the job is to be purged; refusals are thrown as DomainError.
 */
export function decide(job: Job, event: JobEvent, ctx: DecideContext): Decision {
  switch (event.type) {
    case "update":
      return decideUpdate(job, event.changes, ctx);
    case "cancel":
      return decideCancel(job, ctx);
    case "markShipping":
      return decideUpdate(job, { state: "Shipping" }, ctx);
    case "replace": {
      const rule = LIFECYCLE[job.state].replace;
      if (rule.kind === "refuse") throw refusal(rule, job, "the job (PUT)");
      const replaced: Job = {
        ...event.replacement,
        uid: job.uid,
        version: job.version,
        state: job.state,
        cancelRequested: job.cancelRequested,
        stateEnteredAt: job.stateEnteredAt,
        lastCustomerUpdateAt: ctx.now.toISOString(),
        systemData: touchSystemData(job, ctx).systemData,
      };
      return {
        kind: "changed",
        job: withDeadline(replaced, ctx.timers),
        history: [
          entry(
            ctx,
            "replace",
            job.state,
            job.state,
            "The customer replaced the job definition (PUT).",
          ),
        ],
      };
    }
    case "delete": {
      const rule = LIFECYCLE[job.state].delete;
      if (rule.kind === "refuse") throw refusal(rule, job, "");
      return { kind: "purged", reason: "Deleted by the customer." };
    }
    case "receivePackage":
    case "attachDrive":
    case "startTransfer":
    case "completeDrive":
    case "package":
    case "shipBack":
    case "fault":
    case "resolve":
    case "autopilotArrive":
    case "autopilotAdvance":
    case "autopilotShipBack":
    case "reportProgress":
      return decideDatacenter(job, event, ctx);
    default:
      return decideTimer(job, event.type, ctx);
  }
}

type DeadlineEvent = "creatingExpired" | "shippingAlert" | "shippingClose" | "retentionExpired";

function decideTimer(job: Job, timer: DeadlineEvent, ctx: DecideContext): Decision {
  const rule = LIFECYCLE[job.state][timer];
  // A stale or early deadline never acts: the job moved on, or its deadline moved.
  if (
    rule.kind === "ignore" ||
    rule.kind === "refuse" ||
    job.dueEvent !== timer ||
    !job.dueAt ||
    Date.parse(job.dueAt) > ctx.now.getTime()
  ) {
    const fresh = withDeadline(job, ctx.timers);
    return sameValue(fresh, job)
      ? { kind: "unchanged", job }
      : { kind: "changed", job: fresh, history: [] };
  }
  // A timer takes effect at its deadline, even when the sweep runs later (the service was
  // down, or the clock was advanced past several deadlines): chained timers stay on time.
  const fired: DecideContext = { ...ctx, now: new Date(job.dueAt) };
  switch (timer) {
    case "creatingExpired":
      return {
        kind: "purged",
        reason: "The job stayed in 'Creating' without an update for the expiry period.",
      };
    case "retentionExpired":
      return { kind: "purged", reason: "The retention period after the job finished ended." };
    case "shippingAlert": {
      const next: Job = {
        ...job,
        shippingAlertedAt: fired.now.toISOString(),
        driveList: job.driveList.map((d) =>
          d.state === "Specified" ? { ...d, state: "NeverReceived" as const } : d,
        ),
      };
      return {
        kind: "changed",
        job: withDeadline(next, ctx.timers),
        history: [
          entry(
            fired,
            "shippingAlert",
            job.state,
            job.state,
            "No package arrived within the shipping period; the drives are marked NeverReceived and the customer is alerted.",
          ),
        ],
      };
    }
    case "shippingClose": {
      const end: JobState = job.cancelRequested
        ? "Completed"
        : rule.kind === "to"
          ? rule.state
          : "Closed";
      const next = withDeadline(enter(job, end, fired.now), ctx.timers);
      return {
        kind: "changed",
        job: next,
        history: [
          entry(
            fired,
            "shippingClose",
            job.state,
            end,
            job.cancelRequested
              ? "The cancelled job's package never arrived; nothing to return."
              : "No package arrived after the alert period; the job is closed.",
          ),
        ],
      };
    }
  }
}

/** A brand-new job starts with its deadline set (14 d Creating expiry by default). */
export function initialDeadline(job: Job, timers: Timers): Job {
  return withDeadline(job, timers);
}

export function historyOfCreation(ctx: DecideContext): HistoryEntry {
  return entry(ctx, "create", null, "Creating", "The customer created the job.");
}

export function historyOfPurge(ctx: DecideContext, job: Job, reason: string): HistoryEntry {
  return entry(ctx, "purge", job.state, null, reason);
}

// ---------------------------------------------------------------------------------------
// The datacenter side (SPEC §3): operator actions and the autopilot's steps.

type DatacenterJobEvent = Extract<
  JobEvent,
  { type: DatacenterEvent | "autopilotArrive" | "autopilotAdvance" | "autopilotShipBack" }
>;

const EVENT_LABEL: Record<DatacenterJobEvent["type"], string> = {
  receivePackage: "receive package",
  attachDrive: "attach drive",
  startTransfer: "start transfer",
  completeDrive: "complete drive",
  package: "package",
  shipBack: "ship back",
  fault: "fault",
  resolve: "resolve",
  autopilotArrive: "receive package",
  autopilotAdvance: "package",
  autopilotShipBack: "ship back",
  reportProgress: "report progress",
};

function ruleFor(job: Job, event: DatacenterJobEvent["type"]): Rule {
  const rule = LIFECYCLE[job.state][event];
  if (rule.kind === "refuse") {
    throw new DomainError(
      "OperatorActionNotAllowed",
      `'${EVENT_LABEL[event]}' is not possible while job '${job.name}' is in state '${job.state}'. ` +
        `It is possible in the states ${STATE_LIST(statesAllowing(event))}.`,
    );
  }
  return rule;
}

function findDrive(job: Job, driveId: string): Drive {
  const drive = job.driveList.find((d) => d.driveId.toLowerCase() === driveId.toLowerCase());
  if (!drive) {
    throw new DomainError(
      "DriveNotFound",
      `Job '${job.name}' has no drive '${driveId}'. Its drives: ${job.driveList.map((d) => d.driveId).join(", ") || "(none)"}.`,
      { target: "driveId" },
    );
  }
  return drive;
}

function withDrive(job: Job, driveId: string, change: (d: Drive) => Drive): Job {
  return {
    ...job,
    driveList: job.driveList.map((d) =>
      d.driveId.toLowerCase() === driveId.toLowerCase() ? change(d) : d,
    ),
  };
}

function changed(job: Job, ctx: DecideContext, history: HistoryEntry[]): Decision {
  return { kind: "changed", job: withDeadline(job, ctx.timers), history };
}

function move(job: Job, to: JobState, ctx: DecideContext): Job {
  return enter(job, to, ctx.now);
}

function receive(
  job: Job,
  trackingNumber: string,
  driveIds: readonly string[],
  ctx: DecideContext,
  docked: Record<string, string> = {},
): Decision {
  const rule = ruleFor(job, "receivePackage");
  const listed = new Set(driveIds.map((d) => d.toLowerCase()));
  const own = new Set(job.driveList.map((d) => d.driveId.toLowerCase()));
  const extras = driveIds.filter((d) => !own.has(d.toLowerCase()));
  const arriving = rule.kind === "to";
  const received: string[] = [];
  const missing: string[] = [];
  const driveList = job.driveList.map((d) => {
    const key = d.driveId.toLowerCase();
    if (listed.has(key) && (d.state === "Specified" || d.state === "NeverReceived")) {
      received.push(d.driveId);
      const path = docked[d.driveId] ?? docked[key];
      return { ...d, state: "Received" as const, ...(path ? { contentPath: path } : {}) };
    }
    if (arriving && !listed.has(key) && d.state === "Specified") {
      missing.push(d.driveId);
      return { ...d, state: "NeverReceived" as const };
    }
    return d;
  });
  if (!arriving && received.length === 0 && extras.length === 0) {
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
  let next: Job = { ...job, driveList, ...(extraDrives.length ? { extraDrives } : {}) };
  const parts = [
    received.length ? `drives received: ${received.join(", ")}` : "",
    missing.length ? `never received: ${missing.join(", ")}` : "",
    extras.length ? `drives that are not the job's: ${extras.join(", ")}` : "",
  ].filter(Boolean);
  const from = job.state;
  if (rule.kind === "to") next = move(next, rule.state, ctx);
  return changed(next, ctx, [
    entry(
      ctx,
      "receivePackage",
      from,
      next.state,
      `Package '${trackingNumber}' arrived; ${parts.join("; ") || "it held no drive"}.`,
    ),
  ]);
}

function shipBack(
  job: Job,
  returnPackage: PackageInformation,
  ctx: DecideContext,
  event: "shipBack" | "autopilotShipBack",
): Decision {
  ruleFor(job, event);
  // Errors: a drive that never arrived, finished with errors, or arrived but was never copied.
  const failed = job.driveList.some(
    (d) => d.state === "CompletedMoreInfo" || d.state === "NeverReceived" || d.state === "Received",
  );
  const end: JobState = job.cancelRequested || !failed ? "Completed" : "Closed";
  const shipped = job.driveList.filter(
    (d) => d.state !== "NeverReceived" && d.state !== "Specified",
  );
  const next = move(
    {
      ...job,
      // PackageInformation requires driveCount and shipDate; default them from what is shipped and when.
      returnPackage: {
        driveCount: shipped.length,
        shipDate: ctx.now.toISOString().slice(0, 10),
        ...returnPackage,
      },
      driveList: job.driveList.map((d) =>
        shipped.includes(d) ? { ...d, state: "ShippedBack" as const } : d,
      ),
    },
    end,
    ctx,
  );
  return changed(next, ctx, [
    entry(
      ctx,
      "shipBack",
      job.state,
      end,
      `${shipped.length} drive(s) shipped back with ${returnPackage.carrierName} '${returnPackage.trackingNumber}'` +
        (end === "Closed" ? "; some drives had errors or never arrived." : "."),
    ),
  ]);
}

function toPackaging(
  job: Job,
  ctx: DecideContext,
  event: "package" | "autopilotAdvance",
): Decision {
  const rule = ruleFor(job, event);
  if (rule.kind === "ignore") return { kind: "unchanged", job };
  const next = move(job, "Packaging", ctx);
  const reason = job.cancelRequested
    ? "The job was cancelled: no data is copied; the drives are packaged for return."
    : "The drives are packaged for return.";
  return changed(next, ctx, [entry(ctx, "package", job.state, "Packaging", reason)]);
}

/** An autopilot step acts only when its deadline is due; otherwise the deadline is refreshed. */
function autopilotDue(job: Job, event: TimerEvent, ctx: DecideContext): boolean {
  return (
    ctx.timers.autopilot !== undefined &&
    job.dueEvent === event &&
    job.dueAt !== undefined &&
    Date.parse(job.dueAt) <= ctx.now.getTime() &&
    LIFECYCLE[job.state][event].kind !== "ignore"
  );
}

function refreshed(job: Job, ctx: DecideContext): Decision {
  const fresh = withDeadline(job, ctx.timers);
  return sameValue(fresh, job)
    ? { kind: "unchanged", job }
    : { kind: "changed", job: fresh, history: [] };
}

function decideDatacenter(job: Job, event: DatacenterJobEvent, ctx: DecideContext): Decision {
  switch (event.type) {
    case "receivePackage":
      return receive(job, event.trackingNumber, event.driveIds, ctx);
    case "autopilotArrive": {
      if (!autopilotDue(job, event.type, ctx)) return refreshed(job, ctx);
      const docked = Object.keys(event.docked);
      return receive(
        job,
        job.deliveryPackage?.trackingNumber ?? "(autopilot)",
        docked,
        ctx,
        event.docked,
      );
    }
    case "attachDrive": {
      ruleFor(job, "attachDrive");
      const drive = findDrive(job, event.driveId);
      if (drive.state !== "Received") {
        throw new DomainError(
          "DriveNotReceived",
          `Drive '${drive.driveId}' is '${drive.state}'; only a received drive can be attached.`,
          { target: "driveId" },
        );
      }
      if (drive.contentPath === event.path) return { kind: "unchanged", job };
      const next = withDrive(job, drive.driveId, (d) => ({ ...d, contentPath: event.path }));
      return changed(next, ctx, [
        entry(
          ctx,
          "attachDrive",
          job.state,
          job.state,
          // The datacenter's mount path is the operator's business (it is on the operator view).
          `Drive '${drive.driveId}' attached.`,
        ),
      ]);
    }
    case "startTransfer": {
      const rule = ruleFor(job, "startTransfer");
      if (job.cancelRequested) {
        throw new DomainError(
          "JobCancelled",
          `Job '${job.name}' was cancelled, so no copy starts. Package its drives for return instead.`,
        );
      }
      const ready = job.driveList.filter((d) => d.state === "Received" && d.contentPath);
      if (ready.length === 0) {
        throw new DomainError(
          "DriveNotAttached",
          `No received drive of job '${job.name}' is attached yet. Attach a drive's contents first.`,
        );
      }
      const starting = new Set(ready.map((d) => d.driveId));
      let next: Job = {
        ...job,
        driveList: job.driveList.map((d) =>
          starting.has(d.driveId)
            ? {
                ...d,
                state: "Transferring" as const,
                copyStatus: "InProgress",
                percentComplete: 0,
                bytesSucceeded: 0,
              }
            : d,
        ),
      };
      if (rule.kind === "to") next = move(next, rule.state, ctx);
      return changed(next, ctx, [
        entry(
          ctx,
          "startTransfer",
          job.state,
          next.state,
          `Copy started for ${[...starting].join(", ")}.`,
        ),
      ]);
    }
    case "completeDrive": {
      ruleFor(job, "completeDrive");
      const drive = findDrive(job, event.driveId);
      if (drive.state !== "Transferring") {
        throw new DomainError(
          "DriveNotTransferring",
          `Drive '${drive.driveId}' is '${drive.state}'; only a drive that is being copied can complete.`,
          { target: "driveId" },
        );
      }
      let next = withDrive(job, drive.driveId, (d) => ({
        ...d,
        state: event.outcome,
        copyStatus:
          event.copyStatus ?? (event.outcome === "Completed" ? "Completed" : "CompletedWithErrors"),
        percentComplete: 100,
        ...(event.bytesSucceeded !== undefined ? { bytesSucceeded: event.bytesSucceeded } : {}),
        ...(event.errorLogUri ? { errorLogUri: event.errorLogUri } : {}),
        ...(event.verboseLogUri ? { verboseLogUri: event.verboseLogUri } : {}),
        ...(event.manifestUri ? { manifestUri: event.manifestUri } : {}),
      }));
      const history = [
        entry(
          ctx,
          "completeDrive",
          job.state,
          job.state,
          `Drive '${drive.driveId}' finished: ${event.outcome}.`,
        ),
      ];
      if (!next.driveList.some((d) => d.state === "Transferring")) {
        next = move(next, "Packaging", ctx);
        history.push(
          entry(
            ctx,
            "package",
            job.state,
            "Packaging",
            "Every drive has finished; the drives are packaged for return.",
          ),
        );
      }
      return changed(next, ctx, history);
    }
    case "autopilotAdvance":
      if (!autopilotDue(job, event.type, ctx)) return refreshed(job, ctx);
      // With an import engine, attached drives of a job that was not cancelled are copied first.
      if (
        event.transfer &&
        !job.cancelRequested &&
        job.driveList.some((d) => d.state === "Received" && d.contentPath)
      ) {
        return decideDatacenter(job, { type: "startTransfer" }, ctx);
      }
      return toPackaging(job, ctx, event.type);
    case "package":
      return toPackaging(job, ctx, event.type);
    case "reportProgress": {
      const rule = LIFECYCLE[job.state].reportProgress;
      const drive = job.driveList.find(
        (d) => d.driveId.toLowerCase() === event.driveId.toLowerCase(),
      );
      // Progress that arrives after the drive or the job moved on changes nothing.
      if (rule.kind !== "allow" || drive?.state !== "Transferring")
        return { kind: "unchanged", job };
      const next = {
        ...withDrive(job, drive.driveId, (d) => ({
          ...d,
          bytesSucceeded: event.bytesSucceeded,
          percentComplete: event.percentComplete,
        })),
        percentComplete: event.jobPercentComplete,
      };
      return sameValue(next, job)
        ? { kind: "unchanged", job }
        : { kind: "changed", job: next, history: [] };
    }
    case "shipBack":
      return shipBack(job, event.returnPackage, ctx, "shipBack");
    case "autopilotShipBack":
      if (!autopilotDue(job, event.type, ctx)) return refreshed(job, ctx);
      return shipBack(job, event.returnPackage, ctx, "autopilotShipBack");
    case "fault": {
      ruleFor(job, "fault");
      const next: Job = {
        ...move(job, "Faulted", ctx),
        faultedFrom: job.state,
        faultReason: event.reason,
      };
      return changed(next, ctx, [entry(ctx, "fault", job.state, "Faulted", event.reason)]);
    }
    case "resolve": {
      ruleFor(job, "resolve");
      const back = job.faultedFrom ?? "Received";
      const next: Job = move({ ...job }, back, ctx);
      delete next.faultedFrom;
      delete next.faultReason;
      return changed(next, ctx, [entry(ctx, "resolve", "Faulted", back, event.reason)]);
    }
  }
}

/** The operator actions a job allows now (for the operator pages and CLI). */
export function allowedOperatorEvents(job: Job): DatacenterEvent[] {
  return DATACENTER_EVENTS.filter((e) => {
    if (LIFECYCLE[job.state][e].kind === "refuse") return false;
    if (e === "startTransfer")
      return (
        !job.cancelRequested && job.driveList.some((d) => d.state === "Received" && d.contentPath)
      );
    if (e === "attachDrive") return job.driveList.some((d) => d.state === "Received");
    if (e === "receivePackage")
      return job.state === "Shipping" || job.driveList.some((d) => d.state === "NeverReceived");
    if (e === "completeDrive") return job.driveList.some((d) => d.state === "Transferring");
    return true;
  });
}
