/**
 * The storage account registry (SPEC §4.3): an ARM storage account name → a Blob endpoint
 * and a credential. Accounts come from the configuration (`storageAccounts`: any Blob
 * endpoint, Azure or Azurite, with a shared key, a SAS or a connection string) and, when
 * drivebay runs the embedded Azurite, from it: a configured name without endpoint is served
 * there, and in the emulator profile so is any other name, created on first use.
 *
 * Resolved accounts carry secrets (connection string, credential): never log them.
 */
import {
  AnonymousCredential,
  BlobServiceClient,
  StorageSharedKeyCredential,
  type ContainerClient,
} from "@azure/storage-blob";
import { DomainError } from "../domain/errors.ts";
import type { StorageAccountConfig } from "../domain/storage-accounts.ts";
import { ACCOUNT_NAME } from "./account-config.ts";
import {
  formatConnectionString,
  parseConnectionString,
  type BlobConnection,
} from "./connection-string.ts";

export interface ResolvedStorageAccount {
  /** The account name jobs use (the last segment of their storageAccountId). */
  name: string;
  /** The Blob service URL, without a trailing slash and without a SAS. */
  blobEndpoint: string;
  /** A connection string for the Azure SDKs and tools (carries the key or SAS). */
  connectionString: string;
  /** Shared key, or anonymous when the account is reached with a SAS (`sasToken`). */
  credential: StorageSharedKeyCredential | AnonymousCredential;
  /** The SAS token (without `?`) for SAS accounts. */
  sasToken?: string;
}

export interface StorageAccountSummary {
  name: string;
  blobEndpoint: string;
  /** `embedded`: served by drivebay's Azurite; `configured`: an endpoint from the configuration. */
  source: "embedded" | "configured";
  /** The subscription and resource group the account is registered in (absent: shared by name). */
  subscriptionId?: string;
  resourceGroup?: string;
}

/** What the registry needs of the embedded Azurite (EmbeddedAzurite implements it). */
export interface EmbeddedBlobService {
  blobEndpoint(account: string): string;
  accountNames(): string[];
  /** The account's key, creating the account on first use. */
  ensureAccount(name: string): Promise<string>;
}

export interface StorageAccountsOptions {
  configured?: readonly StorageAccountConfig[];
  embedded?: EmbeddedBlobService;
  /** Serve any valid account name from the embedded Azurite (the emulator profile). */
  createOnFirstUse?: boolean;
}

/** Endpoint and credential of a configured account with a credential of its own. */
function configuredConnection(a: StorageAccountConfig): BlobConnection {
  const endpoint = a.blobEndpoint?.replace(/\/+$/, "");
  if (a.connectionString !== undefined) {
    const parsed = parseConnectionString(a.connectionString);
    return { ...parsed, ...(endpoint ? { blobEndpoint: endpoint } : {}) };
  }
  const blobEndpoint = endpoint ?? `https://${a.name}.blob.core.windows.net`;
  if (a.sasToken !== undefined) {
    return { blobEndpoint, sasToken: a.sasToken.replace(/^\?/, "") };
  }
  return { blobEndpoint, accountName: a.name, accountKey: a.accountKey! };
}

function resolved(name: string, c: BlobConnection): ResolvedStorageAccount {
  const credential =
    c.accountKey !== undefined
      ? new StorageSharedKeyCredential(c.accountName ?? name, c.accountKey)
      : new AnonymousCredential();
  return {
    name,
    blobEndpoint: c.blobEndpoint,
    connectionString: formatConnectionString(c),
    credential,
    ...(c.sasToken !== undefined ? { sasToken: c.sasToken } : {}),
  };
}

export class StorageAccounts {
  private readonly configured: Map<string, StorageAccountConfig>;
  private readonly embedded: EmbeddedBlobService | undefined;
  private readonly createOnFirstUse: boolean;
  private readonly clients = new Map<string, Promise<BlobServiceClient>>();

  constructor(options: StorageAccountsOptions = {}) {
    this.configured = new Map((options.configured ?? []).map((a) => [a.name.toLowerCase(), a]));
    this.embedded = options.embedded;
    this.createOnFirstUse = (options.createOnFirstUse ?? false) && options.embedded !== undefined;
  }

