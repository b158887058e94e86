/**
 * PreviewExport (the WAImportExport role, reference/domain.md §4.2): for a blob list and a
 * drive size, how many drives an export needs and what goes on each — the same resolution
 * and the same planner the export itself uses, so the preview and the export agree.
 */
import type { BlobServiceClient } from "@azure/storage-blob";
import {
  blobKey,
  entryText,
  resolveEntries,
  type BlobListEntry,
  type ResolvedBlobList,
} from "./blob-list.ts";
import { planLayout, type LayoutPlan } from "./layout.ts";

export interface ExportPreview {
  driveSizeBytes: number;
  drivesNeeded: number;
  drives: { drive: number; blobs: number; dataBytes: number; usedBytes: number }[];
  entries: number;
  duplicateEntries: string[];
  unmatched: string[];
  blobs: number;
  bytes: number;
  /** Matches dropped because an earlier entry had the blob (each blob is exported once). */
  duplicateBlobs: number;
  notExportable: { blob: string; reason: string }[];
  /** Blobs larger than one drive of this size. */
  tooLarge: string[];
}

export function previewOf(
  resolved: ResolvedBlobList,
  driveSizeBytes: number,
  plan: LayoutPlan = planLayout(resolved.blobs, { driveSize: driveSizeBytes }),
): ExportPreview {
  return {
    driveSizeBytes,
    drivesNeeded: plan.drives.length,
    drives: plan.drives.map((d, i) => ({
      drive: i + 1,
      blobs: d.blobs.length,
      dataBytes: d.dataBytes,
      usedBytes: d.usedBytes,
    })),
    entries: resolved.entries.length,
    duplicateEntries: resolved.duplicateEntries.map(entryText),
    unmatched: resolved.unmatched.map(entryText),
    blobs: resolved.blobs.length,
    bytes: resolved.blobs.reduce((n, b) => n + b.length, 0),
    duplicateBlobs: resolved.duplicateBlobs,
    notExportable: resolved.notExportable.map((n) => ({ blob: blobKey(n.blob), reason: n.reason })),
    tooLarge: plan.incomplete.map(blobKey),
  };
}

export async function previewExport(
  service: BlobServiceClient,
  entries: readonly BlobListEntry[],
  driveSizeBytes: number,
): Promise<ExportPreview> {
  return previewOf(await resolveEntries(service, entries), driveSizeBytes);
}
