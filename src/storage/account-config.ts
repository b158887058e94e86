/**
 * Checks of the `storageAccounts` configuration, kept apart from the registry so that
 * loading the configuration does not load the Blob SDK.
 */
import type { StorageAccountConfig } from "../domain/storage-accounts.ts";
import { ConnectionStringError, parseConnectionString } from "./connection-string.ts";

/** Azure's rule for storage account names. */
export const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;

/**
 * Why a configured account cannot be used, or undefined when it can. `embedded` says
 * whether a name-only entry has the embedded Azurite to be served by.
 */
export function storageAccountConfigProblem(
  a: StorageAccountConfig,
  embedded: boolean,
): string | undefined {
  if (typeof a?.name !== "string" || !ACCOUNT_NAME.test(a.name)) {
    return `'${String(a?.name)}' is not a storage account name (3–24 lower-case letters and digits)`;
  }
  for (const k of ["subscriptionId", "resourceGroup"] as const) {
    const v = a[k];
    if (v !== undefined && (typeof v !== "string" || !/^[-\w._()]{1,90}$/.test(v))) {
      return `${a.name}: ${k} '${String(v)}' is not a ${k === "subscriptionId" ? "subscription id" : "resource group name"}`;
    }
  }
  const credentials = (["accountKey", "sasToken", "connectionString"] as const).filter(
    (k) => a[k] !== undefined,
  );
  for (const k of credentials) {
    if (typeof a[k] !== "string" || a[k] === "")
      return `${a.name}: ${k} must be a non-empty string`;
  }
  if (a.blobEndpoint !== undefined && !isHttpUrl(a.blobEndpoint)) {
    return `${a.name}: blobEndpoint '${String(a.blobEndpoint)}' is not an http(s) URL`;
  }
  if (credentials.length === 0) {
    if (a.blobEndpoint === undefined && embedded) return undefined;
    return (
      `${a.name}: give exactly one credential (accountKey, sasToken or connectionString)` +
      (embedded ? "" : ", or turn the embedded Azurite on to serve it there")
    );
  }
  if (credentials.length > 1) {
    return `${a.name}: give exactly one credential, not ${credentials.join(" and ")}`;
  }
  if (a.connectionString !== undefined) {
    try {
      parseConnectionString(a.connectionString);
    } catch (e) {
      if (e instanceof ConnectionStringError) return `${a.name}: connectionString: ${e.message}`;
      throw e;
    }
  }
  return undefined;
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== "string") return false;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
