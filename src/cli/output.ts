/**
 * How the CLI prints: plain aligned tables for people, JSON for scripts. Results go to
 * `out` (stdout); diagnostics, banners and errors go to `err` (stderr), so
 * `--output json | jq` always sees only the result.
 */
import type { DriveBitLockerKey, JobResponse } from "@azure/arm-storageimportexport";

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

function text(value: unknown): string {
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
function resourceGroupOf(id: string | undefined): string {
  return /\/resourceGroups\/([^/]+)\//i.exec(id ?? "")?.[1] ?? "-";
}

export function jobTable(jobs: readonly JobResponse[]): string {
  if (jobs.length === 0) return "no jobs\n";
  return table(
    ["NAME", "RESOURCE GROUP", "TYPE", "STATE", "CANCEL REQUESTED", "LOCATION", "DRIVES"],
    jobs.map((j) => [
      j.name ?? "-",
      resourceGroupOf(j.id),
      text(j.properties?.jobType),
      text(j.properties?.state),
      text(j.properties?.cancelRequested),
      text(j.location),
      // The list operations do not return driveList (as in Azure): "-" there.
      j.properties?.driveList ? String(j.properties.driveList.length) : "-",
    ]),
  );
}

export function jobDetails(job: JobResponse): string {
  const p = job.properties ?? {};
  const rows: [string, unknown][] = [
    ["name", job.name],
    ["id", job.id],
    ["resourceGroup", resourceGroupOf(job.id)],
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

export function historyTable(entries: readonly HistoryEntry[]): string {
  return table(
    ["AT", "ACTOR", "EVENT", "FROM", "TO", "REASON"],
    entries.map((e) => [e.at, e.actor, e.event, text(e.from), text(e.to), e.reason]),
  );
}
