import { DomainError } from "./errors.ts";

/** An ARM storage account id: /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.(Classic)Storage/storageAccounts/{name}. */
const STORAGE_ACCOUNT_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.(?:ClassicStorage|Storage)\/storageAccounts\/([a-z0-9]{3,24})$/i;

/** The parts of a storage account id; the name lower-cased (Azure's names are). */
export interface StorageAccountRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export function parseStorageAccountId(storageAccountId: string): StorageAccountRef {
  const m = STORAGE_ACCOUNT_ID.exec(storageAccountId);
  if (!m) {
    throw new DomainError(
      "InvalidStorageAccountId",
      `'${storageAccountId}' is not a storage account resource id. Expected ` +
        `'/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.Storage/storageAccounts/{name}' ` +
        `with a 3–24 character lower-case alphanumeric account name.`,
      { target: "properties.storageAccountId" },
    );
  }
  return { subscriptionId: m[1]!, resourceGroup: m[2]!, name: m[3]!.toLowerCase() };
}

export function storageAccountName(storageAccountId: string): string {
  return parseStorageAccountId(storageAccountId).name;
}

/**
 * A configured storage account (src/storage/registry.ts serves it): a Blob endpoint with
 * exactly one credential, or only a name for an account of the embedded Azurite. Under
 * token auth it names the subscription and resource group it belongs to, and only jobs
 * whose storageAccountId says the same may use it.
 */
export interface StorageAccountConfig {
  name: string;
  subscriptionId?: string;
  resourceGroup?: string;
  blobEndpoint?: string;
  accountKey?: string;
  sasToken?: string;
  connectionString?: string;
}

/**
 * Who asks to use an account (ARM's linked-access check): the caller's id for the message,
 * and whether they may use a subscription.
 */
export interface LinkedAccess {
  principalId: string;
  allows(subscriptionId: string): boolean;
}

/**
 * Which storage accounts jobs may name. In the emulator profile (development auth) every
 * account is known (served later by the embedded Azurite) and shared by name; otherwise
 * only registered ones, and a registered account's subscription and resource group must
 * be the ones the storageAccountId names.
 */
export class StorageAccountRegistry {
  private readonly accounts: Map<string, StorageAccountConfig>;

  constructor(
    private readonly acceptAny: boolean,
    accounts: readonly StorageAccountConfig[] = [],
    /** Say the registered names in refusals (never under token auth: tenants must not learn them). */
    private readonly listNames = !accounts.some((a) => a.subscriptionId !== undefined),
  ) {
    this.accounts = new Map(accounts.map((a) => [a.name.toLowerCase(), a]));
  }

  /**
   * The account name a job may use. Throws 403 LinkedAuthorizationFailed when the caller
   * may not use the subscription the id names (asked first, so the answer is the same
   * whether an account exists there), and 400 StorageAccountNotFound for an account that
   * is not registered under that subscription and resource group.
   */
  check(storageAccountId: string, access?: LinkedAccess, jobScope?: string): string {
    const ref = parseStorageAccountId(storageAccountId);
    if (access && !access.allows(ref.subscriptionId)) {
      throw new DomainError(
        "LinkedAuthorizationFailed",
        `The client '${access.principalId}' has permission to perform action 'Microsoft.ImportExport/jobs/write' on scope '${jobScope ?? "the job"}'; ` +
          `however, it does not have permission to perform action 'Microsoft.Storage/storageAccounts/read' on the linked scope(s) '${storageAccountId}' or the linked scope(s) are invalid. ` +
          `Name a storage account in a subscription you are granted, or ask the service's administrator to grant subscription '${ref.subscriptionId}'.`,
        { target: "properties.storageAccountId" },
      );
    }
    if (this.acceptAny) return ref.name;
    const a = this.accounts.get(ref.name);
    const matches =
      a !== undefined &&
      (a.subscriptionId === undefined ||
        a.subscriptionId.toLowerCase() === ref.subscriptionId.toLowerCase()) &&
      (a.resourceGroup === undefined ||
        a.resourceGroup.toLowerCase() === ref.resourceGroup.toLowerCase());
    if (!matches) {
      const known = this.listNames
        ? ` Ask the operator to add it to the storage account registry, or use one of: ${[...this.accounts.keys()].join(", ") || "(none configured)"}.`
        : " Check the subscription, resource group and name in storageAccountId, or ask the operator to register the account.";
      throw new DomainError(
        "StorageAccountNotFound",
        `The storage account '${storageAccountId}' is not registered with this drivebay service.${known}`,
        { target: "properties.storageAccountId" },
      );
    }
    return ref.name;
  }

  list(): StorageAccountConfig[] {
    return [...this.accounts.values()];
  }
}
