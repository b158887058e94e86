/**
 * The pure pieces of laying an export onto drives (issue 11 item 4): NTFS name mapping,
 * the manifest writer (read back by the import side's parser), the metadata/properties
 * files, the incomplete blob list (read back as a blob list), and the capacity planner.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { parseManifest } from "../../src/transfer/manifest.ts";
import { parseMetadataFile } from "../../src/transfer/xml-files.ts";
import { readXml } from "../../src/transfer/xml-files.ts";
import type { ExportBlob } from "../../src/transfer/export/blob-list.ts";
import { blobKey, parseBlobListXml } from "../../src/transfer/export/blob-list.ts";
import {
  DrivePaths,
  manifestFilePath,
  ntfsSegment,
  ntfsSegments,
} from "../../src/transfer/export/ntfs-names.ts";
import {
  EXPORT_CLIENT_CREATOR,
  blockSpans,
  exportManifestXml,
  exportMetadataXml,
  exportPropertiesXml,
  incompleteBlobListXml,
  manifestEntryBytes,
  manifestEntryXml,
  pageSpans,
} from "../../src/transfer/export/drive-files.ts";
import { planLayout } from "../../src/transfer/export/layout.ts";

const MiB = 1024 * 1024;
const md5 = (b: Buffer | string) => createHash("md5").update(b).digest("hex").toUpperCase();

function blob(name: string, length: number, over: Partial<ExportBlob> = {}): ExportBlob {
  const [container, ...rest] = name.split("/");
  return {
    container: container!,
    name: rest.join("/"),
    blobType: "BlockBlob",
    length,
    etag: '"0x8D0"',
    lastModified: new Date("2026-12-01T10:00:00Z"),
    ...over,
  };
}

/** What NTFS refuses in a file name (Win32 rules). */
function ntfsRefuses(segment: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (/[<>:"|?*\\/\u0000-\u001f]/.test(segment)) return true;
  if (segment === "" || segment === "." || segment === "..") return true;
  if (/[. ]$/.test(segment)) return true;
  if (/^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$/i.test(segment)) return true;
  return segment.length > 255;
}

describe("NTFS names", () => {
  test("names NTFS can hold keep their path; unicode is kept as it is", () => {
    assert.deepEqual(ntfsSegments("photos", "2026/summer/日本語 ✓.jpg"), [
      "photos",
      "2026",
      "summer",
      "日本語 ✓.jpg",
    ]);
    assert.equal(manifestFilePath(["photos", "a b", "c.txt"]), "\\photos\\a b\\c.txt");
  });

  test("every hostile name maps to a segment NTFS holds, and different names map apart", () => {
    const hostile = [
      "a<b",
      "a>b",
      "a:b",
      'a"b',
      "a|b",
      "a?b",
      "a*b",
      "a\\b",
      "tab\there",
      "bell\u0007",
      "dot.",
      "space ",
      "dots. .",
      "CON",
      "nul.txt",
      "Com1",
      "LPT9.log",
      "",
      ".",
      "..",
      "x".repeat(300),
      "y".repeat(300) + ".jpeg",
    ];
    const mapped = hostile.map(ntfsSegment);
    mapped.forEach((m, i) => assert.ok(!ntfsRefuses(m), `${JSON.stringify(hostile[i])} → ${m}`));
    assert.equal(new Set(mapped).size, mapped.length, "no two hostile names meet");
    assert.equal(ntfsSegment("a:b"), "a%3Ab");
    assert.equal(ntfsSegment("dot."), "dot%2E");
    assert.equal(ntfsSegment("CON"), "CON_");
    assert.equal(ntfsSegment("nul.txt"), "nul_.txt");
    assert.ok(ntfsSegment("y".repeat(300) + ".jpeg").endsWith(".jpeg"));
    assert.ok(ntfsSegment("x".repeat(300)).length <= 255);
    for (const fine of ["CONSOLE", "connect.txt", "a.b", "100%"]) {
      assert.equal(ntfsSegment(fine), fine);
    }
  });

  test("a snapshot is written beside its blob; a drive gives names that meet without case ' (2)'", () => {
    assert.deepEqual(ntfsSegments("music", "c.mp3", "2026-12-01T10:00:00.1234567Z"), [
      "music",
      "c (snapshot 2026-12-01T10-00-00.1234567Z).mp3",
    ]);
    const paths = new DrivePaths(["DRIVE1.manifest"]);
    assert.deepEqual(paths.assign("docs", "Read.me"), ["docs", "Read.me"]);
    assert.deepEqual(paths.assign("docs", "read.ME"), ["docs", "read (2).ME"]);
    assert.deepEqual(paths.assign("docs", "a?"), ["docs", "a%3F"]);
    assert.deepEqual(paths.assign("docs", "a%3F"), ["docs", "a%3F (2)"]);
    // A blob named like another's side file does not take it.
    assert.deepEqual(paths.assign("docs", "Read.me.metadata"), ["docs", "Read.me (2).metadata"]);
    // A file and a folder of the same name: the later folder gets ' (2)'.
    assert.deepEqual(paths.assign("tree", "a"), ["tree", "a"]);
    assert.deepEqual(paths.assign("tree", "a/b"), ["tree", "a (2)", "b"]);
    assert.deepEqual(paths.assign("tree", "a/c"), ["tree", "a (2)", "c"]);
    // A file named like an existing folder.
    assert.deepEqual(paths.assign("tree", "a (2)"), ["tree", "a (2) (2)"]);
  });
});

describe("the export manifest and side files", () => {
  test("the manifest is the Azure format: parsed back by the import side, blocks covering each file", () => {
    const bytes = Buffer.alloc(9 * MiB, 1);
    const metadata = exportMetadataXml({ metadata: { Owner: "Jane", Project: "A & B" } });
    const properties = exportPropertiesXml(
      blob("music/a.bin", bytes.length, { contentType: "audio/mpeg", cacheControl: "no-cache" }),
    );
    const ranges = blockSpans(bytes.length).map((s) => ({
      ...s,
      hash: md5(bytes.subarray(s.offset, s.offset + s.length)),
    }));
    const xml = exportManifestXml("EX-1", [
      {
        blobPath: "music/a.bin",
        filePath: "\\music\\a.bin",
        length: bytes.length,
        blobType: "BlockBlob",
        ranges,
        metadata: { path: "\\music\\a.bin.metadata", hash: md5(metadata) },
        properties: { path: "\\music\\a.bin.properties", hash: md5(properties) },
      },
      {
        blobPath: "music/a.bin",
        filePath: "\\music\\a (snapshot 2026-12-01T10-00-00Z).bin",
        snapshot: "2026-12-01T10:00:00Z",
        length: 0,
        blobType: "AppendBlob",
        ranges: [],
      },
      {
        blobPath: "disks/d.vhd",
        filePath: "\\disks\\d.vhd",
        length: 8 * MiB + 1024,
        blobType: "PageBlob",
        ranges: pageSpans([
          { offset: 0, count: 512 },
          { offset: 4 * MiB, count: 4 * MiB + 1024 },
        ]).map((s) => ({ ...s, hash: "A".repeat(32) })),
      },
    ]);
    const m = parseManifest(xml);
    assert.equal(m.driveId, "EX-1");
    const [a, snap, page] = m.blobLists[0]!.blobs;
    assert.deepEqual(
      a!.ranges.map((r) => [r.offset, r.length]),
      [
        [0, 4 * MiB],
        [4 * MiB, 4 * MiB],
        [8 * MiB, MiB],
      ],
    );
    assert.equal(a!.metadata?.hash, md5(metadata));
    assert.equal(snap!.length, 0);
    assert.equal(page!.blobType, "PageBlob");
    assert.deepEqual(
      page!.ranges.map((r) => [r.offset, r.length]),
      [
        [0, 512],
        [4 * MiB, 4 * MiB],
        [8 * MiB, 1024],
      ],
    );
    const root = readXml(xml);
    const drive = root.children[0]!;
    assert.equal(
      drive.children.find((c) => c.name === "ClientCreator")?.text,
      EXPORT_CLIENT_CREATOR,
    );
    const snapshotEl = drive.children
      .find((c) => c.name === "BlobList")!
      .children[1]!.children.find((c) => c.name === "Snapshot");
    assert.equal(snapshotEl?.text, "2026-12-01T10:00:00Z");
    assert.deepEqual(parseMetadataFile(metadata), { Owner: "Jane", Project: "A & B" });
    assert.match(properties, /<Last-Modified>Tue, 01 Dec 2026 10:00:00 GMT<\/Last-Modified>/);
    assert.match(properties, /<Content-Length>9437184<\/Content-Length>/);
    assert.match(properties, /<Content-Type>audio\/mpeg<\/Content-Type>/);
  });

  test("an entry's size is known before its hashes are", () => {
    const b = blob("music/long name.bin", 13 * MiB);
    const entry = manifestEntryXml({
      blobPath: "music/long name.bin",
      filePath: "\\music\\long name.bin",
      length: b.length,
      blobType: "BlockBlob",
      ranges: blockSpans(b.length).map((s) => ({ ...s, hash: md5(String(s.offset)) })),
      metadata: { path: "\\music\\long name.bin.metadata", hash: md5("m") },
      properties: { path: "\\music\\long name.bin.properties", hash: md5("p") },
    });
    assert.equal(manifestEntryBytes(b, "\\music\\long name.bin"), Buffer.byteLength(entry));
  });

  test("the incomplete blob list is a blob list a new export job can use", () => {
    const blobs = [
      blob("music/a & b.mp3", 1),
      blob("$root/logo.bmp", 1),
      blob("music/c.mp3", 1, { snapshot: "2026-12-01T10:00:00.0000000Z" }),
    ];
    const entries = parseBlobListXml(incompleteBlobListXml(blobs));
    assert.deepEqual(entries, [
      { kind: "blobPath", path: "/music/a & b.mp3" },
      { kind: "blobPath", path: "/$root/logo.bmp" },
      { kind: "blobPath", path: "/music/c.mp3", snapshot: "2026-12-01T10:00:00.0000000Z" },
    ]);
  });
});

describe("the capacity planner", () => {
  const blobs = Array.from({ length: 10 }, (_, i) => blob(`data/f${i}.bin`, MiB));

  test("fills drives in listing order; files in clusters, side files and the manifest count", () => {
    // Room for four 1 MiB blobs with their overhead, not five.
    const capacity = 4 * (MiB + 2 * 4096) + 64 * 1024;
    const plan = planLayout(blobs, {
      drives: [
        { driveId: "D1", capacityBytes: capacity },
        { driveId: "D2", capacityBytes: capacity },
      ],
    });
    assert.deepEqual(
      plan.drives.map((d) => d.blobs.map((b) => b.blob.name)),
      [
        ["f0.bin", "f1.bin", "f2.bin", "f3.bin"],
        ["f4.bin", "f5.bin", "f6.bin", "f7.bin"],
      ],
    );
    assert.deepEqual(
      plan.incomplete.map((b) => b.name),
      ["f8.bin", "f9.bin"],
    );
    for (const d of plan.drives) {
      assert.ok(d.usedBytes <= d.capacityBytes);
      assert.equal(d.dataBytes, 4 * MiB);
      assert.ok(d.usedBytes >= 4 * MiB + 8 * 4096 + 4096, "side files and manifest counted");
    }
    // Exactly the data and nothing else would not fit.
    const tight = planLayout(blobs.slice(0, 1), { drives: [{ driveId: "T", capacityBytes: MiB }] });
    assert.equal(tight.incomplete.length, 1);
    assert.equal(tight.drives[0]!.blobs.length, 0, "an empty drive still gets its manifest");
  });

  test("a blob larger than a drive goes to the incomplete list without closing the drive", () => {
    const list = [blob("d/a", 10), blob("d/huge", 50 * MiB), blob("d/b", 10)];
    const plan = planLayout(list, { drives: [{ driveId: "D1", capacityBytes: MiB }] });
    assert.deepEqual(
      plan.drives[0]!.blobs.map((b) => b.blob.name),
      ["a", "b"],
    );
    assert.deepEqual(plan.incomplete.map(blobKey), ["d/huge"]);
    const preview = planLayout(list, { driveSize: MiB });
    assert.equal(preview.drives.length, 1);
    assert.deepEqual(preview.incomplete.map(blobKey), ["d/huge"]);
  });

  test("by drive size (PreviewExport): as many drives as needed, the same plan every time", () => {
    const p1 = planLayout(blobs, { driveSize: 3 * MiB });
    const p2 = planLayout(blobs, { driveSize: 3 * MiB });
    assert.deepEqual(p1, p2);
    assert.equal(p1.incomplete.length, 0);
    assert.equal(p1.drives.length, 5, "two 1 MiB blobs and their overhead per 3 MiB drive");
    assert.equal(
      p1.drives.reduce((n, d) => n + d.blobs.length, 0),
      10,
    );
  });
});
