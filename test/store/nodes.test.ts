/**
 * The store contract for several nodes (ADR 0013), over both stores: the timer sweep's
 * claims, two sweepers firing each due deadline once, the clock offset raised from two
 * nodes, and wake-ups heard across them. On SQLite the "second node" is the same store
 * (one process owns the file); on PostgreSQL it is a second store with its own connections.
 */
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { DAY_MS, OffsetClock } from "../../src/domain/clock.ts";
import { DEFAULT_TIMERS } from "../../src/domain/job/lifecycle.ts";
import type { Job, JobState } from "../../src/domain/job/model.ts";
import { Engine } from "../../src/engine/engine.ts";
import type { JobStore, WakeTopic } from "../../src/store/ports.ts";
import { sampleJob } from "../support/job-factory.ts";
import { STORE_FACTORIES } from "../support/store-factories.ts";

const T0 = new Date("2026-03-01T00:00:00.000Z");

function job(i: number, state: JobState): Job {
  return sampleJob(
    {
      uid: `u${i}`,
      subscriptionId: "s",
      name: `job-${i}`,
      state,
      driveList: [{ driveId: `D${i}`, state: "Specified" }],
    },
    { at: T0 },
  );
}

const DAY_15 = new Date(T0.getTime() + 15 * DAY_MS);
const lease = (owner: string, ms = 60_000) => ({ owner, ms });

/** Resolves with the first payload `store` hears on `topic`. */
function heard(store: JobStore, topic: WakeTopic): Promise<string> {
  return new Promise((resolve) => {
    const stop = store.wakeups.subscribe(topic, (payload) => {
      stop();
      resolve(payload);
    });
  });
}

