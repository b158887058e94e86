/**
 * `job wait`, `job watch` and the `-g` defaults against a real `drivebay serve` whose
 * autopilot moves shipped jobs on (issue 13, items 6 and 7). The waits and watches run as
 * real processes (non-TTY output); the test acts on the job while they poll.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  argv,
  driveSpec,
  RETURN_ADDRESS,
  RETURN_SHIPPING,
  runCli,
  spawnBin,
  startServe,
  stop,
  type Result,
  type Served,
} from "./helpers.ts";

const SUBSCRIPTION = "5e1f0c2a-0000-4000-8000-0000000000e1";
const DRIVE = driveSpec("9CA995BB");
const SHIP = (tracking: string) =>
  argv`--state Shipping --delivery-package ${`carrierName=FedEx,trackingNumber=${tracking},driveCount=1,shipDate=2024-01-15`}
    --return-address ${RETURN_ADDRESS} --return-shipping ${RETURN_SHIPPING}`;

describe("job wait, job watch and the resource-group defaults", () => {
  let server: Served;
  let where: string[];
  const dirs: string[] = [];

  const cli = (args: string[]): Promise<Result> => runCli([...args, ...where]);
  const create = async (name: string, group: string) => {
    const r = await cli(argv`job create -n ${name} -g ${group} -l westus
      --storage-account acct --drive ${DRIVE}`);
    assert.equal(r.code, 0, r.err);
  };

  before(async () => {
    server = await startServe({
      env: {
        DRIVEBAY_OPERATOR_KEY: "cli-watch-operator-key-0123456789",
        DRIVEBAY_AUTOPILOT: "on",
        DRIVEBAY_AUTOPILOT_ARRIVAL_DELAY: "300ms",
        DRIVEBAY_AUTOPILOT_STEP_DELAY: "300ms",
        DRIVEBAY_TICK_INTERVAL: "100ms",
      },
    });
    where = argv`--endpoint ${server.url} --subscription ${SUBSCRIPTION}`;
  });

  after(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    assert.equal(await stop(server), 0, server.stderr());
  });

  test("without -g: list covers the subscription; show finds a unique name, names the groups of a shared one", async () => {
    await create("dup", "rg-a");
    await create("dup", "rg-b");
    await create("solo", "rg-c");

    const listed = await cli(argv`job list -o json`);
    assert.equal(listed.code, 0, listed.err);
    const rows = (JSON.parse(listed.out) as { name: string; id: string }[])
      .filter((j) => ["dup", "solo"].includes(j.name))
      .map((j) => /resourceGroups\/([^/]+)\//.exec(j.id)![1])
      .sort();
    assert.deepEqual(rows, ["rg-a", "rg-b", "rg-c"]);
    // -g still narrows the list to one group.
    const one = await cli(argv`job list -g rg-c`);
    assert.match(one.out, /^solo +rg-c +Import +Creating/m);
    assert.doesNotMatch(one.out, /^dup /m);

    const shown = await cli(argv`job show -n SOLO`);
    assert.equal(shown.code, 0, shown.err);
    assert.match(shown.out, /^resourceGroup +rg-c$/m);

    const shared = await cli(argv`job show -n dup`);
    assert.equal(shared.code, 2);
    assert.equal(shared.out, "");
    assert.match(
      shared.err,
      new RegExp(
        `there are jobs named 'dup' in 2 resource groups of subscription ${SUBSCRIPTION}: ` +
          `rg-a, rg-b\\. Name one with -g <resource group>\\.`,
      ),
    );
    const named = await cli(argv`job show -n dup -g rg-b`);
    assert.equal(named.code, 0, named.err);
    assert.match(named.out, /^resourceGroup +rg-b$/m);

    const none = await cli(argv`job show -n nowhere`);
    assert.equal(none.code, 1);
    assert.match(
      none.err,
      new RegExp(`there is no job 'nowhere' in any resource group of subscription ${SUBSCRIPTION}`),
    );

    // The other single-job commands find the group the same way.
    const keys = await cli(argv`job keys -n solo`);
    assert.equal(keys.code, 0, keys.err);
    assert.match(keys.out, /^9CA995BB +\d{6}-/m);
    const history = await cli(argv`job history -n solo -o json`);
    assert.equal(history.code, 0, history.err);
    const updated = await cli(argv`job update -n solo --tags seen=yes -o json`);
    assert.equal(updated.code, 0, updated.err);
    assert.deepEqual((JSON.parse(updated.out) as { tags: object }).tags, { seen: "yes" });
    const ambiguousCancel = await cli(argv`job cancel -n dup`);
    assert.equal(ambiguousCancel.code, 2);
    const gone = await cli(argv`job delete -n nowhere`);
    assert.equal(gone.code, 0, gone.err);
    assert.match(
      gone.err,
      /job nowhere does not exist; nothing to delete \(no resource group of subscription/,
    );
  });

  test("wait: exit 1 on a timeout, on a state that can no longer come, and on a deleted job", async () => {
    await create("stays", "rg-w");
    const timedOut = await cli(
      argv`job wait -n stays --for-state shipping --timeout 300ms --interval 100ms`,
    );
    assert.equal(timedOut.code, 1);
    assert.match(
      timedOut.err,
      /timed out after \d+ s: job stays is still 'Creating', not 'Shipping'/,
    );

    await create("ended", "rg-w");
    const cancelled = await cli(argv`job cancel -n ended`);
    assert.equal(cancelled.code, 0, cancelled.err);
    const never = await cli(argv`job wait -n ended --for-state Shipping`);
    assert.equal(never.code, 1);
    assert.match(never.err, /job ended is 'Completed' and can no longer become 'Shipping'/);
    const already = await cli(argv`job wait -n ended --for-state COMPLETED`);
    assert.deepEqual([already.code, already.out], [0, "job ended is Completed\n"]);

    const typo = await cli(argv`job wait -n ended --for-state compleet`);
    assert.equal(typo.code, 2);
    assert.match(typo.err, /did you mean 'Completed'/);

    await create("doomed", "rg-w");
    const waiting = spawnBin([
      ...argv`job wait -n doomed --for-state Shipping --interval 100ms`,
      ...where,
    ]);
    await waiting.printed(/waiting for job doomed \(now 'Creating'\) to become 'Shipping'/);
    const deleted = await cli(argv`job delete -n doomed`);
    assert.equal(deleted.code, 0, deleted.err);
    const r = await waiting.done;
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /job doomed was deleted while waiting for 'Shipping'/);

    // watch ends too, exit 1, when the job it follows is deleted.
    await create("watched-gone", "rg-w");
    const watching = spawnBin([...argv`job watch -n watched-gone --interval 100ms`, ...where]);
    await watching.printed(/job watched-gone: Creating/);
    const removed = await cli(argv`job delete -n watched-gone`);
    assert.equal(removed.code, 0, removed.err);
    const w = await watching.done;
    assert.equal(w.code, 1, w.err);
    assert.match(w.err, /job watched-gone was deleted\./);
  });

  test(
    "watch on a terminal: one display redrawn in place, no timestamped lines",
    {
      skip: existsSync("/usr/bin/script")
        ? false
        : "util-linux 'script' (a pseudo-terminal) is not installed",
    },
    async () => {
      await create("onscreen", "rg-t");
      const watch = spawnBin([...argv`job watch -n onscreen --interval 100ms`, ...where], {
        terminal: true,
      });
      await watch.printed(/job onscreen: Creating/);
      const cancelled = await cli(argv`job cancel -n onscreen`);
      assert.equal(cancelled.code, 0, cancelled.err);
      const r = await watch.done;
      assert.equal(r.code, 0, r.out + r.err);
      // The terminal's escape sequences made visible: ESC as "<ESC>".
      const shown = r.out.replaceAll("\x1b", "<ESC>");
      const frames = shown.split("<ESC>[2F");
      assert.ok(frames.length >= 2, `redrawn in place (cursor up 2 lines): ${shown}`);
      assert.match(frames[0]!, /^job onscreen: Creating, - {2}\(\d\d:\d\d:\d\d\)<ESC>\[K\r?\n/m);
      assert.match(
        frames.at(-1)!,
        /^job onscreen: Completed, - \(cancel requested\) {2}\(\d\d:\d\d:\d\d\)<ESC>\[K\r?\n {2}drive 9CA995BB: /,
      );
      assert.doesNotMatch(r.out, /^\d\d:\d\d:\d\d job /m, "no plain lines");
    },
  );

  test("an import through the autopilot: wait exits 0 at Completed; watch prints a line per change and exits 0", async () => {
    const root = mkdtempSync(join(tmpdir(), "drivebay-cli-watch-"));
    dirs.push(root);
    mkdirSync(join(root, "src"));
    for (let i = 0; i < 3; i++) writeFileSync(join(root, "src", `f${i}.bin`), randomBytes(700_000));
    writeFileSync(join(root, "data.csv"), "BasePath,DstBlobPathOrPrefix\nsrc/,watched/\n");
    const prepared = await cli(argv`drive prepare --dataset ${join(root, "data.csv")}
      --drive ${join(server.dataDir, "dock", "WATCH1")} --drive-id WATCH1
      --job watched -g rg-imp -l westus --storage-account acct`);
    assert.equal(prepared.code, 0, prepared.err);

    const watch = spawnBin([...argv`job watch -n watched --interval 100ms`, ...where]);
    const wait = spawnBin([
      ...argv`job wait -n watched --for-state completed --interval 100ms`,
      ...where,
    ]);
    await watch.printed(/job watched: Creating/);
    await wait.printed(/waiting for job watched/);
    const shipped = await cli([...argv`job update -n watched`, ...SHIP("TRK-WATCH")]);
    assert.equal(shipped.code, 0, shipped.err);

    const waited = await wait.done;
    assert.deepEqual([waited.code, waited.out], [0, "job watched is Completed\n"], waited.err);

    const watched = await watch.done;
    assert.equal(watched.code, 0, watched.err);
    const lines = watched.out.trimEnd().split("\n");
    for (const line of lines)
      assert.match(line, /^\d\d:\d\d:\d\d (job watched| {2}drive WATCH1): /);
    const jobLines = lines.filter((l) => / job watched: /.test(l)).map((l) => l.slice(9));
    const driveLines = lines.filter((l) => / drive WATCH1: /.test(l)).map((l) => l.slice(9));
    assert.match(jobLines[0]!, /^job watched: Creating, /);
    assert.match(jobLines.at(-1)!, /^job watched: Completed, 100%$/);
    assert.match(driveLines[0]!, /^ {2}drive WATCH1: Specified, /);
    assert.match(
      driveLines.at(-1)!,
      /^ {2}drive WATCH1: ShippedBack \(Completed\), 100%, 2\.0 MiB/,
    );
    // A line only when something changed: never the same line twice in a row.
    for (const seq of [jobLines, driveLines]) {
      for (let i = 1; i < seq.length; i++) assert.notEqual(seq[i], seq[i - 1], watched.out);
    }
  });
});
