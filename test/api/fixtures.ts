import type { PutJobParameters, UpdateJobParameters } from "@azure/arm-storageimportexport";
import type { RestError } from "@azure/core-rest-pipeline";
import assert from "node:assert/strict";

export const API_VERSIONS = ["2016-11-01", "2020-08-01", "2021-01-01"] as const;

export const STORAGE =
  "/subscriptions/8a1b2c3d-0000-4000-8000-000000000001/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/drivebaydata";

export const returnAddress = {
  recipientName: "Ada Lovelace",
  streetAddress1: "1 Analytical Way",
  city: "London",
  postalCode: "N1 9GU",
  countryOrRegion: "United Kingdom",
  phone: "+44 20 0000 0000",
  email: "ada@example.com",
};
export const returnShipping = { carrierName: "FedEx", carrierAccountNumber: "123456789" };
export const deliveryPackage = {
  carrierName: "FedEx",
  trackingNumber: "794612345678",
  driveCount: 2,
  shipDate: "2026-11-20",
};

export function importJob(
  over: Partial<NonNullable<PutJobParameters["properties"]>> = {},
  location = "West US",
): PutJobParameters {
  return {
    location,
    properties: {
      storageAccountId: STORAGE,
      jobType: "Import",
      driveList: [
        {
          driveId: "WD-WCC4N1234567",
          bitLockerKey: "111111-222222-333333-444444-555555-666666-777777-888888",
          manifestFile: "\\DriveManifest.xml",
          manifestHash: "A1B2C3D4E5F60718293A4B5C6D7E8F90",
          driveHeaderHash: "",
        },
        {
          driveId: "WD-WCC4N7654321",
          bitLockerKey: "999999-888888-777777-666666-555555-444444-333333-222222",
          manifestFile: "\\DriveManifest.xml",
          manifestHash: "0F1E2D3C4B5A69788796A5B4C3D2E1F0",
        },
      ],
      ...over,
    },
  };
}

export function exportJob(
  over: Partial<NonNullable<PutJobParameters["properties"]>> = {},
): PutJobParameters {
  return {
    location: "eastus",
    properties: {
      storageAccountId: STORAGE,
      jobType: "Export",
      export: { blobPathPrefix: ["/photos/2026/"], blobPath: ["/docs/readme.txt"] },
      ...over,
    },
  };
}

export const shippable: UpdateJobParameters = { returnAddress, returnShipping, deliveryPackage };

/** Awaits a call that must fail with an ARM error; returns it for further checks. */
export async function rejectsWith(
  call: Promise<unknown>,
  status: number,
  code: string,
): Promise<RestError> {
  try {
    await call;
  } catch (e) {
    const err = e as RestError;
    assert.equal(
      err.statusCode,
      status,
      `expected ${status} ${code}, got ${err.statusCode} ${err.code}: ${err.message}`,
    );
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    assert.ok(err.message && err.message.length > 10, "the error message says what to do");
    return err;
  }
  assert.fail(`expected ${status} ${code}, but the call succeeded`);
}
