/**
 * The embedded Azurite (SPEC §4.3) through a real server: accounts created on first use
 * under the names jobs use, blobs written and read back with the official Blob SDK, keys
 * and blobs kept across restarts, the next free port, and no process left behind.
 */
import assert from "node:assert/strict";
import { statSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { once } from "node:events";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { DomainError } from "../../src/domain/errors.ts";
import { freshDataDir, startTestServer } from "../support/server.ts";
import { alive, blobMd5, processesWith, roundTrip, waitGone } from "./helpers.ts";

for (const mode of ["memory", "disk"] as const) {
  describe(`embedded Azurite (${mode})`, () => {
    it("serves any account name under that name, created on first use with its own key", async () => {
      const server = await startTestServer({ blob: mode });
      try {
        const azurite = server.azurite!;
        assert.ok(azurite, "the embedded Azurite runs");
        assert.deepEqual(server.storage.list(), []);
        const [a, b] = await Promise.all([
          server.storage.resolve("importdata"),
          server.storage.resolve("archive2024"),
        ]);
        // Path-style endpoints that name the account.
        assert.equal(a.blobEndpoint, `http://127.0.0.1:${azurite.port}/importdata`);
        assert.equal(b.blobEndpoint, `http://127.0.0.1:${azurite.port}/archive2024`);
        assert.notEqual(a.connectionString, b.connectionString);
        assert.match(a.connectionString, /AccountName=importdata;AccountKey=[A-Za-z0-9+/=]{88};/);

        const md5a = await roundTrip(
          await server.storage.containerClient("importdata", "photos"),
          "2024/01/a.jpg",
        );
        const md5b = await roundTrip(
          await server.storage.containerClient("archive2024", "photos"),
          "2024/01/a.jpg",
        );
        assert.notEqual(md5a, md5b);
        // Same container and blob name, different accounts: each sees its own blob.
        const ca = await server.storage.containerClient("importdata", "photos");
        assert.equal(await blobMd5(ca, "2024/01/a.jpg"), md5a);
        assert.equal(ca.getBlockBlobClient("2024/01/a.jpg").url.split("/")[3], "importdata");

        // The connection string works with the SDK's own parser.
        const viaCs = BlobServiceClient.fromConnectionString(b.connectionString);
        assert.equal(await blobMd5(viaCs.getContainerClient("photos"), "2024/01/a.jpg"), md5b);

        // One account's key does not open another account.
        const key = /AccountKey=([^;]+);/.exec(a.connectionString)![1]!;
        const wrong = new BlobServiceClient(
          b.blobEndpoint,
          new StorageSharedKeyCredential("archive2024", key),
        );
        await assert.rejects(
          wrong.getContainerClient("photos").getProperties(),
          (e: { statusCode?: number }) => e.statusCode === 403,
        );

        assert.deepEqual(
          server.storage.list().map((x) => x.name),
          ["archive2024", "importdata"],
        );
      } finally {
        await server.close();
      }
    });

    it("creates an account once when many callers ask for it at the same time", async () => {
      const server = await startTestServer({ blob: mode });
      try {
        const all = await Promise.all(
          Array.from({ length: 8 }, () => server.storage.resolve("concurrent")),
        );
        assert.equal(new Set(all.map((a) => a.connectionString)).size, 1);
        await roundTrip(await server.storage.containerClient("concurrent", "data"), "x.bin", 1024);
      } finally {
        await server.close();
      }
    });
  });
}

describe("embedded Azurite accounts", () => {
  it("refuses names that are not storage account names (StorageAccountNotFound)", async () => {
    const server = await startTestServer({ blob: "memory" });
    try {
      for (const bad of ["ab", "has-dash", "a".repeat(25), "x:y", ""]) {
        await assert.rejects(
          server.storage.resolve(bad),
          (e: unknown) => e instanceof DomainError && e.code === "StorageAccountNotFound",
          bad,
        );
      }
      // Names are case-insensitive, like ARM's: the account is the lower-case one.
      const upper = await server.storage.resolve("MixedCase1");
      assert.equal(upper.name, "mixedcase1");
      assert.match(upper.blobEndpoint, /\/mixedcase1$/);
    } finally {
      await server.close();
    }
  });

  it("keeps keys in <dataDir>/storage-accounts.json (0600) and blobs on disk across a restart", async () => {
    const dataDir = freshDataDir();
    try {
      const first = await startTestServer({ dataDir, blob: "disk" });
      let md5: string;
      let connectionString: string;
      try {
        connectionString = (await first.storage.resolve("keepme")).connectionString;
        md5 = await roundTrip(await first.storage.containerClient("keepme", "data"), "kept.bin");
      } finally {
        await first.close();
      }
      const file = join(dataDir, "storage-accounts.json");
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const stored = JSON.parse(readFileSync(file, "utf8")) as {
        accounts: { name: string; key: string }[];
      };
      assert.deepEqual(
        stored.accounts.map((a) => a.name),
        ["keepme"],
      );
      assert.ok(connectionString.includes(stored.accounts[0]!.key));

      const second = await startTestServer({ dataDir, blob: "disk" });
      try {
        assert.deepEqual(
          second.storage.list().map((a) => a.name),
          ["keepme"],
        );
        // The port may differ (port 0 in tests); the key does not.
        const again = await second.storage.resolve("keepme");
        assert.ok(again.connectionString.includes(stored.accounts[0]!.key));
        const client = BlobServiceClient.fromConnectionString(again.connectionString);
        assert.equal(await blobMd5(client.getContainerClient("data"), "kept.bin"), md5);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("keeps keys but not blobs across a restart in memory", async () => {
    const dataDir = freshDataDir();
    try {
      const first = await startTestServer({ dataDir, blob: "memory" });
      let key: string;
      try {
        key = /AccountKey=([^;]+);/.exec(
          (await first.storage.resolve("volatile")).connectionString,
        )![1]!;
        await roundTrip(await first.storage.containerClient("volatile", "data"), "gone.bin", 1024);
      } finally {
        await first.close();
      }
      const second = await startTestServer({ dataDir, blob: "memory" });
      try {
        const again = await second.storage.resolve("volatile");
        assert.ok(again.connectionString.includes(key));
        const container = await second.storage.containerClient("volatile", "data");
        assert.equal(await container.exists(), false);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("moves on to the next free port when the blob port is busy", async () => {
    const busy = createServer();
    busy.listen(0, "127.0.0.1");
    await once(busy, "listening");
    const port = (busy.address() as { port: number }).port;
    const dataDir = freshDataDir();
    try {
      const server = await startTestServer({
        dataDir,
        config: {
          blob: {
            embedded: true,
            inMemory: true,
            host: "127.0.0.1",
            port,
            location: join(dataDir, "azurite"),
          },
        },
      });
      try {
        const azurite = server.azurite!;
        assert.ok(azurite.port > port && azurite.port <= port + 100, `port ${azurite.port}`);
        const a = await server.storage.resolve("nextport");
        assert.equal(a.blobEndpoint, `http://127.0.0.1:${azurite.port}/nextport`);
        await roundTrip(await server.storage.containerClient("nextport", "data"), "p.bin", 1024);
      } finally {
        await server.close();
      }
    } finally {
      busy.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("close() stops the Azurite process; nothing is left behind", async () => {
    const dataDir = freshDataDir();
    try {
      const server = await startTestServer({ dataDir, blob: "disk" });
      const pid = server.azurite!.pid!;
      assert.ok(alive(pid));
      // The process runs with the data directory's azurite folder as its location.
      assert.deepEqual(processesWith(join(dataDir, "azurite")), [pid]);
      await server.close();
      assert.equal(alive(pid), false, "gone as soon as close() resolves");
      assert.deepEqual(processesWith(join(dataDir, "azurite")), []);
      await server.close(); // twice is fine
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("an Azurite that dies is started again on the same port, with its accounts", async () => {
    const server = await startTestServer({ blob: "disk" });
    try {
      const azurite = server.azurite!;
      const before = await server.storage.resolve("survivor");
      await roundTrip(await server.storage.containerClient("survivor", "data"), "b.bin", 4096);
      const { pid, port } = azurite;
      process.kill(pid!, "SIGKILL");
      await waitGone(pid!);
      const until = performance.now() + 20_000;
      while (!(azurite.running && azurite.pid !== pid)) {
        assert.ok(performance.now() < until, "Azurite was not restarted");
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(azurite.port, port);
      const after = await server.storage.resolve("survivor");
      assert.equal(after.connectionString, before.connectionString);
      const container = await server.storage.containerClient("survivor", "data");
      // Blobs written in the last seconds before a crash may be gone: Azurite saves its
      // on-disk index every few seconds (SPEC §4.4), so they are not checked here.
      await roundTrip(container, "after.bin", 4096);
      // New accounts still work after the restart.
      await roundTrip(await server.storage.containerClient("newcomer", "data"), "n.bin", 1024);
    } finally {
      await server.close();
    }
  });

  it("a start that fails stops Azurite and says why, with Azurite's own output", async () => {
    const dataDir = freshDataDir();
    try {
      // An on-disk index Azurite cannot read.
      const first = await startTestServer({ dataDir, blob: "disk" });
      await first.close();
      const { writeFileSync, readdirSync } = await import("node:fs");
      const index = readdirSync(join(dataDir, "azurite")).find((f) => f.endsWith(".json"));
      assert.ok(index, "Azurite keeps its index in a JSON file");
      writeFileSync(join(dataDir, "azurite", index), "{ not json");
      await assert.rejects(startTestServer({ dataDir, blob: "disk" }), (e: Error) => {
        assert.equal(e.name, "EmbeddedAzuriteError");
        assert.ok(
          e.message.startsWith(
            `the embedded Azurite did not start on 127.0.0.1:0 (data in ${join(dataDir, "azurite")}): `,
          ),
          e.message,
        );
        // Azurite's own words (its stack) follow.
        assert.match(e.message, /\nAzurite's output:\n(.|\n)*at /);
        return true;
      });
      assert.deepEqual(processesWith(join(dataDir, "azurite")), []);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
