/**
 * The job lifecycle of SPEC §2 and §3 as one table: job state × event → rule. A rule is a
 * refusal (its error code), an event that changes nothing, a purge, or a transition with
 * its target state(s) and effects; `when` chooses between rules by a named guard. Every
 * next state is here; `lifecycle.ts` carries the rules out (decide) and answers what may
 * happen (allowedEvents). docs/lifecycle.md is generated from this file
 * (`npm run docs:lifecycle`).
 */
import {
  driveFailed,
  isBeingCopied,
  isReadyToCopy,
  type DriveEventType,
} from "./drive-lifecycle.ts";
import type {
  Actor,
  CopyOutcome,
  Drive,
  Job,
  JobState,
  PackageInformation,
  TimerEvent,
} from "./model.ts";
import type { JobChanges } from "./updates.ts";
import { ignore, purge, refuse, type Guard, type Rule, type Target } from "./table.ts";

export type CustomerEvent = "update" | "replace" | "markShipping" | "cancel" | "delete";
export type DatacenterEvent =
  | "receivePackage"
  | "attachDrive"
  | "startTransfer"
  | "completeDrive"
  | "package"
  | "shipBack"
  | "fault"
  | "resolve";
export type EventType = CustomerEvent | TimerEvent | DatacenterEvent | "reportProgress";

