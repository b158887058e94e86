/**
 * Real imports end to end: a drive prepared by `prepareDrive`, a job through the official
 * SDK, the datacenter through the operator API, the import engine writing into a real
 * (embedded) Azurite, and every blob checked with @azure/storage-blob.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { ship, shipAndReceive } from "../support/shipping.ts";
import { assertConformant } from "../support/conformance.ts";
import {
  manifestHash,
  parseManifest,
  resolveDriveFile,
  serializeManifest,
} from "../../src/transfer/manifest.ts";
import type { DriveManifest } from "../../src/transfer/manifest-types.ts";
import { parseMetadataFile } from "../../src/transfer/xml-files.ts";
import { prepareDrive, type PrepareResult } from "../../src/transfer/prepare.ts";
import { METADATA_XML, sampleDataset, tempDir, writeData } from "../transfer/helpers.ts";

const RG = "imports";
const KEY = "111111-222222-333333-444444-555555-666666-777777-888888";
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex").toUpperCase();

interface Prepared {
  result: PrepareResult;
  driveDir: string;
  manifest: DriveManifest;
}

async function prepare(
  driveId: string,
  mutate?: (driveDir: string, m: DriveManifest) => DriveManifest | void,
): Promise<Prepared> {
  const root = tempDir("drivebay-e2e-");
  const result = await prepareDrive({
    datasetCsv: sampleDataset(root),
    driveDir: join(root, "drive"),
    driveId,
  });
  const driveDir = join(root, "drive");
  let manifest = parseManifest(readFileSync(result.manifestPath, "utf8"));
  if (mutate) {
    const changed = mutate(driveDir, manifest);
    if (changed) {
      manifest = changed;
      writeFileSync(result.manifestPath, serializeManifest(changed));
      result.driveListEntry.manifestHash = manifestHash(readFileSync(result.manifestPath));
    }
  }
  return { result, driveDir, manifest };
}

describe("imports into a real Azurite", () => {
  let server: TestServer;
  before(async () => {
    // One drive at a time, so a cancel finds one drive in flight and the next not started
    // (drives side by side: test/e2e/drive-concurrency.test.ts and multinode.test.ts).
    server = await startTestServer({ blob: "memory", config: { driveConcurrency: 1 } });
  });
  after(async () => {
    await server.close();
  });

  async function account(name: string): Promise<BlobServiceClient> {
    const r = await server.operator("GET", `/storage/${name}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return BlobServiceClient.fromConnectionString(r.body.connectionString);
  }

  /** Create → ship → receive → attach (the copy starts) → the engine drains. */
  async function importJob(
    name: string,
    storageAccount: string,
    drives: { prepared: Prepared; driveId?: string; manifestHash?: string }[],
    options: {
      logLevel?: "Error" | "Verbose";
      drain?: boolean;
      /** Runs once the package is received, before the drives are attached. */
      beforeAttach?: (jobUid: string) => Promise<void>;
    } = {},
  ) {
    const c = server.client();
    await c.jobs.create(name, RG, {
      location: "westus",
      properties: {
        storageAccountId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${storageAccount}`,
        jobType: "Import",
        logLevel: options.logLevel ?? "Verbose",
        backupDriveManifest: true,
        driveList: drives.map((d) => ({
          ...d.prepared.result.driveListEntry,
          driveId: d.driveId ?? d.prepared.result.driveListEntry.driveId,
          manifestHash: d.manifestHash ?? d.prepared.result.driveListEntry.manifestHash,
          bitLockerKey: KEY,
        })),
      },
    });
    const ids = drives.map((d) => d.driveId ?? d.prepared.result.driveListEntry.driveId);
    await shipAndReceive(c, server.operator, RG, name, {
      trackingNumber: `TN-${name}`,
      driveIds: ids,
    });
    if (options.beforeAttach) {
      const stored = await server.store.get({
        subscriptionId: SUBSCRIPTION,
        resourceGroup: RG,
        name,
      });
      await options.beforeAttach(stored!.uid);
    }
    for (let i = 0; i < drives.length; i++) {
      const r = await server.operator(
        "POST",
        `/jobs/${SUBSCRIPTION}/${RG}/${name}/drives/${ids[i]}/attach`,
        { path: drives[i]!.prepared.driveDir },
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    if (options.drain !== false) await server.runner!.drain();
    return c.jobs.get(name, RG);
  }

  async function download(cc: ContainerClient, name: string): Promise<Buffer> {
    return cc.getBlobClient(name).downloadToBuffer();
  }

  async function driveLog(uri: string | undefined, account: BlobServiceClient): Promise<string> {
    assert.ok(uri, "the drive has a log URI");
    const path = new URL(uri).pathname.split("/").slice(2).join("/");
    const [container, ...rest] = path.split("/");
    return (
      await download(account.getContainerClient(container!), decodeURIComponent(rest.join("/")))
    ).toString("utf8");
  }

  test("every blob arrives with its content, size, metadata and properties; logs and manifest backup are written", async () => {
    const prepared = await prepare("WD-E2E-0001");
    const job = await importJob("full-import", "fullimport", [{ prepared }]);
    assert.equal(job.properties?.state, "Packaging");
    assert.equal(job.properties?.percentComplete, 100);
    const drive = job.properties!.driveList![0]!;
    assert.equal(drive.state, "Completed", drive.copyStatus);
    const blobs = prepared.manifest.blobLists.flatMap((l) => l.blobs);
    assert.equal(
      drive.bytesSucceeded,
      blobs.reduce((n, b) => n + b.length, 0),
    );
    const acct = await account("fullimport");
    for (const b of blobs) {
      const [container, ...rest] = b.blobPath.split("/");
      const cc = acct.getContainerClient(container!);
      const name = rest.join("/");
      const source = readFileSync(resolveDriveFile(prepared.driveDir, b.filePath)!);
      const content = await download(cc, name);
      assert.equal(content.length, b.length, b.blobPath);
      assert.equal(md5(content), md5(source), `content of ${b.blobPath}`);
      const props = await cc.getBlobClient(name).getProperties();
      assert.equal(props.blobType, b.blobType);
      if (b.blobType === "BlockBlob")
        assert.equal(Buffer.from(props.contentMD5!).toString("hex").toUpperCase(), md5(source));
      if (b.blobPath.startsWith("photos/")) {
        assert.deepEqual(
          props.metadata,
          Object.fromEntries(
            Object.entries(parseMetadataFile(METADATA_XML)).map(([k, v]) => [k.toLowerCase(), v]),
          ),
        );
        assert.equal(props.contentType, "application/octet-stream");
        assert.equal(props.cacheControl, "no-cache");
      }
    }
    const error = await driveLog(drive.errorLogUri, acct);
    assert.match(error, /^<\?xml[^>]*>\s*<DriveLog Version="2014-11-01">/);
    assert.match(error, /<Status>Completed<\/Status>/);
    assert.doesNotMatch(error, /<Blob /, "a clean drive's error log lists no blob");
    const verbose = await driveLog(drive.verboseLogUri, acct);
    assert.equal((verbose.match(/<Blob Status="Completed">/g) ?? []).length, blobs.length);
    assert.match(verbose, /<ImportDisposition Status="Created">rename<\/ImportDisposition>/);
    assert.equal(
      md5(Buffer.from(await driveLog(drive.manifestUri, acct))),
      prepared.result.driveListEntry.manifestHash,
    );
    // The datacenter ships the drives back; the job ends Completed.
    const shipped = await server.operator(
      "POST",
      `/jobs/${SUBSCRIPTION}/${RG}/full-import/ship-back`,
      { carrierName: "FedEx", trackingNumber: "RT-1" },
    );
    assert.equal(shipped.body.state, "Completed");
  });

  test("dispositions against existing blobs: rename → name (2), no-overwrite → skipped, overwrite → replaced", async () => {
    const first = await prepare("WD-E2E-0002");
    await importJob("disp-first", "dispositions", [{ prepared: first }]);
    const second = await prepare("WD-E2E-0003");
    const job = await importJob("disp-second", "dispositions", [{ prepared: second }]);
    const drive = job.properties!.driveList![0]!;
    assert.equal(drive.state, "CompletedMoreInfo");
    const acct = await account("dispositions");
    const photos = acct.getContainerClient("photos");
    const names: string[] = [];
    for await (const b of photos.listBlobsFlat()) names.push(b.name);
    assert.ok(
      names.includes("2026/one.txt") && names.includes("2026/one (2).txt"),
      names.join(", "),
    );
    // rename keeps both; no-overwrite leaves the first; overwrite replaces it.
    assert.equal(
      md5(await download(acct.getContainerClient("files"), "renamed.dat")),
      md5(
        readFileSync(
          resolveDriveFile(first.driveDir, first.manifest.blobLists[1]!.blobs[0]!.filePath)!,
        ),
      ),
    );
    const vhd = second.manifest.blobLists[2]!.blobs[0]!;
    assert.equal(
      md5(await download(acct.getContainerClient("vhds"), vhd.blobPath.slice(5))),
      md5(readFileSync(resolveDriveFile(second.driveDir, vhd.filePath)!)),
    );
    const log = await driveLog(drive.errorLogUri, acct);
    assert.match(log, /<ImportDisposition Status="Renamed">rename<\/ImportDisposition>/);
    assert.match(log, /<ImportDisposition Status="Skipped">no-overwrite<\/ImportDisposition>/);
    assert.match(log, /<ImportDisposition Status="Overwritten">overwrite<\/ImportDisposition>/);
    assert.match(log, /<Status>CompletedWithWarnings<\/Status>/);
  });

  test("a drive whose only outcomes were dispositions (a blob renamed, one skipped) is CompletedMoreInfo, and its job ends Completed", async () => {
    // Blobs already in the account under the names the drive's two files go to.
    const acct = await account("dispositiononly");
    const docs = acct.getContainerClient("docs");
    await docs.createIfNotExists();
    await docs.getBlockBlobClient("a.txt").upload("theirs a", 8);
    await docs.getBlockBlobClient("b.txt").upload("theirs b", 8);
    const root = tempDir("drivebay-disp-");
    writeData(root, "src/a.txt", "ours a\n");
    writeData(root, "src/b.txt", "ours b\n");
    const csv = writeData(
      root,
      "dataset.csv",
      [
        "BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile",
        `src/a.txt,docs/a.txt,,rename,None,None`,
        `src/b.txt,docs/b.txt,,no-overwrite,None,None`,
        "",
      ].join("\r\n"),
    );
    const result = await prepareDrive({
      datasetCsv: csv,
      driveDir: join(root, "drive"),
      driveId: "WD-E2E-DISP",
    });
    const prepared: Prepared = {
      result,
      driveDir: join(root, "drive"),
      manifest: parseManifest(readFileSync(result.manifestPath, "utf8")),
    };
    const job = await importJob("disposition-only", "dispositiononly", [{ prepared }]);
    const drive = job.properties!.driveList![0]!;
    assert.equal(job.properties?.state, "Packaging");
    assert.equal(drive.state, "CompletedMoreInfo", "SPEC §2.6: renamed and skipped blobs");
    assert.equal((await download(docs, "a (2).txt")).toString(), "ours a\n");
    assert.equal((await download(docs, "a.txt")).toString(), "theirs a");
    assert.equal((await download(docs, "b.txt")).toString(), "theirs b");
    const log = await driveLog(drive.errorLogUri, acct);
    assert.match(log, /<ImportDisposition Status="Renamed">rename<\/ImportDisposition>/);
    assert.match(log, /<ImportDisposition Status="Skipped">no-overwrite<\/ImportDisposition>/);
    assert.match(log, /<Status>CompletedWithWarnings<\/Status>/);
    // What the customer asked for is not an error (SPEC §2.1): the job ends Completed.
    const shipped = await server.operator(
      "POST",
      `/jobs/${SUBSCRIPTION}/${RG}/disposition-only/ship-back`,
      { carrierName: "FedEx", trackingNumber: "RT-DISP" },
    );
    assert.equal(shipped.status, 200, JSON.stringify(shipped.body));
    const done = await server.client().jobs.get("disposition-only", RG);
    assert.equal(done.properties?.state, "Completed");
    assert.deepEqual(
      done.properties?.driveList?.map((d) => d.state),
      ["ShippedBack"],
    );
  });

  test("a drive whose manifest does not match the job fails whole; nothing is imported from it", async () => {
    const wrongHash = await prepare("WD-E2E-0004");
    const job = await importJob("bad-hash", "badmanifest", [
      { prepared: wrongHash, manifestHash: "00000000000000000000000000000000" },
    ]);
    const wrongId = await prepare("WD-E2E-0005");
    const job2 = await importJob("bad-id", "badmanifest", [
      { prepared: wrongId, driveId: "WD-NOT-THIS-ONE" },
    ]);
    const acct = await account("badmanifest");
    for (const [j, status] of [
      [job, "ManifestCorrupted"],
      [job2, "ManifestDriveIdMismatch"],
    ] as const) {
      const drive = j.properties!.driveList![0]!;
      assert.equal(drive.state, "CompletedMoreInfo");
      assert.equal(drive.copyStatus, status);
      assert.match(
        await driveLog(drive.errorLogUri, acct),
        new RegExp(`<Status>${status}</Status>`),
      );
    }
    const containers: string[] = [];
    for await (const c of acct.listContainers()) containers.push(c.name);
    assert.deepEqual(containers, ["waimportexport"], "only the logs were written");
  });

  test("damaged files and hostile paths fail their blob only, with the right status; nothing is written elsewhere", async () => {
    const prepared = await prepare("WD-E2E-0006", (driveDir, m) => {
      const blobs = m.blobLists[0]!.blobs;
      const byName = (suffix: string) => blobs.find((b) => b.blobPath.endsWith(suffix))!;
      rmSync(resolveDriveFile(driveDir, byName("one.txt").filePath)!);
      truncateSync(resolveDriveFile(driveDir, byName("nine-mib.bin").filePath)!, 5 * 1024 * 1024);
      const exact = resolveDriveFile(driveDir, byName("exact-4mib.bin").filePath)!;
      const bytes = readFileSync(exact);
      bytes[12345] = bytes[12345]! ^ 0xff;
      writeFileSync(exact, bytes);
      writeData(join(driveDir, ".."), "outside.txt", "outside the drive");
      const note = byName("note.md");
      blobs.push(
        { ...note, blobPath: "photos/../../escape.md", filePath: note.filePath },
        {
          ...note,
          blobPath: "photos/ok-name.md",
          filePath: "\\..\\outside.txt",
          ranges: [{ offset: 0, length: 17, hash: md5(Buffer.from("outside the drive")) }],
          length: 17,
        },
        { ...note, blobPath: "Bad_Container/x.md" },
      );
      return m;
    });
    const job = await importJob("damaged", "damaged", [{ prepared }]);
    const drive = job.properties!.driveList![0]!;
    assert.equal(drive.state, "CompletedMoreInfo");
    const acct = await account("damaged");
    const log = await driveLog(drive.errorLogUri, acct);
    assert.match(log, /<Blob Status="FileNotFound">\s*<BlobPath>photos\/2026\/one.txt/);
    assert.match(log, /Status="FileUnexpectedEnd"/);
    assert.match(log, /Status="Corrupted"/);
    assert.equal((log.match(/<Blob Status="FileNameInvalid">/g) ?? []).length, 3);
    const names: string[] = [];
    for await (const c of acct.listContainers())
      for await (const b of acct.getContainerClient(c.name).listBlobsFlat())
        names.push(`${c.name}/${b.name}`);
    assert.ok(
      !names.some((n) => n.includes("escape") || n.includes("ok-name") || n.includes("outside")),
      names.join(", "),
    );
    assert.ok(
      !names.includes("photos/2026/one.txt") && !names.includes("photos/2026/2026/nine-mib.bin"),
    );
    assert.ok(
      names.includes("photos/2026/2026/deep/er/note.md"),
      "the undamaged blobs are imported",
    );
  });

  test("a corrupted block of a multi-block blob is refused where it lands; a corrupted page range is caught before it is sent", async () => {
    const MiB = 1024 * 1024;
    const prepared = await prepare("WD-E2E-0008", (driveDir, m) => {
      const all = m.blobLists.flatMap((l) => l.blobs);
      const nine = all.find((b) => b.blobPath.endsWith("nine-mib.bin"))!;
      const vhd = all.find((b) => b.blobType === "PageBlob")!;
      for (const [b, at] of [
        [nine, 4 * MiB + 100],
        [vhd, 2 * MiB + 3],
      ] as const) {
        const path = resolveDriveFile(driveDir, b.filePath)!;
        const bytes = readFileSync(path);
        bytes[at] = bytes[at]! ^ 0xff;
        writeFileSync(path, bytes);
      }
    });
    const job = await importJob("corrupted-blocks", "corruptedblocks", [{ prepared }]);
    const drive = job.properties!.driveList![0]!;
    assert.equal(drive.state, "CompletedMoreInfo");
    const acct = await account("corruptedblocks");
    const log = await driveLog(drive.errorLogUri, acct);
    // The 9 MiB file's second block (4 MiB at 4 MiB) and the page range at 2 MiB.
    assert.match(
      log,
      /<BlobPath>photos\/2026\/2026\/nine-mib.bin<\/BlobPath>[\s\S]*?<Block Offset="4194304" Length="4194304" Status="Corrupted"\/>/,
    );
    assert.match(
      log,
      /<BlobPath>vhds\/disk.vhd<\/BlobPath>[\s\S]*?Offset="2097152"[^>]*Status="Corrupted"/,
    );
    assert.equal((log.match(/Status="Corrupted"/g) ?? []).length, 2, log);
    // Nothing stands under the damaged blobs' names (the page blob, created first, is
    // removed again); the others arrived whole.
    const photos = acct.getContainerClient("photos");
    assert.equal(await photos.getBlobClient("2026/2026/nine-mib.bin").exists(), false);
    assert.equal(await acct.getContainerClient("vhds").getBlobClient("disk.vhd").exists(), false);
    const exact = prepared.manifest.blobLists[0]!.blobs.find((b) =>
      b.blobPath.endsWith("exact-4mib.bin"),
    )!;
    assert.equal(
      md5(await download(photos, exact.blobPath.slice("photos/".length))),
      md5(readFileSync(resolveDriveFile(prepared.driveDir, exact.filePath)!)),
    );
  });

  test("resuming create-only writes: the engine's own blob from before a restart is kept; anyone else's gets the disposition", async () => {
    const prepared = await prepare("WD-E2E-0009");
    const list = prepared.manifest.blobLists[0]!;
    const keyOf = (suffix: string) => {
      const i = list.blobs.findIndex((b) => b.blobPath.endsWith(suffix));
      const blob = list.blobs[i]!;
      return { key: `0:${i}`, blob, name: blob.blobPath.slice("photos/".length) };
    };
    const ours = keyOf("one.txt");
    const other = keyOf("note.md");
    const older = keyOf("日本語.txt");
    const acct = await account("resumewrites");
    const photos = acct.getContainerClient("photos");
    await photos.createIfNotExists();
    const content = (b: typeof ours) =>
      readFileSync(resolveDriveFile(prepared.driveDir, b.blob.filePath)!);
    const put = (name: string, body: Buffer) =>
      photos.getBlockBlobClient(name).uploadData(body, {
        blobHTTPHeaders: { blobContentMD5: createHash("md5").update(body).digest() },
      });
    const job = await importJob("resume-writes", "resumewrites", [{ prepared }], {
      // As a crash leaves them: three names claimed for create-only writes, not yet done.
      beforeAttach: async (uid) => {
        const claim = (b: typeof ours, since: number) =>
          server.store.recordImport(uid, "WD-E2E-0009", {
            blobKey: b.key,
            status: "writing",
            finalPath: b.blob.blobPath,
            detail: { disposition: "Created", mode: "ifNew", since },
          });
        // Claimed, then written (by this engine) just before the crash.
        await claim(ours, Date.now() - 1000);
        await put(ours.name, content(ours));
        // Claimed, but the name holds other bytes: someone else's blob.
        await claim(other, Date.now() - 1000);
        await put(other.name, Buffer.from("someone else's note"));
        // The same bytes, but dated long before the claim: someone else's too.
        await put(older.name, content(older));
        await claim(older, Date.now() + 20 * 60_000);
      },
    });
    const drive = job.properties!.driveList![0]!;
    const names: string[] = [];
    for await (const b of photos.listBlobsFlat()) names.push(b.name);
    assert.ok(!names.includes(ours.name.replace("one.txt", "one (2).txt")), names.join(", "));
    assert.ok(names.includes(other.name.replace("note.md", "note (2).md")), names.join(", "));
    assert.ok(names.includes(older.name.replace("日本語.txt", "日本語 (2).txt")), names.join(", "));
    assert.equal(md5(await download(photos, ours.name)), md5(content(ours)));
    assert.equal(
      (await download(photos, other.name)).toString(),
      "someone else's note",
      "the other blob is left alone",
    );
    const log = await driveLog(drive.verboseLogUri, acct);
    const dispositionOf = (blobPath: string) =>
      new RegExp(
        `<BlobPath>${blobPath.replace(/[()]/g, "\\$&")}</BlobPath>[\\s\\S]*?<ImportDisposition Status="(\\w+)">`,
      ).exec(log)?.[1];
    assert.equal(dispositionOf(ours.blob.blobPath), "Created");
    assert.equal(
      dispositionOf(`photos/${other.name.replace("note.md", "note (2).md")}`),
      "Renamed",
    );
  });

  test("cancel: a drive not started is skipped; a drive in flight stops at a blob boundary", async () => {
    const many = tempDir("drivebay-many-");
    const lines = [
      "BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile",
      `"${join(many, "src")}/",bulk/,,,,`,
    ];
    for (let i = 0; i < 400; i++) writeData(many, `src/f${String(i).padStart(4, "0")}.bin`, 2048);
    writeData(many, "dataset.csv", lines.join("\n") + "\n");
    const result = await prepareDrive({
      datasetCsv: join(many, "dataset.csv"),
      driveDir: join(many, "drive"),
      driveId: "WD-E2E-BULK",
    });
    const bulk: Prepared = {
      result,
      driveDir: join(many, "drive"),
      manifest: parseManifest(readFileSync(result.manifestPath, "utf8")),
    };
    const idle = await prepare("WD-E2E-0007");
    await importJob("cancelled", "cancelled", [{ prepared: bulk }, { prepared: idle }], {
      drain: false,
    });
    // Cancel while the first drive is in flight: when its 11th blob is about to start.
    server.runner!.onBlobStart = async ({ driveId, index }) => {
      if (driveId === "WD-E2E-BULK" && index === 10) {
        await server.client().jobs.update("cancelled", RG, { cancelRequested: true });
      }
    };
    const started = server.runner!.drain();
    await started;
    await server.runner!.drain();
    server.runner!.onBlobStart = undefined;
    const job = await server.client().jobs.get("cancelled", RG);
    assert.equal(job.properties?.state, "Packaging");
    const [copying, skipped] = job.properties!.driveList!;
    assert.equal(copying!.copyStatus, "Cancelled");
    assert.equal(skipped!.copyStatus, "Cancelled");
    assert.equal(skipped!.bytesSucceeded, 0);
    const acct = await account("cancelled");
    let written = 0;
    for await (const b of acct.getContainerClient("bulk").listBlobsFlat()) {
      written++;
      assert.equal(b.properties.contentLength, 2048);
    }
    assert.ok(
      written > 0 && written < 400,
      `${written} of 400 blobs were written before the cancel took effect`,
    );
    assert.equal(copying!.bytesSucceeded, written * 2048);
    const log = await driveLog(copying!.errorLogUri, acct);
    assert.equal((log.match(/<Blob Status="Cancelled">/g) ?? []).length, 400 - written);
    const shipped = await server.operator(
      "POST",
      `/jobs/${SUBSCRIPTION}/${RG}/cancelled/ship-back`,
      { carrierName: "FedEx", trackingNumber: "RT-C" },
    );
    assert.equal(shipped.body.state, "Completed");
  });

  test("customer responses stay conformant during imports", async (t) => {
    await assertConformant(t, server.exchanges);
  });
});

describe("the autopilot with a real import", () => {
  test("a package received by hand while its drive is in the dock: the autopilot copies it before packaging, and the job ends Completed", async () => {
    // The autopilot's own arrival comes much later: the operator receives the package first.
    const server = await startTestServer({
      blob: "memory",
      autopilot: { arrivalDelayMs: 3_600_000, stepDelayMs: 1000 },
    });
    try {
      const root = tempDir("drivebay-hand-");
      const driveId = "WD-HAND-0001";
      const result = await prepareDrive({
        datasetCsv: sampleDataset(root),
        driveDir: join(server.dockDir, driveId),
        driveId,
      });
      const c = server.client();
      await c.jobs.create("by-hand", RG, {
        location: "westus",
        properties: {
          storageAccountId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/byhand`,
          driveList: [{ ...result.driveListEntry, bitLockerKey: KEY }],
        },
      });
      const received = await shipAndReceive(c, server.operator, RG, "by-hand", {
        trackingNumber: "TN-HAND",
        driveIds: [driveId],
      });
      assert.equal(received.state, "Received");
      const states: string[] = [];
      for (let i = 0; i < 6; i++) {
        await server.operator("POST", "/clock/advance", { by: "1s" });
        await server.runner!.drain();
        states.push((await c.jobs.get("by-hand", RG)).properties!.state!);
      }
      const job = await c.jobs.get("by-hand", RG);
      assert.equal(job.properties?.state, "Completed", states.join(" → "));
      assert.deepEqual(
        job.properties?.driveList?.map((d) => [d.state, d.copyStatus]),
        [["ShippedBack", "Completed"]],
      );
      // Every blob of the drive arrived.
      const prepared = parseManifest(readFileSync(result.manifestPath, "utf8"));
      const conn = (await server.operator("GET", "/storage/byhand")).body
        .connectionString as string;
      const account = BlobServiceClient.fromConnectionString(conn);
      for (const blob of prepared.blobLists.flatMap((l) => l.blobs)) {
        const slash = blob.blobPath.indexOf("/");
        const props = await account
          .getContainerClient(blob.blobPath.slice(0, slash))
          .getBlobClient(blob.blobPath.slice(slash + 1))
          .getProperties();
        assert.equal(props.contentLength, blob.length, blob.blobPath);
      }
      const history = (await server.operator("GET", `/jobs/${SUBSCRIPTION}/${RG}/by-hand`)).body
        .history as { actor: string; event: string }[];
      assert.deepEqual(history.map((h) => `${h.actor} ${h.event}`).slice(2), [
        "operator receivePackage",
        "autopilot attachDrive",
        "autopilot startTransfer",
        "engine completeDrive",
        "engine package",
        "autopilot shipBack",
      ]);
    } finally {
      await server.close();
    }
  });

  test("a drive prepared into the dock arrives, is copied, and the job ends Completed with no manual step", async () => {
    const server = await startTestServer({
      blob: "memory",
      autopilot: { arrivalDelayMs: 1000, stepDelayMs: 1000 },
    });
    try {
      const root = tempDir("drivebay-dock-");
      const driveId = "WD-DOCK-0001";
      const result = await prepareDrive({
        datasetCsv: sampleDataset(root),
        driveDir: join(server.dockDir, driveId),
        driveId,
      });
      const c = server.client();
      await c.jobs.create("docked", RG, {
        location: "westus",
        properties: {
          storageAccountId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/dockdata`,
          driveList: [{ ...result.driveListEntry, bitLockerKey: KEY }],
        },
      });
      await ship(c, RG, "docked", { trackingNumber: "TN-DOCK" });
      const states: string[] = [];
      for (let i = 0; i < 6; i++) {
        await server.operator("POST", "/clock/advance", { by: "1s" });
        await server.runner!.drain();
        states.push((await c.jobs.get("docked", RG)).properties!.state!);
      }
      assert.ok(
        states.includes("Transferring") || states.includes("Packaging"),
        states.join(" → "),
      );
      const job = await c.jobs.get("docked", RG);
      assert.equal(job.properties?.state, "Completed", states.join(" → "));
      assert.deepEqual(
        job.properties?.driveList?.map((d) => [d.state, d.copyStatus]),
        [["ShippedBack", "Completed"]],
      );
      const conn = (await server.operator("GET", "/storage/dockdata")).body
        .connectionString as string;
      const photos = BlobServiceClient.fromConnectionString(conn).getContainerClient("photos");
      let n = 0;
      for await (const _ of photos.listBlobsFlat()) n++;
      assert.ok(n >= 6, `${n} photo blobs`);
    } finally {
      await server.close();
    }
  });
});
