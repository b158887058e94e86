/**
 * Drive logs in the classic `DriveLog` XML format (reference/domain.md §5.3–5.4): the
 * error log lists the blobs that did not simply complete, the verbose log every blob.
 */
import { escapeXml } from "./xml-files.ts";

export type BlobStatus =
  | "Completed"
  | "CompletedWithErrors"
  | "FileNameInvalid"
  | "FileNotFound"
  | "FileAccessDenied"
  | "BlobRequestFailed"
  | "IOFailed"
  | "Failed"
  | "Cancelled";

export type DispositionStatus = "Created" | "Renamed" | "Skipped" | "Overwritten" | "Cancelled";

/** Block / page range status, and metadata / properties status. */
export type PartStatus =
  | "Completed"
  | "Corrupted"
  | "FileUnexpectedEnd"
  | "FileNotFound"
  | "XmlReadFailed"
  | "BlobRequestFailed"
  | "IOFailed"
  | "Cancelled";

export interface BlobLogEntry {
  status: BlobStatus;
  blobPath: string;
  filePath: string;
  length: number;
  disposition?: { requested: string; status: DispositionStatus };
  /** The first range that failed, if one did. */
  failedRange?: { offset: number; length: number; status: PartStatus };
  metadata?: { path: string; status: PartStatus };
  properties?: { path: string; status: PartStatus };
  message?: string;
}

export type DriveStatus =
  | "Completed"
  | "CompletedWithWarnings"
  | "CompletedWithErrors"
  | "ManifestNotFound"
  | "ManifestCorrupted"
  | "ManifestFormatInvalid"
  | "ManifestDriveIdMismatch"
  | "ReadManifestFailed"
  | "BlobListFormatInvalid"
  | "BlobRequestForbidden"
  | "DiskNotFound"
  | "InternalError";

/** A blob entry goes to the error log when it failed, or its disposition was anything but Created. */
export function needsAttention(e: BlobLogEntry): boolean {
  return (
    e.status !== "Completed" || (e.disposition !== undefined && e.disposition.status !== "Created")
  );
}

function blobXml(e: BlobLogEntry): string {
  const parts = [
    `    <BlobPath>${escapeXml(e.blobPath)}</BlobPath>`,
    `    <FilePath>${escapeXml(e.filePath)}</FilePath>`,
    `    <Length>${e.length}</Length>`,
  ];
  if (e.disposition) {
    parts.push(
      `    <ImportDisposition Status="${e.disposition.status}">${escapeXml(e.disposition.requested)}</ImportDisposition>`,
    );
  }
  if (e.failedRange) {
    parts.push(
      `    <BlockList><Block Offset="${e.failedRange.offset}" Length="${e.failedRange.length}" Status="${e.failedRange.status}"/></BlockList>`,
    );
  }
  if (e.metadata)
    parts.push(
      `    <Metadata Status="${e.metadata.status}"><Path>${escapeXml(e.metadata.path)}</Path></Metadata>`,
    );
  if (e.properties)
    parts.push(
      `    <Properties Status="${e.properties.status}"><Path>${escapeXml(e.properties.path)}</Path></Properties>`,
    );
  if (e.message) parts.push(`    <Message>${escapeXml(e.message)}</Message>`);
  return `  <Blob Status="${e.status}">\n${parts.join("\n")}\n  </Blob>`;
}

export function driveLogXml(
  driveId: string,
  status: DriveStatus,
  entries: readonly BlobLogEntry[],
  message?: string,
): string {
  return [
    `<?xml version="1.0" encoding="utf-8"?>`,
    `<DriveLog Version="2014-11-01">`,
    `  <DriveId>${escapeXml(driveId)}</DriveId>`,
    ...entries.map(blobXml),
    ...(message ? [`  <Message>${escapeXml(message)}</Message>`] : []),
    `  <Status>${status}</Status>`,
    `</DriveLog>`,
    "",
  ].join("\n");
}

/** `waies/<job>_<drive>_<yyyyMMdd-HHmmss-SSS>_<type>.xml` (reference/domain.md §5.2). */
export function logBlobName(
  jobName: string,
  driveId: string,
  at: Date,
  type: "error" | "verbose" | "manifest",
): string {
  const iso = at.toISOString();
  const stamp = `${iso.slice(0, 10).replace(/-/g, "")}-${iso.slice(11, 19).replace(/:/g, "")}-${iso.slice(20, 23)}`;
  return `waies/${jobName}_${driveId}_${stamp}_${type}.xml`;
}

/** The rename rule: `name (2).ext`, `name (3).ext`, …; `name (2)` when there is no dot. */
export function renamed(blobName: string, n: number): string {
  const slash = blobName.lastIndexOf("/");
  const dir = blobName.slice(0, slash + 1);
  const base = blobName.slice(slash + 1);
  const dot = base.lastIndexOf(".");
  if (dot <= 0) return `${dir}${base} (${n})`;
  return `${dir}${base.slice(0, dot)} (${n})${base.slice(dot)}`;
}
