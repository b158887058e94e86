/**
 * Crash and resume of an export (issue 11 item 6): the server (and its Azurite) is
 * SIGKILLed while an export writes a drive; after a restart on the same data directory the
 * drive completes with every file right, none missing, none extra, and the manifest lists
 * exactly the files on the drive. And a SIGKILL right after a cancel request: the restart
 * copies nothing more, removes what was half written, and the manifest lists exactly the
 * complete files.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { once } from "node:events";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { armClient } from "../support/server.ts";
import { afterTransferring, operatorAt, operatorOf, serve } from "./support/serve.ts";
import { shipAndReceive } from "../support/shipping.ts";
import { driveFiles } from "./support/export-drive.ts";
import { parseManifest, resolveDriveFile } from "../../src/transfer/manifest.ts";
import type { ManifestBlob } from "../../src/transfer/manifest-types.ts";
import { verifyDrive } from "../../src/transfer/verify.ts";
import { tempDir } from "../transfer/helpers.ts";

const SUB = "00000000-0000-4000-8000-0000000000ab";
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

/** The container `src` of the server's embedded storage account `account`, created. */
async function sourceContainer(
  operator: ReturnType<typeof operatorOf>,
  url: string,
  account: string,
): Promise<ContainerClient> {
  const { connectionString } = (await operator(url, "GET", `/storage/${account}`)) as {
    connectionString: string;
  };
  const cc = BlobServiceClient.fromConnectionString(connectionString).getContainerClient("src");
  await cc.create();
  return cc;
}

/**
 * Export job `name` of the whole container `src` of `account`, shipped with one drive and
 * received with `driveId` (not attached yet).
 */
