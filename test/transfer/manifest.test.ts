/** The drive manifest: round trips, what the Windows tool writes, and every strictness rule. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  blobPathProblem,
  ManifestError,
  manifestHash,
  parseManifest,
  resolveDriveFile,
  serializeManifest,
} from "../../src/transfer/manifest.ts";
import type { DriveManifest } from "../../src/transfer/manifest-types.ts";
import { md5 } from "./helpers.ts";

const H = (n: number) => md5(String(n));
const MiB4 = 4 * 1024 * 1024;

const SAMPLE: DriveManifest = {
  version: "2014-11-01",
  driveId: "WD-WCC4N1234567",
  blobLists: [
    {
      id: "session#1-0",
      metadata: { path: "\\session#1\\meta.xml", hash: H(1) },
      properties: { path: "\\session#1\\props.xml", hash: H(2) },
      blobs: [
        {
          blobPath: "photos/2026/a & b <c> \"d\" 'e' ✓.jpg",
          filePath: "\\session#1\\photos\\a & b <c> \"d\" 'e' ✓.jpg",
          length: MiB4 + 5,
          disposition: "rename",
          blobType: "BlockBlob",
          ranges: [
            { offset: 0, length: MiB4, hash: H(3), id: "QUFB" },
            { offset: MiB4, length: 5, hash: H(4), id: "QUFC" },
          ],
        },
        {
          blobPath: "photos/empty",
          filePath: "/session#1/photos/empty",
          length: 0,
          disposition: "no-overwrite",
          blobType: "BlockBlob",
          ranges: [],
          metadata: { path: "\\session#1\\other-meta.xml", hash: H(5) },
        },
      ],
    },
    {
      blobs: [
        {
          blobPath: "vhds/disk.vhd",
          filePath: "\\session#2\\disk.vhd",
          length: 10 * 512,
          disposition: "overwrite",
          blobType: "PageBlob",
          ranges: [
            { offset: 0, length: 1024, hash: H(6) },
            { offset: 4096, length: 512, hash: H(7) },
          ],
          properties: { path: "\\session#2\\p.xml", hash: H(8) },
        },
        {
          blobPath: "$root/empty.vhd",
          filePath: "\\session#2\\empty.vhd",
          length: 0,
          disposition: "rename",
          blobType: "PageBlob",
          ranges: [],
        },
      ],
    },
  ],
};

/** A manifest with one blob whose body is `blob` (BlobPath photos/a.jpg). */
function withBlob(blob: string, extraBlobs = ""): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<DriveManifest Version="2014-11-01"><Drive><DriveId>D1</DriveId><BlobList>${extraBlobs}
<Blob><BlobPath>photos/a.jpg</BlobPath><FilePath>\\s\\a.jpg</FilePath>${blob}</Blob>
</BlobList></Drive></DriveManifest>`;
}

function blocks(length: number, list: [number, number][], extra = ""): string {
  return withBlob(
    `<Length>${length}</Length><BlockList>${list
      .map(([o, l]) => `<Block Offset="${o}" Length="${l}" Hash="${H(o)}"${extra}/>`)
      .join("")}</BlockList>`,
  );
}

function pages(length: number, list: [number, number][]): string {
  return withBlob(
    `<Length>${length}</Length><PageRangeList>${list
      .map(([o, l]) => `<PageRange Offset="${o}" Length="${l}" Hash="${H(o)}"/>`)
      .join("")}</PageRangeList>`,
  );
}

function rejects(xml: string, message: RegExp): void {
  assert.throws(
    () => parseManifest(xml),
    (e: unknown) => {
      assert.ok(e instanceof ManifestError, `expected a ManifestError, got ${String(e)}`);
      assert.equal(e.status, "ManifestFormatInvalid");
      assert.match(e.message, message);
      return true;
    },
  );
}

describe("manifest: serialize and parse", () => {
  test("a manifest survives serialize → parse unchanged, and serializing is stable", () => {
    const xml = serializeManifest(SAMPLE);
    assert.deepEqual(parseManifest(xml), SAMPLE);
    assert.equal(serializeManifest(parseManifest(xml)), xml);
  });

  test("the written form: declaration, Version 2014-11-01, ClientCreator drivebay, escaped text", () => {
    const xml = serializeManifest({ ...SAMPLE, version: "2011-10-01" });
    assert.ok(
      xml.startsWith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<DriveManifest Version="2014-11-01">',
      ),
    );
    assert.match(xml, /<ClientCreator>drivebay<\/ClientCreator>/);
    assert.match(
      xml,
      /<BlobPath>photos\/2026\/a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; ✓\.jpg<\/BlobPath>/,
    );
    assert.match(xml, /<BlockList\/>/);
    assert.match(xml, /<PageRangeList\/>/);
    assert.match(xml, /<Block Offset="0" Length="4194304" Id="QUFB" Hash="[0-9A-F]{32}"\/>/);
    assert.equal(parseManifest(xml).version, "2014-11-01");
  });

  test("a manifest in the Windows tool's style: keys, client data, defaults, lower-case hashes", () => {
    const m = parseManifest(`\uFEFF<?xml version="1.0" encoding="UTF-8"?>
