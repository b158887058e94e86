/**
 * Form fields ↔ the API's request bodies. The portal turns a form into the same JSON a
 * client would send and hands it to the API's own parsers (`parsePutJob`,
 * `parseUpdateJob`) and then to the service, so every validation message is the API's.
 * Blank fields are left out, exactly as a client would leave them out.
 */
import type { JobType } from "../domain/job/model.ts";
import type { Form } from "./http.ts";

export const MAX_DRIVE_ROWS = 10;

export const RETURN_ADDRESS_FIELDS = [
  ["recipientName", "Recipient name", "name"],
  ["streetAddress1", "Street address", "address-line1"],
  ["streetAddress2", "Street address, line 2 (optional)", "address-line2"],
  ["city", "City", "address-level2"],
  ["stateOrProvince", "State or province (optional)", "address-level1"],
  ["postalCode", "Postal code", "postal-code"],
  ["countryOrRegion", "Country or region", "country-name"],
  ["phone", "Phone", "tel"],
  ["email", "Email", "email"],
] as const;

export const RETURN_SHIPPING_FIELDS = [
  ["carrierName", "Carrier"],
  ["carrierAccountNumber", "Carrier account number"],
] as const;

export const DELIVERY_PACKAGE_FIELDS = [
  ["carrierName", "Carrier"],
  ["trackingNumber", "Tracking number"],
  ["driveCount", "Number of drives in the package (optional)"],
  ["shipDate", "Ship date (optional)"],
] as const;

export const DRIVE_FIELDS = [
  ["driveId", "Drive ID (serial number)"],
  ["bitLockerKey", "BitLocker key"],
  ["manifestFile", "Manifest file"],
  ["manifestHash", "Manifest hash"],
  ["driveHeaderHash", "Drive header hash (optional)"],
] as const;

/** The create wizard's fields, as typed (kept to show the form again after an error). */
export type WizardValues = Form;

function trimmed(f: Form, name: string): string {
  return (f[name] ?? "").trim();
}

