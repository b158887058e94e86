/**
 * An export job from the customer's CLI (issue 11, item 7): the autopilot brings an empty
 * dock drive that is too small for every blob; `job show` lists the export drive, its key on
 * request and where it can be read (its folder in the server's dock), and
 * `job incomplete-blobs` prints what did not fit.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import {
  argv,
  runCli,
  shipAndComplete,
  startServe,
  stop,
  type Result,
  type Served,
  fastAutopilot,
} from "./helpers.ts";

const SUBSCRIPTION = "5e1f0c2a-0000-4000-8000-0000000000e7";
const KEY = "cli-export-operator-key-0123456789";

describe("export jobs in the customer CLI", () => {
  let server: Served;
  const cli = (args: string[]): Promise<Result> =>
    runCli([...args, "--endpoint", server.url, "--subscription", SUBSCRIPTION]);

  before(async () => {
    server = await startServe({
      env: {
        ...fastAutopilot(KEY),
        DRIVEBAY_AUTOPILOT_EXPORT_DRIVE_CAPACITY: "2MB",
      },
    });
    const shown = await runCli(
      argv`storage show outbound -o json --endpoint ${server.url} --operator-key ${KEY}`,
    );
    assert.equal(shown.code, 0, shown.err);
    const service = BlobServiceClient.fromConnectionString(
      (JSON.parse(shown.out) as { connectionString: string }).connectionString,
    );
    const container = service.getContainerClient("data");
    await container.create();
    await container.getBlockBlobClient("small.txt").uploadData(Buffer.from("small\n"));
    await container.getBlockBlobClient("big.bin").uploadData(randomBytes(3_000_000));

    const created = await cli(argv`job create -n outbound -g rg-e -l westus
      --storage-account outbound --export-prefix /data/`);
    assert.equal(created.code, 0, created.err);
    await shipAndComplete(cli, "outbound", "TRK-E");
  });

  after(async () => {
    assert.equal(await stop(server), 0, server.stderr());
  });

  test("job show lists the export drive, where it can be read, and the incomplete blob list", async () => {
    const r = await cli(argv`job show -n outbound --operator-key ${KEY}`);
    assert.equal(r.code, 0, r.err);
    const row = /^(EX-[0-9A-F]{12}-1) +ShippedBack +(\S+) +100 +\d+ +\(--show-keys\) +(\S+)$/m.exec(
      r.out,
    );
    assert.ok(row, r.out);
    const [, driveId, , readAt] = row;
    assert.equal(readAt, join(server.dataDir, "dock", driveId!));
    // The exported file is there to read; the blob that did not fit is not.
    assert.equal(readFileSync(join(readAt!, "data", "small.txt"), "utf8"), "small\n");
    assert.equal(existsSync(join(readAt!, "data", "big.bin")), false);
    assert.match(r.out, /Some blobs fit on no drive; they are listed in http\S+/);
    assert.match(r.out, /drivebay job incomplete-blobs -n outbound -g rg-e prints them/);

    // Without the operator key the drives are listed and the reason READ AT is empty is given.
    const noKey = await cli(argv`job show -n outbound --data-dir ${join(server.root, "nowhere")}`);
    assert.equal(noKey.code, 0, noKey.err);
    assert.match(noKey.out, new RegExp(`^${driveId} +ShippedBack .* -$`, "m"));
    assert.match(noKey.out, /READ AT: where the drives can be read is asked of the operator API/);
  });

  test("--show-keys shows the drives' BitLocker keys, the same as job keys", async () => {
    const keys = await cli(argv`job keys -n outbound -o json`);
    assert.equal(keys.code, 0, keys.err);
    const [entry] = JSON.parse(keys.out) as { driveId: string; bitLockerKey: string }[];
    assert.match(entry!.bitLockerKey, /^\d{6}(-\d{6}){7}$/);

    const table = await cli(argv`job show -n outbound --show-keys --operator-key ${KEY}`);
    assert.equal(table.code, 0, table.err);
    assert.match(
      table.out,
      new RegExp(`^${entry!.driveId} +ShippedBack .* ${entry!.bitLockerKey} `, "m"),
    );
    const json = await cli(argv`job show -n outbound --show-keys -o json`);
    type Job = { properties: { driveList: { driveId: string; bitLockerKey?: string }[] } };
    const drive = (JSON.parse(json.out) as Job).properties.driveList[0]!;
    assert.deepEqual([drive.driveId, drive.bitLockerKey], [entry!.driveId, entry!.bitLockerKey]);
    const plain = await cli(argv`job show -n outbound -o json`);
    assert.equal((JSON.parse(plain.out) as Job).properties.driveList[0]!.bitLockerKey, undefined);
  });

  test("job incomplete-blobs prints the blobs that fit on no drive, or the XML with --raw", async () => {
    const r = await cli(argv`job incomplete-blobs -n outbound --operator-key ${KEY}`);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "/data/big.bin\n");
    assert.match(r.err, /^1 blob\(s\) of job outbound fit on no drive \(http\S+\):$/m);
    const raw = await cli(argv`job incomplete-blobs -n outbound --raw --operator-key ${KEY}`);
    assert.equal(raw.code, 0, raw.err);
    assert.match(raw.out, /<BlobList>\s*<BlobPath>data\/big\.bin<\/BlobPath>\s*<\/BlobList>/);
  });
});