<!-- written elsewhere -->
<DriveManifest Version="2011-10-01">
  <Drive>
    <DriveId>9CA995BB</DriveId>
    <StorageAccountKey>not used by drivebay</StorageAccountKey>
    <ClientCreator>Microsoft Azure Import/Export Tool</ClientCreator>
    <BlobList>
      <Blob>
        <BlobPath>pictures/city/redmond.jpg</BlobPath>
        <FilePath>/pictures/city/redmond.jpg</FilePath>
        <ClientData>my comment</ClientData>
        <Length>10</Length>
        <BlockList><Block Offset="0" Length="10" Hash="${H(1).toLowerCase()}"/></BlockList>
      </Blob>
    </BlobList>
  </Drive>
</DriveManifest>`);
    assert.equal(m.version, "2011-10-01");
    assert.equal(m.driveId, "9CA995BB");
    const b = m.blobLists[0]!.blobs[0]!;
    assert.equal(b.disposition, "rename");
    assert.equal(b.blobType, "BlockBlob");
    assert.equal(b.filePath, "/pictures/city/redmond.jpg");
    assert.deepEqual(b.ranges, [{ offset: 0, length: 10, hash: H(1) }]);
  });

  test("entities and character references are decoded once", () => {
    const m = parseManifest(
      withBlob("<Length>0</Length><BlockList/>").replace(
        "<DriveId>D1</DriveId>",
        "<DriveId>A&amp;#66;&#67;&#x44;</DriveId>",
      ),
    );
    assert.equal(m.driveId, "A&#66;CD");
  });

  test("a disposition is read case-insensitively", () => {
    const m = parseManifest(
      withBlob("<Length>0</Length><ImportDisposition>No-Overwrite</ImportDisposition><BlockList/>"),
    );
    assert.equal(m.blobLists[0]!.blobs[0]!.disposition, "no-overwrite");
  });

  test("manifestHash is the upper-case hex MD5 of the file's bytes", () => {
    assert.equal(manifestHash(Buffer.alloc(0)), "D41D8CD98F00B204E9800998ECF8427E");
    const bytes = Buffer.from(serializeManifest(SAMPLE));
    assert.equal(manifestHash(bytes), md5(bytes));
  });
});

describe("manifest: strictness", () => {
  test("not XML, the wrong root, no Version, not one Drive, no DriveId", () => {
    rejects("<DriveManifest><Drive>", /not well-formed XML \(line 1/);
    rejects("", /no root element|not well-formed/);
    rejects("<Manifest Version='1'/>", /root element is <Manifest>; expected <DriveManifest>/);
    rejects(
      "<DriveManifest><Drive><DriveId>x</DriveId></Drive></DriveManifest>",
      /Version attribute is missing/,
    );
    rejects("<DriveManifest Version='1'/>", /exactly one <Drive>; it holds 0/);
    rejects(
      "<DriveManifest Version='1'><Drive/><Drive/></DriveManifest>",
      /exactly one <Drive>; it holds 2/,
    );
    rejects(
      "<DriveManifest Version='1'><Drive><BlobList/></Drive></DriveManifest>",
      /<Drive>: <DriveId> is missing/,
    );
    rejects(
      "<DriveManifest Version='1'><Drive><DriveId>a</DriveId><DriveId>b</DriveId></Drive></DriveManifest>",
      /<DriveId> appears 2 times/,
    );
  });

  test("a Blob without BlobPath, FilePath or Length, or with a bad Length", () => {
    const body = "<Length>0</Length><BlockList/>";
    rejects(
      withBlob(body).replace("<BlobPath>photos/a.jpg</BlobPath>", ""),
      /^Blob 1: <BlobPath> is missing/,
    );
    rejects(
      withBlob(body).replace("<FilePath>\\s\\a.jpg</FilePath>", ""),
      /^Blob 1 \(photos\/a\.jpg\): <FilePath> is missing/,
    );
    rejects(
      withBlob(body).replace("<FilePath>\\s\\a.jpg</FilePath>", "<FilePath/>"),
      /<FilePath> is empty/,
    );
    rejects(withBlob("<BlockList/>"), /Blob 1 \(photos\/a\.jpg\): <Length> is missing/);
    rejects(withBlob("<Length>-1</Length><BlockList/>"), /<Length> '-1' is not a whole number/);
    rejects(
      withBlob("<Length>12abc</Length><BlockList/>"),
      /<Length> '12abc' is not a whole number/,
    );
    rejects(
      withBlob("<Length>0</Length><ImportDisposition>replace</ImportDisposition><BlockList/>"),
      /ImportDisposition 'replace' is not one of rename, no-overwrite, overwrite/,
    );
  });

  test("a Blob needs exactly one of BlockList and PageRangeList", () => {
    rejects(withBlob("<Length>0</Length>"), /has neither a BlockList nor a PageRangeList/);
    rejects(withBlob("<Length>0</Length><BlockList/><PageRangeList/>"), /has both/);
  });

  test("errors name the blob by number and path, counted across the manifest", () => {
    const first =
      "<Blob><BlobPath>c/one</BlobPath><FilePath>\\one</FilePath><Length>0</Length><BlockList/></Blob>";
    rejects(
      withBlob(
        `<Length>${MiB4 + 1}</Length><BlockList><Block Offset="0" Length="${MiB4}" Hash="${H(0)}"/><Block Offset="${MiB4}" Length="1" Hash="xyz"/></BlockList>`,
        first,
      ),
      /^Blob 2 \(photos\/a\.jpg\): block at offset 4194304: Hash 'xyz' is not an MD5 in hex/,
    );
  });

  test("blocks: sorted, contiguous, covering Length, at most 4 MiB, not empty", () => {
    assert.equal(
      parseManifest(
        blocks(MiB4 + 10, [
          [0, MiB4],
          [MiB4, 10],
        ]),
      ).blobLists[0]!.blobs[0]!.ranges.length,
      2,
    );
    rejects(
      blocks(20, [
        [0, 10],
        [11, 9],
      ]),
      /block at offset 11 leaves a gap after offset 10/,
    );
    rejects(
      blocks(20, [
        [0, 10],
        [5, 15],
      ]),
      /block at offset 5 overlaps the previous block or is out of order/,
    );
    rejects(
      blocks(20, [
        [10, 10],
        [0, 10],
      ]),
      /block at offset 10 leaves a gap after offset 0/,
    );
    rejects(blocks(20, [[0, 10]]), /the blocks cover 10 bytes but Length is 20/);
    rejects(blocks(5, [[0, 10]]), /the blocks cover 10 bytes but Length is 5/);
    rejects(
      blocks(MiB4 + 1, [[0, MiB4 + 1]]),
      /block at offset 0 has length 4194305; a block is at most 4194304/,
    );
    rejects(
      blocks(10, [
        [0, 0],
        [0, 10],
      ]),
      /block at offset 0 has length 0/,
    );
    rejects(
      withBlob(`<Length>1</Length><BlockList><Block Length="1" Hash="${H(0)}"/></BlockList>`),
      /block 1: Offset is missing/,
    );
  });

  test("block hashes and ids", () => {
    rejects(
      withBlob(`<Length>1</Length><BlockList><Block Offset="0" Length="1"/></BlockList>`),
      /block at offset 0: the Hash attribute is missing/,
    );
    rejects(
      withBlob(
        `<Length>1</Length><BlockList><Block Offset="0" Length="1" Hash="${H(0)}0"/></BlockList>`,
      ),
      /Hash '[0-9A-F]{33}' is not an MD5 in hex/,
    );
    rejects(blocks(1, [[0, 1]], ' Id="not base64!"'), /Id 'not base64!' is not a Base64 block id/);
    rejects(
      withBlob(
        `<Length>2</Length><BlockList><Block Offset="0" Length="1" Id="QUFB" Hash="${H(0)}"/><Block Offset="1" Length="1" Hash="${H(1)}"/></BlockList>`,
      ),
      /block at offset 1: either every block has an Id or none has/,
    );
    rejects(
      withBlob(
        `<Length>2</Length><BlockList><Block Offset="0" Length="1" Id="QUFB" Hash="${H(0)}"/><Block Offset="1" Length="1" Id="QUFBQQ==" Hash="${H(1)}"/></BlockList>`,
      ),
      /block at offset 1: Id 'QUFBQQ==' has a different length/,
    );
  });

  test("page ranges: 512-aligned, sorted, not overlapping, inside Length, at most 4 MiB", () => {
    const ok = parseManifest(
      pages(4096, [
        [0, 512],
        [1024, 1024],
      ]),
    ).blobLists[0]!.blobs[0]!;
    assert.equal(ok.blobType, "PageBlob");
    assert.deepEqual(
      ok.ranges.map((r) => r.offset),
      [0, 1024],
    );
    rejects(
      pages(4096, [[100, 512]]),
      /page range at offset 100 \(length 512\) is not aligned to 512-byte pages/,
    );
    rejects(pages(4096, [[0, 500]]), /page range at offset 0 \(length 500\) is not aligned/);
    rejects(
      pages(4096, [
        [0, 1024],
        [512, 512],
      ]),
      /page range at offset 512 overlaps the previous range/,
    );
    rejects(
      pages(4096, [
        [1024, 512],
        [0, 512],
      ]),
      /page range at offset 0 overlaps the previous range or is out of order/,
    );
    rejects(pages(4096, [[3584, 1024]]), /ends at 4608, past Length 4096/);
    rejects(pages(1000, []), /Length must be a multiple of 512; it is 1000/);
    rejects(pages(2 * MiB4, [[0, MiB4 + 512]]), /a page range is at most 4194304/);
    rejects(pages(4096, [[0, 0]]), /has length 0/);
  });

  test("MetadataPath and PropertiesPath need a path and a hex Hash", () => {
    const list = (inner: string) =>
      `<DriveManifest Version="2014-11-01"><Drive><DriveId>D1</DriveId><BlobList Id="s-0">${inner}</BlobList></Drive></DriveManifest>`;
    rejects(
      list("<MetadataPath>\\m.xml</MetadataPath>"),
      /^BlobList 1 \(s-0\): <MetadataPath>: the Hash attribute is missing/,
    );
    rejects(list(`<PropertiesPath Hash="${H(1)}"/>`), /<PropertiesPath> is empty/);
    rejects(list(`<PropertiesPath Hash="zz">\\p.xml</PropertiesPath>`), /Hash 'zz' is not an MD5/);
    rejects(
      withBlob(`<Length>0</Length><BlockList/><MetadataPath Hash="nothex">\\m.xml</MetadataPath>`),
      /Blob 1 \(photos\/a\.jpg\): <MetadataPath>: Hash 'nothex'/,
    );
  });

  test("blob names are left to the import (reported per blob, not for the whole drive)", () => {
    const m = parseManifest(
      withBlob("<Length>0</Length><BlockList/>").replace("photos/a.jpg", "BAD//x/../y"),
    );
    assert.equal(m.blobLists[0]!.blobs[0]!.blobPath, "BAD//x/../y");
  });
});

describe("names and drive paths", () => {
  test("blobPathProblem", () => {
    for (const ok of [
      "photos/a.jpg",
      "$root/a.jpg",
      "abc/a/b/c",
      "a-b-c/ünï ✓",
      `c12/${"x".repeat(1024)}`,
    ]) {
      assert.equal(blobPathProblem(ok), undefined, ok);
    }
    const cases: [string, RegExp][] = [
      ["Photos/a", /not a valid container name/],
      ["ab/a", /not a valid container name/],
      ["a--b/a", /not a valid container name/],
      ["-ab/a", /not a valid container name/],
      [`${"a".repeat(64)}/x`, /not a valid container name/],
      ["photos", /no blob name/],
      ["photos/", /no blob name/],
      [`photos/${"x".repeat(1025)}`, /1025 characters; at most 1024/],
      ["$root/a/b", /root container .* cannot contain '\/'/],
      ["photos/a//b", /empty path segment/],
      ["photos/a/", /empty path segment/],
      ["photos/../b", /'\.' or '\.\.' path segment/],
      ["photos/./b", /'\.' or '\.\.' path segment/],
      ["photos/a.", /ends with '\.'/],
      ["photos/a\u0001b", /control characters/],
      [`photos/${Array(255).fill("a").join("/")}`, /255 path segments/],
    ];
    for (const [path, why] of cases) assert.match(blobPathProblem(path) ?? "(none)", why, path);
  });

  test("resolveDriveFile accepts \\ and / and never leaves the drive", () => {
    assert.equal(resolveDriveFile("/mnt/d", "\\s\\a.txt"), "/mnt/d/s/a.txt");
    assert.equal(resolveDriveFile("/mnt/d", "/s/a.txt"), "/mnt/d/s/a.txt");
    assert.equal(resolveDriveFile("/mnt/d", "s/a.txt"), "/mnt/d/s/a.txt");
    for (const bad of ["\\..\\x", "a/../../x", "C:\\x", "\\\\server\\share\\x", "", "\\", "./"]) {
      assert.equal(resolveDriveFile("/mnt/d", bad), undefined, bad);
    }
  });
});
