/**
 * `drive prepare --job` without `-g` finds the job by its name in the subscription, as the
 * other single-job commands do (issue 13, item 7): a unique name is added to where it is,
 * a name held by several resource groups is a usage error naming them, and a name none
 * holds is refused, or created in the default group with -l and --storage-account. Every
 * refusal comes before anything is copied. `drive preview-export --job` finds its job the
 * same way. In-process `run()` against a real server.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { exportJob } from "../api/fixtures.ts";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { argv, driveSpec, runCli } from "./helpers.ts";

describe("drive prepare --job without -g", () => {
  let server: TestServer;
  let root: string;
  let csv: string;
  before(async () => {
    server = await startTestServer({ blob: "memory" });
    root = mkdtempSync(join(tmpdir(), "drivebay-cli-prepjob-"));
    mkdirSync(join(root, "src"));
    writeFileSync(join(root, "src", "a.txt"), "a\n");
    csv = join(root, "data.csv");
    writeFileSync(csv, "BasePath,DstBlobPathOrPrefix\nsrc/,prep/\n");
  });
  after(async () => {
    rmSync(root, { recursive: true, force: true });
    await server.close();
  });

  const where = () => argv`--endpoint ${server.url} --subscription ${SUBSCRIPTION}`;
  const create = async (name: string, group: string) => {
    const r = await runCli([
      ...argv`job create -n ${name} -g ${group} -l westus --storage-account acct --drive ${driveSpec("FIRST")}`,
      ...where(),
    ]);
    assert.equal(r.code, 0, r.err);
  };
  const prepare = (driveId: string, job: string, extra: string[] = []) =>
    runCli([
      ...argv`drive prepare --dataset ${csv} --drive ${join(root, driveId)} --drive-id ${driveId}
        --job ${job} -o json`,
      ...extra,
      ...where(),
    ]);
  const drivesOf = async (name: string, group: string) =>
    (await server.client().jobs.get(name, group)).properties?.driveList?.map((d) => d.driveId);

  test("a name unique in the subscription: the drive is added to the job where it is", async () => {
    await create("far-job", "rg-far");
    const r = await prepare("D-FAR", "FAR-JOB");
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /added drive D-FAR to job FAR-JOB \(2 drive\(s\)\)/);
    assert.deepEqual(await drivesOf("far-job", "rg-far"), ["FIRST", "D-FAR"]);
  });

  test("a name in several groups, or in none: refused with what to do, nothing copied", async () => {
    await create("twice", "rg-one");
    await create("twice", "rg-two");
    const twice = await prepare("D-TWICE", "twice");
    assert.equal(twice.code, 2);
    assert.match(
      twice.err,
      /there are jobs named 'twice' in 2 resource groups of subscription \S+: rg-one, rg-two\. Name one with -g <resource group>\. Nothing was copied\./,
    );
    assert.equal(existsSync(join(root, "D-TWICE")), false);
    // -g names one of them.
    const named = await prepare("D-TWICE", "twice", argv`-g rg-two`);
    assert.equal(named.code, 0, named.err);
    assert.deepEqual(await drivesOf("twice", "rg-two"), ["FIRST", "D-TWICE"]);
    assert.deepEqual(await drivesOf("twice", "rg-one"), ["FIRST"]);

    const none = await prepare("D-NONE", "nowhere");
    assert.equal(none.code, 1);
    assert.match(
      none.err,
      /there is no job nowhere in any resource group of subscription \S+\. Create it first \(drivebay job create\), or give --location and --storage-account/,
    );
    assert.equal(existsSync(join(root, "D-NONE")), false);
  });

  test("a name in no group, with -l and --storage-account: created in the default group", async () => {
    const r = await prepare("D-NEW", "brand-new", argv`-l westus --storage-account acct`);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /created job brand-new in resource group default with drive D-NEW/);
    assert.deepEqual(await drivesOf("brand-new", "default"), ["D-NEW"]);
  });

  test("drive preview-export --job without -g reads the blob list of the job where it is", async () => {
    const cs = (await server.storage.resolve("drivebaydata")).connectionString;
    const photos = BlobServiceClient.fromConnectionString(cs).getContainerClient("photos");
    await photos.create();
    await photos.getBlockBlobClient("2026/one.jpg").upload(Buffer.alloc(1000, 1), 1000);
    await server.client().jobs.create("outward", "rg-export", exportJob());
    const preview = (extra: string[]) =>
      runCli([
        ...argv`drive preview-export --drive-size 1GB --job outward --connection-string ${cs} -o json`,
        ...extra,
        ...where(),
      ]);
    const found = await preview([]);
    assert.equal(found.code, 0, found.err);
    const report = JSON.parse(found.out) as { blobs: number; drivesNeeded: number };
    assert.deepEqual([report.blobs, report.drivesNeeded], [1, 1]);
    const wrongGroup = await preview(argv`-g elsewhere`);
    assert.equal(wrongGroup.code, 1);
    assert.match(wrongGroup.err, /ResourceNotFound/);
    const none = await preview(argv`--job nowhere`);
    assert.equal(none.code, 1);
    assert.match(none.err, /there is no job 'nowhere' in any resource group of subscription/);
  });
});
