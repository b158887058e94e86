/**
 * The wizard's reading of `drivebay drive prepare --output json` (issue 13 item 15): the
 * shapes a customer pastes, and refusals that say what is wrong, with nothing typed lost.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { preparedDrives, PreparedJsonError, withPreparedDrives } from "../../src/portal/forms.ts";

const one = (id: string, hash = "A".repeat(32)) => ({
  driveId: id,
  manifestFile: `\\${id}.manifest`,
  manifestHash: hash,
  driveHeaderHash: "",
});
const printed = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

test("one object, several printed one after another, an array, or a driveList", () => {
  assert.deepEqual(preparedDrives(printed(one("D1"))), [one("D1")]);
  assert.deepEqual(preparedDrives(printed(one("D1")) + printed(one("D2"))), [one("D1"), one("D2")]);
  assert.deepEqual(preparedDrives(JSON.stringify([one("D1"), one("D2")])), [one("D1"), one("D2")]);
  assert.deepEqual(preparedDrives(JSON.stringify({ driveList: [one("D3")] })), [one("D3")]);
  // Braces inside strings do not end an object; fields the wizard has no row for are dropped.
  assert.deepEqual(preparedDrives(JSON.stringify({ ...one("D}{4"), files: 3 })), [one("D}{4")]);
});

test("bad input is refused with a message that says what to paste", () => {
  const refused = (text: string, pattern: RegExp) =>
    assert.throws(
      () => preparedDrives(text),
      (e: unknown) =>
        e instanceof PreparedJsonError && e.field === "preparedJson" && pattern.test(e.message),
    );
  refused("", /Nothing was pasted/);
  refused("driveId: D1", /not JSON: expected '\{' or '\['/);
  refused(printed(one("D1")).slice(0, -3), /ends before its last object is closed/);
  refused('{"driveId": "D1",}', /not valid/);
  refused('{"manifestHash": "X"}', /has no 'driveId'/);
  refused('{"driveId": "D1", "manifestHash": 5}', /'manifestHash' of drive 'D1' must be a string/);
  refused("[1]", /Drive 1 of the pasted JSON is not an object/);
});

test("rows: a drive already in a row is updated there, others take rows without an id, keys typed stay", () => {
  const typed = {
    name: "job",
    driveRows: "2",
    "drive-0-driveId": "d2",
    "drive-0-bitLockerKey": "K2",
    "drive-1-bitLockerKey": "K1",
    preparedJson: printed(one("D1", "1".repeat(32))) + printed(one("D2", "2".repeat(32))),
  };
  const out = withPreparedDrives(typed);
  assert.equal(out["drive-0-driveId"], "D2");
  assert.equal(out["drive-0-manifestHash"], "2".repeat(32));
  assert.equal(out["drive-0-bitLockerKey"], "K2");
  assert.equal(out["drive-1-driveId"], "D1");
  assert.equal(out["drive-1-bitLockerKey"], "K1");
  assert.equal(out.driveRows, "2");
  assert.equal(out.preparedJson, "");
  assert.equal(out.name, "job");
  assert.equal(typed["drive-0-driveId"], "d2", "the typed values are not changed in place");

  const third = withPreparedDrives({ ...out, preparedJson: printed(one("D3")) });
  assert.equal(third.driveRows, "3");
  assert.equal(third["drive-2-driveId"], "D3");

  const ten = Array.from({ length: 11 }, (_, i) => one(`X${i}`));
  assert.throws(
    () => withPreparedDrives({ preparedJson: JSON.stringify(ten) }),
    (e: unknown) => e instanceof PreparedJsonError && /at most 10 drives/.test(e.message),
  );
});
