/**
 * The store contract for drive claims with leases (issue 12 item 3): one suite over a
 * SQLite file and a PostgreSQL database. Time is the caller's, so a lease runs out when the
 * test moves `now`, never by waiting.
 */
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { sampleJob } from "../support/job-factory.ts";
import { STORE_FACTORIES } from "../support/store-factories.ts";
import type { HistoryEntry, Job } from "../../src/domain/job/model.ts";
import type { DriveLease, JobStore } from "../../src/store/ports.ts";

const T0 = new Date("2026-06-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);
const LEASE = 30_000;

function job(drives: string[]): Job {
  return sampleJob({
    state: "Transferring",
    driveList: drives.map((driveId) => ({ driveId, state: "Transferring" })),
  });
}

const h = (event: string): HistoryEntry => ({
  at: T0.toISOString(),
  actor: "engine",
  event,
  from: "Transferring",
  to: "Transferring",
  reason: event,
});

const record = (blobKey: string) => ({ blobKey, status: "done" as const, detail: { n: 1 } });

for (const factory of STORE_FACTORIES) {
  describe(`Drive claims: ${factory.name}`, { skip: factory.skip }, () => {
    const places: string[] = [];
    const stores: JobStore[] = [];
    const fresh = async () => {
      const place = await factory.place();
      places.push(place);
      const store = await factory.open(place);
      stores.push(store);
      return store;
    };
    after(async () => {
      await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
      await Promise.all(places.map((p) => factory.cleanup(p)));
    });

    const claim = (store: JobStore, owner: string, j: Job, now: Date, limit = 10) =>
      store.claimDrives({
        candidates: j.driveList.map((d) => ({ jobUid: j.uid, driveId: d.driveId })),
        owner,
        now,
        leaseMs: LEASE,
        limit,
      });

    test("a drive is held by one runner at a time, in the candidates' order, up to the limit", async () => {
      const store = await fresh();
      const j = job(["Drive-A", "Drive-B", "Drive-C"]);
      await store.insert(j, []);
      const first = await claim(store, "w1", j, T0, 2);
      assert.deepEqual(
        first.map((l) => [l.driveId, l.owner, l.token, l.leaseUntil.getTime()]),
        [
          ["Drive-A", "w1", 1, T0.getTime() + LEASE],
          ["Drive-B", "w1", 1, T0.getTime() + LEASE],
        ],
      );
      const second = await claim(store, "w2", j, at(1000));
      assert.deepEqual(
        second.map((l) => [l.driveId, l.owner]),
        [["Drive-C", "w2"]],
        "only the drive nobody holds",
      );
      assert.deepEqual(await claim(store, "w3", j, at(2000)), []);
      const runs = await store.driveRuns(j.uid);
      assert.deepEqual(
        runs.map((r) => [r.driveId, r.owner, r.token, r.finished]),
        [
          ["drive-a", "w1", 1, false],
          ["drive-b", "w1", 1, false],
          ["drive-c", "w2", 1, false],
        ],
      );
    });

    test("a lease that ran out is taken over with a new token; the old holder can no longer write, renew or release", async () => {
      const store = await fresh();
      const j = job(["D1"]);
      await store.insert(j, []);
      const [old] = await claim(store, "w1", j, T0);
      assert.ok(old);
      assert.equal(await store.recordImport(j.uid, "D1", record("0:0"), old), true);
      assert.equal(await store.recordDriveProgress(old, 100, 1000), true);
      // Renewed before it runs out: still held at T0 + 1.5 leases.
      const renewed = await store.renewDrive(old, at(LEASE / 2), LEASE);
      assert.equal(renewed?.leaseUntil.getTime(), T0.getTime() + LEASE * 1.5);
      assert.deepEqual(await claim(store, "w2", j, at(LEASE + 1)), []);
      // Not renewed again: taken over once it has run out.
      const [taken] = await claim(store, "w2", j, at(LEASE * 1.5 + 1));
      assert.ok(taken);
      assert.equal(taken.token, 2);
      assert.equal(
        taken.startedAt.getTime(),
        T0.getTime(),
        "the drive's copy started at the first claim",
      );
      assert.equal(old.startedAt.getTime(), T0.getTime());
      assert.equal(await store.recordImport(j.uid, "D1", record("0:1"), old), false);
      assert.equal(await store.recordDriveProgress(old, 999, 1000), false);
      assert.equal(await store.renewDrive(old, at(LEASE * 1.5 + 2), LEASE), undefined);
      assert.equal(await store.releaseDrive(old, true), false);
      const stored = (await store.get(j))!;
      assert.equal(
        await store.updateFenced({ ...stored, percentComplete: 99 }, [h("late")], old),
        "leaseLost",
      );
      // The new holder resumes from what the old one recorded, and writes.
      assert.deepEqual(
        (await store.importRecords(j.uid, "D1")).map((r) => r.blobKey),
        ["0:0"],
      );
      assert.equal(await store.recordImport(j.uid, "D1", record("0:1"), taken, true), true);
      assert.equal(
        await store.recordImport(j.uid, "D1", record("0:2"), old, true),
        false,
        "relaxed or not, fenced",
      );
      assert.equal(await store.recordDriveProgress(taken, 500, 1000), true);
      assert.equal(
        await store.updateFenced({ ...stored, percentComplete: 50 }, [h("progress")], taken),
        "ok",
      );
      const after = (await store.get(j))!;
      assert.equal(after.percentComplete, 50);
      assert.equal(after.version, stored.version + 1);
      assert.deepEqual(
        (await store.history(j.uid)).map((x) => x.event),
        ["progress"],
        "the fenced-out write left no history",
      );
      assert.deepEqual((await store.importRecords(j.uid, "D1")).map((r) => r.blobKey).sort(), [
        "0:0",
        "0:1",
      ]);
      const [run] = await store.driveRuns(j.uid);
      assert.deepEqual(
        [run!.owner, run!.token, run!.bytesDone, run!.bytesTotal],
        ["w2", 2, 500, 1000],
      );
    });

    test("a fenced update whose job moved on is a conflict, not a lost lease", async () => {
      const store = await fresh();
      const j = job(["D1"]);
      await store.insert(j, []);
      const [lease] = await claim(store, "w1", j, T0);
      assert.equal(await store.update({ ...j, tags: { a: "1" } }, []), true);
      assert.equal(
        await store.updateFenced({ ...j, percentComplete: 10 }, [h("stale")], lease!),
        "conflict",
      );
      assert.equal((await store.get(j))!.percentComplete, undefined);
    });

    test("released drives: unfinished ones are claimed again at once, finished ones never", async () => {
      const store = await fresh();
      const j = job(["D1", "D2"]);
      await store.insert(j, []);
      const [l1, l2] = await claim(store, "w1", j, T0);
      assert.equal(await store.recordDriveProgress(l1!, 10, 10), true);
      assert.equal(await store.releaseDrive(l1!, true), true);
      assert.equal(await store.releaseDrive(l2!, false), true);
      assert.equal(await store.recordDriveProgress(l2!, 1, 10), false, "released: fenced out");
      const again = await claim(store, "w2", j, at(1));
      assert.deepEqual(
        again.map((l) => [l.driveId, l.token]),
        [["D2", 2]],
      );
      const runs = await store.driveRuns(j.uid);
      assert.deepEqual(
        runs.map((r) => [r.driveId, r.owner, r.finished, r.bytesDone]),
        [
          ["d1", undefined, true, 10],
          ["d2", "w2", false, 0],
        ],
      );
    });

    test("claims race: of runners claiming the same drives at once, each drive goes to exactly one", async () => {
      const store = await fresh();
      const jobs = [job(["R1", "R2"]), job(["R3"]), job(["R4", "R5", "R6"])];
      for (const j of jobs) await store.insert(j, []);
      const candidates = jobs.flatMap((j) =>
        j.driveList.map((d) => ({ jobUid: j.uid, driveId: d.driveId })),
      );
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          store.claimDrives({ candidates, owner: `w${i}`, now: T0, leaseMs: LEASE, limit: 2 }),
        ),
      );
      const won = results
        .flat()
        .map((l) => l.driveId)
        .sort();
      assert.deepEqual(won, ["R1", "R2", "R3", "R4", "R5", "R6"]);
      assert.ok(results.every((r) => r.length <= 2));
    });

    test("no run is made for a job that is gone, and a purge takes the runs with it", async () => {
      const store = await fresh();
      const j = job(["D1"]);
      assert.deepEqual(await claim(store, "w1", j, T0), [], "not inserted");
      await store.insert(j, []);
      const [lease] = await claim(store, "w1", j, T0);
      assert.ok(lease);
      assert.equal(await store.purge(j.uid, 1), true);
      assert.deepEqual(await store.driveRuns(j.uid), []);
      assert.equal(await store.recordImport(j.uid, "D1", record("0:0"), lease), false);
      assert.deepEqual(await store.importRecords(j.uid, "D1"), []);
    });
  });
}

/** Reopening the SQLite file (the one process that owns it) frees the drives an earlier process held. */
describe("Drive claims on SQLite across a restart", () => {
  test("leases of the process that ended are void: the drive is claimed at once", async () => {
    const factory = STORE_FACTORIES[0]!;
    const place = await factory.place();
    try {
      let store = await factory.open(place);
      const j = job(["D1"]);
      await store.insert(j, []);
      const [old] = await store.claimDrives({
        candidates: [{ jobUid: j.uid, driveId: "D1" }],
        owner: "before",
        now: T0,
        leaseMs: LEASE,
        limit: 1,
      });
      await store.close();
      store = await factory.open(place);
      const [now] = await store.claimDrives({
        candidates: [{ jobUid: j.uid, driveId: "D1" }],
        owner: "after",
        now: at(1),
        leaseMs: LEASE,
        limit: 1,
      });
      assert.equal(now?.token, 2);
      assert.equal(await store.recordImport(j.uid, "D1", record("0:0"), old as DriveLease), false);
      await store.close();
    } finally {
      await factory.cleanup(place);
    }
  });
});
