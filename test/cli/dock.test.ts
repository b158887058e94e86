/**
 * `drive prepare --dock` writes into the dock of the server it is pointed at, wherever it is
 * run from (issue 13, item 8): the operator API names the dock (`GET /operator/v1/dock`) and
 * the CLI checks the folder's `.drivebay-dock` id before writing; a dock that is not the
 * server's, or a server it cannot ask, is refused before anything is copied.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  argv,
  bin,
  RETURN_ADDRESS,
  RETURN_SHIPPING,
  runCli,
  startServe,
  stop,
  type Served,
  fastAutopilot,
} from "./helpers.ts";

const SUBSCRIPTION = "5e1f0c2a-0000-4000-8000-0000000000d0";
const KEY = "cli-dock-operator-key-0123456789";

describe("drive prepare --dock uses the server's dock", () => {
  let server: Served;
  let work: string;
  let csv: string;

  before(async () => {
    server = await startServe({
      env: fastAutopilot(KEY),
    });
    // Another folder than the server's data directory, holding only the data to import.
    work = mkdtempSync(join(tmpdir(), "drivebay-cli-dock-"));
    mkdirSync(join(work, "src"));
    writeFileSync(join(work, "src", "one.bin"), randomBytes(200_000));
    writeFileSync(join(work, "src", "two.txt"), "two\n");
    csv = join(work, "data.csv");
    writeFileSync(csv, "BasePath,DstBlobPathOrPrefix\nsrc/,docked/\n");
  });

  after(async () => {
    rmSync(work, { recursive: true, force: true });
    assert.equal(await stop(server), 0, server.stderr());
  });

  const prepare = (driveId: string, env: Record<string, string>, extra: string[] = []) =>
    bin(
      [
        ...argv`drive prepare --dataset ${csv} --dock --drive-id ${driveId}
          --endpoint ${server.url} --subscription ${SUBSCRIPTION}`,
        ...extra,
      ],
      { cwd: work, env },
    );

  test("the operator API names the dock, with the id in its marker file", async () => {
    const res = await fetch(`${server.url}/operator/v1/dock`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    assert.equal(res.status, 200);
    const dock = (await res.json()) as { path: string; local: boolean; id: string };
    assert.equal(dock.path, join(server.dataDir, "dock"));
    assert.equal(dock.local, true);
    assert.equal(readFileSync(join(dock.path, ".drivebay-dock"), "utf8").trim(), dock.id);
    const anonymous = await fetch(`${server.url}/operator/v1/dock`);
    assert.equal(anonymous.status, 401);
  });

  test("from another folder, the drive lands in the server's dock and the job receives it", async () => {
    const r = await prepare("DOCK1", { DRIVEBAY_OPERATOR_KEY: KEY }, [
      ...argv`--job docked -g rg-dock -l westus --storage-account acct`,
    ]);
    assert.equal(r.code, 0, r.err);
    const driveDir = join(server.dataDir, "dock", "DOCK1");
    assert.ok(existsSync(join(driveDir, "DOCK1.manifest")), r.err);
    assert.ok(
      existsSync(join(server.dataDir, "dock", "DOCK1.jrn")),
      "the journal beside the drive",
    );
    assert.deepEqual(readdirSync(work).sort(), ["data.csv", "src"], "nothing written here");
    const verified = await bin(argv`drive verify --drive ${driveDir}`);
    assert.equal(verified.code, 0, verified.out + verified.err);

    const where = argv`--endpoint ${server.url} --subscription ${SUBSCRIPTION}`;
    const shipped = await runCli([
      ...argv`job update -n docked --state Shipping
        --delivery-package carrierName=FedEx,trackingNumber=TRK-DOCK,driveCount=1,shipDate=2024-01-15
        --return-address ${RETURN_ADDRESS} --return-shipping ${RETURN_SHIPPING}`,
      ...where,
    ]);
    assert.equal(shipped.code, 0, shipped.err);
    const done = await runCli([
      ...argv`job wait -n docked --for-state Completed --interval 100ms`,
      ...where,
    ]);
    assert.equal(done.code, 0, done.err);
    const shown = await runCli([...argv`job show -n docked -o json`, ...where]);
    type Job = { properties: { driveList: { state: string; copyStatus: string }[] } };
    const drive = (JSON.parse(shown.out) as Job).properties.driveList[0]!;
    assert.deepEqual([drive.state, drive.copyStatus], ["ShippedBack", "Completed"]);
  });

  test("without the operator key, or with a dock that is another server's, nothing is copied", async () => {
    const noKey = await prepare("DOCK2", {});
    assert.equal(noKey.code, 2);
    assert.match(
      noKey.err,
      /--dock asks the server at \S+ where its dock is \(through the operator API\), which needs the operator key: give --operator-key or DRIVEBAY_OPERATOR_KEY/,
    );
    assert.match(noKey.err, /or prepare into a folder with --drive <dir>/);

    // The same path, but not the folder the server reads: its marker holds another id.
    const marker = join(server.dataDir, "dock", ".drivebay-dock");
    const id = readFileSync(marker, "utf8");
    writeFileSync(marker, "another-server\n");
    try {
      const other = await prepare("DOCK3", { DRIVEBAY_OPERATOR_KEY: KEY });
      assert.equal(other.code, 1);
      assert.match(
        other.err,
        /the dock of the server at \S+ is \S+ on the server's machine, and the folder of that name here is another server's dock\. .*Nothing was copied\./,
      );
    } finally {
      writeFileSync(marker, id);
    }
    // The path the server names does not hold its dock on this machine (no marker there).
    rmSync(marker);
    try {
      const absent = await prepare("DOCK4", { DRIVEBAY_OPERATOR_KEY: KEY });
      assert.equal(absent.code, 1);
      assert.match(
        absent.err,
        /the dock of the server at \S+ is \S+ on the server's machine, and there is no such dock on this one\. Run this command on the server's machine, or prepare into a folder with --drive <dir> .*Nothing was copied\./,
      );
    } finally {
      writeFileSync(marker, id);
    }
    for (const drive of ["DOCK2", "DOCK3", "DOCK4"]) {
      assert.equal(existsSync(join(server.dataDir, "dock", drive)), false, drive);
      assert.equal(existsSync(join(server.dataDir, "dock", `${drive}.jrn`)), false, drive);
    }
  });
});