/** The object of `prefix-<field>` values that are not blank; undefined when all are blank. */
function group(f: Form, prefix: string, fields: readonly (readonly [string, ...string[]])[]) {
  const out: Record<string, unknown> = {};
  for (const [name] of fields) {
    const v = trimmed(f, `${prefix}-${name}`);
    if (v !== "") out[name] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
}

/** How many drive rows the wizard shows (at least one, at most ten). */
export function driveRows(f: Form): number {
  const n = Number(f.driveRows ?? 1);
  return Number.isInteger(n) ? Math.min(MAX_DRIVE_ROWS, Math.max(1, n)) : 1;
}

/** `name=value` per line (a line without '=' is a tag with an empty value). */
export function parseTagLines(text: string): Record<string, string> | undefined {
  const tags: Record<string, string> = {};
  for (const l of lines(text)) {
    const i = l.indexOf("=");
    const name = (i < 0 ? l : l.slice(0, i)).trim();
    const value = i < 0 ? "" : l.slice(i + 1).trim();
    Object.defineProperty(tags, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return Object.keys(tags).length > 0 ? tags : undefined;
}

export function tagLines(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
}

export interface PutBody {
  body: Record<string, unknown>;
  /** For each drive in the body, the wizard row it came from (error targets name the body's index). */
  driveRowOf: number[];
}

/** The Jobs_Create body the wizard's form stands for. */
export function putBodyOf(
  f: Form,
  jobType: JobType,
  scope: { subscriptionId: string; resourceGroup: string },
): PutBody {
  const properties: Record<string, unknown> = { jobType };
  const account = trimmed(f, "storageAccount");
  if (account !== "") {
    properties.storageAccountId = account.startsWith("/")
      ? account
      : `/subscriptions/${scope.subscriptionId}/resourceGroups/${scope.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${account}`;
  }
  const driveRowOf: number[] = [];
  if (jobType === "Import") {
    const drives: Record<string, unknown>[] = [];
    for (let i = 0; i < driveRows(f); i++) {
      const d = group(f, `drive-${i}`, DRIVE_FIELDS);
      if (!d) continue;
      drives.push(d);
      driveRowOf.push(i);
    }
    properties.driveList = drives;
  } else {
    const blobPath = lines(f.blobPaths ?? "");
    const blobPathPrefix = lines(f.blobPathPrefixes ?? "");
    const listBlob = trimmed(f, "blobListBlobPath");
    if (blobPath.length > 0 || blobPathPrefix.length > 0 || listBlob !== "") {
      properties.export = {
        ...(blobPath.length > 0 || blobPathPrefix.length > 0
          ? {
              blobList: {
                ...(blobPath.length > 0 ? { blobPath } : {}),
                ...(blobPathPrefix.length > 0 ? { blobPathPrefix } : {}),
              },
            }
          : {}),
        ...(listBlob !== "" ? { blobListBlobPath: listBlob } : {}),
      };
    }
  }
  const returnAddress = group(f, "returnAddress", RETURN_ADDRESS_FIELDS);
  if (returnAddress) properties.returnAddress = returnAddress;
  const returnShipping = group(f, "returnShipping", RETURN_SHIPPING_FIELDS);
  if (returnShipping) properties.returnShipping = returnShipping;
  if (trimmed(f, "logLevel") !== "") properties.logLevel = trimmed(f, "logLevel");
  if (trimmed(f, "diagnosticsPath") !== "")
    properties.diagnosticsPath = trimmed(f, "diagnosticsPath");
  properties.backupDriveManifest = f.backupDriveManifest === "on";
  const body: Record<string, unknown> = { properties };
  if (trimmed(f, "location") !== "") body.location = trimmed(f, "location");
  const tags = parseTagLines(f.tags ?? "");
  if (tags) body.tags = tags;
  return { body, driveRowOf };
}

/** The Jobs_Update body of "mark as shipped": the package, and the return details if given. */
export function shipBodyOf(f: Form): Record<string, unknown> {
  const properties: Record<string, unknown> = { state: "Shipping" };
  const pkg = group(f, "deliveryPackage", DELIVERY_PACKAGE_FIELDS);
  if (pkg) {
    // A whole number becomes a number; anything else goes as typed, for the API's own message.
    if (typeof pkg.driveCount === "string" && /^\d{1,9}$/.test(pkg.driveCount))
      pkg.driveCount = Number(pkg.driveCount);
    properties.deliveryPackage = pkg;
  }
  const returnAddress = group(f, "returnAddress", RETURN_ADDRESS_FIELDS);
  if (returnAddress) properties.returnAddress = returnAddress;
  const returnShipping = group(f, "returnShipping", RETURN_SHIPPING_FIELDS);
  if (returnShipping) properties.returnShipping = returnShipping;
  return { properties };
}

/** The form field an API error's `target` points at (for the inline message and the link). */
export function fieldOfTarget(
  target: string | undefined,
  driveRowOf: number[] = [],
): string | undefined {
  if (!target) return undefined;
  if (target === "jobName") return "name";
  if (target === "location") return "location";
  if (target === "properties.storageAccountId") return "storageAccount";
  if (target.startsWith("tags")) return "tags";
  let m = /^properties\.driveList\[(\d+)\](?:\.(\w+))?/.exec(target);
  if (m) return `drive-${driveRowOf[Number(m[1])] ?? Number(m[1])}-${m[2] ?? "driveId"}`;
  if (target === "properties.driveList") return "drive-0-driveId";
  m = /^properties\.(returnAddress|returnShipping|deliveryPackage)(?:\.(\w+))?/.exec(target);
  if (m) {
    const first = {
      returnAddress: RETURN_ADDRESS_FIELDS[0][0],
      returnShipping: RETURN_SHIPPING_FIELDS[0][0],
      deliveryPackage: DELIVERY_PACKAGE_FIELDS[0][0],
    }[m[1] as "returnAddress" | "returnShipping" | "deliveryPackage"];
    return `${m[1]}-${m[2] ?? first}`;
  }
  if (target.startsWith("properties.export.blobList.blobPathPrefix")) return "blobPathPrefixes";
  if (target.startsWith("properties.export.blobListBlobPath")) return "blobListBlobPath";
  if (target.startsWith("properties.export")) return "blobPaths";
  if (target === "properties.logLevel") return "logLevel";
  if (target === "properties.diagnosticsPath") return "diagnosticsPath";
  return undefined;
}
