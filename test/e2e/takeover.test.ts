/**
 * Drive claims with leases, end to end (issue 12 item 3): a runner whose lease has run out
 * is replaced by another, which resumes the drive through the resume path; the first one
 * writes nothing more about the drive (its fenced writes are refused). Time is moved, not
 * waited for: the second runner's wall clock is two leases ahead.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { OffsetClock } from "../../src/domain/clock.ts";
import { DEFAULT_TIMERS } from "../../src/domain/job/lifecycle.ts";
import { ImportCopier } from "../../src/transfer/import/import-copier.ts";
import { TransferRunner } from "../../src/transfer/runner.ts";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { shipAndReceive } from "../support/shipping.ts";
import { blobHashes, preparedDrive } from "./support/import-drive.ts";
import { tempDir, writeData } from "../transfer/helpers.ts";

const RG = "takeover";
const KEY = "111111-222222-333333-444444-555555-666666-777777-888888";
const LEASE_MS = 30_000;

describe("a drive taken over from a runner whose lease ran out", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ blob: "memory" });
  });
  after(async () => {
    await server.close();
  });

  test("the second runner resumes and completes it; every blob right, none twice, and the first writes nothing more", async () => {
    const root = tempDir("drivebay-takeover-");
    for (let i = 0; i < 120; i++)
      writeData(root, `src/f${String(i).padStart(3, "0")}.bin`, 3000 + i);
    writeData(root, "src/big.bin", 9 * 1024 * 1024);
    const { driveDir, prepared, manifest, expected } = await preparedDrive(
      root,
      join(root, "src"),
      "moved",
      "WD-TAKEOVER",
    );

    const c = server.client();
    await c.jobs.create("taken", RG, {
      location: "westus",
      properties: {
        storageAccountId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/takeover`,
        jobType: "Import",
        logLevel: "Verbose",
        backupDriveManifest: false,
        driveList: [{ ...prepared.driveListEntry, bitLockerKey: KEY }],
      },
    });
    await shipAndReceive(c, server.operator, RG, "taken", {
      trackingNumber: "TN-TAKEOVER",
      driveIds: ["WD-TAKEOVER"],
    });

    // The second runner: its clock two leases ahead, so the first one's lease has run out.
    const later = new OffsetClock();
    later.advance(2 * LEASE_MS);
    const second = new TransferRunner({
      store: server.store,
      clock: server.clock,
      timers: DEFAULT_TIMERS,
      storage: server.storage,
      copiers: [new ImportCopier()],
      owner: "second-runner",
      wallClock: later,
      leaseMs: LEASE_MS,
      blobConcurrency: 4,
    });
    const first = server.runner!;
    let secondRan = false;
    // The first runner stalls before its 40th blob (a process frozen, a lost network); the
    // second takes the drive over and finishes it meanwhile.
    first.onBlobStart = async ({ index }) => {
      if (index !== 40 || secondRan) return;
      secondRan = true;
      await second.drain();
    };
    const attached = await server.operator(
      "POST",
      `/jobs/${SUBSCRIPTION}/${RG}/taken/drives/WD-TAKEOVER/attach`,
      { path: driveDir },
    );
    assert.equal(attached.status, 200, JSON.stringify(attached.body));
    await first.drain();
    first.onBlobStart = undefined;
    assert.equal(secondRan, true, "the second runner ran while the first was stalled");

    const job = await c.jobs.get("taken", RG);
    assert.equal(job.properties?.state, "Packaging");
    const drive = job.properties!.driveList![0]!;
    assert.equal(drive.state, "Completed");
    const total = [...manifest.blobLists.flatMap((l) => l.blobs)].reduce((n, b) => n + b.length, 0);
    assert.equal(drive.bytesSucceeded, total);
    assert.equal(job.properties?.percentComplete, 100);

    // Every blob once, with its content; no `name (2)` from the two runners.
    const conn = await server.operator("GET", "/storage/takeover");
    const acct = BlobServiceClient.fromConnectionString(conn.body.connectionString);
    const found = await blobHashes(acct.getContainerClient("moved"));
    assert.deepEqual([...found.keys()].sort(), [...expected.keys()].sort());
    for (const [path, hash] of expected) assert.equal(found.get(path), hash, path);

    // One completion, by the second runner; the claim is finished and held by nobody.
    const stored = (await server.store.get({
      subscriptionId: SUBSCRIPTION,
      resourceGroup: RG,
      name: "taken",
    }))!;
    const history = await server.store.history(stored.uid);
    assert.equal(history.filter((h) => h.event === "completeDrive").length, 1);
    const [run] = await server.store.driveRuns(stored.uid);
    assert.deepEqual(
      [run?.owner, run?.token, run?.finished, run?.bytesDone, run?.bytesTotal],
      [undefined, 2, true, total, total],
    );
    // The first runner's records never went past the takeover: every blob's final record is
    // `done` (none left `writing`, none `failed`).
    const records = await server.store.importRecords(stored.uid, "WD-TAKEOVER");
    assert.equal(records.length, expected.size);
    assert.deepEqual([...new Set(records.map((r) => r.status))], ["done"]);
  });
});
