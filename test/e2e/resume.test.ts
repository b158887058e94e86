/**
 * Crash and resume: the server (and with it its Azurite) is SIGKILLed in the middle of an
 * import; after a restart on the same data directory the job completes with every blob
 * correct, none missing, none written twice under another name.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { once } from "node:events";
import { BlobServiceClient } from "@azure/storage-blob";
import { armClient } from "../support/server.ts";
import { afterTransferring, operatorOf, serve } from "./support/serve.ts";
import { parseManifest, resolveDriveFile } from "../../src/transfer/manifest.ts";
import { prepareDrive } from "../../src/transfer/prepare.ts";
import { tempDir, writeData } from "../transfer/helpers.ts";
import { returnAddress, returnShipping } from "../api/fixtures.ts";

const SUB = "00000000-0000-4000-8000-0000000000aa";
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

test(
  "SIGKILL mid-import, restart: the job completes with every blob right and no extra blobs",
  { timeout: 240_000 },
  async () => {
    const root = tempDir("drivebay-resume-");
    const files = 600;
    for (let i = 0; i < files; i++)
      writeData(root, `src/d${i % 7}/f${String(i).padStart(4, "0")}.bin`, 16 * 1024 + i);
    writeData(root, "src/big.bin", 9 * 1024 * 1024);
    writeData(
      root,
      "dataset.csv",
      `BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile\n"${join(root, "src")}/",resumed/,,rename,,\n`,
    );
    const driveDir = join(root, "drive");
    const prepared = await prepareDrive({
      datasetCsv: join(root, "dataset.csv"),
      driveDir,
      driveId: "WD-RESUME-01",
    });
    const manifest = parseManifest(readFileSync(prepared.manifestPath, "utf8"));
    const expected = new Map(
      manifest.blobLists
        .flatMap((l) => l.blobs)
        .map((b) => [
          b.blobPath.slice("resumed/".length),
          md5(readFileSync(resolveDriveFile(driveDir, b.filePath)!)),
        ]),
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
    await c.jobs.update("resume-me", "rg", {
      returnAddress,
      returnShipping,
      deliveryPackage: { carrierName: "FedEx", trackingNumber: "TN-R" },
      state: "Shipping",
    });
    const account = (await operator(server.url, "GET", "/storage/resumedata")) as {
      connectionString: string;
    };
    await operator(server.url, "POST", "/packages/receive", {
      trackingNumber: "TN-R",
      driveIds: ["WD-RESUME-01"],
    });
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
      const names: string[] = [];
      for await (const b of after.listBlobsFlat()) names.push(b.name);
      assert.deepEqual(
        names.sort(),
        [...expected.keys()].sort(),
        "exactly the manifest's blobs: none missing, none renamed",
      );
      for (const [name, sum] of expected) {
        assert.equal(md5(await after.getBlobClient(name).downloadToBuffer()), sum, name);
      }
    } finally {
      server.child.kill("SIGTERM");
      await once(server.child, "exit");
    }
  },
);
