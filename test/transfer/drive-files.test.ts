/**
 * The drive-file pieces the copiers and `drive verify` share: the import copier and
 * verifyDrive accept exactly the same manifest hashes (they disagreed before: the engine
 * took SHA-256 as well as MD5, verify only MD5), and both refuse the same ones with the
 * same status.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SystemClock } from "../../src/domain/clock.ts";
import type { Job } from "../../src/domain/job/model.ts";
import { BufferPool } from "../../src/transfer/buffer-pool.ts";
import { DriveProgress, type CopyResult, type DriveCopy } from "../../src/transfer/copier.ts";
import {
  manifestHashProblem,
  readDriveManifest,
  splitBlobPath,
} from "../../src/transfer/drive-files.ts";
import { ImportCopier } from "../../src/transfer/import/import-copier.ts";
import { prepareDrive } from "../../src/transfer/prepare.ts";
import { verifyDrive } from "../../src/transfer/verify.ts";
import { sampleJob } from "../support/job-factory.ts";
import { sampleDataset, tempDir } from "./helpers.ts";

const DRIVE_ID = "AGREE-01";

/**
 * Runs the import copier on the drive up to its first blob write: the blob storage
 * refuses every request, so a manifest the copier accepts ends with blobs that failed at
 * the endpoint, and one it refuses ends with the manifest's status and nothing attempted.
 */
async function importStatus(job: Job): Promise<{ status: string; attempted: number }> {
  let attempted = 0;
  const dc: DriveCopy = {
    job,
    drive: job.driveList[0]!,
    storage: {
      containerClient: async () => {
        attempted++;
        throw new Error("the test's blob storage refuses every request");
      },
    },
    records: { earlier: new Map(), put: async () => undefined },
    startedAt: new Date(),
    resumed: false,
    progress: new DriveProgress(),
    boundary: async () => "copy",
    buffers: new BufferPool(2, 4 * 1024 * 1024),
    concurrency: 2,
    wallClock: new SystemClock(),
  };
  const result: CopyResult = await new ImportCopier().copy(dc);
  assert.equal(result.kind, "finished");
  return { status: result.kind === "finished" ? result.status : "paused", attempted };
}

describe("manifest hashes: the import copier and drive verify agree", async () => {
  const root = tempDir();
  const driveDir = join(root, "drive");
  const prepared = await prepareDrive({
    datasetCsv: sampleDataset(root),
    driveDir,
    driveId: DRIVE_ID,
  });
  const bytes = readFileSync(prepared.manifestPath);
  const md5 = createHash("md5").update(bytes).digest("hex");
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const cases: [string, string | undefined, boolean][] = [
    ["no hash (not checked)", undefined, true],
    ["an empty hash (not checked)", "", true],
    ["MD5, upper case", md5.toUpperCase(), true],
    ["MD5, lower case with spaces around", ` ${md5} `, true],
    ["SHA-256 (64 hex digits)", sha256.toUpperCase(), true],
    ["SHA-256, lower case", sha256, true],
    ["another file's MD5", "00000000000000000000000000000000", false],
    ["another file's SHA-256", "0".repeat(64), false],
    ["the MD5 cut short", md5.slice(0, 30), false],
    ["the SHA-256's first 32 digits", sha256.slice(0, 32), false],
    ["not hex at all", "not-a-hash", false],
  ];
  for (const [what, hash, accepted] of cases) {
    test(`${what}: ${accepted ? "accepted" : "refused"} by both`, async () => {
      const job = sampleJob({
        state: "Transferring",
        driveList: [
          {
            driveId: DRIVE_ID,
            manifestFile: prepared.driveListEntry.manifestFile,
            manifestHash: hash,
            state: "Transferring",
            contentPath: driveDir,
          },
        ],
      });
      const verified = await verifyDrive(driveDir, prepared.driveListEntry.manifestFile, {
        manifestHash: hash,
      });
      const imported = await importStatus(job);
      assert.equal(manifestHashProblem(bytes, hash) === undefined, accepted);
      if (accepted) {
        assert.equal(verified.ok, true, JSON.stringify(verified.problems));
        assert.equal(verified.manifestHash, md5.toUpperCase());
        assert.ok(imported.attempted > 0, "the copier went on to write blobs");
        assert.notEqual(imported.status, "ManifestCorrupted");
      } else {
        assert.deepEqual(
          verified.problems.map((p) => p.status),
          ["ManifestCorrupted"],
        );
        assert.deepEqual(imported, { status: "ManifestCorrupted", attempted: 0 });
      }
    });
  }

  test("a manifest that is not one: both say ManifestFormatInvalid; a missing one ManifestNotFound", async () => {
    const job = (manifestFile: string) =>
      sampleJob({
        driveList: [{ driveId: DRIVE_ID, manifestFile, state: "Transferring", contentPath: root }],
      });
    // The dataset CSV is a file, but not a manifest.
    for (const [file, status] of [
      ["\\dataset.csv", "ManifestFormatInvalid"],
      ["\\nothing.manifest", "ManifestNotFound"],
      ["\\..\\escape.manifest", "ManifestNotFound"],
    ] as const) {
      const verified = await verifyDrive(root, file);
      assert.deepEqual(
        verified.problems.map((p) => p.status),
        [status],
      );
      assert.deepEqual(await importStatus(job(file)), { status, attempted: 0 });
      await assert.rejects(readDriveManifest(root, file), (e: Error & { status?: string }) => {
        assert.equal(e.status, status);
        return true;
      });
    }
  });

  test("blob paths split at the first slash", () => {
    assert.deepEqual(splitBlobPath("music/a/b.mp3"), { container: "music", name: "a/b.mp3" });
    assert.deepEqual(splitBlobPath("$root/x"), { container: "$root", name: "x" });
  });
});
