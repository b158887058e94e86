/**
 * The customer's and the datacenter's first steps with a package, as most tests that move a
 * job past Shipping take them: the customer marks the job shipped (return address, return
 * shipping and the package's tracking number, through the ARM API), and an operator receives
 * the package with its drives (through the operator API).
 */
import assert from "node:assert/strict";
import type { StorageImportExport } from "@azure/arm-storageimportexport";
import { returnAddress, returnShipping } from "../api/fixtures.ts";
import type { OperatorResponse } from "./server.ts";

export interface Package {
  trackingNumber: string;
  /** Export jobs: how many drives the customer sends. */
  driveCount?: number;
}

/** A call to the operator API, answered with its status and body (TestServer.operator). */
export type OperatorCall = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<OperatorResponse>;

/** The customer ships the job: Shipping, with FedEx and the package's tracking number. */
export async function ship(
  client: StorageImportExport,
  resourceGroup: string,
  name: string,
  pkg: Package,
): Promise<void> {
  await client.jobs.update(name, resourceGroup, {
    returnAddress,
    returnShipping,
    deliveryPackage: { carrierName: "FedEx", ...pkg },
    state: "Shipping",
  });
}

/**
 * The job shipped, then its package received with `driveIds`, which must succeed; the
 * receive's answer (the operator's view of the job).
 */
export async function shipAndReceive(
  client: StorageImportExport,
  operator: OperatorCall,
  resourceGroup: string,
  name: string,
  pkg: Package & { driveIds: readonly string[] },
): Promise<OperatorResponse["body"]> {
  const { driveIds, ...shipped } = pkg;
  await ship(client, resourceGroup, name, shipped);
  const received = await operator("POST", "/packages/receive", {
    trackingNumber: pkg.trackingNumber,
    driveIds,
  });
  assert.equal(received.status, 200, JSON.stringify(received.body));
  return received.body;
}
