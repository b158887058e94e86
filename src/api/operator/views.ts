/** The operator's view of a job: everything the datacenter needs, never BitLocker keys. */
import { allowedEvents } from "../../domain/job/lifecycle.ts";
import type { HistoryEntry, Job } from "../../domain/job/model.ts";
import { jobId } from "../arm/resources.ts";

export function operatorJob(job: Job, history?: HistoryEntry[]): Record<string, unknown> {
  return {
    id: jobId(job),
    subscriptionId: job.subscriptionId,
    resourceGroup: job.resourceGroup,
    name: job.name,
    jobType: job.jobType,
    state: job.state,
    stateEnteredAt: job.stateEnteredAt,
    cancelRequested: job.cancelRequested,
    location: job.location,
    storageAccountId: job.storageAccountId,
    deliveryPackage: job.deliveryPackage,
    returnAddress: job.returnAddress,
    returnShipping: job.returnShipping,
    returnPackage: job.returnPackage,
    faultedFrom: job.faultedFrom,
    faultReason: job.faultReason,
    drives: job.driveList.map((d) => ({
      driveId: d.driveId,
      state: d.state,
      contentPath: d.contentPath,
      copyStatus: d.copyStatus,
      percentComplete: d.percentComplete,
      bytesSucceeded: d.bytesSucceeded,
      ...(d.capacityBytes !== undefined ? { capacityBytes: d.capacityBytes } : {}),
    })),
    extraDrives: job.extraDrives ?? [],
    nextDeadline: job.dueAt ? { at: job.dueAt, event: job.dueEvent } : undefined,
    allowedActions: allowedEvents(job, "operator"),
    ...(history ? { history } : {}),
  };
}
