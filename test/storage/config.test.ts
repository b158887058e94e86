/** The storage settings of the configuration, and connection strings (no servers). */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ConfigError, DEFAULT_BLOB_PORT, loadConfig } from "../../src/config.ts";
import {
  DEVSTORE_ACCOUNT,
  DEVSTORE_KEY,
  formatConnectionString,
  parseConnectionString,
} from "../../src/storage/connection-string.ts";

const dir = mkdtempSync(join(tmpdir(), "drivebay-storage-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** loadConfig with a config file holding `file`, plus environment and flags. */
function load(
  file: Record<string, unknown> = {},
  env: Record<string, string> = {},
  flags: Record<string, string | number> = {},
) {
  const path = join(dir, `config-${files++}.json`);
  writeFileSync(path, JSON.stringify(file));
  return loadConfig({
    flags: { dataDir: join(dir, "data"), config: path, ...flags },
    // The service profile's token auth is not what these tests are about.
    env: {
      DRIVEBAY_OPERATOR_KEY: "0123456789abcdef0123",
      DRIVEBAY_AUTH_MODE: "development",
      ...env,
    },
    cwd: dir,
  });
}

function refused(file: Record<string, unknown>, pattern: RegExp, env: Record<string, string> = {}) {
  assert.throws(
    () => load(file, env),
    (e: unknown) => e instanceof ConfigError && pattern.test((e as Error).message),
  );
}

describe("blob settings", () => {
  it("defaults: embedded in the emulator profile on port 10000, on disk in <dataDir>/azurite", () => {
    const c = load();
    assert.deepEqual(c.blob, {
      embedded: true,
      host: "127.0.0.1",
      port: DEFAULT_BLOB_PORT,
      inMemory: false,
      location: join(dir, "data", "azurite"),
    });
    assert.equal(DEFAULT_BLOB_PORT, 10000);
    assert.ok(Object.isFrozen(c.blob));
  });

  it("the service profile has no embedded Azurite unless asked for", () => {
    assert.equal(load({}, { DRIVEBAY_PROFILE: "service" }).blob.embedded, false);
    assert.equal(
      load({ blob: { embedded: true } }, { DRIVEBAY_PROFILE: "service" }).blob.embedded,
      true,
    );
    assert.equal(load({}, { DRIVEBAY_BLOB_EMBEDDED: "off" }).blob.embedded, false);
  });

  it("flags > environment > file for the port; in memory from the environment or the file", () => {
    assert.equal(load({ blob: { port: 10100 } }).blob.port, 10100);
    assert.equal(load({ blob: { port: 10100 } }, { DRIVEBAY_BLOB_PORT: "10200" }).blob.port, 10200);
    assert.equal(
      load({ blob: { port: 10100 } }, { DRIVEBAY_BLOB_PORT: "10200" }, { blobPort: "10300" }).blob
        .port,
      10300,
    );
    assert.equal(load({}, { DRIVEBAY_BLOB_PORT: "0" }).blob.port, 0);
    assert.equal(load({}, { DRIVEBAY_BLOB_IN_MEMORY: "true" }).blob.inMemory, true);
    assert.equal(load({ blob: { inMemory: true } }).blob.inMemory, true);
    assert.equal(
      load({ blob: { inMemory: true } }, { DRIVEBAY_BLOB_IN_MEMORY: "off" }).blob.inMemory,
      false,
    );
    assert.equal(load({}, { DRIVEBAY_HOST: "0.0.0.0" }).blob.host, "0.0.0.0");
    assert.equal(load({}, { DRIVEBAY_BLOB_HOST: "::1" }).blob.host, "::1");
  });

  it("refuses bad blob settings, naming the setting", () => {
    refused({}, /^blob\.port: '70000' is not a TCP port/, { DRIVEBAY_BLOB_PORT: "70000" });
    refused({}, /^blob\.port: 'x' is not a TCP port/, { DRIVEBAY_BLOB_PORT: "x" });
    refused({}, /^blob\.inMemory: 'maybe' is not on or off/, { DRIVEBAY_BLOB_IN_MEMORY: "maybe" });
    refused({ blob: { embedded: "sometimes" } }, /^blob\.embedded: 'sometimes' is not on or off/);
  });
});

describe("storageAccounts settings", () => {
  const service = { DRIVEBAY_PROFILE: "service" };

  it("accepts one credential per account: accountKey, sasToken or connectionString", () => {
    const accounts = [
      {
        name: "withkey",
        blobEndpoint: "https://withkey.blob.core.windows.net",
        accountKey: "a2V5",
      },
      { name: "withsas", blobEndpoint: "http://127.0.0.1:10000/x", sasToken: "sv=2024&sig=abc" },
      { name: "withcs", connectionString: "UseDevelopmentStorage=true" },
    ];
    assert.deepEqual(load({ storageAccounts: accounts }, service).storageAccounts, accounts);
  });

  it("a name alone is an account of the embedded Azurite, refused without it", () => {
    assert.equal(load({ storageAccounts: [{ name: "mydata" }] }).storageAccounts.length, 1);
    refused(
      { storageAccounts: [{ name: "mydata" }] },
      /^storageAccounts: mydata: give exactly one credential \(accountKey, sasToken or connectionString\), or turn the embedded Azurite on/,
      service,
    );
  });

  it("refuses accounts that cannot be used, naming the account", () => {
    const key = "a2V5";
    refused(
      { storageAccounts: [{ name: "two", accountKey: key, sasToken: "sig=1" }] },
      /^storageAccounts: two: give exactly one credential, not accountKey and sasToken\.$/,
      service,
    );
    refused(
      { storageAccounts: [{ name: "Upper", accountKey: key }] },
      /^storageAccounts: 'Upper' is not a storage account name/,
      service,
    );
    refused({ storageAccounts: [{ accountKey: key }] }, /is not a storage account name/, service);
    refused(
      { storageAccounts: [{ name: "badurl", blobEndpoint: "ftp://x", accountKey: key }] },
      /^storageAccounts: badurl: blobEndpoint 'ftp:\/\/x' is not an http\(s\) URL/,
      service,
    );
    refused(
      { storageAccounts: [{ name: "emptykey", accountKey: "" }] },
      /emptykey: accountKey must be a non-empty string/,
      service,
    );
    refused(
      { storageAccounts: [{ name: "badcs", connectionString: "AccountName=x" }] },
      /^storageAccounts: badcs: connectionString: it has neither AccountKey nor SharedAccessSignature/,
      service,
    );
    refused(
      {
        storageAccounts: [
          { name: "twice", accountKey: key },
          { name: "twice", accountKey: key },
        ],
      },
      /'twice' is listed twice/,
      service,
    );
    refused({ storageAccounts: { name: "x" } }, /must be an array/, service);
  });
});

describe("connection strings", () => {
  it("reads account-key, SAS and development-storage strings", () => {
    assert.deepEqual(
      parseConnectionString(
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=abc==;EndpointSuffix=core.windows.net",
      ),
      {
        blobEndpoint: "https://acct.blob.core.windows.net",
        accountName: "acct",
        accountKey: "abc==",
      },
    );
    assert.deepEqual(
      parseConnectionString("BlobEndpoint=http://h:1/acct/;SharedAccessSignature=?sv=1&sig=a%3D"),
      { blobEndpoint: "http://h:1/acct", sasToken: "sv=1&sig=a%3D" },
    );
    assert.deepEqual(parseConnectionString("UseDevelopmentStorage=true"), {
      blobEndpoint: `http://127.0.0.1:10000/${DEVSTORE_ACCOUNT}`,
      accountName: DEVSTORE_ACCOUNT,
      accountKey: DEVSTORE_KEY,
    });
  });

  it("writes strings it reads back the same", () => {
    for (const c of [
      { blobEndpoint: "http://127.0.0.1:10000/acct", accountName: "acct", accountKey: "k/+=" },
      { blobEndpoint: "https://acct.blob.core.windows.net", sasToken: "sv=1&sig=x" },
    ]) {
      assert.deepEqual(parseConnectionString(formatConnectionString(c)), c);
    }
  });
});

describe("store settings", () => {
  it("SQLite in the data directory unless a PostgreSQL URL is given: flag > environment > file", () => {
    assert.deepEqual(load().store, {});
    const file = { store: { url: "postgres://file-host/db" } };
    assert.equal(load(file).store.url, "postgres://file-host/db");
    assert.equal(
      load(file, { DRIVEBAY_STORE: "postgresql://env-host:5433/db" }).store.url,
      "postgresql://env-host:5433/db",
    );
    assert.equal(
      load(file, { DRIVEBAY_STORE: "postgres://env-host/db" }, { store: "postgres://flag/db" })
        .store.url,
      "postgres://flag/db",
    );
  });

  it("a URL that is not PostgreSQL's is refused with what to give, never echoing a password", () => {
    refused({ store: { url: "mysql://u:pw@db/x" } }, /'mysql:' is not a store drivebay knows/);
    refused(
      { store: { url: "drivebay.sqlite" } },
      /is not a URL; use postgres:\/\/user:password@host/,
    );
    assert.throws(
      () => load({ store: { url: "postgres://me:hunter2@db host/x" } }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.includes("postgres://me:***@db host/x") &&
        !e.message.includes("hunter2"),
    );
  });
});

describe("worker settings", () => {
  it("drives copied at once by a worker: 2 by default, from the file, the environment over it", () => {
    assert.equal(load().driveConcurrency, 2);
    assert.equal(load({ driveConcurrency: 4 }).driveConcurrency, 4);
    assert.equal(
      load({ driveConcurrency: 4 }, { DRIVEBAY_DRIVE_CONCURRENCY: "1" }).driveConcurrency,
      1,
    );
  });

  it("a drive concurrency that is not a whole number from 1 to 16 is refused", () => {
    refused({ driveConcurrency: 0 }, /driveConcurrency: use a whole number from 1 to 16/);
    refused({}, /driveConcurrency/, { DRIVEBAY_DRIVE_CONCURRENCY: "1.5" });
    refused({ driveConcurrency: 17 }, /driveConcurrency/);
  });
});
