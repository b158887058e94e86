/**
 * The drive lifecycle of SPEC §2.6 as one table (drive state × drive event → rule):
 * `Specified → Received | NeverReceived`, `NeverReceived → Received` (a drive that turns up
 * late), `Received → Transferring → Completed | CompletedMoreInfo → ShippedBack`; export
 * drives start at `Received`. The job lifecycle moves drives only through this table, and
 * the job-level rules that depend on drives (when a job goes Packaging, whether it ends
 * Completed or Closed) are asked of the drives here.
 */
import { DomainError } from "../errors.ts";
import type { CopyOutcome, Drive, DriveState } from "./model.ts";
import { DRIVE_STATES } from "./model.ts";
import {
  admit,
  ignore,
  leaves,
  refuse,
  targetOf,
  type Guard,
  type Rule,
  type Target,
} from "./table.ts";

export type DriveEvent =
  /** The drive is in a package the datacenter received. */
  | { type: "arrive" }
  /** A package arrived without it, or none arrived in the shipping period. */
  | { type: "missing" }
  /** Its contents were mounted at `path` on the datacenter's machine. */
  | { type: "attach"; path: string; capacityBytes?: number }
  | { type: "startCopy" }
  | { type: "progress"; bytesSucceeded: number; percentComplete: number }
  | {
      type: "complete";
      outcome: CopyOutcome;
      bytesSucceeded?: number;
      /** Free text for the drive's copyStatus (default from the outcome). */
      copyStatus?: string;
      errorLogUri?: string;
      verboseLogUri?: string;
      manifestUri?: string;
    }
  | { type: "shipBack" };

export type DriveEventType = DriveEvent["type"];
export const DRIVE_EVENTS: readonly DriveEventType[] = [
  "arrive",
  "missing",
  "attach",
  "startCopy",
  "progress",
  "complete",
  "shipBack",
];

export type DriveGuardName = "attached" | "nothingToReport";
export type DriveRefusal = "DriveNotReceived" | "DriveNotTransferring";
/** `startCopy`: the transfer runner copies the drive (import: into the account; export: onto it). */
export type DriveEffectTag = "startCopy";
type DriveRule = Rule<DriveState, DriveGuardName, DriveRefusal, DriveEffectTag>;

export const DRIVE_GUARDS: Readonly<Record<DriveGuardName, Guard<Drive, DriveEvent>>> = {
  attached: { label: "its contents are attached", holds: (d) => d.contentPath !== undefined },
  nothingToReport: {
    label: "the copy ended with nothing to report",
    holds: (d, e) => e?.type === "complete" && e.outcome === "Completed",
  },
};

const go = (to: Target<DriveState, DriveGuardName>, ...effects: DriveEffectTag[]): DriveRule => ({
  kind: "go",
  to,
  effects,
});
const when = (guard: DriveGuardName, then: DriveRule, otherwise: DriveRule): DriveRule => ({
  kind: "when",
  guard,
  then,
  otherwise,
});

const NOT_RECEIVED = refuse("DriveNotReceived");
const NOT_COPYING = refuse("DriveNotTransferring");
const SHIPPED = ignore("the drive has been shipped back");

/** What an event does to a drive where a state's row does not say otherwise. */
export const DRIVE_DEFAULTS: Readonly<Record<DriveEventType, DriveRule>> = {
  arrive: ignore("the drive was received before"),
  missing: ignore("only a drive still expected can go missing"),
  attach: NOT_RECEIVED,
  startCopy: ignore("only an attached, received drive starts copying"),
  progress: ignore("progress for a drive that is not being copied changes nothing"),
  complete: NOT_COPYING,
  shipBack: go("ShippedBack"),
};

/** The drive table: only the cells that differ from DRIVE_DEFAULTS. */
export const DRIVE_TABLE: Readonly<Record<DriveState, Partial<Record<DriveEventType, DriveRule>>>> =
  {
    Specified: {
      arrive: go("Received"),
      missing: go("NeverReceived"),
      shipBack: ignore("the drive never reached the datacenter"),
    },
    NeverReceived: {
      arrive: go("Received"),
      shipBack: ignore("the drive never reached the datacenter"),
    },
    Received: {
      attach: go("same"),
      startCopy: when("attached", go("Transferring", "startCopy"), ignore("not attached")),
    },
    Transferring: {
      progress: go("same"),
      complete: go({ cases: [["nothingToReport", "Completed"]], otherwise: "CompletedMoreInfo" }),
    },
    Completed: {},
    CompletedMoreInfo: {},
    ShippedBack: { shipBack: SHIPPED },
  };

/** Where drives start: import drives as the customer lists them, export drives when received. */
export const DRIVE_START = {
  /** An import job's drive, from the customer's driveList. */
  import: "Specified",
  /** An export drive, recorded by the datacenter when its package arrives, with a capacity and a key. */
  export: "Received",
} as const satisfies Record<string, DriveState>;

export function driveRule(state: DriveState, event: DriveEventType): DriveRule {
  return DRIVE_TABLE[state][event] ?? DRIVE_DEFAULTS[event];
}

const guardHolds = (d: Drive, e: DriveEvent | undefined) => (g: DriveGuardName) =>
  DRIVE_GUARDS[g].holds(d, e);

/** Whether the drive's table lets `event` change it now (for the pages' per-drive actions). */
export function driveAllows(drive: Drive, event: DriveEventType): boolean {
  return admit(driveRule(drive.state, event), guardHolds(drive, undefined)).kind === "go";
}

