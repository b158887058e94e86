/** Export drives the simulated datacenter (autopilot) brings for a job. */
import { MAX_DRIVES_PER_JOB } from "../job/lifecycle.ts";
import type { Job } from "../job/model.ts";

/**
 * The ids of the empty drives the autopilot receives for an export job: as many as the
 * customer's `deliveryPackage.driveCount` (at least 1, at most 10), named after the job's
 * uid (`EX-<12 hex>-<n>`), so the same job always gets the same ids and folder names.
 */
export function autopilotExportDriveIds(job: Pick<Job, "uid" | "deliveryPackage">): string[] {
  const count = Math.min(MAX_DRIVES_PER_JOB, Math.max(1, job.deliveryPackage?.driveCount ?? 1));
  const tag = job.uid
    .replace(/[^0-9a-fA-F]/g, "")
    .slice(-12)
    .toUpperCase();
  return Array.from({ length: count }, (_, i) => `EX-${tag}-${i + 1}`);
}
