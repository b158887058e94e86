/** The engine's tick against each real store and a fake clock: bounded batches, chained deadlines. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DAY_MS, OffsetClock } from "../../src/domain/clock.ts";
import { DEFAULT_TIMERS } from "../../src/domain/job/lifecycle.ts";
import { sampleJob } from "../support/job-factory.ts";
import type { Job, JobState } from "../../src/domain/job/model.ts";
import { Engine } from "../../src/engine/engine.ts";
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

for (const factory of STORE_FACTORIES) {
  describe(`Engine on ${factory.name}`, { skip: factory.skip }, () => {
    test("one tick fires every due deadline in bounded batches and chains Shipping alert → close → nothing more", async () => {
      const place = await factory.place();
      const store = await factory.open(place);
      try {
        for (let i = 0; i < 7; i++) await store.insert(job(i, "Creating"), []);
        await store.insert(job(100, "Shipping"), []);
        await store.insert(job(101, "Received"), []);
        const clock = new OffsetClock({ frozenAt: T0 });
        const engine = new Engine({ store, clock, timers: DEFAULT_TIMERS, batchSize: 2 });

        clock.advance(13 * DAY_MS);
        assert.deepEqual(await engine.tick(), { changed: 0, purged: 0 });

        clock.advance(32 * DAY_MS); // day 45: Creating expired, Shipping alerted (day 14) and closed (day 44)
        const r = await engine.tick();
        assert.equal(r.purged, 7);
        assert.equal(r.changed, 2);
        const shipped = (await store.get({
          subscriptionId: "s",
          resourceGroup: "rg",
          name: "job-100",
        }))!;
        assert.equal(shipped.state, "Closed");
        assert.equal(shipped.driveList[0]!.state, "NeverReceived");
        assert.equal(shipped.dueEvent, "retentionExpired");
        assert.deepEqual(
          (await store.history("u100")).map((h) => [h.actor, h.event, h.to]),
          [
            ["timer", "shippingAlert", "Shipping"],
            ["timer", "shippingClose", "Closed"],
          ],
        );
        assert.equal(
          (await store.get({ subscriptionId: "s", resourceGroup: "rg", name: "job-101" }))?.state,
          "Received",
        );
        assert.deepEqual(await store.countByState(), { Closed: 1, Received: 1 });
        assert.deepEqual(
          await engine.tick(),
          { changed: 0, purged: 0 },
          "a second tick finds nothing due",
        );

        clock.advance(90 * DAY_MS);
        assert.deepEqual(await engine.tick(), { changed: 0, purged: 1 });
        assert.deepEqual(await store.countByState(), { Received: 1 });
      } finally {
        await store.close();
        await factory.cleanup(place);
      }
    });
  });
}