async function receivedExportJob(
  dataDir: string,
  url: string,
  name: string,
  account: string,
  driveId: string,
): Promise<void> {
  const c = armClient(url, { subscriptionId: SUB });
  await c.jobs.create(name, "rg", {
    location: "westus",
    properties: {
      storageAccountId: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/${account}`,
      jobType: "Export",
      export: { blobPathPrefix: ["/src/"] },
    },
  });
  await shipAndReceive(c, operatorAt(dataDir, url), "rg", name, {
    trackingNumber: `TN-${name}`,
    driveCount: 1,
    driveIds: [driveId],
  });
}

/**
 * Every blob of `blobs` (the manifest's) is on the drive with the MD5 `expected` has for it
 * (by its name in `src`), and the drive holds nothing but them, their side files and the
 * manifest.
 */
function holdsExactly(
  driveDir: string,
  manifestFile: string,
  blobs: readonly ManifestBlob[],
  expected: ReadonlyMap<string, string>,
): void {
  const listed = new Set([manifestFile]);
  for (const b of blobs) {
    const file = resolveDriveFile(driveDir, b.filePath)!;
    assert.equal(
      md5(readFileSync(file)),
      expected.get(b.blobPath.slice("src/".length)),
      b.blobPath,
    );
    for (const p of [b.filePath, b.metadata!.path, b.properties!.path]) {
      listed.add(relative(driveDir, resolveDriveFile(driveDir, p)!));
    }
  }
  assert.deepEqual(driveFiles(driveDir), [...listed].sort(), "no file the manifest does not list");
}

test(
  "SIGKILL mid-export, restart: the drive completes with every file right and none extra",
  { timeout: 240_000 },
  async () => {
    const root = tempDir("drivebay-export-resume-");
    const dataDir = join(root, "data");
    const driveDir = join(root, "drive");
    mkdirSync(driveDir, { recursive: true });
    let server = await serve(dataDir);
    const operator = operatorOf(dataDir);
    const cc = await sourceContainer(operator, server.url, "exportresume");
    const expected = new Map<string, string>();
    const count = 600;
    for (let i = 0; i < count; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, j) => {
          const name = `d${(i + j) % 7}/f${String(i + j).padStart(4, "0")}.bin`;
          const data = Buffer.alloc(16 * 1024 + i + j, (i + j) % 251);
          await cc.getBlockBlobClient(name).upload(data, data.length);
          expected.set(name, md5(data));
        }),
      );
    }
    const big = Buffer.alloc(9 * 1024 * 1024, 5);
    await cc.getBlockBlobClient("big.bin").upload(big, big.length);
    expected.set("big.bin", md5(big));
    // The embedded Azurite keeps its index in memory for a few seconds: let it reach the disk.
    await new Promise((r) => setTimeout(r, 7000));

    await receivedExportJob(dataDir, server.url, "export-resume", "exportresume", "EXRESUME1");
    await operator(server.url, "POST", `/jobs/${SUB}/rg/export-resume/drives/EXRESUME1/attach`, {
      path: driveDir,
      capacityBytes: 1e9,
    });

    // Kill it while the copy is under way.
    let seen = 0;
    for (let i = 0; i < 4000 && seen < 40; i++) {
      seen = driveFiles(driveDir).filter((f) => f.endsWith(".properties")).length;
      if (seen < 40) await new Promise((r) => setTimeout(r, 5));
    }
    server.child.kill("SIGKILL");
    await once(server.child, "exit");
    assert.ok(seen >= 40 && seen < expected.size, `killed after ${seen} of ${expected.size} files`);

    server = await serve(dataDir);
    try {
      const c2 = armClient(server.url, { subscriptionId: SUB });
      const job = await afterTransferring(c2, "export-resume", "rg");
      assert.equal(job.properties?.state, "Packaging");
      const drive = job.properties!.driveList![0]!;
      assert.equal(drive.state, "Completed", drive.copyStatus);
      const verified = await verifyDrive(driveDir, "\\EXRESUME1.manifest");
      assert.ok(verified.ok, JSON.stringify(verified.problems));
      const manifest = parseManifest(readFileSync(join(driveDir, "EXRESUME1.manifest"), "utf8"));
      const blobs = manifest.blobLists[0]!.blobs;
      assert.deepEqual(
        blobs.map((b) => b.blobPath.slice("src/".length)).sort(),
        [...expected.keys()].sort(),
      );
      holdsExactly(driveDir, "EXRESUME1.manifest", blobs, expected);
    } finally {
      server.child.kill("SIGTERM");
      await once(server.child, "exit");
    }
  },
);

test(
  "SIGKILL right after a cancel request, restart: no further blob is copied, nothing half written stays, the manifest lists exactly the complete files",
  { timeout: 240_000 },
  async () => {
    const root = tempDir("drivebay-export-cancel-kill-");
    const dataDir = join(root, "data");
    const driveDir = join(root, "drive");
    mkdirSync(driveDir, { recursive: true });
    const SUPPORT = new URL("./support/serve-cancel-kill.ts", import.meta.url).pathname;
    const KILL_AT = 24;
    let server = await serve(dataDir, {
      args: ["--import", "tsx", SUPPORT, dataDir, SUB, "rg", "export-cancel-kill", String(KILL_AT)],
      env: { DRIVEBAY_DRIVE_LEASE: "2s" },
    });
    const operator = operatorOf(dataDir);
    const cc = await sourceContainer(operator, server.url, "exportcancel");
    // Every third blob has two ranges (a snapshot, a `writing` record); the others one GET.
    const expected = new Map<string, string>();
    const count = 60;
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const name = `f${String(i).padStart(3, "0")}.bin`;
        const data = Buffer.alloc(i % 3 === 0 ? 5 * 1024 * 1024 : 20_000 + i, i);
        await cc.getBlockBlobClient(name).upload(data, data.length);
        expected.set(name, md5(data));
      }),
    );
    // The embedded Azurite keeps its index in memory for a few seconds: let it reach the disk.
    await new Promise((r) => setTimeout(r, 7000));

    await receivedExportJob(dataDir, server.url, "export-cancel-kill", "exportcancel", "EXCANCEL1");
    const exited = once(server.child, "exit");
    await operator(
      server.url,
      "POST",
      `/jobs/${SUB}/rg/export-cancel-kill/drives/EXCANCEL1/attach`,
      { path: driveDir, capacityBytes: 1e9 },
    );
    // The copy reaches blob KILL_AT: the cancel is requested, then the process is killed.
    const [, signal] = await exited;
    assert.equal(signal, "SIGKILL");
    const complete = new Set(
      driveFiles(driveDir)
        .filter((f) => f.endsWith(".properties"))
        .map((f) => f.slice("src/".length, -".properties".length)),
    );
    assert.ok(complete.size < count, `${complete.size} of ${count} blobs written before the kill`);

    server = await serve(dataDir, { env: { DRIVEBAY_DRIVE_LEASE: "2s" } });
    try {
      const c2 = armClient(server.url, { subscriptionId: SUB });
      const job = await afterTransferring(c2, "export-cancel-kill", "rg");
      assert.equal(job.properties?.cancelRequested, true);
      const drive = job.properties!.driveList![0]!;
      assert.equal(drive.copyStatus, "Cancelled");
      const verified = await verifyDrive(driveDir, "\\EXCANCEL1.manifest");
      assert.ok(verified.ok, JSON.stringify(verified.problems));
      const manifest = parseManifest(readFileSync(join(driveDir, "EXCANCEL1.manifest"), "utf8"));
      const blobs = manifest.blobLists[0]!.blobs.map((b) => b.blobPath.slice("src/".length));
      assert.ok(blobs.length > 0 && blobs.length < count, `${blobs.length} blobs exported`);
      // Nothing copied after the restart: every blob listed was complete at the kill.
      for (const b of blobs) assert.ok(complete.has(b), `${b} was copied after the restart`);
      // What was half written at the kill is gone: the drive holds the listed files only.
      holdsExactly(driveDir, "EXCANCEL1.manifest", manifest.blobLists[0]!.blobs, expected);
    } finally {
      server.child.kill("SIGTERM");
      await once(server.child, "exit");
    }
  },
);
