/**
 * `drivebay drive preview-export` as a real process against a real server and its embedded
 * Azurite (issue 11 item 7): drives needed for a drive size (1 GB = 10^9 bytes), blobs and
 * space per drive, unmatched paths and duplicates, from paths and prefixes, an XML file,
 * a list blob, and an export job; usage errors exit 2, unreadable lists exit 1.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BlobServiceClient } from "@azure/storage-blob";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { exportJob } from "../api/fixtures.ts";
import { tempDir } from "./helpers.ts";

const BIN = fileURLToPath(new URL("../../bin/drivebay.js", import.meta.url));
const ACCOUNT = "previewsrc";
const MB = 1_000_000;

interface Result {
  code: number | null;
  out: string;
  err: string;
}

function bin(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith("DRIVEBAY_") && k !== "AZURE_STORAGE_CONNECTION_STRING",
    ),
  );
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...clean, ...env } }, (error, out, err) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, out, err });
    });
  });
}

describe("drivebay drive preview-export", () => {
  let server: TestServer;
  let cs: string;
  before(async () => {
    server = await startTestServer({ blob: "memory" });
    cs = (await server.storage.resolve(ACCOUNT)).connectionString;
    const service = BlobServiceClient.fromConnectionString(cs);
    const data = service.getContainerClient("data");
    await data.create();
    for (let i = 0; i < 10; i++) {
      await data.getBlockBlobClient(`f${i}.bin`).upload(Buffer.alloc(MB, i), MB);
    }
    const big = service.getContainerClient("big");
    await big.create();
    await big.getBlockBlobClient("huge.bin").upload(Buffer.alloc(5 * MB), 5 * MB);
    const lists = service.getContainerClient("lists");
    await lists.create();
    const xml =
      "<BlobList><BlobPathPrefix>/data/</BlobPathPrefix><BlobPath>data/f0.bin</BlobPath></BlobList>";
    await lists.getBlockBlobClient("l.xml").upload(xml, xml.length);
  });
  after(async () => {
    await server.close();
  });

  const connection = () => ["--connection-string", cs];

  test("prefixes and paths: drives needed, per drive blobs and space, unmatched and duplicates", async () => {
    const r = await bin([
      "drive",
      "preview-export",
      "--drive-size",
      "3.5MB",
      "--blob-path-prefix",
      "/data/",
      "--blob-path",
      "/data/f3.bin",
      "--blob-path",
      "/data/f3.bin",
      "--blob-path-prefix",
      "/nothing/",
      "--blob-path",
      "/big/huge.bin",
      ...connection(),
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.err);
    const p = JSON.parse(r.out);
    assert.equal(p.driveSizeBytes, 3.5 * MB);
    // f3 first (paths come before prefixes), then f0…f9 without f3 again; three 1 MB blobs
    // with their side files and manifest fit in 3.5 MB, four do not.
    assert.equal(p.blobs, 11);
    assert.deepEqual(
      p.drives.map((d: { blobs: number }) => d.blobs),
      [3, 3, 3, 1],
    );
    assert.equal(p.drivesNeeded, 4);
    for (const d of p.drives) assert.ok(d.usedBytes <= 3.5 * MB && d.usedBytes > d.dataBytes);
    assert.deepEqual(p.tooLarge, ["big/huge.bin"]);
    assert.deepEqual(p.unmatched, ["/nothing/"]);
    assert.deepEqual(p.duplicateEntries, ["/data/f3.bin"]);
    assert.equal(p.duplicateBlobs, 1);

    const t = await bin([
      "drive",
      "preview-export",
      "--drive-size",
      "500GB",
      "--blob-path-prefix",
      "/",
      ...connection(),
    ]);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /drive size: 500\.00 GB \(500000000000 bytes\)/);
    assert.match(t.out, /drives needed: 1/);
    assert.match(t.out, /^1 +12 +15\.00 MB/m, "10 + 1 + the list blob, 15 MB of data");
  });

  test("an XML file, a list blob and an export job give the same answer", async () => {
    const dir = tempDir();
    const file = join(dir, "list.xml");
    writeFileSync(
      file,
      "<BlobList><BlobPathPrefix>/data/</BlobPathPrefix><BlobPath>data/f0.bin</BlobPath></BlobList>",
    );
    const c = server.client();
    const storageAccountId = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/${ACCOUNT}`;
    await c.jobs.create(
      "preview-job",
      "rg",
      exportJob({ storageAccountId, export: { blobListBlobPath: "lists/l.xml" } }),
    );
    const runs = await Promise.all([
      bin([
        "drive",
        "preview-export",
        "--drive-size",
        "4MB",
        "--blob-list",
        file,
        ...connection(),
        "-o",
        "json",
      ]),
      bin([
        "drive",
        "preview-export",
        "--drive-size",
        "4MB",
        "--blob-list-blob",
        "lists/l.xml",
        ...connection(),
        "-o",
        "json",
      ]),
      bin(
        [
          "drive",
          "preview-export",
          "--drive-size",
          "4MB",
          "--job",
          "preview-job",
          "-g",
          "rg",
          "--endpoint",
          server.url,
          "--subscription",
          SUBSCRIPTION,
          "-o",
          "json",
        ],
        { AZURE_STORAGE_CONNECTION_STRING: cs },
      ),
    ]);
    const previews = runs.map((r) => {
      assert.equal(r.code, 0, r.err);
      return JSON.parse(r.out);
    });
    assert.deepEqual(previews[1], previews[0]);
    assert.deepEqual(previews[2], previews[0]);
    assert.equal(previews[0].blobs, 10);
    assert.equal(previews[0].duplicateBlobs, 1);
    assert.equal(previews[0].drivesNeeded, 4);
  });

  test("usage errors exit 2; a blob list that cannot be read exits 1 with BlobListFormatInvalid", async () => {
    const size = await bin([
      "drive",
      "preview-export",
      "--drive-size",
      "lots",
      "--blob-path-prefix",
      "/",
      ...connection(),
    ]);
    assert.equal(size.code, 2);
    assert.match(size.err, /1 GB = 10\^9 bytes/);
    const none = await bin(["drive", "preview-export", "--drive-size", "1TB", ...connection()]);
    assert.equal(none.code, 2);
    assert.match(none.err, /give the blob list one way/);
    const noAccount = await bin([
      "drive",
      "preview-export",
      "--drive-size",
      "1TB",
      "--blob-path-prefix",
      "/",
    ]);
    assert.equal(noAccount.code, 2);
    assert.match(noAccount.err, /--connection-string/);
    const dir = tempDir();
    const bad = join(dir, "bad.xml");
    writeFileSync(bad, "<BlobList><BlobPath>data/f0.bin</BlobList>");
    const r = await bin([
      "drive",
      "preview-export",
      "--drive-size",
      "1TB",
      "--blob-list",
      bad,
      ...connection(),
    ]);
    assert.equal(r.code, 1);
    assert.match(r.err, /BlobListFormatInvalid: The blob list is not valid: not well-formed XML/);
  });
});
