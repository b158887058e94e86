/**
 * The job lifecycle of SPEC §2 as one table (state × event → rule) and a pure decide().
 * Every rule about what may happen in which state lives here; the API, CLI, portal and
 * engine ask `decide` / `allowedEvents` instead of re-checking states themselves.
 */
import { DomainError } from "../errors.ts";
import type { Actor, Drive, HistoryEntry, Job, JobState, TimerEvent } from "./model.ts";
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

export type EventType = "update" | "replace" | "markShipping" | "cancel" | "delete" | TimerEvent;

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
];

type Rule =
  | { kind: "allow" }
  | { kind: "to"; state: JobState }
  | { kind: "purge" }
  | {
      kind: "refuse";
      code: "JobNotUpdatable" | "JobNotCancellable" | "JobNotDeletable" | "InvalidStateTransition";
    }
  /** A timer whose deadline no longer applies in this state (e.g. the job moved on). */
  | { kind: "ignore" };

const allow: Rule = { kind: "allow" };
const purge: Rule = { kind: "purge" };
const ignore: Rule = { kind: "ignore" };
const to = (state: JobState): Rule => ({ kind: "to", state });
const refuse = (code: Extract<Rule, { kind: "refuse" }>["code"]): Rule => ({
  kind: "refuse",
  code,
});

/**
 * The lifecycle table. `update` is allowed in every state; which fields may change is the
 * FIELD_WINDOWS table below. `cancel` → Completed in Creating (no drive exists yet); in
 * Shipping…Transferring it is recorded and honoured by the datacenter side (best effort).
 */
export const LIFECYCLE: Readonly<Record<JobState, Readonly<Record<EventType, Rule>>>> = {
  Creating: {
    update: allow,
    replace: allow,
    markShipping: to("Shipping"),
    cancel: to("Completed"),
    delete: purge,
    creatingExpired: purge,
    shippingAlert: ignore,
    shippingClose: ignore,
    retentionExpired: ignore,
  },
  Shipping: {
    update: allow,
    replace: refuse("JobNotUpdatable"),
    markShipping: refuse("InvalidStateTransition"),
    cancel: allow,
    delete: refuse("JobNotDeletable"),
    creatingExpired: ignore,
    shippingAlert: allow,
    shippingClose: to("Closed"),
    retentionExpired: ignore,
  },
  Received: {
    update: allow,
    replace: refuse("JobNotUpdatable"),
    markShipping: refuse("InvalidStateTransition"),
    cancel: allow,
    delete: refuse("JobNotDeletable"),
    creatingExpired: ignore,
    shippingAlert: ignore,
    shippingClose: ignore,
    retentionExpired: ignore,
  },
  Transferring: {
    update: allow,
    replace: refuse("JobNotUpdatable"),
    markShipping: refuse("InvalidStateTransition"),
    cancel: allow,
    delete: refuse("JobNotDeletable"),
    creatingExpired: ignore,
    shippingAlert: ignore,
    shippingClose: ignore,
    retentionExpired: ignore,
  },
  Packaging: {
    update: allow,
    replace: refuse("JobNotUpdatable"),
    markShipping: refuse("InvalidStateTransition"),
    cancel: refuse("JobNotCancellable"),
    delete: refuse("JobNotDeletable"),
    creatingExpired: ignore,
    shippingAlert: ignore,
    shippingClose: ignore,
    retentionExpired: ignore,
  },
  Completed: {
    update: allow,
    replace: refuse("JobNotUpdatable"),
    markShipping: refuse("InvalidStateTransition"),
    cancel: refuse("JobNotCancellable"),
    delete: purge,
    creatingExpired: ignore,
    shippingAlert: ignore,
    shippingClose: ignore,
    retentionExpired: purge,
  },
  Closed: {
    update: allow,
    replace: refuse("JobNotUpdatable"),
    markShipping: refuse("InvalidStateTransition"),
    cancel: refuse("JobNotCancellable"),
    delete: purge,
    creatingExpired: ignore,
    shippingAlert: ignore,
    shippingClose: ignore,
    retentionExpired: purge,
  },
  Faulted: {
    update: allow,
    replace: refuse("JobNotUpdatable"),
    markShipping: refuse("InvalidStateTransition"),
    cancel: refuse("JobNotCancellable"),
    delete: refuse("JobNotDeletable"),
    creatingExpired: ignore,
    shippingAlert: ignore,
    shippingClose: ignore,
    retentionExpired: ignore,
  },
};

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
  | { type: TimerEvent };

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
  }
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
  switch (job.state) {
    case "Creating":
      return {
        dueAt: plus(job.lastCustomerUpdateAt, timers.creatingExpiryMs),
        dueEvent: "creatingExpired",
      };
    case "Shipping":
      return job.shippingAlertedAt
        ? { dueAt: plus(job.shippingAlertedAt, timers.shippingCloseMs), dueEvent: "shippingClose" }
        : { dueAt: plus(job.stateEnteredAt, timers.shippingAlertMs), dueEvent: "shippingAlert" };
    case "Completed":
    case "Closed":
      return { dueAt: plus(job.stateEnteredAt, timers.retentionMs), dueEvent: "retentionExpired" };
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
    default:
      return decideTimer(job, event.type, ctx);
  }
}

function decideTimer(job: Job, timer: TimerEvent, ctx: DecideContext): Decision {
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
