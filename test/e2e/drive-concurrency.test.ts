/**
 * Drives copied at once by one worker (`driveConcurrency`, issue 12): with 2, both drives
 * of a job are claimed together and copied side by side; with 1, the second drive is
 * claimed as soon as the first finishes, not a poll later. The runner under test polls
 * once an hour, so only its own look for work after a finish can start the second drive;
 * what happened is read from the store's drive runs (who holds each drive), not timed.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_TIMERS } from "../../src/domain/job/lifecycle.ts";
import { ImportCopier } from "../../src/transfer/import/import-copier.ts";
import { prepareDrive } from "../../src/transfer/prepare.ts";
import { TransferRunner } from "../../src/transfer/runner.ts";
import type { DriveRun } from "../../src/store/ports.ts";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { shipAndReceive } from "../support/shipping.ts";
import { tempDir, writeData } from "../transfer/helpers.ts";

const RG = "concurrency";
const KEY = "111111-222222-333333-444444-555555-666666-777777-888888";
const DRIVES = ["WD-CONC-A", "WD-CONC-B"];
const FILES = 12;

/** A job with two prepared drives, received and attached, that nobody copies yet. */
async function twoDriveJob(server: TestServer, name: string): Promise<string> {
  const root = tempDir("drivebay-concurrency-");
  const entries = [];
  for (const [d, driveId] of DRIVES.entries()) {
    for (let i = 0; i < FILES; i++) writeData(root, `src${d}/f${i}.bin`, 2000 + 10 * d + i);
    const csv = writeData(
      root,
      `dataset${d}.csv`,
      `BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile\n"${join(root, `src${d}`)}/",${name}-${d}/,,rename,,\n`,
    );
    const driveDir = join(root, `drive${d}`);
    const prepared = await prepareDrive({ datasetCsv: csv, driveDir, driveId });
    entries.push({ entry: { ...prepared.driveListEntry, bitLockerKey: KEY }, driveDir });
  }
  const c = server.client();
  await c.jobs.create(name, RG, {
    location: "westus",
    properties: {
      storageAccountId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/concurrency`,
      jobType: "Import",
      logLevel: "Error",
      backupDriveManifest: false,
      driveList: entries.map((e) => e.entry),
    },
  });
  await shipAndReceive(c, server.operator, RG, name, {
    trackingNumber: `TN-${name}`,
    driveIds: DRIVES,
  });
  for (const [d, driveId] of DRIVES.entries()) {
    const attached = await server.operator(
      "POST",
      `/jobs/${SUBSCRIPTION}/${RG}/${name}/drives/${driveId}/attach`,
      { path: entries[d]!.driveDir },
    );
    assert.equal(attached.status, 200, JSON.stringify(attached.body));
  }
  const job = await server.store.get({ subscriptionId: SUBSCRIPTION, resourceGroup: RG, name });
  return job!.uid;
}

/** Who holds each drive, by drive id (upper case), with whether its copy ended. */
async function holders(server: TestServer, uid: string) {
  const runs = new Map<string, DriveRun>(
    (await server.store.driveRuns(uid)).map((r) => [r.driveId.toUpperCase(), r]),
  );
  return Object.fromEntries(
    DRIVES.map((d) => {
      const r = runs.get(d);
      return [d, r ? { owner: r.owner, finished: r.finished } : undefined];
    }),
  );
}

describe("drives copied at once by one worker", () => {
  let server: TestServer;
  let runner: TransferRunner | undefined;
  before(async () => {
    server = await startTestServer({ blob: "memory" });
    // The service's own runner copies nothing here: the runner under test does.
    await server.runner!.stop();
  });
  after(async () => {
    await runner?.stop();
    await server.close();
  });

  function start(driveConcurrency: number): TransferRunner {
    runner = new TransferRunner({
      store: server.store,
      clock: server.clock,
      timers: DEFAULT_TIMERS,
      storage: server.storage,
      copiers: [new ImportCopier()],
      owner: `runner-${driveConcurrency}`,
      driveConcurrency,
      blobConcurrency: 2,
    });
    return runner;
  }

  async function finished(name: string, uid: string) {
    const job = await server.client().jobs.get(name, RG);
    assert.equal(job.properties?.state, "Packaging");
    assert.deepEqual(
      job.properties!.driveList!.map((d) => [d.driveId, d.state]),
      DRIVES.map((d) => [d, "Completed"]),
    );
    const history = await server.store.history(uid);
    assert.equal(history.filter((h) => h.event === "completeDrive").length, 2);
    for (const r of await server.store.driveRuns(uid)) {
      assert.deepEqual([r.owner, r.token, r.finished], [undefined, 1, true], r.driveId);
    }
  }

  test("driveConcurrency 2: both drives of the job are claimed and copied at the same time", async () => {
    const uid = await twoDriveJob(server, "side-by-side");
    const r = start(2);
    const seen: Record<string, unknown>[] = [];
    let bothStarted!: () => void;
    const both = new Promise<void>((resolve) => (bothStarted = resolve));
    r.onBlobStart = async ({ driveId, index }) => {
      if (index === 0) {
        seen.push({ driveId, holders: await holders(server, uid) });
        if (seen.length === 2) bothStarted();
      }
      // Neither drive gets past its first blob before the other has started (so neither
      // can finish first); one drive at a time would wait here until the test times out.
      else await both;
    };
    r.start(3_600_000);
    r.wake();
    await r.drain();
    await r.stop();
    // When each drive's first blob started, both drives were held by this runner, neither done.
    const held = Object.fromEntries(DRIVES.map((d) => [d, { owner: "runner-2", finished: false }]));
    assert.deepEqual(seen.map((s) => s.driveId).sort(), DRIVES);
    for (const s of seen) assert.deepEqual(s.holders, held, JSON.stringify(s));
    await finished("side-by-side", uid);
  });

  test("driveConcurrency 1: the second drive is claimed as soon as the first finishes", async () => {
    const uid = await twoDriveJob(server, "one-then-other");
    const r = start(1);
    const order: string[] = [];
    const firstStarts: Record<string, unknown>[] = [];
    let secondStarted!: () => void;
    const second = new Promise<void>((resolve) => (secondStarted = resolve));
    r.onBlobStart = async ({ driveId, index }) => {
      order.push(driveId);
      if (index !== 0) return;
      firstStarts.push({ driveId, holders: await holders(server, uid) });
      if (firstStarts.length === 2) secondStarted();
    };
    r.start(3_600_000);
    r.wake();
    // Nothing polls for an hour: only the runner's look for work after the first drive
    // finished can start the second (without it, this waits until the test times out).
    await second;
    await r.drain();
    await r.stop();
    const [a, b] = firstStarts as { driveId: string; holders: Record<string, unknown> }[];
    assert.notEqual(a!.driveId, b!.driveId);
    // The first drive alone was held while it was copied ...
    assert.deepEqual(a!.holders[a!.driveId], { owner: "runner-1", finished: false });
    assert.equal(a!.holders[b!.driveId], undefined);
    // ... every one of its blobs started before the second drive's first ...
    assert.deepEqual(order, [...Array(FILES).fill(a!.driveId), ...Array(FILES).fill(b!.driveId)]);
    // ... and the second was claimed once the first had finished.
    assert.deepEqual(b!.holders, {
      [a!.driveId]: { owner: undefined, finished: true },
      [b!.driveId]: { owner: "runner-1", finished: false },
    });
    await finished("one-then-other", uid);
  });
});
