/** The dataset CSV: syntax, every bad row reported with its line, file-system checks. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { DatasetError, loadDataset, parseDatasetCsv } from "../../src/transfer/dataset.ts";
import { prepareDrive } from "../../src/transfer/prepare.ts";
import { METADATA_XML, tempDir, writeData } from "./helpers.ts";

const HEADER = "BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile";

function problemsOf(fn: () => unknown): { line: number; message: string }[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DatasetError, String(e));
    return e.problems;
  }
  assert.fail("expected a DatasetError");
}

async function problemsOfAsync(p: Promise<unknown>): Promise<{ line: number; message: string }[]> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DatasetError, String(e));
    return e.problems;
  }
  assert.fail("expected a DatasetError");
}

describe("dataset CSV syntax", () => {
  test("quoted fields, CRLF, BOM, defaults, None, paths resolved against the CSV's folder", () => {
    const rows = parseDatasetCsv(
      `\uFEFF${HEADER}\r\n` +
        `"/data/my photos/",photos/,,,None,\r\n` +
        `"rel\\dir\\a, ""quoted"" name.bin",files/x/a.bin,pageblob,No-Overwrite,meta.xml,NONE\r\n` +
        `\r\n` +
        `/data/b.vhd ,  vhds/  ,BLOCKBLOB,overwrite\r\n`,
      "/csv/folder",
    );
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[0], {
      line: 2,
      source: "/data/my photos",
      isDirectory: true,
      container: "photos",
      destination: "",
      disposition: "rename",
    });
    assert.deepEqual(rows[1], {
      line: 3,
      source: '/csv/folder/rel/dir/a, "quoted" name.bin',
      isDirectory: false,
      container: "files",
      destination: "x/a.bin",
      blobType: "PageBlob",
      disposition: "no-overwrite",
      metadataFile: "/csv/folder/meta.xml",
    });
    assert.equal(rows[2]!.line, 5);
    assert.equal(rows[2]!.blobType, "BlockBlob");
    assert.equal(rows[2]!.destination, "");
  });

  test("a quoted field may span lines; the row keeps the line it starts on", () => {
    const rows = parseDatasetCsv(`${HEADER}\n"/a/multi\nline",c12/x\n/b,c12/y\n`, "/");
    assert.deepEqual(
      rows.map((r) => [r.line, r.source]),
      [
        [2, "/a/multi\nline"],
        [4, "/b"],
      ],
    );
  });

  test("every bad row is reported, each with its line number and reason", () => {
    const csv = [
      HEADER,
      "/ok/file.txt,good/file.txt,,,,", // 2 fine
      "/data/dir/,UpperCase/,,,,", // 3 bad container
      "/data/dir/,photos/sub,,,,", // 4 directory needs a prefix ending in /
      "/data/file.bin,photos/a.bin,AppendBlob,,,", // 5 bad blob type
      "/data/file.bin,photos/b.bin,,replace,,", // 6 bad disposition
      ",photos/c.bin,,,,", // 7 empty BasePath
      "/data/file.bin,,,,,", // 8 empty destination
      "/data/file.bin,photos,,,,", // 9 no slash after the container
      "/data/a,b,c,d,e,f,g", // 10 too many fields
      '"/data/x" y,photos/d.bin,,,,', // 11 text after a quote
      "/data/dir/,$root/sub/,,,,", // 12 $root has no virtual directories
      "/data/*.jpg,photos/,,,,", // 13 wildcard
      "/data/file.bin,ab--c/x,,,,", // 14 double hyphen
      '"/data/unclosed,photos/e.bin,,,,', // 15 unclosed quote (eats the rest)
    ].join("\n");
    const problems = problemsOf(() => parseDatasetCsv(csv, "/"));
    assert.deepEqual(
      problems.map((p) => p.line),
      [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    );
    const at = (line: number) => problems.find((p) => p.line === line)!.message;
    assert.match(at(3), /'UpperCase' is not a valid container name/);
    assert.match(
      at(4),
      /a directory is copied under a prefix, which must end in '\/' \('photos\/sub\/'\)/,
    );
    assert.match(at(5), /BlobType 'AppendBlob' is not BlockBlob or PageBlob/);
    assert.match(at(6), /Disposition 'replace' is not one of rename, no-overwrite, overwrite/);
    assert.match(at(7), /BasePath is empty/);
    assert.match(at(8), /DstBlobPathOrPrefix is empty/);
    assert.match(at(9), /has no '\/' after the container/);
    assert.match(at(10), /7 fields, but the header has 6/);
    assert.match(at(11), /text after a closing quote/);
    assert.match(at(12), /the root container has no virtual directories/);
    assert.match(at(13), /wildcards are not supported/);
    assert.match(at(14), /'ab--c' is not a valid container name/);
    assert.match(at(15), /quoted field is not closed/);
    const err = new DatasetError(problems, "/x/data.csv");
    assert.match(err.message, /^\/x\/data\.csv has 13 problems:\n {2}line 3: /);
  });

  test("the header: unknown, repeated or missing columns; no rows", () => {
    assert.deepEqual(
      problemsOf(() => parseDatasetCsv("BasePath,DstItemPathOrPrefix,BasePath\n/a,b/\n", "/")).map(
        (p) => p.message,
      ),
      [
        "unknown column 'DstItemPathOrPrefix'; the columns are BasePath, DstBlobPathOrPrefix, BlobType, Disposition, MetadataFile, PropertiesFile",
        "the column BasePath appears twice",
        "the column DstBlobPathOrPrefix is missing",
      ],
    );
    assert.match(problemsOf(() => parseDatasetCsv(`${HEADER}\n`, "/"))[0]!.message, /no rows/);
    assert.match(
      problemsOf(() => parseDatasetCsv("", "/"))[0]!.message,
      /first line must be the header/,
    );
    // Optional columns may be left out; columns may come in any order.
    const rows = parseDatasetCsv("dstblobpathorprefix,basepath\nc12/x,/a\n", "/");
    assert.equal(rows[0]!.source, "/a");
    assert.equal(rows[0]!.destination, "x");
  });
});

describe("dataset against the file system", () => {
  test("files are listed with their blob names and types; directories recursively, sorted", async () => {
    const root = tempDir();
    writeData(root, "d/b.txt", "b");
    writeData(root, "d/a/z.txt", "z");
    writeData(root, "d/disk.VHDX", Buffer.alloc(1024));
    writeData(root, "d/sub dir/ü.txt", "u");
    writeData(root, "one.vhd", Buffer.alloc(512));
    writeData(root, "meta.xml", METADATA_XML);
    const csv = writeData(
      root,
      "data.csv",
      `${HEADER}\nd/,c1-x/pre/fix/,,,meta.xml,\none.vhd,c1-x/disks/,BlockBlob,,,\none.vhd,$root/root.vhd,,,,\n`,
    );
    const ds = await loadDataset(csv);
    assert.deepEqual(
      ds.files.map((f) => [f.row.line, f.blobPath, f.blobType, f.size]),
      [
        [2, "c1-x/pre/fix/a/z.txt", "BlockBlob", 1],
        [2, "c1-x/pre/fix/b.txt", "BlockBlob", 1],
        [2, "c1-x/pre/fix/disk.VHDX", "PageBlob", 1024],
        [2, "c1-x/pre/fix/sub dir/ü.txt", "BlockBlob", 1],
        [3, "c1-x/disks/one.vhd", "BlockBlob", 512],
        [4, "$root/root.vhd", "PageBlob", 512],
      ],
    );
    assert.deepEqual(ds.metadata.get(join(root, "meta.xml")), {
      Owner: "Jane",
      Project: "Atlas & Co",
    });
  });

  test("every file-system problem is reported with its line; nothing is copied", async () => {
    const root = tempDir();
    writeData(root, "dir/ok.txt", "ok");
    writeData(root, "file.txt", "f");
    writeData(root, "odd.vhd", Buffer.alloc(1000));
    writeData(root, "bad-meta.xml", "<Metadata><bad-name>x</bad-name></Metadata>");
    writeData(root, "dots/trailing.", "x");
    mkdirSync(join(root, "empty"));
    const long = `c12/${"p".repeat(1020)}/`;
    const csv = writeData(
      root,
      "data.csv",
      [
        HEADER,
        "missing/,c12/,,,,", // 2 does not exist
        "file.txt/,c12/,,,,", // 3 a file written as a directory
        "dir,c12/x,,,,", // 4 a directory written as a file
        "file.txt,c12/f.txt,,,no-such-meta.xml,", // 5 metadata file missing
        "file.txt,c12/g.txt,,,bad-meta.xml,", // 6 metadata file invalid
        "odd.vhd,c12/odd.vhd,,,,", // 7 page blob not a multiple of 512
        "dir/,c12/,,,,", // 8 fine: c12/ok.txt
        "dir/ok.txt,c12/ok.txt,,,,", // 9 same blob as line 8
        "dots/,c12/,,,,", // 10 a name ending in '.'
        `dir/,${long},,,,`, // 11 name too long
        "dir/ok.txt,c12/ok.txt/more,,,,", // 12 c12/ok.txt is a blob and a directory
        "empty/,c12/,,,,", // 13 fine, but empty: a warning
      ].join("\n"),
    );
    const drive = join(root, "drive");
    const problems = await problemsOfAsync(
      prepareDrive({ datasetCsv: csv, driveDir: drive, driveId: "D1" }),
    );
    assert.deepEqual(
      problems.map((p) => p.line),
      [2, 3, 4, 5, 6, 7, 9, 10, 11, 12],
    );
    const at = (line: number) => problems.find((p) => p.line === line)!.message;
    assert.match(at(2), /BasePath '.*missing' does not exist/);
    assert.match(at(3), /is a file, but ends with '\\' or '\/' \(a directory\)/);
    assert.match(at(4), /is a directory; end it with '\\' or '\/'/);
    assert.match(at(5), /MetadataFile '.*no-such-meta\.xml' does not exist/);
    assert.match(
      at(6),
      /MetadataFile '.*bad-meta\.xml': metadata file: 'bad-name' is not a valid metadata name/,
    );
    assert.match(at(7), /is a page blob but its size \(1000 bytes\) is not a multiple of 512/);
    assert.match(at(9), /c12\/ok\.txt: line 8 already copies a file to this blob/);
    assert.match(at(10), /ends with '\.'/);
    assert.match(at(11), /the blob name has 1027 characters; at most 1024 are allowed/);
    assert.match(
      at(12),
      /the blob 'c12\/ok\.txt' \(line 8\) is also a virtual directory of this blob/,
    );
    assert.equal(existsSync(drive), false, "nothing is written for a bad dataset");
    assert.equal(existsSync(join(root, "D1.jrn")), false);
  });

  test("$root copies a directory's top-level files only, with a warning", async () => {
    const root = tempDir();
    writeData(root, "d/top.txt", "t");
    writeData(root, "d/sub/deep.txt", "d");
    const csv = writeData(root, "data.csv", `${HEADER}\nd/,$root/,,,,\n`);
    const ds = await loadDataset(csv);
    assert.deepEqual(
      ds.files.map((f) => f.blobPath),
      ["$root/top.txt"],
    );
    assert.match(
      ds.warnings.join("\n"),
      /skipped the directory '.*sub': blobs in \$root cannot contain '\/'/,
    );
  });

  test("a dataset that cannot be read", async () => {
    const problems = await problemsOfAsync(loadDataset("/no/such/dataset.csv"));
    assert.match(problems[0]!.message, /cannot read the dataset/);
  });
});
