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

// ---------------------------------------------------------------------------------------
// Drives from `drivebay drive prepare --output json` (issue 13 item 15)

/** A refusal of the pasted JSON: what is wrong and what to paste instead. */
export class PreparedJsonError extends Error {
  readonly code = "InvalidPreparedDrives";
  readonly field = "preparedJson";
  readonly status = 400;
}

/**
 * The JSON values in `text`, one after another: what one or several runs of
 * `drive prepare --output json` print (an object each), or a JSON array of them.
 */
function jsonValues(text: string): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s|,/.test(text[i]!)) i++;
    if (i >= n) break;
    const start = i;
    const open = text[i];
    if (open !== "{" && open !== "[") {
      throw new PreparedJsonError(
        `The pasted text is not JSON: expected '{' or '[' at character ${i + 1}, found '${text.slice(i, i + 12)}'. Paste what 'drivebay drive prepare --output json' printed (one object per drive).`,
      );
    }
    let depth = 0;
    let inString = false;
    for (; i < n; i++) {
      const c = text[i]!;
      if (inString) {
        if (c === "\\") i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") {
        depth--;
        if (depth === 0) break;
      }
    }
    if (depth !== 0 || i >= n) {
      throw new PreparedJsonError(
        "The pasted JSON ends before its last object is closed: paste the whole output of 'drivebay drive prepare --output json'.",
      );
    }
    i++;
    try {
      out.push(JSON.parse(text.slice(start, i)));
    } catch (e) {
      throw new PreparedJsonError(
        `The pasted JSON is not valid (${(e as Error).message}). Paste what 'drivebay drive prepare --output json' printed, unchanged.`,
      );
    }
  }
  return out;
}

const PREPARED_FIELDS = DRIVE_FIELDS.map(([f]) => f);

/**
 * The drive-list entries in `text` (objects with `driveId` and the manifest fields; an
 * array, a `driveList` array, or several objects one after another).
 */
export function preparedDrives(text: string): Record<string, string>[] {
  const values = jsonValues(text).flatMap((v) =>
    Array.isArray(v)
      ? v
      : v && typeof v === "object" && Array.isArray((v as { driveList?: unknown }).driveList)
        ? (v as { driveList: unknown[] }).driveList
        : [v],
  );
  if (values.length === 0) {
    throw new PreparedJsonError(
      "Nothing was pasted: paste what 'drivebay drive prepare --output json' printed.",
    );
  }
  return values.map((v, i) => {
    if (!v || typeof v !== "object" || Array.isArray(v)) {
      throw new PreparedJsonError(`Drive ${i + 1} of the pasted JSON is not an object.`);
    }
    const o = v as Record<string, unknown>;
    if (typeof o.driveId !== "string" || o.driveId.trim() === "") {
      throw new PreparedJsonError(
        `Drive ${i + 1} of the pasted JSON has no 'driveId': is it the output of 'drivebay drive prepare --output json'?`,
      );
    }
    const entry: Record<string, string> = {};
    for (const f of PREPARED_FIELDS) {
      const value = o[f];
      if (value === undefined || value === null) continue;
      if (typeof value !== "string") {
        throw new PreparedJsonError(`'${f}' of drive '${o.driveId}' must be a string.`);
      }
      entry[f] = value;
    }
    return entry;
  });
}

/**
 * The wizard's values with the pasted drives in its drive rows: a drive already in a row
 * (same id, any case) is updated there, others take the first rows without a drive id. Nothing typed is
 * lost; the pasted text is cleared once it is in the rows. Throws PreparedJsonError.
 */
export function withPreparedDrives(values: Form): Form {
  const drives = preparedDrives(values.preparedJson ?? "");
  const out: Form = { ...values, preparedJson: "" };
  let rows = driveRows(values);
  const rowOf = (driveId: string) => {
    for (let i = 0; i < rows; i++) {
      if (trimmed(out, `drive-${i}-driveId`).toLowerCase() === driveId.trim().toLowerCase())
        return i;
    }
    // A row without a drive id takes it (a BitLocker key typed there first is kept).
    for (let i = 0; i < rows; i++) if (trimmed(out, `drive-${i}-driveId`) === "") return i;
    return rows < MAX_DRIVE_ROWS ? rows++ : -1;
  };
  for (const d of drives) {
    const i = rowOf(d.driveId!);
    if (i < 0) {
      throw new PreparedJsonError(
        `A job holds at most ${MAX_DRIVE_ROWS} drives; with the pasted ones this one would hold more. Paste fewer drives.`,
      );
    }
    for (const f of PREPARED_FIELDS) if (d[f] !== undefined) out[`drive-${i}-${f}`] = d[f];
  }
  out.driveRows = String(rows);
  return out;
}
