/**
 * `drivebay drive prepare|verify` as real processes (exit codes, stdout/stderr), and
 * `--job` against a real server checked through the official SDK.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { md5, MiB, sampleDataset, tempDir, writeData } from "./helpers.ts";

const BIN = fileURLToPath(new URL("../../bin/drivebay.js", import.meta.url));

interface Result {
  code: number | null;
  out: string;
  err: string;
}

function bin(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("DRIVEBAY_")),
  );
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...clean, ...env } }, (error, out, err) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, out, err });
    });
  });
}

/** `drive prepare` of the dataset `csv` onto the folder `drive` as drive `driveId`. */
function prepareArgs(csv: string, drive: string, driveId: string): string[] {
  return ["drive", "prepare", "--dataset", csv, "--drive", drive, "--drive-id", driveId];
}

describe("drivebay drive prepare / verify", () => {
  test("prepare prints the driveList entry; verify exits 0 on a clean drive and 1 on damage", async () => {
    const root = tempDir();
    const csv = sampleDataset(root);
    const drive = join(root, "drive");
    const r = await bin([...prepareArgs(csv, drive, "D1"), "--output", "json"]);
    assert.equal(r.code, 0, r.err);
    const entry = JSON.parse(r.out) as Record<string, string>;
    assert.deepEqual(entry, {
      driveId: "D1",
      manifestFile: "\\D1.manifest",
      manifestHash: md5(readFileSync(join(drive, "D1.manifest"))),
      driveHeaderHash: "",
    });
    assert.match(
      r.err,
      /prepared 8 file\(s\), 16\.0 MiB \(8 copied\) in \d+\.\d s, \d+(\.\d)? (B|KiB|MiB|GiB)\/s\n/,
    );
    assert.doesNotMatch(r.err, /\r/, "no progress bar when stderr is not a terminal");

    const table = await bin(prepareArgs(csv, drive, "D1"));
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /^manifestHash +[0-9A-F]{32}$/m);
    assert.match(table.err, /8 already on the drive\) in \d+\.\d s, nothing left to copy\n/);
    assert.doesNotMatch(table.err, /B\/s/, "no rate when nothing was copied");

    const ok = await bin(["drive", "verify", "--drive", drive]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^ok: 8 blob\(s\), 16\.0 MiB verified; manifestHash [0-9A-F]{32}$/m);
    // The job's manifestHash, checked as the import checks it (MD5, or SHA-256).
    const sha256 = createHash("sha256")
      .update(readFileSync(join(drive, "D1.manifest")))
      .digest("hex");
    const hashed = await bin(["drive", "verify", "--drive", drive, "--manifest-hash", sha256]);
    assert.equal(hashed.code, 0, hashed.err);
    const wrong = await bin([
      "drive",
      "verify",
      "--drive",
      drive,
      "--manifest-hash",
      "0".repeat(32),
    ]);
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.out,
      /^ManifestCorrupted +\\D1\.manifest +the manifest's hash is [0-9A-F]{32}; the job says 0{32}$/m,
    );

    const nine = join(drive, "session-1/photos/2026/2026/nine-mib.bin");
    const bytes = readFileSync(nine);
    bytes[5 * MiB] = bytes[5 * MiB]! ^ 1;
    writeFileSync(nine, bytes);
    const bad = await bin(["drive", "verify", "--drive", drive, "--manifest", "\\D1.manifest"]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.out,
      /^Corrupted +\\session-1\\photos\\2026\\2026\\nine-mib\.bin +photos\/2026\/2026\/nine-mib\.bin: block at offset 4194304/m,
    );
    assert.match(bad.err, /drive verify: 1 problem\(s\) found/);

    const json = await bin([
      "drive",
      "verify",
      "--drive",
      drive,
      "--manifest",
      join(drive, "D1.manifest"),
      "-o",
      "json",
    ]);
    assert.equal(json.code, 1);
    const v = JSON.parse(json.out) as {
      ok: boolean;
      manifestFile: string;
      problems: { status: string }[];
    };
    assert.equal(v.ok, false);
    assert.equal(v.manifestFile, "\\D1.manifest");
    assert.deepEqual(
      v.problems.map((p) => p.status),
      ["Corrupted"],
    );
  });

  test("a bad dataset: every bad row on stderr with its line, exit 2, nothing copied", async () => {
    const root = tempDir();
    writeData(root, "a.txt", "a");
    const csv = writeData(
      root,
      "data.csv",
      "BasePath,DstBlobPathOrPrefix,BlobType\na.txt,c12/a.txt,\nmissing.txt,c12/b,\na.txt,Bad/a,\na.txt,c12/c,Block\n",
    );
    const r = await bin(prepareArgs(csv, join(root, "drive"), "D1"));
    assert.equal(r.code, 2);
    assert.equal(r.out, "");
    assert.match(
      r.err,
      /has 3 problems:\n {2}line 3: BasePath '.*missing\.txt' does not exist\n {2}line 4: .*'Bad' is not a valid container name.*\n {2}line 5: BlobType 'Block' is not BlockBlob or PageBlob\nNothing was copied\./,
    );
    assert.equal(existsSync(join(root, "drive")), false);
  });

  test("usage errors exit 2", async () => {
    const root = tempDir();
    const csv = writeData(root, "data.csv", "BasePath,DstBlobPathOrPrefix\na,c12/a\n");
    const both = await bin([
      "drive",
      "prepare",
      "--dataset",
      csv,
      "--drive",
      root,
      "--dock",
      "--drive-id",
      "D1",
    ]);
    assert.equal(both.code, 2);
    assert.match(both.err, /give exactly one of --drive <dir> and --dock/);
    const neither = await bin(["drive", "prepare", "--dataset", csv, "--drive-id", "D1"]);
    assert.equal(neither.code, 2);
    const badId = await bin(prepareArgs(csv, join(root, "d"), "a b"));
    assert.equal(badId.code, 2);
    assert.match(badId.err, /the drive id 'a b' is invalid/);
    const noDataset = await bin(["drive", "prepare", "--drive", root, "--drive-id", "D1"]);
    assert.equal(noDataset.code, 2);
    assert.match(noDataset.err, /--dataset <csv>/);
  });
});

