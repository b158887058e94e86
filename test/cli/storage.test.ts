/**
 * Checking imported data from the CLI (issue 13, item 9): an import through the autopilot
 * into the embedded Azurite, then `storage ls`, `storage get` and `job verify-import`,
 * before and after blobs are changed and deleted behind the CLI's back with
 * @azure/storage-blob.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import {
  argv,
  bin,
  runCli,
  shipAndComplete,
  startServe,
  stop,
  type Result,
  type Served,
  fastAutopilot,
} from "./helpers.ts";

const SUBSCRIPTION = "5e1f0c2a-0000-4000-8000-0000000000d9";
const KEY = "cli-storage-operator-key-0123456789";
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex").toUpperCase();

describe("storage ls / get and job verify-import", () => {
  let server: Served;
  let root: string;
  const files: Record<string, Buffer> = {
    "a.bin": randomBytes(300_000),
    "b.txt": Buffer.from("hello from b\n"),
    "sub/c.bin": randomBytes(5 * 1024 * 1024 + 17),
    "sub/d.txt": Buffer.from("d"),
  };

  const cli = (args: string[]): Promise<Result> => runCli([...args, "--endpoint", server.url]);
  const customer = (args: string[]) => cli([...args, "--subscription", SUBSCRIPTION]);
  const operator = (args: string[]) => cli([...args, "--operator-key", KEY]);

  before(async () => {
    server = await startServe({
      env: fastAutopilot(KEY),
    });
    root = mkdtempSync(join(tmpdir(), "drivebay-cli-storage-"));
    for (const [name, bytes] of Object.entries(files)) {
      mkdirSync(join(root, "src", name, ".."), { recursive: true });
      writeFileSync(join(root, "src", name), bytes);
    }
    writeFileSync(join(root, "data.csv"), "BasePath,DstBlobPathOrPrefix\nsrc/,imported/set1/\n");
    const prepared = await customer(argv`drive prepare --dataset ${join(root, "data.csv")}
      --drive ${join(server.dataDir, "dock", "STOR1")} --drive-id STOR1
      --job checkme -g rg-s -l westus --storage-account checked`);
    assert.equal(prepared.code, 0, prepared.err);
    await shipAndComplete(customer, "checkme", "TRK-S");
  });

  after(async () => {
    rmSync(root, { recursive: true, force: true });
    assert.equal(await stop(server), 0, server.stderr());
  });

  test("storage ls lists containers, then blobs with sizes and MD5s; a prefix narrows it", async () => {
    const containers = await operator(argv`storage ls checked`);
    assert.equal(containers.code, 0, containers.err);
    assert.match(containers.out, /^imported$/m);

    const listed = await operator(argv`storage ls checked imported -o json`);
    assert.equal(listed.code, 0, listed.err);
    const rows = JSON.parse(listed.out) as { name: string; size: number; contentMD5?: string }[];
    assert.deepEqual(
      rows.map((r) => [r.name, r.size]),
      Object.entries(files).map(([n, b]) => [`set1/${n}`, b.length]),
    );
    // Small blobs go in one Put Blob, so the service keeps their Content-MD5.
    assert.equal(rows.find((r) => r.name === "set1/b.txt")?.contentMD5, md5(files["b.txt"]!));

    const table = await operator(argv`storage ls checked imported/set1/sub/`);
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /^NAME +SIZE +BYTES +CONTENT-MD5 \(HEX\)$/m);
    assert.match(table.out, /^set1\/sub\/c\.bin +5\.0 MiB +5242897 /m);
    assert.match(
      table.out,
      new RegExp(`^set1/sub/d\\.txt +1 B +1 +${md5(Buffer.from("d"))}$`, "m"),
    );
    assert.doesNotMatch(table.out, /a\.bin/);
    assert.match(table.out, /^2 blob\(s\), 5\.0 MiB$/m);

    const none = await operator(argv`storage ls checked nosuchcontainer`);
    assert.equal(none.code, 1);
    assert.match(none.err, /there is no container 'nosuchcontainer' in account checked/);
  });

  test("storage get writes a blob to a file or to stdout, and refuses to overwrite", async () => {
    const out = join(root, "got.bin");
    const got = await operator(argv`storage get checked imported/set1/sub/c.bin -o ${out}`);
    assert.equal(got.code, 0, got.err);
    assert.equal(md5(readFileSync(out)), md5(files["sub/c.bin"]!));
    const again = await operator(argv`storage get checked imported/set1/sub/c.bin -o ${out}`);
    assert.equal(again.code, 2);
    assert.match(again.err, /exists; choose another file with -o, or --force/);

    const piped = await bin(
      argv`storage get checked imported/set1/b.txt -o - --endpoint ${server.url} --operator-key ${KEY}`,
    );
    assert.equal(piped.code, 0, piped.err);
    assert.equal(piped.out, "hello from b\n");

    const missing = await operator(argv`storage get checked imported/set1/nope.txt -o -`);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /there is no blob 'set1\/nope\.txt' in container 'imported'/);
  });

  test("verify-import: all match; then a blob changed behind its back differs and a deleted one is missing", async () => {
    const csv = join(root, "data.csv");
    const ok = await customer(
      argv`job verify-import -n checkme --source ${csv} --operator-key ${KEY}`,
    );
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^checked 4 file\(s\), .* against account checked \(job checkme\):$/m);
    assert.match(ok.out, /^ {2}4 match \(length and MD5\)$/m);
    assert.match(ok.out, /^ {2}0 missing$/m);
    assert.match(ok.out, /^ {2}0 differ$/m);

    // The folder form: the folder and where it was imported.
    const folder = await customer(argv`job verify-import -n checkme --source ${join(root, "src")}
      --destination imported/set1 --operator-key ${KEY} -o json`);
    assert.equal(folder.code, 0, folder.err);
    assert.equal((JSON.parse(folder.out) as { match: number }).match, 4);

    // Behind the CLI's back: the same length with other bytes, and a deletion.
    const shown = await operator(argv`storage show checked -o json`);
    const service = BlobServiceClient.fromConnectionString(
      (JSON.parse(shown.out) as { connectionString: string }).connectionString,
    );
    const container = service.getContainerClient("imported");
    const changed = Buffer.from(files["a.bin"]!);
    changed[12345] = changed[12345]! ^ 0xff;
    await container.getBlockBlobClient("set1/a.bin").uploadData(changed);
    // Its Content-MD5 property set back to the original's: only reading the bytes tells.
    await container.getBlobClient("set1/a.bin").setHTTPHeaders({
      blobContentMD5: createHash("md5").update(files["a.bin"]!).digest(),
    });
    await container.getBlobClient("set1/sub/d.txt").delete();
    // And one a byte longer than its file.
    await container.getBlockBlobClient("set1/b.txt").uploadData(Buffer.from("hello from b\n!"));

    const bad = await customer(
      argv`job verify-import -n checkme --source ${csv} --operator-key ${KEY}`,
    );
    assert.equal(bad.code, 1);
    assert.match(bad.out, /^ {2}1 match \(length and MD5\)$/m);
    assert.match(bad.out, /^ {2}1 missing$/m);
    assert.match(bad.out, /^ {2}2 differ$/m);
    assert.match(
      bad.out,
      /^DIFFER +imported\/set1\/b\.txt +\S+b\.txt +length: the blob has 14 bytes, the file 13$/m,
    );
    assert.match(bad.out, new RegExp(`^MISSING +imported/set1/sub/d\\.txt +\\S+d\\.txt +-$`, "m"));
    assert.match(
      bad.out,
      new RegExp(
        `^DIFFER +imported/set1/a\\.bin +\\S+a\\.bin +MD5: the blob's bytes have ${md5(changed)}, ` +
          `the file ${md5(files["a.bin"]!)}$`,
        "m",
      ),
    );
    assert.match(bad.err, /verify-import: 3 of 4 file\(s\) are not in the account as they are/);

    const usage = await customer(argv`job verify-import -n checkme --source ${join(root, "src")}`);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /a --source folder needs --destination/);
    // Before the job is looked up: a job that does not exist does not hide it.
    const first = await customer(
      argv`job verify-import -n nosuchjob --source ${join(root, "nope.csv")}`,
    );
    assert.equal(first.code, 2);
    assert.match(first.err, /--source \S+nope\.csv: ENOENT/);
  });
});
