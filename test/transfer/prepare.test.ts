/**
 * Drive preparation and verification: the manifest's hashes against an independent
 * computation, damage found by verify, resuming after an interruption, refusals.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  appendFileSync,
  existsSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { DatasetError } from "../../src/transfer/dataset.ts";
import { md5WorkerExitsForTests } from "../../src/transfer/md5.ts";
import { parseManifest, resolveDriveFile } from "../../src/transfer/manifest.ts";
import type { DriveManifest, ManifestBlob } from "../../src/transfer/manifest-types.ts";
import {
  prepareDrive,
  PrepareError,
  type PrepareOptions,
  type PrepareResult,
} from "../../src/transfer/prepare.ts";
import { verifyDrive } from "../../src/transfer/verify.ts";
import {
  blockHashes,
  md5,
  METADATA_XML,
  MiB,
  PROPERTIES_XML,
  sampleDataset,
  tempDir,
  tree,
  writeData,
} from "./helpers.ts";

const DRIVE_ID = "WD-WCC4N1234567";

function manifestOf(r: PrepareResult): { xml: Buffer; manifest: DriveManifest } {
  const xml = readFileSync(r.manifestPath);
  return { xml, manifest: parseManifest(xml.toString("utf8")) };
}

function blobsOf(m: DriveManifest): Map<string, ManifestBlob> {
  return new Map(m.blobLists.flatMap((l) => l.blobs.map((b) => [b.blobPath, b] as const)));
}

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PrepareError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

describe("prepare a drive", () => {
  const root = tempDir();
  const csv = sampleDataset(root);
  const driveDir = join(root, "drive");
  let result: PrepareResult;

  test("copies every file, writes the manifest and the journal, returns the driveList entry", async () => {
    const seen: number[] = [];
    result = await prepareDrive({
      datasetCsv: csv,
      driveDir,
      driveId: DRIVE_ID,
      onProgress: (p) => seen.push(p.bytes),
    });
    const { xml, manifest } = manifestOf(result);
    assert.deepEqual(result.driveListEntry, {
      driveId: DRIVE_ID,
      manifestFile: `\\${DRIVE_ID}.manifest`,
      manifestHash: md5(xml),
      driveHeaderHash: "",
    });
    assert.equal(result.manifestPath, join(driveDir, `${DRIVE_ID}.manifest`));
    assert.equal(result.journalPath, join(root, `${DRIVE_ID}.jrn`));
    assert.equal(result.files, 8);
    assert.equal(result.copiedFiles, 8);
    assert.equal(result.resumedFiles, 0);
    assert.equal(result.bytes, result.copiedBytes);
    assert.equal(seen.at(-1), result.bytes);
    assert.ok(seen.length > 10, "progress is reported while copying");
    assert.equal(manifest.driveId, DRIVE_ID);
    assert.deepEqual(
      manifest.blobLists.map((l) => [l.id, l.blobs.length]),
      [
        ["session-1-0", 6],
        ["session-1-1", 1],
        ["session-1-2", 1],
      ],
    );
    assert.deepEqual(
      manifest.blobLists[0]!.blobs.map((b) => b.blobPath),
      [
        "photos/2026/2026/deep/er/note.md",
        "photos/2026/2026/exact-4mib.bin",
        "photos/2026/2026/nine-mib.bin",
        "photos/2026/empty.txt",
        "photos/2026/one.txt",
        "photos/2026/ünïcödé ✓/日本語.txt",
      ],
    );
  });

  test("each blob's file on the drive equals its source, and block MD5s match an independent computation", () => {
    const { manifest } = manifestOf(result);
    const sources: Record<string, string> = {
      "photos/2026/2026/deep/er/note.md": "src/photos/2026/deep/er/note.md",
      "photos/2026/2026/exact-4mib.bin": "src/photos/2026/exact-4mib.bin",
      "photos/2026/2026/nine-mib.bin": "src/photos/2026/nine-mib.bin",
      "photos/2026/empty.txt": "src/photos/empty.txt",
      "photos/2026/one.txt": "src/photos/one.txt",
      "photos/2026/ünïcödé ✓/日本語.txt": "src/photos/ünïcödé ✓/日本語.txt",
      "files/renamed.dat": "src/single file.dat",
      "vhds/disk.vhd": "src/disks/disk.vhd",
    };
    const blobs = blobsOf(manifest);
    assert.deepEqual([...blobs.keys()].sort(), Object.keys(sources).sort());
    for (const [blobPath, rel] of Object.entries(sources)) {
      const b = blobs.get(blobPath)!;
      const source = readFileSync(join(root, rel));
      const onDrive = readFileSync(resolveDriveFile(driveDir, b.filePath)!);
      assert.ok(onDrive.equals(source), `${blobPath}: drive copy equals the source`);
      assert.equal(b.length, source.length);
      assert.equal(b.filePath, `\\session-1\\${blobPath.split("/").join("\\")}`);
      if (b.blobType === "BlockBlob") {
        assert.deepEqual(
          b.ranges.map(({ offset, length, hash }) => ({ offset, length, hash })),
          blockHashes(source),
          blobPath,
        );
        assert.equal(new Set(b.ranges.map((r) => r.id)).size, b.ranges.length, "block ids unique");
      }
    }
    const nine = blobs.get("photos/2026/2026/nine-mib.bin")!;
    assert.deepEqual(
      nine.ranges.map((r) => r.length),
      [4 * MiB, 4 * MiB, MiB],
    );
    assert.deepEqual(blobs.get("photos/2026/2026/exact-4mib.bin")!.ranges.length, 1);
    assert.deepEqual(blobs.get("photos/2026/empty.txt")!.ranges, []);
    assert.equal(blobs.get("files/renamed.dat")!.disposition, "no-overwrite");
    assert.equal(blobs.get("vhds/disk.vhd")!.disposition, "overwrite");
  });

  test("the page blob lists its non-zero pages, 512-aligned, each range hashed", () => {
    const b = blobsOf(manifestOf(result).manifest).get("vhds/disk.vhd")!;
    assert.equal(b.blobType, "PageBlob");
    const image = readFileSync(join(root, "src/disks/disk.vhd"));
    const covered = Buffer.alloc(image.length);
    for (const r of b.ranges) {
      assert.equal(r.offset % 512, 0);
      assert.equal(r.length % 512, 0);
      assert.ok(r.length <= 4 * MiB);
      assert.equal(r.hash, md5(image.subarray(r.offset, r.offset + r.length)));
      image.copy(covered, r.offset, r.offset, r.offset + r.length);
    }
    assert.ok(covered.equals(image), "every non-zero byte is inside a range");
    assert.deepEqual(
      b.ranges.map((r) => [r.offset, r.length]),
      [
        [0, 1024],
        [2 * MiB, 512],
        [3 * MiB + 4 * 512, 512],
      ],
    );
  });

  test("metadata and properties files are on the drive with their MD5s", () => {
    const list = manifestOf(result).manifest.blobLists[0]!;
    assert.deepEqual(list.metadata, {
      path: "\\session-1\\_lists\\0\\metadata.xml",
      hash: md5(METADATA_XML),
    });
    assert.deepEqual(list.properties, {
      path: "\\session-1\\_lists\\0\\properties.xml",
      hash: md5(PROPERTIES_XML),
    });
    assert.equal(
      readFileSync(resolveDriveFile(driveDir, list.metadata!.path)!, "utf8"),
      METADATA_XML,
    );
  });

  test("the journal is JSON lines; each file record carries the whole file's MD5", () => {
    const records = readFileSync(result.journalPath, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; source?: string; md5?: string });
    assert.equal(records[0]!.type, "drive");
    assert.equal(records.at(-1)!.type, "complete");
    const files = records.filter((r) => r.type === "file");
    assert.equal(files.length, 8);
    for (const f of files) assert.equal(f.md5, md5(readFileSync(f.source!)), f.source);
  });

  test("verifyDrive finds the drive clean", async () => {
    const v = await verifyDrive(driveDir, result.driveListEntry.manifestFile);
    assert.deepEqual(v.problems, []);
    assert.equal(v.ok, true);
    assert.equal(v.blobs, 8);
    assert.equal(v.bytes, result.bytes);
    assert.equal(v.manifestHash, result.driveListEntry.manifestHash);
  });

  test("running it again copies nothing and writes the same manifest", async () => {
    const again = await prepareDrive({ datasetCsv: csv, driveDir, driveId: DRIVE_ID });
    assert.equal(again.copiedFiles, 0);
    assert.equal(again.resumedFiles, 8);
    assert.equal(again.driveListEntry.manifestHash, result.driveListEntry.manifestHash);
  });
});

describe("verify finds damage", () => {
  test("a corrupted byte, a truncated file, a missing file, a changed metadata file", async () => {
    const root = tempDir();
    const driveDir = join(root, "drive");
    const r = await prepareDrive({ datasetCsv: sampleDataset(root), driveDir, driveId: "D1" });
    const blobs = blobsOf(manifestOf(r).manifest);
    const file = (blobPath: string) => resolveDriveFile(driveDir, blobs.get(blobPath)!.filePath)!;

    const nine = file("photos/2026/2026/nine-mib.bin");
    const bytes = readFileSync(nine);
    bytes[4 * MiB + 10] = bytes[4 * MiB + 10]! ^ 0xff;
    writeFileSync(nine, bytes);
    let v = await verifyDrive(driveDir, r.driveListEntry.manifestFile);
    assert.equal(v.ok, false);
    assert.equal(v.problems.length, 1);
    assert.equal(v.problems[0]!.status, "Corrupted");
    assert.equal(v.problems[0]!.filePath, "\\session-1\\photos\\2026\\2026\\nine-mib.bin");
    assert.match(
      v.problems[0]!.message,
      /block at offset 4194304 \(length 4194304\) has MD5 [0-9A-F]{32}, the manifest says/,
    );

    truncateSync(file("photos/2026/2026/exact-4mib.bin"), 4 * MiB - 1);
    rmSync(file("photos/2026/one.txt"));
    writeFileSync(file("vhds/disk.vhd"), Buffer.alloc(3 * MiB + 5 * 512));
    appendFileSync(resolveDriveFile(driveDir, "\\session-1\\_lists\\0\\metadata.xml")!, " ");
    v = await verifyDrive(driveDir, r.driveListEntry.manifestFile);
    const by = new Map(v.problems.map((p) => [p.filePath, p]));
    assert.equal(v.problems.length, 5, JSON.stringify(v.problems, null, 1));
    assert.equal(
      by.get("\\session-1\\photos\\2026\\2026\\exact-4mib.bin")!.status,
      "FileUnexpectedEnd",
    );
    assert.match(
      by.get("\\session-1\\photos\\2026\\2026\\exact-4mib.bin")!.message,
      /has 4194303 bytes, the manifest says 4194304/,
    );
    assert.equal(by.get("\\session-1\\photos\\2026\\one.txt")!.status, "FileNotFound");
    assert.equal(by.get("\\session-1\\vhds\\disk.vhd")!.status, "Corrupted");
    assert.match(by.get("\\session-1\\vhds\\disk.vhd")!.message, /3 page ranges are corrupted/);
    assert.equal(by.get("\\session-1\\_lists\\0\\metadata.xml")!.status, "Corrupted");
    assert.equal(by.get("\\session-1\\photos\\2026\\2026\\nine-mib.bin")!.status, "Corrupted");
  });

  test("a missing or broken manifest", async () => {
    const root = tempDir();
    let v = await verifyDrive(root, "\\nothing.manifest");
    assert.equal(v.problems[0]!.status, "ManifestNotFound");
    writeData(root, "bad.manifest", "<DriveManifest Version='1'><Drive/></DriveManifest>");
    v = await verifyDrive(root, "\\bad.manifest");
    assert.equal(v.problems[0]!.status, "ManifestFormatInvalid");
    assert.match(v.problems[0]!.message, /<DriveId> is missing/);
    v = await verifyDrive(root, "\\..\\escape.manifest");
    assert.equal(v.problems[0]!.status, "ManifestNotFound");
  });
});

describe("resuming an interrupted preparation", () => {
  /** The sample dataset with its sources replaced by those of `like` (same bytes). */
  function copyOfSources(like: string, into: string): string {
    const csv = sampleDataset(into);
    for (const rel of Object.keys(tree(join(like, "src")))) {
      writeFileSync(join(into, "src", rel), readFileSync(join(like, "src", rel)));
    }
    return csv;
  }

  async function interruptedThenResumed(
    stopWhen: (p: { files: number; bytes: number }) => boolean,
    whenStopped: (driveDir: string) => void = () => {},
  ): Promise<void> {
    const reference = tempDir();
    const refCsv = sampleDataset(reference);
    const refResult = await prepareDrive({
      datasetCsv: refCsv,
      driveDir: join(reference, "drive"),
      driveId: DRIVE_ID,
    });
    const root = tempDir();
    const options: PrepareOptions = {
      datasetCsv: copyOfSources(reference, root),
      driveDir: join(root, "drive"),
      driveId: DRIVE_ID,
    };
    const controller = new AbortController();
    await rejectsWith(
      prepareDrive({
        ...options,
        signal: controller.signal,
        onProgress: (p) => {
          if (stopWhen(p)) controller.abort();
        },
      }),
      "Aborted",
      /run the same command again to resume/,
    );
    assert.equal(existsSync(join(root, "drive", `${DRIVE_ID}.manifest`)), false);
    whenStopped(options.driveDir);
    const resumed = await prepareDrive(options);
    assert.ok(resumed.resumedFiles > 0, "some files were not copied again");
    assert.ok(resumed.copiedFiles > 0);
    assert.equal(resumed.resumedFiles + resumed.copiedFiles, 8);
    assert.ok(
      manifestOf(resumed).xml.equals(manifestOf(refResult).xml),
      "the manifest equals an uninterrupted run's",
    );
    assert.deepEqual(tree(join(root, "drive")), tree(join(reference, "drive")));
    assert.equal(resumed.driveListEntry.manifestHash, refResult.driveListEntry.manifestHash);
    assert.equal(
      (await verifyDrive(options.driveDir, resumed.driveListEntry.manifestFile)).ok,
      true,
    );
  }

  test("stopped between files: the finished files are not copied again; the result equals a clean run", async () => {
    await interruptedThenResumed((p) => p.files === 3);
  });

  test("stopped in the middle of a 9 MiB file: that file is copied again from the start", async () => {
    // The third file is nine-mib.bin (after note.md and exact-4mib.bin).
    await interruptedThenResumed(
      (p) => p.files === 2 && p.bytes > 4 * MiB + 5 * MiB,
      (driveDir) => {
        const partial = statSync(join(driveDir, "session-1/photos/2026/2026/nine-mib.bin")).size;
        assert.ok(partial < 9 * MiB, `the copy stopped part way (${partial} bytes)`);
      },
    );
  });

  test("a record torn by a crash is dropped", async () => {
    const root = tempDir();
    const options = {
      datasetCsv: sampleDataset(root),
      driveDir: join(root, "drive"),
      driveId: "D1",
    };
    const controller = new AbortController();
    await assert.rejects(
      prepareDrive({
        ...options,
        signal: controller.signal,
        onProgress: (p) => p.files === 4 && controller.abort(),
      }),
      PrepareError,
    );
    const journal = join(root, "D1.jrn");
    appendFileSync(journal, '{"type":"file","sessionId":"session-1","sou');
    const resumed = await prepareDrive(options);
    assert.equal(resumed.resumedFiles, 4);
    assert.equal(readFileSync(journal, "utf8").includes('"sou\n'), false);
    assert.equal(
      (await verifyDrive(options.driveDir, resumed.driveListEntry.manifestFile)).ok,
      true,
    );
  });

  test("a source that changed since its copy is copied again", async () => {
    const root = tempDir();
    const options = {
      datasetCsv: sampleDataset(root),
      driveDir: join(root, "drive"),
      driveId: "D1",
    };
    const first = await prepareDrive(options);
    writeFileSync(join(root, "src/photos/one.txt"), "changed");
    utimesSync(join(root, "src/photos/one.txt"), new Date(), new Date(Date.now() + 5000));
    const second = await prepareDrive(options);
    assert.equal(second.copiedFiles, 1);
    assert.notEqual(second.driveListEntry.manifestHash, first.driveListEntry.manifestHash);
    const b = blobsOf(manifestOf(second).manifest).get("photos/2026/one.txt")!;
    assert.equal(b.ranges[0]!.hash, md5("changed"));
    assert.equal(
      (await verifyDrive(options.driveDir, second.driveListEntry.manifestFile)).ok,
      true,
    );
  });
});

