/**
 * Export blob lists resolved against a real Azurite (issue 11 item 3): blobPath (with
 * `$root` and a snapshot), every blobPathPrefix form, the XML list blob, duplicates once,
 * unmatched entries reported, BlobListFormatInvalid for lists that cannot be read.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BlobServiceClient } from "@azure/storage-blob";
import { EmbeddedAzurite } from "../../src/storage/azurite.ts";
import { StorageAccounts } from "../../src/storage/registry.ts";
import {
  BlobListError,
  blobKey,
  entryText,
  parseBlobListXml,
  resolveBlobList,
  type ResolvedBlobList,
} from "../../src/transfer/export/blob-list.ts";

const dir = mkdtempSync(join(tmpdir(), "drivebay-bloblist-"));
let azurite: EmbeddedAzurite;
let service: BlobServiceClient;
let snapshot: string;

const BLOBS: Record<string, string> = {
  "music/love/a.mp3": "aaaa",
  "music/love/b.mp3": "bbbbbb",
  "music/rock/c.mp3": "cccccccc",
  "book1/x.txt": "x",
  "books/y.txt": "yy",
  "other/z.bin": "zzz",
  "$root/logo.bmp": "logo",
};

const keys = (r: ResolvedBlobList) => r.blobs.map(blobKey);

before(async () => {
  azurite = await EmbeddedAzurite.start({
    host: "127.0.0.1",
    port: 0,
    inMemory: true,
    location: join(dir, "azurite"),
    accountsFile: join(dir, "accounts.json"),
  });
  const accounts = new StorageAccounts({ embedded: azurite, createOnFirstUse: true });
  service = await accounts.serviceClient("exportsrc");
  for (const [path, text] of Object.entries(BLOBS)) {
    const [container, ...rest] = path.split("/");
    const cc = service.getContainerClient(container!);
    await cc.createIfNotExists();
    await cc.getBlockBlobClient(rest.join("/")).upload(text, text.length);
  }
  const music = service.getContainerClient("music");
  const page = music.getPageBlobClient("disk/page.vhd");
  await page.create(1024);
  await page.uploadPages(Buffer.alloc(512, 7), 0, 512);
  const append = music.getAppendBlobClient("logs/append.log");
  await append.create();
  await append.appendBlock("line\n", 5);
  // A snapshot of c.mp3, then the blob changes: the snapshot keeps the old 8 bytes.
  snapshot = (await music.getBlockBlobClient("rock/c.mp3").createSnapshot()).snapshot!;
  await music.getBlockBlobClient("rock/c.mp3").upload("changed!!!", 10);
  const lists = service.getContainerClient("lists");
  await lists.createIfNotExists();
  const put = (name: string, xml: string) =>
    lists.getBlockBlobClient(name).upload(xml, Buffer.byteLength(xml));
  await put(
    "good.xml",
    `<?xml version="1.0" encoding="utf-8"?>
<BlobList>
  <BlobPath>music/love/a.mp3</BlobPath>
  <BlobPath Snapshot="${snapshot}">music/rock/c.mp3</BlobPath>
  <BlobPath>$root/logo.bmp</BlobPath>
  <BlobPathPrefix>/book</BlobPathPrefix>
  <BlobPathPrefix>/music/love</BlobPathPrefix>
  <BlobPath>music/none.mp3</BlobPath>
</BlobList>`,
  );
  await put("broken.xml", "<BlobList><BlobPath>music/love/a.mp3</BlobList>");
  await put("wrong-root.xml", "<Blobs><BlobPath>music/love/a.mp3</BlobPath></Blobs>");
  await put("empty.xml", "<BlobList></BlobList>");
  await put("no-slash.xml", "<BlobList><BlobPathPrefix>music/</BlobPathPrefix></BlobList>");
});

after(async () => {
  await azurite?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("blobPath", () => {
  test("exact blobs, $root, and a snapshot (its own length, not the changed blob's)", async () => {
    const r = await resolveBlobList(service, {
      blobList: {
        blobPath: [
          "/music/rock/c.mp3",
          `/music/rock/c.mp3?snapshot=${snapshot}`,
          "/$root/logo.bmp",
          "/music/disk/page.vhd",
          "/music/logs/append.log",
        ],
      },
    });
    assert.deepEqual(keys(r), [
      "music/rock/c.mp3",
      `music/rock/c.mp3?snapshot=${snapshot}`,
      "$root/logo.bmp",
      "music/disk/page.vhd",
      "music/logs/append.log",
    ]);
    assert.deepEqual(
      r.blobs.map((b) => [b.blobType, b.length]),
      [
        ["BlockBlob", 10],
        ["BlockBlob", 8],
        ["BlockBlob", 4],
        ["PageBlob", 1024],
        ["AppendBlob", 5],
      ],
    );
    assert.ok(r.blobs.every((b) => b.etag && b.lastModified.getTime() > 0));
    assert.deepEqual(r.unmatched, []);
  });

  test("paths that match nothing are reported, in the order given", async () => {
    const r = await resolveBlobList(service, {
      blobList: {
        blobPath: [
          "/music/none.mp3",
          "/nosuchcontainer/a",
          "/music/love/a.mp3",
          "/music/rock/c.mp3?snapshot=2020-01-01T00:00:00.0000000Z",
        ],
      },
    });
    assert.deepEqual(keys(r), ["music/love/a.mp3"]);
    assert.deepEqual(r.unmatched.map(entryText), [
      "/music/none.mp3",
      "/nosuchcontainer/a",
      "/music/rock/c.mp3?snapshot=2020-01-01T00:00:00.0000000Z",
    ]);
  });
});

describe("blobPathPrefix", () => {
  test("'/' is the whole account, every container in the service's order", async () => {
    const r = await resolveBlobList(service, { blobList: { blobPathPrefix: ["/"] } });
    const expected = [
      ...Object.keys(BLOBS),
      "music/disk/page.vhd",
      "music/logs/append.log",
      "lists/broken.xml",
      "lists/empty.xml",
      "lists/good.xml",
      "lists/no-slash.xml",
      "lists/wrong-root.xml",
    ];
    assert.deepEqual([...keys(r)].sort(), [...expected].sort());
    // Listing order: containers by name, blobs by name within each.
    const containers = r.blobs.map((b) => b.container);
    assert.deepEqual(
      containers.filter((c, i) => containers.indexOf(c) === i),
      ["$root", "book1", "books", "lists", "music", "other"],
    );
    assert.deepEqual(
      r.blobs.filter((b) => b.container === "music").map((b) => b.name),
      ["disk/page.vhd", "logs/append.log", "love/a.mp3", "love/b.mp3", "rock/c.mp3"],
    );
    assert.ok(!keys(r).some((k) => k.includes("?snapshot=")), "prefixes take base blobs");
  });

  test("'/music/' a container, '/book' every container starting with book, '/music/love' a prefix in one", async () => {
    const container = await resolveBlobList(service, { blobList: { blobPathPrefix: ["/music/"] } });
    assert.equal(container.blobs.length, 5);
    assert.ok(container.blobs.every((b) => b.container === "music"));
    const books = await resolveBlobList(service, { blobList: { blobPathPrefix: ["/book"] } });
    assert.deepEqual(keys(books), ["book1/x.txt", "books/y.txt"]);
    const love = await resolveBlobList(service, { blobList: { blobPathPrefix: ["/music/love"] } });
    assert.deepEqual(keys(love), ["music/love/a.mp3", "music/love/b.mp3"]);
    const root = await resolveBlobList(service, { blobList: { blobPathPrefix: ["/$root/"] } });
    assert.deepEqual(keys(root), ["$root/logo.bmp"]);
  });

  test("a blob matched twice is exported once, where it first appears; duplicate entries and unmatched prefixes are reported", async () => {
    const r = await resolveBlobList(service, {
      blobList: {
        blobPath: ["/music/love/b.mp3", "/music/love/b.mp3"],
        blobPathPrefix: ["/music/love", "/music/", "/zzz", "/music/nothing/", "/nocontainer/"],
      },
    });
    assert.deepEqual(keys(r), [
      "music/love/b.mp3",
      "music/love/a.mp3",
      "music/disk/page.vhd",
      "music/logs/append.log",
      "music/rock/c.mp3",
    ]);
    // b.mp3 again under /music/love and /music/; a.mp3 again under /music/.
    assert.equal(r.duplicateBlobs, 3);
    assert.deepEqual(r.duplicateEntries.map(entryText), ["/music/love/b.mp3"]);
    assert.deepEqual(r.unmatched.map(entryText), ["/zzz", "/music/nothing/", "/nocontainer/"]);
  });
});

test("a blob in the Archive tier is not exportable and is reported with what to do", async () => {
  const cc = service.getContainerClient("archived");
  await cc.createIfNotExists();
  await cc.getBlockBlobClient("cold.bin").upload("cold", 4);
  await cc.getBlockBlobClient("warm.bin").upload("warm", 4);
  await cc.getBlockBlobClient("cold.bin").setAccessTier("Archive");
  const r = await resolveBlobList(service, { blobList: { blobPathPrefix: ["/archived/"] } });
  assert.deepEqual(keys(r), ["archived/warm.bin"]);
  assert.deepEqual(
    r.notExportable.map((n) => [blobKey(n.blob), /rehydrate/.test(n.reason)]),
    [["archived/cold.bin", true]],
  );
  await cc.delete();
});

describe("blobListBlobPath (the XML BlobList blob)", () => {
  test("a valid list: its paths, snapshot and prefixes in its order; what matches nothing is reported", async () => {
    for (const path of ["lists/good.xml", "/lists/good.xml"]) {
      const r = await resolveBlobList(service, { blobListBlobPath: path });
      assert.deepEqual(keys(r), [
        "music/love/a.mp3",
        `music/rock/c.mp3?snapshot=${snapshot}`,
        "$root/logo.bmp",
        "book1/x.txt",
        "books/y.txt",
        "music/love/b.mp3",
      ]);
      assert.equal(r.duplicateBlobs, 1);
      assert.deepEqual(r.unmatched.map(entryText), ["/music/none.mp3"]);
    }
  });

  test("a list that cannot be read is BlobListFormatInvalid, saying why", async () => {
    const cases: [string, RegExp][] = [
      ["lists/broken.xml", /not well-formed XML/],
      ["lists/wrong-root.xml", /root element is <Blobs>/],
      ["lists/empty.xml", /names no <BlobPath>/],
      ["lists/no-slash.xml", /does not start with '\/'/],
      ["lists/missing.xml", /does not exist/],
    ];
    for (const [path, why] of cases) {
      await assert.rejects(
        resolveBlobList(service, { blobListBlobPath: path }),
        (e: unknown) =>
          e instanceof BlobListError && e.status === "BlobListFormatInvalid" && why.test(e.message),
        path,
      );
    }
  });

  test("the parser alone: other elements, nested elements and bad snapshot times are refused", () => {
    for (const xml of [
      "<BlobList><Blob>music/a</Blob></BlobList>",
      "<BlobList><BlobPath><x/></BlobPath></BlobList>",
      '<BlobList><BlobPath Snapshot="yesterday">music/a</BlobPath></BlobList>',
      "<BlobList><BlobPath>Music/a</BlobPath></BlobList>",
      "<BlobList><BlobPath>music</BlobPath></BlobList>",
    ]) {
      assert.throws(
        () => parseBlobListXml(xml),
        (e: unknown) => e instanceof BlobListError && e.status === "BlobListFormatInvalid",
        xml,
      );
    }
    assert.deepEqual(
      parseBlobListXml("\uFEFF<BlobList><BlobPathPrefix>/</BlobPathPrefix></BlobList>"),
      [{ kind: "blobPathPrefix", path: "/" }],
    );
  });
});
