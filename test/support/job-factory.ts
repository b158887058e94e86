/** One way to make a Job for the tests that talk to the domain or the store directly. */
import { randomUUID } from "node:crypto";
import { DEFAULT_TIMERS, initialDeadline, type Timers } from "../../src/domain/job/lifecycle.ts";
import type { Job } from "../../src/domain/job/model.ts";

let serial = 0;

/** A valid import job in Creating at `at` (its deadline set from `timers`), with `over` applied. */
export function sampleJob(
  over: Partial<Job> = {},
  options: { at?: Date; timers?: Timers } = {},
): Job {
  serial++;
  const iso = (options.at ?? new Date("2026-01-01T00:00:00.000Z")).toISOString();
  return initialDeadline(
    {
      uid: randomUUID(),
      subscriptionId: "sub",
      resourceGroup: "rg",
      name: `job-${serial}`,
      location: "westus",
      tags: {},
      jobType: "Import",
      storageAccountId:
        "/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/acct",
      shippingInformation: {},
      diagnosticsPath: "waimportexport",
      logLevel: "Error",
      backupDriveManifest: false,
      state: "Creating",
      cancelRequested: false,
      driveList: [{ driveId: "D1", bitLockerKey: "k", manifestFile: "\\m", state: "Specified" }],
      encryptionKey: { kekType: "MicrosoftManaged" },
      identity: { type: "None" },
      systemData: {
        createdBy: "a",
        createdByType: "User",
        createdAt: iso,
        lastModifiedBy: "a",
        lastModifiedByType: "User",
        lastModifiedAt: iso,
      },
      stateEnteredAt: iso,
      lastCustomerUpdateAt: iso,
      version: 1,
      ...over,
    },
    options.timers ?? DEFAULT_TIMERS,
  );
}
