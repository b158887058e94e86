/**
 * The job as drivebay keeps it. Field names are the API's own (`deliveryPackage`,
 * `cancelRequested`, …); one model serves every api-version because their wire formats
 * are identical.
 */
export const JOB_STATES = [
  "Creating",
  "Shipping",
  "Received",
  "Transferring",
  "Packaging",
  "Completed",
  "Closed",
  "Faulted",
] as const;
export type JobState = (typeof JOB_STATES)[number];

export const DRIVE_STATES = [
  "Specified",
  "Received",
  "NeverReceived",
  "Transferring",
  "Completed",
  "CompletedMoreInfo",
  "ShippedBack",
] as const;
export type DriveState = (typeof DRIVE_STATES)[number];

/**
 * How a drive's copy ended, in the drive log's words (reference/domain.md §5.4):
 * `Completed` with nothing to report; `CompletedWithWarnings` when the only outcomes were
 * ones the customer asked for (blobs renamed, skipped by no-overwrite, overwritten) or the
 * job was cancelled; `CompletedWithErrors` when a blob or the drive failed.
 */
export const COPY_OUTCOMES = ["Completed", "CompletedWithWarnings", "CompletedWithErrors"] as const;
export type CopyOutcome = (typeof COPY_OUTCOMES)[number];

export const JOB_TYPES = ["Import", "Export"] as const;
export type JobType = (typeof JOB_TYPES)[number];

export const LOG_LEVELS = ["Error", "Verbose"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Who moved a job: the customer, an operator, the autopilot, a timer, or the transfer engine. */
export type Actor = "customer" | "operator" | "autopilot" | "timer" | "engine";

export interface ReturnAddress {
  recipientName: string;
  streetAddress1: string;
  streetAddress2?: string;
  city: string;
  stateOrProvince?: string;
  postalCode: string;
  countryOrRegion: string;
  phone: string;
  email: string;
}

export interface ReturnShipping {
  carrierName: string;
  carrierAccountNumber: string;
}

export interface ShippingInformation {
  recipientName?: string;
  streetAddress1?: string;
  streetAddress2?: string;
  city?: string;
  stateOrProvince?: string;
  postalCode?: string;
  countryOrRegion?: string;
  phone?: string;
  additionalInformation?: string;
}

export interface PackageInformation {
  carrierName: string;
  trackingNumber: string;
  driveCount?: number;
  shipDate?: string;
}

export interface Drive {
  driveId: string;
  /** Never serialised by Jobs_Get or the lists: only BitLockerKeys_List returns it. */
  bitLockerKey?: string;
  manifestFile?: string;
  manifestHash?: string;
  driveHeaderHash?: string;
  state: DriveState;
  copyStatus?: string;
  percentComplete?: number;
  verboseLogUri?: string;
  errorLogUri?: string;
  manifestUri?: string;
  bytesSucceeded?: number;
  /** Datacenter side only (never in ARM responses): where the drive's contents are mounted. */
  contentPath?: string;
  /** How the copy ended (set when it completes); the job's outcome is derived from it. */
  copyOutcome?: CopyOutcome;
  /** Export drives: the bytes the drive can hold, recorded when it is received. */
  capacityBytes?: number;
}

/** A drive found in a package that belongs to no drive of the job (shown to operators). */
export interface ExtraDrive {
  driveId: string;
  trackingNumber: string;
  receivedAt: string;
}

export interface ExportSpec {
  blobList?: { blobPath?: string[]; blobPathPrefix?: string[] };
  blobListBlobPath?: string;
}

export interface EncryptionKey {
  kekType: "MicrosoftManaged" | "CustomerManaged";
  kekUrl?: string;
  kekVaultResourceID?: string;
}

export interface Identity {
  type: "None" | "SystemAssigned" | "UserAssigned";
}

export interface SystemData {
  createdBy: string;
  createdByType: string;
  createdAt: string;
  lastModifiedBy: string;
  lastModifiedByType: string;
  lastModifiedAt: string;
}

/** The timers of SPEC §2.5, as the event a stored deadline fires. */
export type TimerEvent =
  | "creatingExpired"
  | "shippingAlert"
  | "shippingClose"
  | "retentionExpired"
  /** The simulated datacenter's steps (emulator profile): the package arrives, … */
  | "autopilotArrive"
  /** … received drives move on (to Packaging while there is nothing to copy), … */
  | "autopilotAdvance"
  /** … and packaged drives are shipped back. */
  | "autopilotShipBack";

export interface Job {
  /** Internal identity of this incarnation of the name (a recreated job gets a new one). */
  uid: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  jobType: JobType;
  storageAccountId: string;
  returnAddress?: ReturnAddress;
  returnShipping?: ReturnShipping;
  shippingInformation: ShippingInformation;
  deliveryPackage?: PackageInformation;
  returnPackage?: PackageInformation;
  diagnosticsPath: string;
  logLevel: LogLevel;
  backupDriveManifest: boolean;
  state: JobState;
  cancelRequested: boolean;
  percentComplete?: number;
  incompleteBlobListUri?: string;
  driveList: Drive[];
  export?: ExportSpec;
  encryptionKey: EncryptionKey;
  identity: Identity;
  systemData: SystemData;
  /** ISO instants kept for the timers. */
  stateEnteredAt: string;
  lastCustomerUpdateAt: string;
  shippingAlertedAt?: string;
  /** The state a Faulted job returns to when an operator resolves it, and why it faulted. */
  faultedFrom?: JobState;
  faultReason?: string;
  /** Drives that arrived in this job's package but are not drives of the job. */
  extraDrives?: ExtraDrive[];
  /** The stored deadline (SPEC §2.5): when `dueEvent` fires. */
  dueAt?: string;
  dueEvent?: TimerEvent;
  /** Compare-and-set version; the store increments it on every write. */
  version: number;
}

export interface HistoryEntry {
  at: string;
  actor: Actor;
  event: string;
  from: JobState | null;
  to: JobState | null;
  reason: string;
}

/** Lower-cased identity used for case-insensitive matching (SPEC §1.2). */
export interface JobKey {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export function jobKeyOf(k: JobKey): JobKey {
  return {
    subscriptionId: k.subscriptionId.toLowerCase(),
    resourceGroup: k.resourceGroup.toLowerCase(),
    name: k.name.toLowerCase(),
  };
}
