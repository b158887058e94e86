/**
 * The store contract: one suite that every JobStore implementation passes (a SQLite file
 * and a PostgreSQL database, test/support/store-factories.ts).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { sampleJob } from "../support/job-factory.ts";
import {
  freshStores,
  purgeKeepsOthersSettings,
  settingsBefore008,
  STORE_FACTORIES,
} from "../support/store-factories.ts";
import type { HistoryEntry, Job } from "../../src/domain/job/model.ts";
import type { JobStore } from "../../src/store/ports.ts";
import { FENCE_FRAMES } from "../../src/store/sqlite/checkpointer.ts";
import {
  SqliteJobStore,
  StoreInUseError,
  migrate,
} from "../../src/store/sqlite/sqlite-job-store.ts";

function job(over: Partial<Job> = {}): Job {
  return sampleJob({
    subscriptionId: "Sub-A",
    resourceGroup: "RG-1",
    driveList: [{ driveId: "D1", bitLockerKey: "secret-key", state: "Specified" }],
    ...over,
  });
}

const h = (event: string): HistoryEntry => ({
  at: "2026-01-01T00:00:00.000Z",
  actor: "customer",
  event,
  from: null,
  to: "Creating",
  reason: event,
});

for (const factory of STORE_FACTORIES) {
  describe(`JobStore contract: ${factory.name}`, { skip: factory.skip }, () => {
    const fresh = freshStores(factory);

    test("insert, case-insensitive get, duplicate insert refused", async () => {
      const { store } = await fresh();
      const j = job({ name: "MixedCase" });
      assert.equal(await store.insert(j, [h("create")]), true);
      const got = await store.get({
        subscriptionId: "sub-a",
        resourceGroup: "rg-1",
        name: "mixedcase",
      });
      assert.deepEqual(got, j);
      assert.equal(await store.insert({ ...job({ name: "MIXEDCASE" }) }, []), false);
      assert.deepEqual(await store.history(j.uid), [h("create")]);
      await store.close();
    });

    test("a refused insert writes nothing: the next job follows the last one in order (Jobs_Create on a taken name inserts first)", async () => {
      const { store } = await fresh();
      const first = job({ name: "first" });
      assert.equal(await store.insert(first, [h("create")]), true);
      for (let i = 0; i < 40; i++) {
        assert.equal(await store.insert(job({ name: "FIRST" }), [h("again")]), false);
      }
      assert.equal(await store.insert(job({ name: "other", uid: first.uid }), []), false);
      const next = job({ name: "next" });
      assert.equal(await store.insert(next, [h("create")]), true);
      const listed = await store.listByStates(["Creating"], 0, 10);
      assert.deepEqual(
        listed.map((l) => l.job.name),
        ["first", "next"],
      );
      assert.equal(listed[1]!.seq, listed[0]!.seq + 1, "no place in the order taken by a refusal");
      assert.deepEqual(
        (await store.history(first.uid)).map((x) => x.event),
        ["create"],
      );
      await store.close();
    });

    test("inserts asked together: each its own outcome, drives and history; a key or uid taken earlier in the same turn refused", async () => {
      const { store } = await fresh();
      const taken = job({ name: "taken" });
      assert.equal(await store.insert(taken, [h("create")]), true);
      const jobs = Array.from({ length: 20 }, (_, i) =>
        job({
          name: `together-${i}`,
          driveList: [
            { driveId: `T${i}`, bitLockerKey: "k", manifestFile: "\\m", state: "Specified" },
          ],
        }),
      );
      const twin = job({ name: "TOGETHER-3" }); // the key of jobs[3], another case
      const sameUid = job({ name: "other-name", uid: jobs[5]!.uid });
      const again = job({ name: "Taken" });
      const outcomes = await Promise.all([
        ...jobs.map((j, i) => store.insert(j, [h(`create-${i}`), h(`more-${i}`)])),
        store.insert(twin, [h("twin")]),
        store.insert(sameUid, [h("same uid")]),
        store.insert(again, [h("again")]),
      ]);
      assert.deepEqual(outcomes, [...jobs.map(() => true), false, false, false]);
      for (const [i, j] of jobs.entries()) {
        assert.deepEqual(await store.get(j), j);
        assert.deepEqual(
          (await store.history(j.uid)).map((x) => x.event),
          [`create-${i}`, `more-${i}`],
        );
        assert.deepEqual(
          (await store.findByDriveId(`t${i}`)).map((x) => x.uid),
          [j.uid],
        );
      }
      assert.equal((await store.get(taken))!.uid, taken.uid);
      assert.deepEqual(
        (await store.history(taken.uid)).map((x) => x.event),
        ["create"],
      );
      const listed = await store.list({ subscriptionId: "sub-a", limit: 100 });
      assert.deepEqual(
        listed.map((l) => l.job.name),
        ["taken", ...jobs.map((j) => j.name)],
        "in the order asked",
      );
      await store.close();
    });

    test("an insert the database refuses does not take down the others asked in the same turn", async () => {
      const { store } = await fresh();
      const good = Array.from({ length: 5 }, (_, i) => job({ name: `good-${i}` }));
      // A NUL in a drive id: PostgreSQL cannot store it in text; SQLite can.
      const odd = job({
        name: "odd",
        driveList: [{ driveId: "D\u0000X", bitLockerKey: "k", state: "Specified" }],
      });
      // Two of one key in the same turn: the first asked wins it, also when they go again
      // one by one.
      const first = job({ name: "dup" });
      const second = job({ name: "DUP" });
      const outcomes = await Promise.allSettled([
        store.insert(good[0]!, [h("create")]),
        store.insert(good[1]!, [h("create")]),
        store.insert(odd, [h("create")]),
        ...good.slice(2).map((j) => store.insert(j, [h("create")])),
        store.insert(first, [h("create")]),
        store.insert(second, [h("create")]),
      ]);
      assert.deepEqual(
        outcomes.filter((_, i) => i !== 2).map((o) => o.status === "fulfilled" && o.value),
        [...good.map(() => true), true, false],
      );
      assert.equal((await store.get(second))!.uid, first.uid, "the first asked holds the key");
      for (const j of good) assert.deepEqual((await store.get(j))!.uid, j.uid);
      const oddStored = outcomes[2]!.status === "fulfilled" && outcomes[2].value;
      assert.equal(
        (await store.get(odd)) !== undefined,
        oddStored,
        "stored exactly when it said so",
      );
      await store.close();
    });

    test("compare-and-set: a stale version never overwrites, and versions advance by one", async () => {
      const { store } = await fresh();
      const j = job();
      await store.insert(j, []);
      assert.equal(await store.update({ ...j, tags: { a: "1" } }, [h("one")]), true);
      assert.equal(
        await store.update({ ...j, tags: { b: "2" } }, [h("stale")]),
        false,
        "version 1 is stale now",
      );
      const now = (await store.get(j))!;
      assert.equal(now.version, 2);
      assert.deepEqual(now.tags, { a: "1" });
      assert.deepEqual(
        (await store.history(j.uid)).map((x) => x.event),
        ["one"],
      );
      await store.setSetting(`export-plan:${j.uid}`, "a plan");
      await store.setSetting(`export-plan:${j.uid}x`, "another job's");
      assert.equal(await store.purge(j.uid, 1), false, "purge with a stale version");
      assert.equal(
        await store.getSetting(`export-plan:${j.uid}`),
        "a plan",
        "kept by a stale purge",
      );
      assert.equal(await store.purge(j.uid, 2), true);
      assert.equal(await store.get(j), undefined);
      assert.equal(
        await store.getSetting(`export-plan:${j.uid}`),
        undefined,
        "the job's setting goes with it",
      );
      assert.equal(await store.getSetting(`export-plan:${j.uid}x`), "another job's");
      assert.deepEqual(await store.history(j.uid), []);
      assert.equal(await store.update({ ...now }, []), false, "no update resurrects a purged job");
      await store.close();
    });

    test("list: scope, filters and keyset order", async () => {
      const { store } = await fresh();
      const a = job({ resourceGroup: "rg-1" });
      const b = job({ resourceGroup: "RG-2", jobType: "Export" });
      const c = job({ resourceGroup: "rg-1", state: "Shipping" });
      const other = job({ subscriptionId: "Sub-B" });
      for (const j of [a, b, c, other]) await store.insert(j, []);
      const names = async (q: Parameters<JobStore["list"]>[0]) =>
        (await store.list(q)).map((r) => r.job.name);
      assert.deepEqual(await names({ subscriptionId: "SUB-A", limit: 10 }), [
        a.name,
        b.name,
        c.name,
      ]);
      assert.deepEqual(await names({ subscriptionId: "sub-a", resourceGroup: "rg-2", limit: 10 }), [
        b.name,
      ]);
      assert.deepEqual(await names({ subscriptionId: "sub-a", state: "Shipping", limit: 10 }), [
        c.name,
      ]);
      assert.deepEqual(await names({ subscriptionId: "sub-a", jobType: "Export", limit: 10 }), [
        b.name,
      ]);
      const first = await store.list({ subscriptionId: "sub-a", limit: 2 });
      assert.deepEqual(
        await names({ subscriptionId: "sub-a", afterSeq: first[1]!.seq, limit: 10 }),
        [c.name],
      );
      // Newest first (the portal's default): the keyset runs the other way.
      const newest = await store.list({ subscriptionId: "sub-a", newestFirst: true, limit: 2 });
      assert.deepEqual(
        newest.map((r) => r.job.name),
        [c.name, b.name],
      );
      assert.deepEqual(
        await names({
          subscriptionId: "sub-a",
          newestFirst: true,
          afterSeq: newest[1]!.seq,
          limit: 10,
        }),
        [a.name],
      );
      assert.deepEqual(
        await names({
          subscriptionId: "sub-a",
          resourceGroup: "RG-1",
          newestFirst: true,
          limit: 10,
        }),
        [c.name, a.name],
      );
      await store.close();
    });

    test("jobScopes: distinct subscription/resource group pairs with counts, filtered, bounded", async () => {
      const { store } = await fresh();
      assert.deepEqual(await store.jobScopes({ limit: 10 }), [], "an empty store has none");
      await store.insert(job({ resourceGroup: "rg-1" }), []);
      await store.insert(job({ resourceGroup: "RG-2" }), []);
      // The same group spelt another way counts with it, shown as its newest job spells it.
      await store.insert(job({ resourceGroup: "Rg-1" }), []);
      await store.insert(job({ subscriptionId: "Sub-B", resourceGroup: "other" }), []);
      await store.insert(job({ subscriptionId: "sub-c", resourceGroup: "x" }), []);
      const gone = job({ subscriptionId: "sub-d", resourceGroup: "purged" });
      await store.insert(gone, []);
      assert.equal(await store.purge(gone.uid, gone.version), true);
      assert.deepEqual(await store.jobScopes({ limit: 10 }), [
        { subscriptionId: "Sub-A", resourceGroup: "Rg-1", jobs: 2 },
        { subscriptionId: "Sub-A", resourceGroup: "RG-2", jobs: 1 },
        { subscriptionId: "Sub-B", resourceGroup: "other", jobs: 1 },
        { subscriptionId: "sub-c", resourceGroup: "x", jobs: 1 },
      ]);
      assert.deepEqual(await store.jobScopes({ subscriptionIds: ["SUB-B", "sub-c"], limit: 10 }), [
        { subscriptionId: "Sub-B", resourceGroup: "other", jobs: 1 },
        { subscriptionId: "sub-c", resourceGroup: "x", jobs: 1 },
      ]);
      assert.deepEqual(
        await store.jobScopes({ subscriptionIds: [], limit: 10 }),
        [],
        "no granted subscription: nothing, not everything",
      );
      assert.deepEqual(
        (await store.jobScopes({ limit: 2 })).map((s) => s.resourceGroup),
        ["Rg-1", "RG-2"],
      );
      await store.close();
    });

    test("due: only deadlines at or before now, oldest first, bounded", async () => {
      const { store } = await fresh();
      const late = job({ lastCustomerUpdateAt: "2026-01-10T00:00:00.000Z" });
      const early = job({ lastCustomerUpdateAt: "2026-01-02T00:00:00.000Z" });
      const none = job({ state: "Received" });
      delete none.dueAt;
      delete none.dueEvent;
      for (const j of [late, early, none]) await store.insert(j, []);
      assert.deepEqual(
        (await store.due(new Date("2026-01-16T00:00:00.000Z"), 10)).map((j) => j.name),
        [early.name],
      );
      assert.deepEqual(
        (await store.due(new Date("2027-01-01T00:00:00.000Z"), 10)).map((j) => j.name),
        [early.name, late.name],
      );
      assert.equal((await store.due(new Date("2027-01-01T00:00:00.000Z"), 1)).length, 1);
      assert.deepEqual(await store.countByState(), { Creating: 2, Received: 1 });
      await store.close();
    });

    test("datacenter lookups: by tracking number, by drive id, by state across subscriptions", async () => {
      const { store } = await fresh();
      const a = job({
        state: "Shipping",
        deliveryPackage: { carrierName: "FedEx", trackingNumber: "TN-A" },
      });
      const b = job({
        subscriptionId: "Sub-B",
        state: "Received",
        driveList: [{ driveId: "Shared-1", state: "Received" }],
      });
      const c = job({ state: "Creating" });
      for (const j of [a, b, c]) await store.insert(j, []);
      assert.deepEqual(
        (await store.findByTrackingNumber("tn-a")).map((j) => j.name),
        [a.name],
      );
      assert.deepEqual(await store.findByTrackingNumber("TN-NONE"), []);
      assert.deepEqual(
        (await store.findByDriveId("shared-1")).map((j) => j.name),
        [b.name],
      );
      assert.deepEqual(
        (await store.findByDriveId("D1")).map((j) => j.name).sort(),
        [a.name, c.name].sort(),
      );
      // Lookups follow updates and purges.
      await store.update(
        { ...a, deliveryPackage: { carrierName: "FedEx", trackingNumber: "TN-A2" }, driveList: [] },
        [],
      );
      assert.deepEqual(await store.findByTrackingNumber("TN-A"), []);
      assert.deepEqual(
        (await store.findByTrackingNumber("TN-A2")).map((j) => j.name),
        [a.name],
      );
      assert.deepEqual(
        (await store.findByDriveId("D1")).map((j) => j.name),
        [c.name],
      );
      await store.purge(b.uid, 1);
      assert.deepEqual(await store.findByDriveId("shared-1"), []);
      const active = await store.listByStates(["Shipping", "Received", "Creating"], 0, 10);
      assert.deepEqual(
        active.map((r) => r.job.name),
        [a.name, c.name],
      );
      assert.deepEqual(
        (await store.listByStates(["Creating"], active[0]!.seq, 10)).map((r) => r.job.name),
        [c.name],
      );
      assert.deepEqual(await store.listByStates([], 0, 10), []);
      await store.close();
    });

    test("expired purges: each keeps its own compare-and-set outcome, and takes history, drives and progress with it", async () => {
      const { store } = await fresh();
      const current = job({ driveList: [{ driveId: "Gone-1", state: "Completed" }] });
      const stale = job();
      for (const j of [current, stale]) await store.insert(j, [h("create")]);
      await store.recordImport(current.uid, "Gone-1", {
        blobKey: "0:0",
        status: "done",
        finalPath: "c/a.txt",
        detail: {},
      });
      await store.update({ ...stale, tags: { moved: "on" } }, [h("tag")]);
      await store.setSetting(`export-plan:${current.uid}`, "plan");
      await store.setSetting(`export-plan:${stale.uid}`, "plan");
      assert.deepEqual(
        await store.purgeExpired([
          { uid: current.uid, version: 1 },
          { uid: stale.uid, version: 1 },
          { uid: "no-such-job", version: 1 },
        ]),
        [true, false, false],
      );
      assert.equal(await store.get(current), undefined);
      assert.deepEqual(await store.history(current.uid), []);
      assert.deepEqual(await store.findByDriveId("gone-1"), []);
      assert.deepEqual(await store.importRecords(current.uid, "Gone-1"), []);
      assert.equal((await store.get(stale))?.version, 2, "a stale purge leaves the job alone");
      assert.equal(await store.getSetting(`export-plan:${current.uid}`), undefined);
      assert.equal(await store.getSetting(`export-plan:${stale.uid}`), "plan");
      assert.deepEqual(await store.purgeExpired([]), []);
      await store.close();
    });

    test("compare-and-set under concurrency: of many writers of one version exactly one wins", async () => {
      const { store } = await fresh();
      const j = job();
      await store.insert(j, []);
      const outcomes = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          store.update({ ...j, tags: { w: String(i) } }, [h(`w${i}`)]),
        ),
      );
      assert.equal(outcomes.filter(Boolean).length, 1);
      const winner = outcomes.indexOf(true);
      const now = (await store.get(j))!;
      assert.equal(now.version, 2);
      assert.deepEqual(now.tags, { w: String(winner) });
      assert.deepEqual(
        (await store.history(j.uid)).map((x) => x.event),
        [`w${winner}`],
      );
      await store.close();
    });

    test("keys match case-insensitively, non-ASCII letters too, and keep the caller's casing", async () => {
      const { store } = await fresh();
      const j = job({ subscriptionId: "Sub-ÄB", resourceGroup: "Ärger-RG", name: "Job-Eins" });
      assert.equal(await store.insert(j, []), true);
      const got = await store.get({
        subscriptionId: "SUB-äb",
        resourceGroup: "äRGER-rg",
        name: "JOB-eins",
      });
      assert.equal(got?.resourceGroup, "Ärger-RG");
      assert.equal(got?.name, "Job-Eins");
      assert.equal(
        await store.insert(
          job({ subscriptionId: "sub-äb", resourceGroup: "ÄRGER-RG", name: "job-EINS" }),
          [],
        ),
        false,
      );
      assert.deepEqual(
        (await store.list({ subscriptionId: "SUB-ÄB", resourceGroup: "ärger-rg", limit: 10 })).map(
          (r) => r.job.uid,
        ),
        [j.uid],
      );
      await store.close();
    });

    test("keyset paging while jobs are created and changed: every job that existed is listed once, in order", async () => {
      const { store } = await fresh();
      const before: Job[] = Array.from({ length: 25 }, () => job());
      for (const j of before) await store.insert(j, []);
      // Another writer creates jobs and changes jobs (listed already or not yet) while the
      // pages are read; a changed row is written anew (PostgreSQL: a new row version).
      const writer = (async () => {
        for (let i = 0; i < 12; i++) {
          await Promise.all([
            store.insert(job({ name: `later-${i}` }), []),
            store.update({ ...before[i * 2]!, tags: { r: String(i) } }, []),
          ]);
        }
      })();
      const seen: { seq: number; uid: string }[] = [];
      let after = 0;
      for (;;) {
        const page = await store.list({ subscriptionId: "sub-a", afterSeq: after, limit: 4 });
        if (page.length === 0) break;
        seen.push(...page.map((r) => ({ seq: r.seq, uid: r.job.uid })));
        after = page[page.length - 1]!.seq;
      }
      await writer;
      const uids = seen.map((s) => s.uid);
      assert.equal(new Set(uids).size, uids.length, "no job listed twice");
      for (const j of before) assert.ok(uids.includes(j.uid), `${j.name} was listed`);
      assert.deepEqual(
        seen.map((s) => s.seq),
        [...seen.map((s) => s.seq)].sort((a, b) => a - b),
        "in ascending keyset order",
      );
      // Jobs created during the paging may or may not have been on it; a listing after it
      // has every job once.
      const all = (await store.list({ subscriptionId: "sub-a", limit: 100 })).map((r) => r.job.uid);
      assert.equal(all.length, before.length + 12);
      assert.equal(new Set(all).size, all.length);
      await store.close();
    });

    test("a purged job leaves no trace in the store's data: personal data, keys, history, progress", async () => {
      const { place, store } = await fresh();
      const marker = `purge-me-${Date.now()}`;
      const j = job({
        returnAddress: {
          recipientName: `${marker}-name`,
          streetAddress1: "1 Main St",
          city: "Redmond",
          postalCode: "98052",
          countryOrRegion: "USA",
          phone: "4255550100",
          email: `${marker}@example.com`,
        },
        returnShipping: { carrierName: "FedEx", carrierAccountNumber: `${marker}-acct` },
        deliveryPackage: { carrierName: "FedEx", trackingNumber: `${marker}-TN` },
        driveList: [{ driveId: "D1", bitLockerKey: `${marker}-key`, state: "Specified" }],
      });
      const keep = job({ tags: { keep: "yes" } });
      await store.insert(j, [{ ...h("create"), reason: `${marker} created` }]);
      await store.insert(keep, [h("create")]);
      await store.update({ ...j, tags: { t: marker } }, [
        { ...h("tag"), reason: `${marker} tagged` },
      ]);
      await store.recordImport(j.uid, "D1", {
        blobKey: "0:0",
        status: "done",
        finalPath: `c/${marker}`,
        detail: { m: marker },
      });
      assert.equal(await store.purge(j.uid, 2), true);
      assert.deepEqual(await store.history(j.uid), []);
      assert.deepEqual(await store.findByTrackingNumber(`${marker}-TN`), []);
      await store.close();
      assert.deepEqual(
        await factory.traces(place, marker),
        [],
        "the marker is nowhere in the data",
      );
      const reopened = await factory.open(place);
      assert.deepEqual(
        (await reopened.get(keep))?.tags,
        { keep: "yes" },
        "the other job is intact",
      );
      await reopened.close();
    });

    test("settings keep the first value unless set explicitly", async () => {
      const { store } = await fresh();
      assert.equal(await store.setSettingIfAbsent("k", "first"), "first");
      assert.equal(await store.setSettingIfAbsent("k", "second"), "first");
      assert.equal(await store.getSetting("missing"), undefined);
      await store.setSetting("k", "third");
      assert.equal(await store.getSetting("k"), "third");
      await store.close();
    });

    test("reopening the same data finds every job and its history as it was", async () => {
      const { place, store } = await fresh();
      const jobs = [
        job(),
        job({ state: "Completed", cancelRequested: true }),
        job({ tags: { t: "v" } }),
      ];
      for (const j of jobs) await store.insert(j, [h("create")]);
      await store.update({ ...jobs[2]!, tags: { t: "w" } }, [h("tag")]);
      await store.close();
      const reopened = await factory.open(place);
      assert.deepEqual(await reopened.get(jobs[0]!), jobs[0]);
      assert.deepEqual(await reopened.get(jobs[1]!), jobs[1]);
      assert.deepEqual((await reopened.get(jobs[2]!))?.tags, { t: "w" });
      assert.deepEqual(
        (await reopened.history(jobs[2]!.uid)).map((x) => x.event),
        ["create", "tag"],
      );
      await reopened.close();
    });
  });
}

describe("SQLite migrations", () => {
  test("002 backfills tracking numbers and drives of jobs written before it", () => {
    const db = new Database(":memory:");
    db.exec(readFileSync(new URL("../../migrations/sqlite/001_jobs.sql", import.meta.url), "utf8"));
    db.pragma("user_version = 1");
    const doc = JSON.stringify({
      deliveryPackage: { trackingNumber: "OLD-TN" },
      driveList: [{ driveId: "Old-Drive" }],
    });
    db.prepare(
      "INSERT INTO jobs (uid, subscription_key, resource_group_key, name_key, state, job_type, version, doc) VALUES ('u', 's', 'r', 'n', 'Shipping', 'Import', 1, ?)",
    ).run(doc);
    migrate(db);
    assert.equal(
      (db.prepare("SELECT tracking_key FROM jobs").get() as { tracking_key: string }).tracking_key,
      "old-tn",
    );
    assert.deepEqual(db.prepare("SELECT drive_key, job_uid FROM job_drives").all(), [
      { drive_key: "old-drive", job_uid: "u" },
    ]);
    db.close();
  });

  test("008 keys the settings written before it by their job's uid; a purge then finds them by that key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "drivebay-mig-"));
    try {
      const file = join(dir, "jobs.sqlite");
      const db = new Database(file);
      const migrations = new URL("../../migrations/sqlite/", import.meta.url);
      for (const f of readdirSync(migrations)
        .filter((f) => /^00[1-7]_.*\.sql$/.test(f))
        .sort()) {
        db.exec(readFileSync(new URL(f, migrations), "utf8"));
      }
      db.pragma("user_version = 7");
      const j = job();
      const insert = db.prepare("INSERT INTO settings (name, value) VALUES (?, 'v')");
      for (const { name } of settingsBefore008(j.uid)) insert.run(name);
      migrate(db);
      assert.deepEqual(
        db.prepare("SELECT name, job_uid FROM settings ORDER BY name").all(),
        settingsBefore008(j.uid),
      );
      const plan = db
        .prepare("EXPLAIN QUERY PLAN DELETE FROM settings WHERE job_uid = ?")
        .all("u") as { detail: string }[];
      assert.match(plan.map((p) => p.detail).join("; "), /USING .*INDEX settings_job_uid/);
      db.close();
      const store = new SqliteJobStore({ file });
      await store.insert(j, [h("create")]);
      await purgeKeepsOthersSettings(store, j.uid);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("apply once, in order, and are recorded in user_version", () => {
    const db = new Database(":memory:");
    const v = migrate(db);
    assert.ok(v >= 1);
    assert.equal(migrate(db), v, "a second run applies nothing");
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all() as { name: string }[];
    assert.ok(["jobs", "job_history", "settings"].every((t) => tables.some((x) => x.name === t)));
    db.close();
  });

  test("the database file is in WAL mode and owned by one store at a time", async () => {
    const dir = mkdtempSync(join(tmpdir(), "drivebay-wal-"));
    try {
      const file = join(dir, "x.sqlite");
      const store = new SqliteJobStore({ file });
      assert.throws(
        () => new SqliteJobStore({ file }),
        (e: unknown) =>
          e instanceof StoreInUseError &&
          e.message.includes("in use by another drivebay process") &&
          e.message.includes("--data-dir"),
      );
      await store.insert(job(), [h("create")]);
      await store.close();
      const again = new SqliteJobStore({ file });
      assert.equal((await again.countByState()).Creating, 1, "free again once the owner closed");
      await again.close();
      const after = new Database(file);
      assert.equal(after.pragma("journal_mode", { simple: true }), "wal");
      after.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the write-ahead log stays bounded under a steady stream of commits (checkpointer thread)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "drivebay-wal-"));
    try {
      const file = join(dir, "x.sqlite");
      const store = new SqliteJobStore({ file, synchronous: "NORMAL" });
      // One commit after another with no pause: a checkpoint never finds the log idle, so
      // without the fence the log would hold every page of every commit (over 40,000 pages
      // here). With it, the log starts over about every 50 ms of commits.
      const N = 3000;
      let frames = 0;
      for (let i = 0; i < N; i++) {
        assert.ok(await store.insert(job({ name: `job-${i}`, uid: `u-${i}` }), [h("create")]));
        frames = Math.max(frames, statSync(`${file}-wal`).size / 4120);
      }
      assert.ok(
        frames < 8 * FENCE_FRAMES,
        `the log grew to ${Math.round(frames)} pages; checkpoints should keep it near ${FENCE_FRAMES}`,
      );
      await store.close();
      const reopened = new SqliteJobStore({ file });
      assert.equal((await reopened.countByState()).Creating, N, "every commit is in the database");
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