describe("sessions", () => {
  test("a second session adds data; the manifest lists both; verify is clean", async () => {
    const root = tempDir();
    const driveDir = join(root, "drive");
    const first = await prepareDrive({ datasetCsv: sampleDataset(root), driveDir, driveId: "D1" });
    writeData(root, "more/x.bin", 5 * MiB);
    const csv2 = writeData(
      root,
      "more.csv",
      "BasePath,DstBlobPathOrPrefix\nmore/x.bin,extra/x.bin\n",
    );
    const second = await prepareDrive({
      datasetCsv: csv2,
      driveDir,
      driveId: "D1",
      sessionId: "session#2",
    });
    assert.equal(second.files, 1);
    assert.equal(second.driveFiles, 9);
    const { manifest } = manifestOf(second);
    assert.deepEqual(
      manifest.blobLists.map((l) => l.id),
      ["session-1-0", "session-1-1", "session-1-2", "session#2-0"],
    );
    assert.equal(manifest.blobLists[3]!.blobs[0]!.filePath, "\\session#2\\extra\\x.bin");
    assert.notEqual(second.driveListEntry.manifestHash, first.driveListEntry.manifestHash);
    assert.equal((await verifyDrive(driveDir, second.driveListEntry.manifestFile)).ok, true);

    // The same blob again in a third session is a dataset problem.
    await assert.rejects(
      prepareDrive({ datasetCsv: csv2, driveDir, driveId: "D1", sessionId: "session-3" }),
      (e: unknown) =>
        e instanceof DatasetError &&
        /line 2: .*extra\/x\.bin: session 'session#2' already put this blob on the drive/.test(
          e.message,
        ),
    );
    // The first session with another dataset is refused.
    await rejectsWith(
      prepareDrive({ datasetCsv: csv2, driveDir, driveId: "D1" }),
      "JournalMismatch",
      /session 'session-1' .* was prepared from another dataset/,
    );
  });

  test("an interrupted session must be finished before another starts", async () => {
    const root = tempDir();
    const driveDir = join(root, "drive");
    const controller = new AbortController();
    const options = { datasetCsv: sampleDataset(root), driveDir, driveId: "D1" };
    await assert.rejects(
      prepareDrive({ ...options, signal: controller.signal, onProgress: () => controller.abort() }),
      PrepareError,
    );
    const csv2 = writeData(root, "more.csv", "BasePath,DstBlobPathOrPrefix\nmore.csv,extra/x\n");
    await rejectsWith(
      prepareDrive({ datasetCsv: csv2, driveDir, driveId: "D1", sessionId: "s-2" }),
      "JournalMismatch",
      /session 'session-1' .* was interrupted; finish it first/,
    );
  });
});

