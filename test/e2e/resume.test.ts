/**
 * Crash and resume: the server (and with it its Azurite) is SIGKILLed in the middle of an
 * import; after a restart on the same data directory the job completes with every blob
 * correct, none missing, none written twice under another name.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { once } from "node:events";
import { BlobServiceClient } from "@azure/storage-blob";
import { armClient } from "../support/server.ts";
import { afterTransferring, operatorAt, operatorOf, serve } from "./support/serve.ts";
import { blobHashes, preparedDrive } from "./support/import-drive.ts";
import { shipAndReceive } from "../support/shipping.ts";
import { tempDir, writeData } from "../transfer/helpers.ts";

const SUB = "00000000-0000-4000-8000-0000000000aa";

test(
  "SIGKILL mid-import, restart: the job completes with every blob right and no extra blobs",
  { timeout: 240_000 },
  async () => {
    const root = tempDir("drivebay-resume-");
    const files = 600;
    for (let i = 0; i < files; i++)
      writeData(root, `src/d${i % 7}/f${String(i).padStart(4, "0")}.bin`, 16 * 1024 + i);
    writeData(root, "src/big.bin", 9 * 1024 * 1024);
    const { driveDir, prepared, expected } = await preparedDrive(
      root,
      join(root, "src"),
      "resumed",
      "WD-RESUME-01",
    );
    const dataDir = join(root, "data");

    let server = await serve(dataDir);
    const operator = operatorOf(dataDir);
    const c = armClient(server.url, { subscriptionId: SUB });
    await c.jobs.create("resume-me", "rg", {
      location: "westus",
      properties: {
        storageAccountId: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/resumedata`,
        driveList: [{ ...prepared.driveListEntry, bitLockerKey: "k" }],
      },
    });
    await shipAndReceive(c, operatorAt(dataDir, server.url), "rg", "resume-me", {
      trackingNumber: "TN-R",
      driveIds: ["WD-RESUME-01"],
    });
    const account = (await operator(server.url, "GET", "/storage/resumedata")) as {
      connectionString: string;
    };
    await operator(server.url, "POST", `/jobs/${SUB}/rg/resume-me/drives/WD-RESUME-01/attach`, {
      path: driveDir,
    });

    // Kill it while the copy is under way.
    const blobs = BlobServiceClient.fromConnectionString(
      account.connectionString,
    ).getContainerClient("resumed");
    let seen = 0;
    for (let i = 0; i < 2000 && seen < 40; i++) {
      seen = 0;
      if (await blobs.exists()) for await (const _ of blobs.listBlobsFlat()) seen++;
      if (seen < 40) await new Promise((r) => setTimeout(r, 10));
    }
    server.child.kill("SIGKILL");
    await once(server.child, "exit");
    assert.ok(seen >= 40 && seen < expected.size, `killed after ${seen} of ${expected.size} blobs`);

    server = await serve(dataDir);
    try {
      const c2 = armClient(server.url, { subscriptionId: SUB });
      const job = await afterTransferring(c2, "resume-me", "rg");
      assert.equal(job.properties?.state, "Packaging");
      const drive = job.properties!.driveList![0]!;
      assert.equal(drive.state, "Completed", drive.copyStatus);
      const account2 = (await operator(server.url, "GET", "/storage/resumedata")) as {
        connectionString: string;
      };
      const after = BlobServiceClient.fromConnectionString(
        account2.connectionString,
      ).getContainerClient("resumed");
      const found = await blobHashes(after);
      assert.deepEqual(
        [...found.keys()].sort(),
        [...expected.keys()].sort(),
        "exactly the manifest's blobs: none missing, none renamed",
      );
      for (const [path, sum] of expected) assert.equal(found.get(path), sum, path);
    } finally {
      server.child.kill("SIGTERM");
      await once(server.child, "exit");
    }
  },
);