  /** True when any valid account name is served (created on first use). */
  get acceptsAnyAccount(): boolean {
    return this.createOnFirstUse;
  }

  /**
   * The account's endpoint and credential. Throws DomainError StorageAccountNotFound for a
   * name this service cannot serve.
   */
  async resolve(accountName: string): Promise<ResolvedStorageAccount> {
    const name = accountName.toLowerCase();
    const configured = this.configured.get(name);
    if (configured && hasCredential(configured)) {
      return resolved(name, configuredConnection(configured));
    }
    const servedHere = configured ? isEmbeddedEntry(configured) : this.createOnFirstUse;
    if (this.embedded && ACCOUNT_NAME.test(name) && servedHere) {
      const key = await this.embedded.ensureAccount(name);
      return resolved(name, {
        blobEndpoint: this.embedded.blobEndpoint(name),
        accountName: name,
        accountKey: key,
      });
    }
    throw this.notFound(accountName, configured);
  }

  /** A Blob service client for the account (one per account, reused). */
  serviceClient(accountName: string): Promise<BlobServiceClient> {
    const name = accountName.toLowerCase();
    let client = this.clients.get(name);
    if (!client) {
      client = this.resolve(name).then((a) => {
        const url = a.sasToken ? `${a.blobEndpoint}?${a.sasToken}` : a.blobEndpoint;
        return new BlobServiceClient(url, a.credential);
      });
      this.clients.set(name, client);
      // A failed resolve is not cached: the next call asks again.
      client.catch(() => this.clients.delete(name));
    }
    return client;
  }

  /** A container of the account (the container itself is not created). */
  async containerClient(accountName: string, container: string): Promise<ContainerClient> {
    return (await this.serviceClient(accountName)).getContainerClient(container);
  }

  /** The configured accounts and the embedded Azurite's accounts created so far, by name. */
  list(): StorageAccountSummary[] {
    const out = new Map<string, StorageAccountSummary>();
    if (this.embedded) {
      for (const name of this.embedded.accountNames()) {
        out.set(name, { name, blobEndpoint: this.embedded.blobEndpoint(name), source: "embedded" });
      }
    }
    for (const [name, a] of this.configured) {
      const owner = {
        ...(a.subscriptionId !== undefined ? { subscriptionId: a.subscriptionId } : {}),
        ...(a.resourceGroup !== undefined ? { resourceGroup: a.resourceGroup } : {}),
      };
      if (isEmbeddedEntry(a) && this.embedded) {
        out.set(name, {
          name,
          blobEndpoint: this.embedded.blobEndpoint(name),
          source: "embedded",
          ...owner,
        });
      } else if (hasCredential(a)) {
        out.set(name, {
          name,
          blobEndpoint: configuredConnection(a).blobEndpoint,
          source: "configured",
          ...owner,
        });
      }
    }
    return [...out.values()].sort((x, y) => x.name.localeCompare(y.name));
  }

  private notFound(accountName: string, configured: StorageAccountConfig | undefined): DomainError {
    if (configured) {
      return new DomainError(
        "StorageAccountNotFound",
        `The storage account '${configured.name}' is registered without a credential ` +
          `(accountKey, sasToken or connectionString)` +
          (isEmbeddedEntry(configured) ? " and no embedded Azurite runs to serve it." : "."),
      );
    }
    if (this.createOnFirstUse) {
      return new DomainError(
        "StorageAccountNotFound",
        `'${accountName}' is not a storage account name (3–24 lower-case letters and digits).`,
      );
    }
    const known = [...this.configured.keys()].join(", ") || "(none configured)";
    return new DomainError(
      "StorageAccountNotFound",
      `The storage account '${accountName}' is not registered with this drivebay service. ` +
        `Ask the operator to add it to the storage account registry, or use one of: ${known}.`,
    );
  }
}

function hasCredential(a: StorageAccountConfig): boolean {
  return a.accountKey !== undefined || a.sasToken !== undefined || a.connectionString !== undefined;
}

/** A configured entry that names an account of the embedded Azurite (no endpoint, no credential). */
function isEmbeddedEntry(a: StorageAccountConfig): boolean {
  return a.blobEndpoint === undefined && !hasCredential(a);
}