describe("refusals", () => {
  test("a drive inside a source directory, or a source on the drive", async () => {
    const root = tempDir();
    writeData(root, "src/a.txt", "a");
    const csv = writeData(root, "data.csv", "BasePath,DstBlobPathOrPrefix\nsrc/,c12/\n");
    await assert.rejects(
      prepareDrive({ datasetCsv: csv, driveDir: join(root, "src", "drive"), driveId: "D1" }),
      (e: unknown) =>
        e instanceof DatasetError &&
        e.problems[0]!.line === 2 &&
        /the drive folder .* is inside BasePath/.test(e.problems[0]!.message),
    );
    assert.equal(existsSync(join(root, "src", "drive")), false);
    const csv2 = writeData(
      root,
      "data2.csv",
      "BasePath,DstBlobPathOrPrefix\ndrive/x.txt,c12/x.txt\n",
    );
    writeData(root, "drive/x.txt", "x");
    await assert.rejects(
      prepareDrive({ datasetCsv: csv2, driveDir: join(root, "drive"), driveId: "D1" }),
      /BasePath '.*x\.txt' is on the drive being prepared/,
    );
    await assert.rejects(
      prepareDrive({
        datasetCsv: csv,
        driveDir: join(root, "d2"),
        driveId: "D1",
        journal: join(root, "src", "j.jrn"),
      }),
      /the journal '.*j\.jrn' is inside BasePath/,
    );
  });

  test("bad ids, a journal on the drive, a journal of another drive, a manifest without its journal", async () => {
    const root = tempDir();
    writeData(root, "a.txt", "a");
    const csv = writeData(root, "data.csv", "BasePath,DstBlobPathOrPrefix\na.txt,c12/a.txt\n");
    const driveDir = join(root, "drive");
    await rejectsWith(
      prepareDrive({ datasetCsv: csv, driveDir, driveId: "../D1" }),
      "InvalidArgument",
      /the drive id '\.\.\/D1' is invalid/,
    );
    await rejectsWith(
      prepareDrive({ datasetCsv: csv, driveDir, driveId: "D1", sessionId: "a/b" }),
      "InvalidArgument",
      /the session id 'a\/b' is invalid/,
    );
    await rejectsWith(
      prepareDrive({ datasetCsv: csv, driveDir, driveId: "D1", journal: join(driveDir, "x.jrn") }),
      "InvalidArgument",
      /must not be on the drive/,
    );
    await prepareDrive({ datasetCsv: csv, driveDir, driveId: "D1" });
    await rejectsWith(
      prepareDrive({ datasetCsv: csv, driveDir, driveId: "D2", journal: join(root, "D1.jrn") }),
      "JournalMismatch",
      /is the journal of drive 'D1', not 'D2'/,
    );
    rmSync(join(root, "D1.jrn"));
    await rejectsWith(
      prepareDrive({ datasetCsv: csv, driveDir, driveId: "D1" }),
      "JournalMismatch",
      /already has a manifest .* but the journal .* does not exist/,
    );
  });

  test("a folder holding another prepared drive: the second prepare is refused and every file of the first is unchanged", async () => {
    const root = tempDir();
    const driveDir = join(root, "drive");
    const first = await prepareDrive({ datasetCsv: sampleDataset(root), driveDir, driveId: "D1" });
    const before = tree(driveDir);
    // Another dataset whose blobs have the same paths but other bytes: a typo in --drive-id.
    const other = join(root, "other");
    const otherCsv = sampleDataset(other);
    await rejectsWith(
      prepareDrive({ datasetCsv: otherCsv, driveDir, driveId: "D2" }),
      "DriveNotEmpty",
      /already holds the prepared drive 'D1' \(D1\.manifest\), not 'D2'; nothing was written\. .*--drive-id D1 and a new --session-id/,
    );
    assert.deepEqual(tree(driveDir), before);
    assert.equal(Object.keys(before).length, 11);
    assert.equal(existsSync(join(root, "D2.jrn")), false);
    const verified = await verifyDrive(driveDir, first.driveListEntry.manifestFile);
    assert.equal(verified.ok, true);
    // With a journal of its own given, another drive's manifest in the folder is still refused.
    await prepareDrive({ datasetCsv: otherCsv, driveDir: join(root, "d2"), driveId: "D2" });
    await rejectsWith(
      prepareDrive({
        datasetCsv: otherCsv,
        driveDir,
        driveId: "D2",
        journal: join(root, "D2.jrn"),
      }),
      "DriveNotEmpty",
      /already holds the prepared drive 'D1'/,
    );
    assert.deepEqual(tree(driveDir), before);
  });

  test("a folder with unrelated files, or a new session whose folder exists: refused, nothing written", async () => {
    const root = tempDir();
    writeData(root, "a.txt", "a");
    const csv = writeData(root, "data.csv", "BasePath,DstBlobPathOrPrefix\na.txt,c12/a.txt\n");
    const driveDir = join(root, "drive");
    writeData(driveDir, "holiday.jpg", "not a blob");
    writeData(driveDir, "lost+found/.keep", "");
    await rejectsWith(
      prepareDrive({ datasetCsv: csv, driveDir, driveId: "D1" }),
      "DriveNotEmpty",
      /is not empty \('holiday\.jpg'\) and no journal of drive 'D1' describes it; nothing was written/,
    );
    assert.deepEqual(Object.keys(tree(driveDir)).sort(), ["holiday.jpg", "lost+found/.keep"]);
    assert.equal(existsSync(join(root, "D1.jrn")), false);
    // A freshly formatted disk's own entries do not count.
    rmSync(join(driveDir, "holiday.jpg"));
    await prepareDrive({ datasetCsv: csv, driveDir, driveId: "D1" });
    writeData(driveDir, "s-2/c12/a.txt", "someone else's");
    await rejectsWith(
      prepareDrive({ datasetCsv: csv, driveDir, driveId: "D1", sessionId: "s-2" }),
      "DriveNotEmpty",
      /a folder 's-2' that the journal .* does not know/,
    );
    assert.equal(readFileSync(join(driveDir, "s-2/c12/a.txt"), "utf8"), "someone else's");
  });

  test("a source file that disappears during the preparation", async () => {
    const root = tempDir();
    writeData(root, "src/a.txt", "a");
    writeData(root, "src/b.txt", "b");
    const csv = writeData(root, "data.csv", "BasePath,DstBlobPathOrPrefix\nsrc/,c12/\n");
    await rejectsWith(
      prepareDrive({
        datasetCsv: csv,
        driveDir: join(root, "drive"),
        driveId: "D1",
        onProgress: (p) => p.files === 1 && rmSync(join(root, "src/b.txt")),
      }),
      "SourceChanged",
      /the source file '.*b\.txt' \(dataset line 2\) disappeared after the dataset was checked/,
    );
  });
});

