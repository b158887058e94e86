/**
 * Azure Storage connection strings (`Key=Value;Key=Value`), read and written the way the
 * Azure SDKs and tools read them. Only what a Blob endpoint needs is kept.
 */

/** The well-known Azurite development account (public, documented by Microsoft). */
export const DEVSTORE_ACCOUNT = "devstoreaccount1";
export const DEVSTORE_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface BlobConnection {
  /** The Blob service URL, without a trailing slash. */
  blobEndpoint: string;
  /** The account name a shared key signs with (absent for SAS). */
  accountName?: string;
  accountKey?: string;
  /** A SAS token without the leading `?`. */
  sasToken?: string;
}

export class ConnectionStringError extends Error {}

function trimSlashes(url: string): string {
  return url.replace(/\/+$/, "");
}

/** Parses a connection string; throws ConnectionStringError naming what is missing. */
export function parseConnectionString(text: string): BlobConnection {
  const fields = new Map<string, string>();
  for (const part of text.split(";")) {
    const trimmed = part.trim();
    if (trimmed === "") continue;
    const eq = trimmed.indexOf("=");
    if (eq <= 0) throw new ConnectionStringError(`'${trimmed.split("=")[0]}' has no value`);
    // Values (keys, SAS tokens) may contain '='; only the first one separates.
    fields.set(trimmed.slice(0, eq).toLowerCase(), trimmed.slice(eq + 1));
  }
  if (fields.get("usedevelopmentstorage")?.toLowerCase() === "true") {
    const proxy = fields.get("developmentstorageproxyuri") ?? "http://127.0.0.1:10000";
    return {
      blobEndpoint: `${trimSlashes(proxy)}/${DEVSTORE_ACCOUNT}`,
      accountName: DEVSTORE_ACCOUNT,
      accountKey: DEVSTORE_KEY,
    };
  }
  const accountName = fields.get("accountname");
  const accountKey = fields.get("accountkey");
  const sasToken = fields.get("sharedaccesssignature")?.replace(/^\?/, "");
  let blobEndpoint = fields.get("blobendpoint");
  if (blobEndpoint === undefined) {
    if (accountName === undefined) {
      throw new ConnectionStringError("it needs BlobEndpoint, or AccountName with EndpointSuffix");
    }
    const protocol = fields.get("defaultendpointsprotocol") ?? "https";
    const suffix = fields.get("endpointsuffix") ?? "core.windows.net";
    blobEndpoint = `${protocol}://${accountName}.blob.${suffix}`;
  }
  if (accountKey !== undefined && sasToken !== undefined) {
    throw new ConnectionStringError("it has both AccountKey and SharedAccessSignature");
  }
  if (accountKey !== undefined && accountName === undefined) {
    throw new ConnectionStringError("AccountKey needs AccountName");
  }
  if (accountKey === undefined && sasToken === undefined) {
    throw new ConnectionStringError("it has neither AccountKey nor SharedAccessSignature");
  }
  return {
    blobEndpoint: trimSlashes(blobEndpoint),
    ...(accountName !== undefined ? { accountName } : {}),
    ...(accountKey !== undefined ? { accountKey } : {}),
    ...(sasToken !== undefined ? { sasToken } : {}),
  };
}

/** The connection string the SDKs (`BlobServiceClient.fromConnectionString`) and tools accept. */
export function formatConnectionString(c: BlobConnection): string {
  if (c.accountKey !== undefined && c.accountName !== undefined) {
    const protocol = new URL(c.blobEndpoint).protocol.replace(":", "");
    return (
      `DefaultEndpointsProtocol=${protocol};AccountName=${c.accountName};` +
      `AccountKey=${c.accountKey};BlobEndpoint=${c.blobEndpoint};`
    );
  }
  return `BlobEndpoint=${c.blobEndpoint};SharedAccessSignature=${c.sasToken ?? ""}`;
}
