/** The wire shapes of PutJobParameters and UpdateJobParameters (identical in all api-versions). */
import { DRIVE_STATES, JOB_TYPES, LOG_LEVELS } from "../../domain/job/model.ts";
import type { Drive } from "../../domain/job/model.ts";
import type { JobChanges } from "../../domain/job/lifecycle.ts";
import type { JobInput } from "../../service/job-service.ts";
import { parseJobStateChange } from "../../domain/job/state-names.ts";
import { arr, bool, check, int, map, obj, str } from "./schema.ts";

const returnAddress = obj(
  {
    recipientName: str({ maxLength: 256 }),
    streetAddress1: str({ maxLength: 256 }),
    streetAddress2: str({ maxLength: 256 }),
    city: str({ maxLength: 256 }),
    stateOrProvince: str({ maxLength: 256 }),
    postalCode: str({ maxLength: 64 }),
    countryOrRegion: str({ maxLength: 256 }),
    phone: str({ maxLength: 64 }),
    email: str({ maxLength: 256 }),
  },
  {
    required: [
      "recipientName",
      "streetAddress1",
      "city",
      "postalCode",
      "countryOrRegion",
      "phone",
      "email",
    ],
  },
);

const returnShipping = obj(
  { carrierName: str({ maxLength: 256 }), carrierAccountNumber: str({ maxLength: 256 }) },
  { required: ["carrierName", "carrierAccountNumber"] },
);

const deliveryPackage = obj(
  {
    carrierName: str({ maxLength: 256 }),
    trackingNumber: str({ maxLength: 256 }),
    driveCount: int(0, 10),
    shipDate: str({ maxLength: 64 }),
  },
  { required: ["carrierName", "trackingNumber"] },
);

const shippingInformation = obj({
  recipientName: str(),
  streetAddress1: str(),
  streetAddress2: str(),
  city: str(),
  stateOrProvince: str(),
  postalCode: str(),
  countryOrRegion: str(),
  phone: str(),
  additionalInformation: str(),
});

const driveStatus = obj(
  {
    driveId: str({ maxLength: 128 }),
    bitLockerKey: str({ maxLength: 256 }),
    manifestFile: str({ maxLength: 1024 }),
    manifestHash: str({ maxLength: 256 }),
    driveHeaderHash: str({ maxLength: 4096 }),
    // Read-only: type-checked (so a wrong enum is a clear error) and then dropped.
    state: str({ enum: DRIVE_STATES }),
  },
  {
    ignored: [
      "copyStatus",
      "percentComplete",
      "verboseLogUri",
      "errorLogUri",
      "manifestUri",
      "bytesSucceeded",
    ],
  },
);

const exportSpec = obj({
  blobList: obj({
    blobPath: arr(str({ maxLength: 1024 }), 10_000),
    blobPathPrefix: arr(str({ maxLength: 1024 }), 10_000),
  }),
  blobListBlobPath: str({ maxLength: 1024 }),
});

const encryptionKey = obj({
  kekType: str({ enum: ["MicrosoftManaged", "CustomerManaged"] }),
  kekUrl: str(),
  kekVaultResourceID: str(),
});

const tags = map(str({ maxLength: 100_000 }));

const jobDetails = obj(
  {
    storageAccountId: str({ maxLength: 1024 }),
    jobType: str({ enum: JOB_TYPES }),
    returnAddress,
    returnShipping,
    deliveryPackage,
    diagnosticsPath: str({ maxLength: 1024 }),
    logLevel: str({ enum: LOG_LEVELS }),
    backupDriveManifest: bool(),
    driveList: arr(driveStatus, 100),
    export: exportSpec,
    encryptionKey,
    shippingInformation,
  },
  {
    required: ["storageAccountId"],
    ignored: [
      "state",
      "cancelRequested",
      "percentComplete",
      "incompleteBlobListUri",
      "provisioningState",
      "returnPackage",
    ],
  },
);

const putJobParameters = obj(
  {
    location: str({ maxLength: 256 }),
    tags,
    properties: jobDetails,
    identity: obj(
      { type: str({ enum: ["None", "SystemAssigned", "UserAssigned"] }) },
      { ignored: ["principalId", "tenantId"] },
    ),
  },
  { required: ["location", "properties"], ignored: ["id", "name", "type", "systemData"] },
);

const updateJobParameters = obj(
  {
    tags,
    properties: obj({
      cancelRequested: bool(),
      state: str({ maxLength: 64 }),
      returnAddress,
      returnShipping,
      deliveryPackage,
      logLevel: str({ enum: LOG_LEVELS }),
      backupDriveManifest: bool(),
      driveList: arr(driveStatus, 100),
    }),
  },
  { ignored: ["id", "name", "type", "systemData", "location"] },
);

function dropDriveState(d: Record<string, unknown>): Omit<Drive, "state"> {
  const { state: _s, ...rest } = d;
  return rest as unknown as Omit<Drive, "state">;
}

export function parsePutJob(body: unknown): JobInput {
  const b = check(putJobParameters, body, "") as {
    location: string;
    tags?: Record<string, string>;
    properties: Record<string, unknown>;
  };
  const p = b.properties;
  const { shippingInformation: _ignored, driveList, ...rest } = p;
  return {
    location: b.location,
    tags: b.tags,
    ...(rest as Omit<JobInput, "location" | "tags">),
    driveList: (driveList as Record<string, unknown>[] | undefined)?.map(dropDriveState),
  };
}

export interface UpdateInput {
  tags?: Record<string, string>;
  changes: Omit<JobChanges, "tags" | "driveList" | "exportDriveKeys"> & {
    driveList?: Omit<Drive, "state">[];
  };
}

export function parseUpdateJob(body: unknown): UpdateInput {
  const b = check(updateJobParameters, body, "") as {
    tags?: Record<string, string>;
    properties?: Record<string, unknown>;
  };
  const p = (b.properties ?? {}) as UpdateInput["changes"] & {
    driveList?: Record<string, unknown>[];
  };
  if (p.state !== undefined) p.state = parseJobStateChange(p.state);
  return {
    tags: b.tags,
    changes: { ...p, driveList: p.driveList?.map(dropDriveState) },
  };
}
