/**
 * The storage account registry with configured accounts (SPEC §4.3): any Blob endpoint with
 * a shared key, a SAS or a connection string. An emulator server's embedded Azurite stands
 * in for "some Blob endpoint"; the server under test reaches it only through its registry.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  generateAccountSASQueryParameters,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import { run } from "../../src/cli/index.ts";
import { DomainError } from "../../src/domain/errors.ts";
import { importJob, STORAGE } from "../api/fixtures.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { blobMd5, roundTrip } from "./helpers.ts";

const notFound = (e: unknown) => e instanceof DomainError && e.code === "StorageAccountNotFound";

describe("configured storage accounts", () => {
  /** The Blob endpoint the configured accounts point at. */
  let blobHost: TestServer;
  let endpoint: string;
  let key: string;
  let connectionString: string;
  let sasToken: string;

  before(async () => {
    blobHost = await startTestServer({ blob: "memory" });
    const shared = await blobHost.storage.resolve("shared");
    endpoint = shared.blobEndpoint;
    connectionString = shared.connectionString;
    key = /AccountKey=([^;]+);/.exec(connectionString)![1]!;
    sasToken = generateAccountSASQueryParameters(
      {
        permissions: AccountSASPermissions.parse("rwdlac"),
        services: AccountSASServices.parse("b").toString(),
        resourceTypes: AccountSASResourceTypes.parse("sco").toString(),
        expiresOn: new Date(Date.now() + 3_600_000),
      },
      new StorageSharedKeyCredential("shared", key),
    ).toString();
  });
  after(() => blobHost.close());

  it("service profile: shared key, connection string and SAS accounts all reach their endpoint", async () => {
    const server = await startTestServer({
      config: {
        profile: "service",
        storageAccounts: [
          { name: "shared", blobEndpoint: endpoint, accountKey: key },
          // The registry name jobs use need not be the endpoint's account name.
          { name: "mapped", connectionString },
          { name: "viasas", blobEndpoint: `${endpoint}/`, sasToken: `?${sasToken}` },
        ],
      },
    });
    try {
      assert.equal(server.azurite, undefined, "no embedded Azurite in the service profile");
      const md5 = await roundTrip(
        await server.storage.containerClient("shared", "landing"),
        "k.bin",
      );
      for (const name of ["mapped", "viasas"]) {
        const container = await server.storage.containerClient(name, "landing");
        assert.equal(await blobMd5(container, "k.bin"), md5, name);
        await roundTrip(container, `${name}.bin`, 4096);
      }
      const sas = await server.storage.resolve("viasas");
      assert.equal(sas.blobEndpoint, endpoint, "no trailing slash, no SAS in the endpoint");
      assert.equal(sas.sasToken, sasToken);
      assert.equal(
        sas.connectionString,
        `BlobEndpoint=${endpoint};SharedAccessSignature=${sasToken}`,
      );
      // Every connection string the registry gives works with the SDK's parser.
      for (const name of ["shared", "mapped", "viasas"]) {
        const cs = (await server.storage.resolve(name)).connectionString;
        const client = BlobServiceClient.fromConnectionString(cs);
        assert.equal(await blobMd5(client.getContainerClient("landing"), "k.bin"), md5, name);
      }

      await assert.rejects(server.storage.resolve("strangers"), notFound);
      await assert.rejects(server.storage.containerClient("strangers", "x"), (e: unknown) => {
        assert.ok(notFound(e));
        assert.match((e as Error).message, /'strangers' is not registered.*shared, mapped, viasas/);
        return true;
      });
      // Job creation accepts exactly the names the registry serves.
      const c = server.client();
      await c.jobs.create(
        "tosas",
        "rg",
        importJob({ storageAccountId: STORAGE.replace("drivebaydata", "viasas") }),
      );
      await assert.rejects(
        c.jobs.create(
          "tostrangers",
          "rg",
          importJob({ storageAccountId: STORAGE.replace("drivebaydata", "strangers") }),
        ),
        (e: { statusCode?: number; code?: string }) =>
          e.statusCode === 400 && e.code === "StorageAccountNotFound",
      );
    } finally {
      await server.close();
    }
  });

  it("operator API: list and show, with the connection string; unknown accounts are refused", async () => {
    const server = await startTestServer({
      config: {
        profile: "service",
        storageAccounts: [
          { name: "shared", blobEndpoint: endpoint, accountKey: key },
          { name: "viasas", blobEndpoint: endpoint, sasToken },
        ],
      },
    });
    try {
      const list = await server.operator("GET", "/storage");
      assert.equal(list.status, 200);
      assert.deepEqual(list.body, {
        value: [
          { name: "shared", blobEndpoint: endpoint },
          { name: "viasas", blobEndpoint: endpoint },
        ],
      });
      const show = await server.operator("GET", "/storage/shared");
      assert.equal(show.status, 200);
      assert.deepEqual(Object.keys(show.body).sort(), ["blobEndpoint", "connectionString", "name"]);
      assert.equal(
        show.body.connectionString,
        `DefaultEndpointsProtocol=http;AccountName=shared;AccountKey=${key};BlobEndpoint=${endpoint};`,
      );
      const unknown = await server.operator("GET", "/storage/strangers");
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.error.code, "StorageAccountNotFound");
      // The operator key is needed, as for every operator route.
      assert.equal((await server.operator("GET", "/storage", undefined, null)).status, 401);
      assert.equal(
        (await server.operator("GET", "/storage/shared", undefined, "wrong-key-0000000")).status,
        401,
      );
    } finally {
      await server.close();
    }
  });

  it("accounts that name their subscription and resource group: the operator API and `drivebay storage list` show both", async () => {
    const SUB = "aaaa0000-0000-4000-8000-00000000000a";
    const server = await startTestServer({
      config: {
        profile: "service",
        storageAccounts: [
          { name: "owned", subscriptionId: SUB, resourceGroup: "rg-owned", connectionString },
          { name: "shared", blobEndpoint: endpoint, accountKey: key },
        ],
      },
    });
    try {
      const list = await server.operator("GET", "/storage");
      assert.deepEqual(list.body, {
        value: [
          {
            name: "owned",
            blobEndpoint: endpoint,
            subscriptionId: SUB,
            resourceGroup: "rg-owned",
          },
          { name: "shared", blobEndpoint: endpoint },
        ],
      });
      let out = "";
      const code = await run(
        ["storage", "list", "--endpoint", server.url, "--operator-key", server.operatorKey],
        { io: { out: (t) => void (out += t), err: (t) => void (out += t) } },
      );
      assert.equal(code, 0, out);
      const lines = out.trimEnd().split("\n");
      assert.match(lines[0]!, /^NAME +SUBSCRIPTION +RESOURCE GROUP +BLOB ENDPOINT$/);
      assert.match(lines[1]!, new RegExp(`^owned +${SUB} +rg-owned +http://\\S+$`));
      assert.match(lines[2]!, /^shared +\(any\) +\(any\) +http:\/\/\S+$/);
      assert.equal(lines.length, 3);
    } finally {
      await server.close();
    }
  });

  it("emulator profile: configured accounts go to their endpoint, other names to the embedded Azurite", async () => {
    const server = await startTestServer({
      blob: "memory",
      config: { storageAccounts: [{ name: "external", connectionString }, { name: "local" }] },
    });
    try {
      const azurite = server.azurite!;
      const md5 = await roundTrip(
        await server.storage.containerClient("external", "box1"),
        "e.bin",
        1024,
      );
      // It landed in the other server's Azurite, account "shared".
      assert.equal(
        await blobMd5(await blobHost.storage.containerClient("shared", "box1"), "e.bin"),
        md5,
      );
      const local = await server.storage.resolve("local");
      assert.equal(local.blobEndpoint, azurite.blobEndpoint("local"));
      const other = await server.storage.resolve("other");
      assert.equal(other.blobEndpoint, `http://127.0.0.1:${azurite.port}/other`);
      await roundTrip(await server.storage.containerClient("other", "box1"), "o.bin", 1024);
      assert.deepEqual(
        server.storage.list().map((a) => [a.name, a.source, a.blobEndpoint]),
        [
          ["external", "configured", endpoint],
          ["local", "embedded", azurite.blobEndpoint("local")],
          ["other", "embedded", azurite.blobEndpoint("other")],
        ],
      );
    } finally {
      await server.close();
    }
  });

  it("service profile with the embedded Azurite: only the configured names are served there", async () => {
    const server = await startTestServer({
      blob: "memory",
      config: { profile: "service", storageAccounts: [{ name: "mydata" }] },
    });
    try {
      await roundTrip(await server.storage.containerClient("mydata", "inbox"), "m.bin", 1024);
      await assert.rejects(server.storage.resolve("another"), notFound);
      assert.deepEqual(
        server.storage.list().map((a) => a.name),
        ["mydata"],
      );
    } finally {
      await server.close();
    }
  });
});
