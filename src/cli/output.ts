/**
 * How the CLI prints: plain aligned tables for people, JSON for scripts. Results go to
 * `out` (stdout); diagnostics, banners and errors go to `err` (stderr), so
 * `--output json | jq` always sees only the result.
 */
import type { DriveBitLockerKey, JobResponse } from "@azure/arm-storageimportexport";
import { actorWords, eventWords } from "../domain/job/history-words.ts";

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export type OutputFormat = "table" | "json";

export interface HistoryEntry {
  at: string;
  actor: string;
  event: string;
  from: string | null;
  to: string | null;
  reason: string;
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return `${all.map(line).join("\n")}\n`;
}

export function text(value: unknown): string {
  if (value === undefined || value === null || value === "") return "-";
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.length === 0 ? "-" : value.map(text).join(", ");
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(
      ([, v]) => v !== undefined && v !== "",
    );
    return entries.length === 0 ? "-" : entries.map(([k, v]) => `${k}=${text(v)}`).join(", ");
  }
  return String(value);
}

/** The resource group named by an ARM resource id. */
export function resourceGroupOf(id: string | undefined): string | undefined {
  return /\/resourceGroups\/([^/]+)\//i.exec(id ?? "")?.[1];
}

export function jobTable(jobs: readonly JobResponse[]): string {
  if (jobs.length === 0) return "no jobs\n";
  return table(
    // No drive column: the list operations do not return driveList (as in Azure).
    ["NAME", "RESOURCE GROUP", "TYPE", "STATE", "CANCEL REQUESTED", "LOCATION"],
    jobs.map((j) => [
      j.name ?? "-",
      resourceGroupOf(j.id) ?? "-",
      text(j.properties?.jobType),
      text(j.properties?.state),
      text(j.properties?.cancelRequested),
      text(j.location),
    ]),
  );
}

export function jobDetails(job: JobResponse): string {
  const p = job.properties ?? {};
  const rows: [string, unknown][] = [
    ["name", job.name],
    ["id", job.id],
    ["resourceGroup", resourceGroupOf(job.id) ?? "-"],
    ["location", job.location],
    ["jobType", p.jobType],
    ["state", p.state],
    ["cancelRequested", p.cancelRequested],
    ["provisioningState", p.provisioningState],
    ["percentComplete", p.percentComplete],
    ["storageAccountId", p.storageAccountId],
    ["returnAddress", p.returnAddress],
    ["returnShipping", p.returnShipping],
    ["deliveryPackage", p.deliveryPackage],
    ["returnPackage", p.returnPackage],
    ["shippingInformation", p.shippingInformation],
    ["export", p.export],
    ["logLevel", p.logLevel],
    ["backupDriveManifest", p.backupDriveManifest],
    ["diagnosticsPath", p.diagnosticsPath],
    ["incompleteBlobListUri", p.incompleteBlobListUri],
    ["encryptionKey", p.encryptionKey],
    ["tags", job.tags],
    ["createdAt", job.systemData?.createdAt],
    ["createdBy", job.systemData?.createdBy],
    ["lastModifiedAt", job.systemData?.lastModifiedAt],
    ["lastModifiedBy", job.systemData?.lastModifiedBy],
  ];
  const drives = (p.driveList ?? []).map((d, i): [string, unknown] => [
    `drive[${i}]`,
    {
      driveId: d.driveId,
      state: d.state,
      copyStatus: d.copyStatus,
      percentComplete: d.percentComplete,
      bytesSucceeded: d.bytesSucceeded,
      errorLogUri: d.errorLogUri,
      verboseLogUri: d.verboseLogUri,
    },
  ]);
  return table(
    ["FIELD", "VALUE"],
    [...rows, ...drives].map(([k, v]) => [k, text(v)]),
  );
}

export function keysTable(keys: readonly DriveBitLockerKey[]): string {
  if (keys.length === 0) return "no BitLocker keys\n";
  return table(
    ["DRIVE ID", "BITLOCKER KEY"],
    keys.map((k) => [text(k.driveId), text(k.bitLockerKey)]),
  );
}

/**
 * A job's history for a person: who and what in words (the portal's words, one mapping in
 * src/domain/job/history-words.ts); `--output json` keeps the recorded names (`actor`,
 * `event`) for scripts.
 */
export function historyTable(
  entries: readonly HistoryEntry[],
  audience: "customer" | "operator",
): string {
  return table(
    ["AT", "BY", "WHAT HAPPENED", "FROM", "TO", "REASON"],
    entries.map((e) => [
      e.at,
      actorWords(e.actor, audience),
      eventWords(e.event),
      text(e.from),
      text(e.to),
      e.reason,
    ]),
  );
}

