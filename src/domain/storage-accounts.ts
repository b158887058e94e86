import { DomainError } from "./errors.ts";

/** An ARM storage account id: /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.(Classic)Storage/storageAccounts/{name}. */
const STORAGE_ACCOUNT_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.(ClassicStorage|Storage)\/storageAccounts\/([a-z0-9]{3,24})$/i;

export function storageAccountName(storageAccountId: string): string {
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
  return m[2]!.toLowerCase();
}

/**
 * A configured storage account (src/storage/registry.ts serves it): a Blob endpoint with
 * exactly one credential, or only a name for an account of the embedded Azurite.
 */
export interface StorageAccountConfig {
  name: string;
  blobEndpoint?: string;
  accountKey?: string;
  sasToken?: string;
  connectionString?: string;
}

/**
 * Which storage accounts jobs may name. In the emulator profile every account is known
 * (served later by the embedded Azurite); in the service profile only configured ones.
 */
export class StorageAccountRegistry {
  private readonly accounts: Map<string, StorageAccountConfig>;

  constructor(
    private readonly acceptAny: boolean,
    accounts: readonly StorageAccountConfig[] = [],
  ) {
    this.accounts = new Map(accounts.map((a) => [a.name.toLowerCase(), a]));
  }

  /** Throws StorageAccountNotFound for an account the service cannot serve. */
  check(storageAccountId: string): string {
    const name = storageAccountName(storageAccountId);
    if (!this.acceptAny && !this.accounts.has(name)) {
      throw new DomainError(
        "StorageAccountNotFound",
        `The storage account '${name}' is not registered with this drivebay service. ` +
          `Ask the operator to add it to the storage account registry, or use one of: ${[...this.accounts.keys()].join(", ") || "(none configured)"}.`,
        { target: "properties.storageAccountId" },
      );
    }
    return name;
  }

  list(): StorageAccountConfig[] {
    return [...this.accounts.values()];
  }
}
