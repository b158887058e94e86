/**
 * `job wait`'s question to the lifecycle table: which states can a job in a given state still
 * reach (lifecycle.ts's reachableStates, used by src/cli/watch.ts). Checked against the table's own ended states and against the
 * ways the job table documents (docs/lifecycle.md).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ENDED_STATES, reachableStates } from "../../src/domain/job/lifecycle.ts";
import { JOB_STATES } from "../../src/domain/job/model.ts";

test("an ended state reaches only itself; Creating reaches every state", () => {
  for (const s of ENDED_STATES) assert.deepEqual([...reachableStates(s)], [s]);
  assert.deepEqual([...reachableStates("Creating")].sort(), [...JOB_STATES].sort());
});

test("no way back: Packaging cannot become Shipping or Transferring, but can end or fault", () => {
  const fromPackaging = reachableStates("Packaging");
  assert.equal(fromPackaging.has("Shipping"), false);
  assert.equal(fromPackaging.has("Received"), false);
  for (const s of ["Packaging", "Completed", "Closed", "Faulted"] as const) {
    assert.ok(fromPackaging.has(s), s);
  }
});

test("a faulted job may return to any state it can be faulted from, and on from there", () => {
  const fromFaulted = reachableStates("Faulted");
  for (const s of [
    "Shipping",
    "Received",
    "Transferring",
    "Packaging",
    "Completed",
    "Closed",
  ] as const) {
    assert.ok(fromFaulted.has(s), s);
  }
  assert.equal(fromFaulted.has("Creating"), false);
});
