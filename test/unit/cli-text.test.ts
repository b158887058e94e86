/** What the CLI prints for people: sizes, rates, durations, and job state names as typed. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JobResponse } from "@azure/arm-storageimportexport";
import { humanBytes, humanDuration, humanRate } from "../../src/cli/units.ts";
import { driveViews } from "../../src/cli/watch.ts";
import {
  jobStateNamed,
  nearestName,
  parseJobStateChange,
} from "../../src/domain/job/state-names.ts";
import { DomainError } from "../../src/domain/errors.ts";

describe("sizes, rates and durations", () => {
  test("bytes are whole below 1 KiB and one decimal above, never '1024.0 KiB'", () => {
    assert.equal(humanBytes(0), "0 B");
    assert.equal(humanBytes(415.0582467840044), "415 B");
    assert.equal(humanBytes(1023.6), "1024 B");
    assert.equal(humanBytes(1536), "1.5 KiB");
    assert.equal(humanBytes(1024 * 1024 - 1), "1.0 MiB");
    assert.equal(humanBytes(16 * 1024 * 1024), "16.0 MiB");
  });

  test("a rate is per second, and absent when nothing moved", () => {
    assert.equal(humanRate(830_116.49, 2000), "405.3 KiB/s");
    assert.equal(humanRate(415, 1000), "415 B/s");
    assert.equal(humanRate(0, 1000), undefined);
    assert.equal(humanRate(10, 0), undefined);
  });

  test("durations", () => {
    assert.equal(humanDuration(400), "0 s");
    assert.equal(humanDuration(45_000), "45 s");
    assert.equal(humanDuration(125_000), "2 min 5 s");
    assert.equal(humanDuration(12_000_000), "3 h 20 min");
  });
});

describe("job state names", () => {
  test("every state in any case is its own name; others are not states", () => {
    assert.equal(jobStateNamed("shipping"), "Shipping");
    assert.equal(jobStateNamed("COMPLETED"), "Completed");
    assert.equal(jobStateNamed("Shipped"), undefined);
  });

  test("a typo gets the nearest state; a word far from every state gets none", () => {
    assert.equal(nearestName("Shiping", ["Creating", "Shipping"]), "Shipping");
    assert.equal(nearestName("shipped", ["Creating", "Shipping"]), "Shipping");
    assert.equal(nearestName("banana", ["Creating", "Shipping"]), undefined);
  });

  test("Jobs_Update's state: '' passes, a state in any case is spelled right, an unknown one is InvalidRequestContent", () => {
    assert.equal(parseJobStateChange(""), "");
    assert.equal(parseJobStateChange("shipping"), "Shipping");
    assert.throws(
      () => parseJobStateChange("Shiped"),
      (e: unknown) =>
        e instanceof DomainError &&
        e.code === "InvalidRequestContent" &&
        /^'Shiped' is not a job state; did you mean 'Shipping'\? The states are Creating, Shipping, /.test(
          e.message,
        ),
    );
    assert.throws(
      () => parseJobStateChange("banana"),
      /'banana' is not a job state\. The states are /,
    );
  });
});

describe("job watch's drive lines", () => {
  const MiB = 1024 * 1024;
  const job = (bytes: number, percent: number, state = "Transferring"): JobResponse => ({
    name: "j",
    properties: {
      driveList: [
        {
          driveId: "D1",
          state: state as "Transferring",
          copyStatus: state === "Transferring" ? "InProgress" : "Completed",
          percentComplete: percent,
          bytesSucceeded: bytes,
        },
      ],
    },
  });

  test("a drive being copied: rate and ETA from the first poll that saw its bytes; none once it is done", () => {
    const firsts = new Map();
    const t0 = 1_000_000;
    const [first] = driveViews(job(1 * MiB, 25), firsts, t0);
    assert.equal(
      first!.line,
      "  drive D1: Transferring (InProgress), 25%, 1.0 MiB",
      "nothing moved yet",
    );
    // 2 MiB in 2 s is 1 MiB/s; at 50% of 6 MiB, 3 MiB are left: 3 s.
    const [later] = driveViews(job(3 * MiB, 50), firsts, t0 + 2000);
    assert.equal(later!.key, "  drive D1: Transferring (InProgress), 50%, 3.0 MiB");
    assert.equal(later!.line, `${later!.key}, 1.0 MiB/s, ETA 3 s`);
    const [done] = driveViews(job(6 * MiB, 100, "Completed"), firsts, t0 + 5000);
    assert.equal(done!.line, "  drive D1: Completed (Completed), 100%, 6.0 MiB");
  });
});