for (const factory of STORE_FACTORIES) {
  describe(`Several nodes on one store: ${factory.name}`, { skip: factory.skip }, () => {
    const open: JobStore[] = [];
    const nodes = async () => {
      const place = await factory.place();
      const a = await factory.open(place);
      const b = await factory.peer(place, a);
      open.push(a, b);
      return { place, a, b };
    };
    after(async () => {
      await Promise.all([...new Set(open)].map((s) => s.close().catch(() => undefined)));
    });

    test("claimDue: concurrent claimers get disjoint jobs, together every due one, and not what is not due", async () => {
      const { a, b } = await nodes();
      for (let i = 0; i < 30; i++) await a.insert(job(i, "Shipping"), []);
      await a.insert(job(99, "Received"), []); // no deadline
      const claims = await Promise.all(
        Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).claimDue(DAY_15, 3, lease(`n${i}`))),
      );
      const uids = claims.flat().map((j) => j.uid);
      assert.equal(new Set(uids).size, uids.length, "no job claimed twice");
      assert.deepEqual([...uids].sort(), Array.from({ length: 30 }, (_, i) => `u${i}`).sort());
      assert.deepEqual(await a.claimDue(DAY_15, 10, lease("late")), [], "all are held");
      assert.deepEqual(
        await b.claimDue(new Date(T0.getTime() + DAY_MS), 10, lease("early")),
        [],
        "nothing is due on day 1",
      );
    });

    test("a claim ends when the job changes, when its holder gives it back, or when its lease lapses", async () => {
      const { a, b } = await nodes();
      for (let i = 0; i < 3; i++) await a.insert(job(i, "Shipping"), []);
      const [j0, j1, j2] = await a.claimDue(DAY_15, 3, lease("one"));
      assert.ok(j0 && j1 && j2);
      const byUid = new Map([j0, j1, j2].map((j) => [j.uid, j]));
      const changed = byUid.get("u0")!;
      assert.equal(await b.update({ ...changed, tags: { x: "1" } }, []), true);
      assert.deepEqual(
        (await b.claimDue(DAY_15, 10, lease("two"))).map((j) => [j.uid, j.version]),
        [["u0", 2]],
        "the changed job is claimable at its new version",
      );
      await b.releaseClaims("someone-else", [{ uid: "u1", version: 1 }]);
      assert.deepEqual(
        await b.claimDue(DAY_15, 10, lease("two")),
        [],
        "only its holder gives it back",
      );
      await a.releaseClaims("one", [{ uid: "u1", version: 1 }]);
      assert.deepEqual(
        (await b.claimDue(DAY_15, 10, lease("two", 5))).map((j) => j.uid),
        ["u1"],
      );
      await sleep(50);
      assert.deepEqual(
        (await a.claimDue(DAY_15, 10, lease("three"))).map((j) => j.uid),
        ["u1"],
        "a lapsed lease holds nothing",
      );
    });

    test("two sweepers at once fire each due deadline once: one history entry, one purge, no lost compare-and-set", async () => {
      const { a, b } = await nodes();
      for (let i = 0; i < 24; i++) await a.insert(job(i, "Shipping"), []);
      for (let i = 100; i < 112; i++) await a.insert(job(i, "Creating"), []);
      // Every compare-and-set write either sweeper makes, and its outcome.
      const writes: boolean[] = [];
      for (const store of new Set([a, b])) {
        const update = store.update.bind(store);
        store.update = async (j, h) => {
          const ok = await update(j, h);
          writes.push(ok);
          return ok;
        };
      }
      const clock = new OffsetClock({ frozenAt: T0 });
      clock.advance(15 * DAY_MS);
      const sweeper = (store: JobStore) =>
        new Engine({ store, clock, timers: DEFAULT_TIMERS, batchSize: 2 });
      const [one, two] = [sweeper(a), sweeper(b)];
      const [r1, r2] = await Promise.all([one.tick(), two.tick()]);
      assert.equal(r1.changed + r2.changed, 24);
      assert.equal(r1.purged + r2.purged, 12);
      assert.equal(writes.length, 24, "no job was decided and written by both");
      assert.ok(writes.every(Boolean));
      for (let i = 0; i < 24; i++) {
        assert.deepEqual(
          (await b.history(`u${i}`)).map((h) => h.event),
          ["shippingAlert"],
          `job ${i}`,
        );
      }
      assert.deepEqual(await a.countByState(), { Shipping: 24 });
      const again = await Promise.all([one.tick(), two.tick()]);
      assert.deepEqual(again, [
        { changed: 0, purged: 0 },
        { changed: 0, purged: 0 },
      ]);
    });

    test("raiseSetting: raises from two nodes at once all count, and never go below atLeast", async () => {
      const { a, b } = await nodes();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).raiseSetting("offset", 1000, 0)),
      );
      assert.equal(await b.getSetting("offset"), "20000");
      assert.equal(await a.raiseSetting("offset", 5, 50_000), 50_000);
      assert.equal(await b.raiseSetting("offset", 5, 0), 50_005);
      assert.equal(await a.raiseSetting("fresh", 7, 3), 7);
    });

    test("a write acknowledged on one node is what the next read on the other returns: create, update, delete, the name reused (ADR 0015)", async () => {
      const { a, b } = await nodes();
      const key = { subscriptionId: "S", resourceGroup: "RG", name: "Seen-Job" };
      const lower = { subscriptionId: "s", resourceGroup: "rg", name: "seen-job" };
      // B has read the key (absent) and will hold each version it reads from here on.
      assert.equal(await b.get(key), undefined);
      const first = sampleJob({ ...key, uid: "first" });
      assert.equal(await a.insert(first, []), true);
      assert.equal((await b.get(lower))?.uid, "first", "created on A, read on B");
      assert.equal((await b.get(key))?.version, 1);
      for (let v = 1; v <= 5; v++) {
        const held = (await b.get(key))!;
        assert.equal(held.version, v);
        // Reads on B in flight while A writes may see either version; the read asked after
        // A's write returned must see the new one.
        const during = Promise.all([b.get(key), b.get(lower), b.get(key)]);
        assert.equal(await a.update({ ...held, tags: { v: String(v) } }, []), true);
        for (const seen of await during) assert.ok([v, v + 1].includes(seen!.version));
        const after = (await b.get(key))!;
        assert.equal(after.version, v + 1, "updated on A, read on B");
        assert.deepEqual(after.tags, { v: String(v) });
      }
      // A stale write from B (it read version 6 before A's update) loses: no lost update.
      const stale = (await b.get(key))!;
      assert.equal(await a.update({ ...stale, tags: { by: "a" } }, []), true);
      assert.equal(await b.update({ ...stale, tags: { by: "b" } }, []), false);
      assert.deepEqual((await b.get(key))!.tags, { by: "a" });
      // Deleted on A: gone on B at once, and not back on a later read.
      const last = (await b.get(key))!;
      assert.equal(await a.purge(last.uid, last.version), true);
      assert.equal(await b.get(key), undefined, "deleted on A, read on B");
      assert.equal(await b.get(lower), undefined);
      // The name reused on A by a new job, version 1 again: B reads the new job, not the old.
      const second = sampleJob({ ...key, uid: "second", tags: { generation: "2" } });
      assert.equal(await a.insert(second, []), true);
      const now = (await b.get(key))!;
      assert.equal(now.uid, "second");
      assert.equal(now.version, 1);
      assert.deepEqual(now.tags, { generation: "2" });
    });

    test("point reads asked together each get their own job, absent ones undefined", async () => {
      const { a, b } = await nodes();
      const jobs = Array.from({ length: 12 }, (_, i) =>
        sampleJob({ subscriptionId: "s", resourceGroup: `rg${i % 3}`, name: `many-${i}` }),
      );
      for (const j of jobs) assert.equal(await a.insert(j, []), true);
      const keys = jobs.flatMap((j, i) => [
        { subscriptionId: "s", resourceGroup: j.resourceGroup, name: j.name },
        { subscriptionId: "S", resourceGroup: j.resourceGroup.toUpperCase(), name: `MANY-${i}` },
        { subscriptionId: "s", resourceGroup: j.resourceGroup, name: `missing-${i}` },
      ]);
      for (let round = 0; round < 2; round++) {
        const read = await Promise.all(keys.map((k) => b.get(k)));
        jobs.forEach((j, i) => {
          assert.equal(read[3 * i]?.uid, j.uid);
          assert.equal(read[3 * i + 1]?.uid, j.uid);
          assert.equal(read[3 * i + 2], undefined);
        });
      }
    });

    test("wake-ups: what one node publishes, every node hears (the publisher too), once", async () => {
      const { a, b } = await nodes();
      const atA = heard(a, "effects");
      const atB = heard(b, "effects");
      let count = 0;
      const stop = b.wakeups.subscribe("clock", () => count++);
      await a.wakeups.publish("effects", '{"uid":"u1"}');
      assert.deepEqual(await Promise.all([atA, atB]), ['{"uid":"u1"}', '{"uid":"u1"}']);
      const first = heard(b, "clock");
      await a.wakeups.publish("clock", "1");
      assert.equal(await first, "1");
      const second = heard(b, "clock");
      await a.wakeups.publish("clock", "2");
      assert.equal(await second, "2");
      stop();
      assert.equal(count, 2);
      assert.equal(a.wakeups.listening, true);
    });
  });
}