describe("the MD5 worker dies during a preparation", () => {
  // A real worker, made to call process.exit (md5WorkerExitsForTests) on its 2nd chunk of
  // data (4 MiB chunks: in the middle of nine-mib.bin, the first file hashed on the worker)
  // or as it starts. The file under way is copied again, hashed on this thread, and so is
  // every later file (twenty-mib.bin); the drive equals that of a run with a live worker.
  for (const [when, nth] of [
    ["mid-file", 2],
    ["as it starts", 0],
  ] as const) {
    test(`${when}: the file is copied again, hashed inline; the drive equals a clean run's`, async () => {
      const root = tempDir();
      const csv = sampleDataset(root);
      const twenty = writeData(root, "src/photos/2026/twenty-mib.bin", 20 * MiB);
      const clean = await prepareDrive({
        datasetCsv: csv,
        driveDir: join(root, "clean"),
        driveId: DRIVE_ID,
        journal: join(root, "clean.jrn"),
      });
      const seen: number[] = [];
      md5WorkerExitsForTests(nth);
      let result: PrepareResult;
      try {
        result = await prepareDrive({
          datasetCsv: csv,
          driveDir: join(root, "drive"),
          driveId: DRIVE_ID,
          onProgress: (p) => seen.push(p.bytes),
        });
      } finally {
        md5WorkerExitsForTests(undefined);
      }
      // The file under way when the worker died was copied again from the start.
      assert.ok(
        seen.some((b, i) => i > 0 && b < seen[i - 1]!),
        "the progress went back to the file's start",
      );
      assert.equal(seen.at(-1), result.bytes);
      assert.equal(result.copiedFiles, 9);
      // Each file record carries its source's MD5 (the whole-file MD5 the worker lost).
      const records = readFileSync(result.journalPath, "utf8")
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as { type: string; source?: string; md5?: string })
        .filter((r) => r.type === "file");
      assert.equal(records.length, 9);
      for (const f of records) assert.equal(f.md5, md5(readFileSync(f.source!)), f.source);
      assert.ok(records.some((r) => r.source === twenty));
      // The manifest and every file equal the clean run's; verify finds the drive clean.
      assert.ok(manifestOf(result).xml.equals(manifestOf(clean).xml), "the same manifest");
      assert.deepEqual(tree(join(root, "drive")), tree(join(root, "clean")));
      assert.equal(
        (await verifyDrive(join(root, "drive"), result.driveListEntry.manifestFile)).ok,
        true,
      );
    });
  }
});