describe("drivebay drive prepare --job", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  const STORAGE =
    "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct";
  const KEY1 = "238810-662376-448998-450120-652806-203390-606320-483076";

  /** The options that name the job `job` (in resource group rg) on the test server. */
  function jobOptions(job: string): string[] {
    return ["--job", job, "-g", "rg", "--subscription", SUBSCRIPTION, "--endpoint", server.url];
  }

  async function createJob(name: string): Promise<void> {
    await server.client().jobs.create(name, "rg", {
      location: "westus",
      properties: {
        storageAccountId: STORAGE,
        jobType: "Import",
        driveList: [
          {
            driveId: "FIRST",
            bitLockerKey: KEY1,
            manifestFile: "\\FIRST.manifest",
            manifestHash: "00",
          },
        ],
      },
    });
  }

  test("adds the prepared drive to a job in Creating, keeping the other drives and their keys", async () => {
    await createJob("prep-job");
    const root = tempDir();
    const csv = sampleDataset(root);
    const args = prepareArgs(csv, join(root, "drive"), "SECOND");
    const conn = jobOptions("prep-job");
    const r = await bin([...args, ...conn, "-o", "json"]);
    assert.equal(r.code, 0, r.err);
    const entry = JSON.parse(r.out) as Record<string, string>;
    assert.match(entry.bitLockerKey!, /^(\d{6}-){7}\d{6}$/);
    assert.ok(entry.bitLockerKey!.split("-").every((g) => Number(g) % 11 === 0));
    assert.match(r.err, /added drive SECOND to job prep-job \(2 drive\(s\)\)/);

    const job = await server.client().jobs.get("prep-job", "rg");
    const drives = job.properties!.driveList!;
    assert.deepEqual(
      drives.map((d) => [d.driveId, d.manifestFile, d.manifestHash]),
      [
        ["FIRST", "\\FIRST.manifest", "00"],
        ["SECOND", "\\SECOND.manifest", entry.manifestHash],
      ],
    );
    const keys = [];
    for await (const k of server.client().bitLockerKeys.list("prep-job", "rg")) keys.push(k);
    assert.deepEqual(
      keys.map((k) => [k.driveId, k.bitLockerKey]),
      [
        ["FIRST", KEY1],
        ["SECOND", entry.bitLockerKey],
      ],
    );

    // Preparing the same drive again replaces its entry and keeps its key.
    const again = await bin([...args, ...conn, "-o", "json"]);
    assert.equal(again.code, 0, again.err);
    assert.equal(
      (JSON.parse(again.out) as { bitLockerKey: string }).bitLockerKey,
      entry.bitLockerKey,
    );
    assert.equal(
      (await server.client().jobs.get("prep-job", "rg")).properties!.driveList!.length,
      2,
    );
  });

  test("a job that is not Creating is refused before anything is copied", async () => {
    await createJob("done-job");
    await server.client().jobs.update("done-job", "rg", { cancelRequested: true });
    const root = tempDir();
    const csv = sampleDataset(root);
    const r = await bin([
      ...prepareArgs(csv, join(root, "drive"), "SECOND"),
      ...jobOptions("done-job"),
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /job done-job is 'Completed'; drives can be added only while it is Creating/,
    );
    assert.equal(existsSync(join(root, "drive")), false);

    const missing = await bin([
      ...prepareArgs(csv, join(root, "drive"), "SECOND"),
      ...jobOptions("no-such-job"),
    ]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.err,
      /there is no job no-such-job in resource group rg\. Create it first \(drivebay job create\), or give --location and --storage-account/,
    );
    assert.equal(existsSync(join(root, "drive")), false);
    const half = await bin([
      ...prepareArgs(csv, join(root, "drive"), "SECOND"),
      ...jobOptions("no-such-job"),
      "-l",
      "westus",
    ]);
    assert.equal(half.code, 2);
    assert.match(half.err, /--location and --storage-account go together/);
    assert.equal(existsSync(join(root, "drive")), false);
  });

  test("with --location and --storage-account a job that does not exist yet is created with the drive", async () => {
    const root = tempDir();
    const csv = sampleDataset(root);
    const args = [
      ...prepareArgs(csv, join(root, "drive"), "NEWDRIVE"),
      ...jobOptions("new-job"),
      "-l",
      "westus",
      "--storage-account",
      "acct",
      "-o",
      "json",
    ];
    const r = await bin(args);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /created job new-job in resource group rg with drive NEWDRIVE/);
    const entry = JSON.parse(r.out) as Record<string, string>;
    const job = await server.client().jobs.get("new-job", "rg");
    assert.equal(job.location, "westus");
    assert.equal(job.properties?.state, "Creating");
    assert.equal(job.properties?.jobType, "Import");
    assert.equal(
      job.properties?.storageAccountId,
      `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct`,
    );
    assert.deepEqual(
      job.properties?.driveList?.map((d) => [d.driveId, d.manifestFile, d.manifestHash]),
      [["NEWDRIVE", "\\NEWDRIVE.manifest", entry.manifestHash]],
    );
    const keys = [];
    for await (const k of server.client().bitLockerKeys.list("new-job", "rg")) keys.push(k);
    assert.deepEqual(
      keys.map((k) => [k.driveId, k.bitLockerKey]),
      [["NEWDRIVE", entry.bitLockerKey]],
    );
    // Once the job exists the same command adds to it (here: replaces the drive's entry).
    const again = await bin(args);
    assert.equal(again.code, 0, again.err);
    assert.match(again.err, /added drive NEWDRIVE to job new-job \(1 drive\(s\)\)/);
    assert.equal(
      (JSON.parse(again.out) as { bitLockerKey: string }).bitLockerKey,
      entry.bitLockerKey,
    );
  });
});
