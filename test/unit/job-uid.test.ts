/** Job uids are UUID version 7: valid, unique, and in the order they were made. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { newJobUid } from "../../src/service/job-uid.ts";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("uids are UUIDv7 carrying their millisecond, and sort in the order they were made", () => {
  const at = new Date("2031-06-01T12:00:00.000Z");
  // Many in one millisecond (the counter), then a clock that steps back (never behind).
  const uids = [
    ...Array.from({ length: 5000 }, () => newJobUid(at)),
    newJobUid(new Date(at.getTime() - 60_000)),
    newJobUid(new Date(at.getTime() + 60_000)),
  ];
  for (const u of uids) assert.match(u, V7);
  assert.equal(new Set(uids).size, uids.length, "no uid twice");
  assert.deepEqual([...uids].sort(), uids, "string order is the order made");
  const ms = (u: string) => parseInt(u.replace(/-/g, "").slice(0, 12), 16);
  assert.equal(ms(uids[0]!), at.getTime());
  assert.equal(ms(uids.at(-1)!), at.getTime() + 60_000);
});
