/** Wire shapes of JobResponse, Location and Operation (one model for every api-version). */
import type { Drive, Job } from "../../domain/job/model.ts";
import type { LocationInfo } from "../../domain/locations.ts";

export const JOB_RESOURCE_TYPE = "Microsoft.ImportExport/jobs";

export function jobId(job: Pick<Job, "subscriptionId" | "resourceGroup" | "name">): string {
  return `/subscriptions/${job.subscriptionId}/resourceGroups/${job.resourceGroup}/providers/Microsoft.ImportExport/jobs/${job.name}`;
}

function driveStatus(d: Drive): Record<string, unknown> {
  // bitLockerKey is deliberately absent: only BitLockerKeys_List returns keys.
  const out: Record<string, unknown> = { driveId: d.driveId };
  for (const f of [
    "manifestFile",
    "manifestHash",
    "driveHeaderHash",
    "state",
    "copyStatus",
    "percentComplete",
    "verboseLogUri",
    "errorLogUri",
    "manifestUri",
    "bytesSucceeded",
  ] as const) {
    if (d[f] !== undefined) out[f] = d[f];
  }
  return out;
}

/** JobResponse. Lists omit `driveList`, as the real service does. */
export function jobResponse(job: Job, options: { withDrives: boolean }): Record<string, unknown> {
  const p: Record<string, unknown> = {
    storageAccountId: job.storageAccountId,
    jobType: job.jobType,
  };
  if (job.returnAddress) p.returnAddress = job.returnAddress;
  if (job.returnShipping) p.returnShipping = job.returnShipping;
  p.shippingInformation = job.shippingInformation;
  if (job.deliveryPackage) p.deliveryPackage = job.deliveryPackage;
  if (job.returnPackage) p.returnPackage = job.returnPackage;
  p.diagnosticsPath = job.diagnosticsPath;
  p.logLevel = job.logLevel;
  p.backupDriveManifest = job.backupDriveManifest;
  p.state = job.state;
  p.cancelRequested = job.cancelRequested;
  if (job.percentComplete !== undefined) p.percentComplete = job.percentComplete;
  if (job.incompleteBlobListUri) p.incompleteBlobListUri = job.incompleteBlobListUri;
  if (options.withDrives) p.driveList = job.driveList.map(driveStatus);
  if (job.export) p.export = job.export;
  p.provisioningState = "Succeeded";
  p.encryptionKey = job.encryptionKey;
  const body: Record<string, unknown> = {
    systemData: job.systemData,
    id: jobId(job),
    name: job.name,
    type: JOB_RESOURCE_TYPE,
    location: job.location,
  };
  if (Object.keys(job.tags).length > 0) body.tags = job.tags;
  body.properties = p;
  body.identity = job.identity;
  return body;
}

export function locationResponse(l: LocationInfo): Record<string, unknown> {
  return {
    id: `/providers/Microsoft.ImportExport/locations/${l.name}`,
    name: l.displayName,
    type: "Microsoft.ImportExport/locations",
    properties: {
      recipientName: l.recipientName,
      streetAddress1: l.streetAddress1,
      streetAddress2: l.streetAddress2,
      city: l.city,
      stateOrProvince: l.stateOrProvince,
      postalCode: l.postalCode,
      countryOrRegion: l.countryOrRegion,
      phone: l.phone,
      additionalShippingInformation: l.additionalShippingInformation,
      supportedCarriers: l.supportedCarriers,
      alternateLocations: l.alternateLocations.map(
        (a) => `/providers/Microsoft.ImportExport/locations/${a}`,
      ),
    },
  };
}

const PROVIDER = "Microsoft Import/Export";

/** Operations_List: the provider's RBAC operations, as in the official example. */
export const OPERATIONS = [
  {
    name: "Microsoft.ImportExport/locations/read",
    resource: "Locations",
    operation: "Get or List Locations",
    description: "Gets the properties for the specified location or returns the list of locations.",
  },
  {
    name: "Microsoft.ImportExport/jobs/write",
    resource: "Jobs",
    operation: "Create or Update Job",
    description:
      "Creates a job with the specified parameters or update the properties or tags for the specified job.",
  },
  {
    name: "Microsoft.ImportExport/jobs/read",
    resource: "Jobs",
    operation: "Get or List Jobs",
    description: "Gets the properties for the specified job or returns the list of jobs.",
  },
  {
    name: "Microsoft.ImportExport/jobs/listBitLockerKeys/action",
    resource: "Jobs",
    operation: "List BitLocker Keys",
    description: "Gets the BitLocker keys for the specified job.",
  },
  {
    name: "Microsoft.ImportExport/jobs/delete",
    resource: "Jobs",
    operation: "Delete Job",
    description: "Deletes an existing job.",
  },
  {
    name: "Microsoft.ImportExport/register/action",
    resource: "Import/Export Resource Provider",
    operation: "Registers the Import/Export Resource Provider",
    description:
      "Registers the subscription for the import/export resource provider and enables the creation of import/export jobs.",
  },
].map((o) => ({
  name: o.name,
  display: {
    provider: PROVIDER,
    resource: o.resource,
    operation: o.operation,
    description: o.description,
  },
}));