export type JobEvent =
  | { type: "update"; changes: JobChanges }
  | { type: "replace"; replacement: Job }
  | { type: "markShipping" }
  | { type: "cancel" }
  | { type: "delete" }
  | { type: "creatingExpired" | "shippingAlert" | "shippingClose" | "retentionExpired" }
  // Datacenter side (operator, autopilot, transfer runner).
  | {
      type: "receivePackage";
      trackingNumber: string;
      driveIds: string[];
      /** Export jobs: the drives the package brings, recorded with a new BitLocker key each. */
      exportDrives?: ExportArrival[];
    }
  | {
      type: "attachDrive";
      driveId: string;
      path: string;
      /** Export drives: the bytes the drive can hold (given by the operator, or its free space). */
      capacityBytes?: number;
      /** A transfer runner is there to copy it: the drive starts copying unless the job was cancelled. */
      startCopy?: boolean;
    }
  | { type: "startTransfer" }
  | {
      type: "completeDrive";
      driveId: string;
      outcome: CopyOutcome;
      bytesSucceeded?: number;
      /** Free text for the drive's copyStatus (default from the outcome). */
      copyStatus?: string;
      errorLogUri?: string;
      verboseLogUri?: string;
      manifestUri?: string;
      /** Export: the blob list of blobs that fit on no drive (set on the job). */
      incompleteBlobListUri?: string;
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
  // The autopilot's steps: the engine looks at the dock and passes what it found.
  | {
      type: "autopilotArrive";
      docked: Record<string, string>;
      /** Export jobs: the empty dock drives the package brings (their folders are in `docked`). */
      exportDrives?: ExportArrival[];
    }
  | {
      type: "autopilotAdvance";
      /** A transfer runner copies attached drives, so they are copied before packaging. */
      transfer?: boolean;
      /** Dock folders of drives (by id) received without their contents attached. */
      docked?: Record<string, string>;
    }
  | { type: "autopilotShipBack"; returnPackage: PackageInformation };

/** An export drive that arrives in a package: recorded `Received` with its key (and capacity). */
export interface ExportArrival {
  driveId: string;
  bitLockerKey: string;
  capacityBytes?: number;
}

/** The datacenter actions an operator takes (SPEC §3), in the order the pages offer them. */
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

/** The columns of the table, with who sends each event and its words in messages. */
export const EVENTS: Readonly<Record<EventType, { actors: readonly Actor[]; label: string }>> = {
  update: { actors: ["customer"], label: "update (Jobs_Update)" },
  replace: { actors: ["customer"], label: "replace (Jobs_Create on an existing job)" },
  markShipping: { actors: ["customer"], label: "mark as shipped (state: Shipping)" },
  cancel: { actors: ["customer"], label: "cancel (cancelRequested: true)" },
  delete: { actors: ["customer"], label: "delete (Jobs_Delete)" },
  creatingExpired: { actors: ["timer"], label: "Creating expiry" },
  shippingAlert: { actors: ["timer"], label: "shipping alert" },
  shippingClose: { actors: ["timer"], label: "shipping close" },
  retentionExpired: { actors: ["timer"], label: "retention" },
  autopilotArrive: { actors: ["autopilot"], label: "receive package" },
  autopilotAdvance: { actors: ["autopilot"], label: "package" },
  autopilotShipBack: { actors: ["autopilot"], label: "ship back" },
  receivePackage: { actors: ["operator"], label: "receive package" },
  attachDrive: { actors: ["operator"], label: "attach drive" },
  startTransfer: { actors: ["operator"], label: "start transfer" },
  completeDrive: { actors: ["operator", "engine"], label: "complete drive" },
  package: { actors: ["operator"], label: "package" },
  shipBack: { actors: ["operator"], label: "ship back" },
  fault: { actors: ["operator"], label: "fault" },
  resolve: { actors: ["operator"], label: "resolve" },
  reportProgress: { actors: ["engine"], label: "report progress" },
};
export const EVENT_TYPES = Object.keys(EVENTS) as EventType[];

/** Events that fire at a stored deadline (SPEC §2.5, and the autopilot's delays). */
export const TIMED_EVENTS: readonly TimerEvent[] = [
  "creatingExpired",
  "shippingAlert",
  "shippingClose",
  "retentionExpired",
  "autopilotArrive",
  "autopilotAdvance",
  "autopilotShipBack",
];

/**
 * The drive event a job event brings to the drive(s) it names, through the drive table:
 * the event is offered only while some drive of the job allows it.
 */
export const DRIVE_EVENT_OF: Partial<Record<EventType, DriveEventType>> = {
  receivePackage: "arrive",
  attachDrive: "attach",
  completeDrive: "complete",
  reportProgress: "progress",
};

/** What a job event does to the job's drives (drive events, see the drive table). */
export const DRIVES_MOVED: Partial<Record<EventType, string>> = {
  shippingAlert: "drives still `Specified` → missing",
  receivePackage:
    "drives in the package → arrive (export jobs: recorded `Received` with a BitLocker key); from Shipping, the job's other `Specified` drives → missing",
  autopilotArrive:
    "drives whose dock folder exists → arrive, and attach (the folder); the others → missing; export jobs: `driveCount` empty dock drives recorded `Received`, attached",
  attachDrive: "the drive → attach; with a transfer runner, then → startCopy (unless cancelled)",
  startTransfer: "every drive → startCopy",
  autopilotAdvance:
    "with a transfer runner and not cancelled: received drives with a dock folder → attach, then every drive → startCopy",
  completeDrive: "the drive → complete",
  reportProgress: "the drive → progress",
  shipBack: "every drive → shipBack",
  autopilotShipBack: "every drive → shipBack",
};

/** Refusal codes of the table (each is an error code of `errors.ts`). */
export type JobRefusal =
  | "JobNotUpdatable"
  | "JobNotCancellable"
  | "JobNotDeletable"
  | "InvalidStateTransition"
  | "ShippingInformationMissing"
  | "OperatorActionNotAllowed"
  | "JobCancelled"
  | "DriveNotAttached";

export type JobGuardName =
  | "cancelRequested"
  | "shippingDetails"
  | "driveReadyToCopy"
  | "copying"
  | "copyingDone"
  | "driveFailed";

/**
 * Effects of a transition, as data for the service layer (lifecycle.ts turns them into
 * one effect per drive): `stopCopies` — every drive being copied stops at its next blob
 * boundary; `resumeCopies` — every drive being copied is copied again (from where it
 * stopped). Drives that start copying come from the drive table's `startCopy`.
 */
export type JobEffectTag = "stopCopies" | "resumeCopies";

export type JobRule = Rule<JobState, JobGuardName, JobRefusal, JobEffectTag>;

/**
 * What the lifecycle needs to know of a job to say what may happen: a domain Job, or a
 * client's copy of one read from the API (the CLI).
 */
export type JobFacts = Pick<Job, "state" | "cancelRequested" | "jobType"> & {
  driveList: readonly Drive[];
} & Partial<Pick<Job, "returnAddress" | "returnShipping" | "deliveryPackage">>;

const anyDrive = (job: JobFacts, test: (d: Drive) => boolean) => job.driveList.some(test);

export const JOB_GUARDS: Readonly<Record<JobGuardName, Guard<JobFacts, JobEvent>>> = {
  cancelRequested: { label: "the job was cancelled", holds: (job) => job.cancelRequested },
  shippingDetails: {
    label: "returnAddress, returnShipping and deliveryPackage are set",
    holds: (job) => Boolean(job.returnAddress && job.returnShipping && job.deliveryPackage),
    request: true,
  },
  driveReadyToCopy: {
    label: "a received drive is attached",
    holds: (job) => anyDrive(job, isReadyToCopy),
  },
  copying: { label: "a drive is being copied", holds: (job) => anyDrive(job, isBeingCopied) },
  copyingDone: {
    label:
      "no drive is being copied, and none is attached and waiting for its copy (unless the job was cancelled)",
    holds: (job) =>
      !anyDrive(job, isBeingCopied) && (job.cancelRequested || !anyDrive(job, isReadyToCopy)),
  },
  driveFailed: {
    label:
      "a drive has an error: it never arrived, a blob or the drive failed, or it arrived and was never copied",
    holds: (job) => anyDrive(job, driveFailed),
  },
};

const go = (to: Target<JobState, JobGuardName>, ...effects: JobEffectTag[]): JobRule => ({
  kind: "go",
  to,
  effects,
});
const when = (guard: JobGuardName, then: JobRule, otherwise: JobRule): JobRule => ({
  kind: "when",
  guard,
  then,
  otherwise,
});
const STAY = go("same");

/** A cancel of a cancelled job is a no-op in every state (SPEC §2.3). */
const cancel = (rule: JobRule) =>
  when("cancelRequested", ignore("the job is cancelled already"), rule);

/** SPEC §2.1: Completed when every drive is back without errors or the job was cancelled. */
const SHIP_BACK = go({
  cases: [
    ["cancelRequested", "Completed"],
    ["driveFailed", "Closed"],
  ],
  otherwise: "Completed",
});
const START_TRANSFER = (to: JobState | "same") =>
  when(
    "cancelRequested",
    refuse("JobCancelled"),
    when("driveReadyToCopy", go(to), refuse("DriveNotAttached")),
  );
const NOT_DUE = ignore("this deadline does not exist in this state");

/** What an event does where a state's row does not say otherwise (the table's defaults). */
export const JOB_DEFAULTS: Readonly<Record<EventType, JobRule>> = {
  update: STAY,
  replace: refuse("JobNotUpdatable"),
  markShipping: refuse("InvalidStateTransition"),
  cancel: cancel(refuse("JobNotCancellable")),
  delete: refuse("JobNotDeletable"),
  creatingExpired: NOT_DUE,
  shippingAlert: NOT_DUE,
  shippingClose: NOT_DUE,
  retentionExpired: NOT_DUE,
  autopilotArrive: NOT_DUE,
  autopilotAdvance: NOT_DUE,
  autopilotShipBack: NOT_DUE,
  receivePackage: refuse("OperatorActionNotAllowed"),
  attachDrive: refuse("OperatorActionNotAllowed"),
  startTransfer: refuse("OperatorActionNotAllowed"),
  completeDrive: refuse("OperatorActionNotAllowed"),
  package: refuse("OperatorActionNotAllowed"),
  shipBack: refuse("OperatorActionNotAllowed"),
  fault: refuse("OperatorActionNotAllowed"),
  resolve: refuse("OperatorActionNotAllowed"),
  reportProgress: ignore("progress after the copy moved on changes nothing"),
};

/** The job table: per state, the events whose rule differs from JOB_DEFAULTS. */
export const JOB_TABLE: Readonly<Record<JobState, Partial<Record<EventType, JobRule>>>> = {
  Creating: {
    replace: STAY,
    markShipping: when("shippingDetails", go("Shipping"), refuse("ShippingInformationMissing")),
    cancel: cancel(go("Completed")),
    delete: purge("Deleted by the customer."),
    creatingExpired: purge("The job stayed in 'Creating' without an update for the expiry period."),
  },
  Shipping: {
    markShipping: ignore("the job is Shipping already"),
    cancel: cancel(STAY),
    shippingAlert: STAY,
    shippingClose: go({ cases: [["cancelRequested", "Completed"]], otherwise: "Closed" }),
    autopilotArrive: go("Received"),
    receivePackage: go("Received"),
    fault: go("Faulted"),
  },
  Received: {
    cancel: cancel(STAY),
    autopilotAdvance: go({ cases: [["copying", "Transferring"]], otherwise: "Packaging" }),
    receivePackage: STAY,
    attachDrive: go({ cases: [["copying", "Transferring"]], otherwise: "same" }),
    startTransfer: START_TRANSFER("Transferring"),
    package: go("Packaging"),
    fault: go("Faulted"),
  },
  Transferring: {
    cancel: cancel(go("same", "stopCopies")),
    receivePackage: STAY,
    attachDrive: STAY,
    startTransfer: START_TRANSFER("same"),
    completeDrive: go({ cases: [["copyingDone", "Packaging"]], otherwise: "same" }),
    fault: go("Faulted", "stopCopies"),
    reportProgress: STAY,
  },
  Packaging: {
    autopilotShipBack: SHIP_BACK,
    receivePackage: STAY,
    shipBack: SHIP_BACK,
    fault: go("Faulted"),
  },
  Completed: {
    delete: purge("Deleted by the customer."),
    retentionExpired: purge("The retention period after the job finished ended."),
  },
  Closed: {
    delete: purge("Deleted by the customer."),
    retentionExpired: purge("The retention period after the job finished ended."),
  },
  Faulted: {
    resolve: go("faultedFrom", "resumeCopies"),
  },
};

export function jobRule(state: JobState, event: EventType): JobRule {
  return JOB_TABLE[state][event] ?? JOB_DEFAULTS[event];
}