/** The drive states in which `event` can change a drive. */
export function driveStatesAllowing(event: DriveEventType): DriveState[] {
  return DRIVE_STATES.filter((s) => leaves(driveRule(s, event)).some((l) => l.kind === "go"));
}

export interface DriveStep {
  drive: Drive;
  changed: boolean;
  effects: DriveEffectTag[];
}

function refusal(code: DriveRefusal, drive: Drive): DomainError {
  return code === "DriveNotReceived"
    ? new DomainError(
        "DriveNotReceived",
        `Drive '${drive.driveId}' is '${drive.state}'; only a received drive can be attached.`,
        { target: "driveId" },
      )
    : new DomainError(
        "DriveNotTransferring",
        `Drive '${drive.driveId}' is '${drive.state}'; only a drive that is being copied can complete.`,
        { target: "driveId" },
      );
}

/** What the event changes on the drive besides its state. */
function applyData(d: Drive, e: DriveEvent): Drive {
  switch (e.type) {
    case "attach":
      return {
        ...d,
        contentPath: e.path,
        ...(e.capacityBytes !== undefined ? { capacityBytes: e.capacityBytes } : {}),
      };
    case "startCopy":
      return { ...d, copyStatus: "InProgress", percentComplete: 0, bytesSucceeded: 0 };
    case "progress":
      return { ...d, bytesSucceeded: e.bytesSucceeded, percentComplete: e.percentComplete };
    case "complete":
      return {
        ...d,
        copyOutcome: e.outcome,
        copyStatus: e.copyStatus ?? (e.outcome === "Completed" ? "Completed" : e.outcome),
        percentComplete: 100,
        ...(e.bytesSucceeded !== undefined ? { bytesSucceeded: e.bytesSucceeded } : {}),
        ...(e.errorLogUri ? { errorLogUri: e.errorLogUri } : {}),
        ...(e.verboseLogUri ? { verboseLogUri: e.verboseLogUri } : {}),
        ...(e.manifestUri ? { manifestUri: e.manifestUri } : {}),
      };
    case "shipBack": {
      // How the copy ended stays known after the drive leaves (the job's outcome asks it).
      const outcome = copyOutcomeOf(d);
      return outcome ? { ...d, copyOutcome: outcome } : d;
    }
    default:
      return d;
  }
}

/** Decides what `event` does to `drive`: the changed drive and its effects; refusals are thrown. */
export function decideDrive(drive: Drive, event: DriveEvent): DriveStep {
  const leaf = admit(driveRule(drive.state, event.type), guardHolds(drive, event));
  if (leaf.kind === "refuse") throw refusal(leaf.code, drive);
  if (leaf.kind !== "go") return { drive, changed: false, effects: [] };
  const state = targetOf(leaf.to, drive.state, guardHolds(drive, event));
  const next: Drive = { ...applyData(drive, event), state };
  const changed = JSON.stringify(next) !== JSON.stringify(drive);
  return { drive: changed ? next : drive, changed, effects: [...leaf.effects] };
}

/** A drive of an import job as the customer lists it. */
export function specifiedDrive(input: Omit<Drive, "state">): Drive {
  return { ...input, state: DRIVE_START.import };
}

/** An export drive recorded when its package arrives: it can hold `capacityBytes`; its key is new. */
export function recordedExportDrive(input: {
  driveId: string;
  capacityBytes?: number;
  bitLockerKey: string;
}): Drive {
  const drive: Drive = {
    driveId: input.driveId,
    bitLockerKey: input.bitLockerKey,
    state: DRIVE_START.export,
  };
  return input.capacityBytes !== undefined
    ? { ...drive, capacityBytes: input.capacityBytes }
    : drive;
}

/**
 * How the drive's copy ended; drives completed before the outcome was recorded are read
 * from their state (a `CompletedMoreInfo` drive of old had errors).
 */
export function copyOutcomeOf(d: Drive): CopyOutcome | undefined {
  if (d.copyOutcome) return d.copyOutcome;
  if (d.state === "Completed") return "Completed";
  if (d.state === "CompletedMoreInfo") return "CompletedWithErrors";
  return undefined;
}

/**
 * The outcome an operator means by naming a drive's end state (the operator API and pages):
 * `CompletedMoreInfo` is "completed with errors".
 */
export function outcomeOfEndState(state: "Completed" | "CompletedMoreInfo"): CopyOutcome {
  return state === "Completed" ? "Completed" : "CompletedWithErrors";
}

/** The drive is being copied (its runner reports progress and completes it). */
export function isBeingCopied(d: Drive): boolean {
  return driveAllows(d, "complete");
}

/** Received and attached, waiting for its copy to start. */
export function isReadyToCopy(d: Drive): boolean {
  return driveAllows(d, "startCopy");
}

/**
 * An error in SPEC §2.1's sense: the drive never arrived, a blob or the drive failed, or
 * it arrived and was never copied. Dispositions the customer asked for (renamed, skipped,
 * overwritten) are not errors.
 */
export function driveFailed(d: Drive): boolean {
  if (d.state === "NeverReceived") return true;
  if (d.state === "Specified" || d.state === "Transferring") return false;
  const outcome = copyOutcomeOf(d);
  return outcome === undefined || outcome === "CompletedWithErrors";
}