/** A job as the operator API shows it (src/api/operator/views.ts). */
export interface OperatorJob {
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  jobType: string;
  state: string;
  stateEnteredAt?: string;
  cancelRequested: boolean;
  location?: string;
  storageAccountId?: string;
  deliveryPackage?: Record<string, unknown>;
  returnPackage?: Record<string, unknown>;
  faultedFrom?: string;
  faultReason?: string;
  drives: {
    driveId: string;
    state: string;
    contentPath?: string;
    copyStatus?: string;
    percentComplete?: number;
    bytesSucceeded?: number;
    /** Export drives: what the drive holds. */
    capacityBytes?: number;
  }[];
  extraDrives: { driveId: string; trackingNumber?: string; receivedAt?: string }[];
  nextDeadline?: { at: string; event: string };
  allowedActions: string[];
  history?: HistoryEntry[];
}

/** The `drivebay operator` command for each operator event the server names. */
const OPERATOR_COMMANDS: Record<string, string> = {
  receivePackage: "receive",
  attachDrive: "attach",
  startTransfer: "transfer-start",
  completeDrive: "complete",
  package: "package",
  shipBack: "ship-back",
  fault: "fault",
  resolve: "resolve",
};

export function operatorJobTable(jobs: readonly OperatorJob[]): string {
  if (jobs.length === 0) return "no jobs\n";
  return table(
    [
      "NAME",
      "RESOURCE GROUP",
      "SUBSCRIPTION",
      "TYPE",
      "STATE",
      "CANCEL REQUESTED",
      "DRIVES",
      "CARRIER",
      "TRACKING NUMBER",
    ],
    jobs.map((j) => [
      j.name,
      j.resourceGroup,
      j.subscriptionId,
      text(j.jobType),
      text(j.state),
      text(j.cancelRequested),
      String(j.drives.length),
      text(j.deliveryPackage?.carrierName),
      text(j.deliveryPackage?.trackingNumber),
    ]),
  );
}

/** One job for the operator: its state, drives, extra drives, allowed actions (and history). */
export function operatorJobDetails(job: OperatorJob): string {
  const rows: [string, unknown][] = [
    ["name", job.name],
    ["resourceGroup", job.resourceGroup],
    ["subscription", job.subscriptionId],
    ["jobType", job.jobType],
    ["state", job.state],
    ["cancelRequested", job.cancelRequested],
    ...(job.faultReason !== undefined
      ? ([
          ["faultedFrom", job.faultedFrom],
          ["faultReason", job.faultReason],
        ] as [string, unknown][])
      : []),
    ["deliveryPackage", job.deliveryPackage],
    ["returnPackage", job.returnPackage],
    ["nextDeadline", job.nextDeadline && `${job.nextDeadline.event} at ${job.nextDeadline.at}`],
    ["allowedActions", job.allowedActions.map((a) => OPERATOR_COMMANDS[a] ?? a)],
  ];
  const parts = [
    table(
      ["FIELD", "VALUE"],
      rows.map(([k, v]) => [k, text(v)]),
    ),
  ];
  parts.push(
    job.drives.length === 0
      ? "no drives\n"
      : job.jobType === "Export"
        ? // Export drives: their capacity, and the folder the exported files are in.
          table(
            ["DRIVE ID", "STATE", "COPY STATUS", "PERCENT", "BYTES", "CAPACITY", "EXPORTED TO"],
            job.drives.map((d) => [
              d.driveId,
              d.state,
              text(d.copyStatus),
              text(d.percentComplete),
              text(d.bytesSucceeded),
              text(d.capacityBytes),
              text(d.contentPath),
            ]),
          )
        : table(
            ["DRIVE ID", "STATE", "COPY STATUS", "PERCENT", "BYTES", "CONTENT PATH"],
            job.drives.map((d) => [
              d.driveId,
              d.state,
              text(d.copyStatus),
              text(d.percentComplete),
              text(d.bytesSucceeded),
              text(d.contentPath),
            ]),
          ),
  );
  if (job.extraDrives.length > 0) {
    parts.push(
      table(
        ["EXTRA DRIVE", "TRACKING NUMBER", "RECEIVED AT"],
        job.extraDrives.map((e) => [e.driveId, text(e.trackingNumber), text(e.receivedAt)]),
      ),
    );
  }
  if (job.history) parts.push(historyTable(job.history, "operator"));
  return parts.join("\n");
}

/** The service clock (GET /operator/v1/clock and the answer of an advance). */
export interface ClockReading {
  now: string;
  offsetMs: number;
  controllable: boolean;
  tick?: { changed: number; purged: number };
}

/** 1296000000 → "15d"; 93784000 → "1d 2h 3m 4s"; 0 → "0s". */
export function formatDuration(ms: number): string {
  const units: [string, number][] = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1],
  ];
  let rest = Math.round(Math.abs(ms));
  const parts: string[] = [];
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return `${ms < 0 ? "-" : ""}${parts.join(" ") || "0s"}`;
}

export function clockTable(clock: ClockReading): string {
  const rows: [string, string][] = [
    ["service time", clock.now],
    ["offset", `${formatDuration(clock.offsetMs)} (${clock.offsetMs} ms)`],
    ["controllable", String(clock.controllable)],
  ];
  if (clock.tick) {
    rows.push(
      ["jobs changed", String(clock.tick.changed)],
      ["jobs purged", String(clock.tick.purged)],
    );
  }
  return table(["FIELD", "VALUE"], rows);
}
