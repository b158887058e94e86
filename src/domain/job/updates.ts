/**
 * What a customer may change with Jobs_Update, by state (SPEC §2.2), and how a change is
 * told apart from a value sent again ("a field sent with the value it already has is not a
 * change and is never refused").
 */
import { specifiedDrive } from "./drive-lifecycle.ts";
import type { Drive, Job, JobState } from "./model.ts";
import { JOB_STATES } from "./model.ts";

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

/**
 * Fields a PATCH may carry outside their window without being refused: the value is kept
 * as it is. The Python SDK sends `backupDriveManifest: false` on every PATCH, so refusing
 * it after Shipping would make every later update (a cancel, a new return address) fail.
 */
export const KEPT_OUTSIDE_WINDOW: readonly UpdatableField[] = ["backupDriveManifest"];

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

/** The fields a customer may change in the job's state, for its job type. */
export function updatableFields(job: Pick<Job, "state" | "jobType">): UpdatableField[] {
  return (Object.keys(FIELD_WINDOWS) as UpdatableField[]).filter(
    (f) =>
      FIELD_WINDOWS[f].includes(job.state) &&
      (job.jobType === "Import" ? f !== "exportDriveKeys" : f !== "driveList"),
  );
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

/** The fields whose value the request changes. */
export function changedFields(job: Job, changes: JobChanges): UpdatableField[] {
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

export function applyField(job: Job, field: UpdatableField, changes: JobChanges): Job {
  switch (field) {
    case "driveList":
      return { ...job, driveList: changes.driveList!.map(specifiedDrive) };
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
