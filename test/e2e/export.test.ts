/**
 * Real exports end to end (issue 11 items 4–6): an export job through the official SDK,
 * the datacenter through the operator API, the export copier behind the transfer runner
 * reading a real (embedded) Azurite and writing drive folders; every file checked by MD5
 * against its blob, the manifest against the files (drive verify), the side files against
 * the blob's properties; a capacity split with an incomplete blob list; an unreadable blob
 * list; a cancel during the export.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { ship, shipAndReceive } from "../support/shipping.ts";
import { resolveDriveFile } from "../../src/transfer/manifest.ts";
import { verifyDrive } from "../../src/transfer/verify.ts";
import { parseBlobListXml } from "../../src/transfer/export/blob-list.ts";
import { tempDir } from "../transfer/helpers.ts";
import { checkExportDrive, driveFiles } from "./support/export-drive.ts";

const RG = "exports";
const MiB = 1024 * 1024;
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex").toUpperCase();

describe("exports from a real Azurite", () => {
  let server: TestServer;
  let service: BlobServiceClient;
  let snapshot: string;
  const ACCOUNT = "exportdata";

  before(async () => {
    server = await startTestServer({ blob: "memory" });
    const r = await server.operator("GET", `/storage/${ACCOUNT}`);
    service = BlobServiceClient.fromConnectionString(r.body.connectionString);
    const music = service.getContainerClient("music");
    await music.create();
    const put = (name: string, data: Buffer | string, options = {}) =>
      music.getBlockBlobClient(name).upload(data, Buffer.byteLength(data), options);
    await put("love/a.mp3", "first version", {
      metadata: { Artist: "Jane", Year: "2026" },
      blobHTTPHeaders: { blobContentType: "audio/mpeg", blobCacheControl: "no-cache" },
    });
    await put("big.bin", Buffer.alloc(9 * MiB + 123, 7));
    await put("empty.txt", "");
    await put("日本語 ✓/歌.txt", "こんにちは");
    await put('bad:name?"x".txt', "hostile");
    await put("CON", "device name");
    snapshot = (await music.getBlockBlobClient("love/a.mp3").createSnapshot()).snapshot!;
    await put("love/a.mp3", "second, longer version", { metadata: { Artist: "Jane" } });
    const disks = service.getContainerClient("disks");
    await disks.create();
    const page = disks.getPageBlobClient("d.vhd");
    await page.create(2 * MiB);
    await page.uploadPages(Buffer.alloc(1024, 9), 0, 1024);
    await page.uploadPages(Buffer.alloc(512, 3), MiB, 512);
    // Leading and trailing spaces: kept in the manifest's BlobPath, mapped in its FilePath.
    await disks.getBlockBlobClient(" notes ").upload("spaces around", 13);
    const mid = service.getContainerClient("mid");
    await mid.create();
    for (const n of ["m1.bin", "m2.bin"]) {
      await mid.getBlockBlobClient(n).upload(Buffer.alloc(3 * MiB, n.length), 3 * MiB);
    }
    const many = service.getContainerClient("many");
    await many.create();
    for (let i = 0; i < 30; i++) {
      const name = `f${String(i).padStart(2, "0")}.txt`;
      await many.getBlockBlobClient(name).upload(name, name.length);
    }
    const logs = service.getContainerClient("logs");
    await logs.create();
    const append = logs.getAppendBlobClient("app.log");
    await append.create();
    await append.appendBlock("one\n", 4);
    await append.appendBlock("two\n", 4);
  });
  after(async () => {
    await server.close();
  });

  async function exportJob(
    name: string,
    exportSpec: Record<string, unknown>,
    drives: { driveId: string; dir: string; capacityBytes?: number }[],
    options: { drain?: boolean } = {},
  ) {
    const c = server.client();
    await c.jobs.create(name, RG, {
      location: "westus",
      properties: {
        storageAccountId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${ACCOUNT}`,
        jobType: "Export",
        logLevel: "Verbose",
        backupDriveManifest: true,
        export: exportSpec,
      },
    });
    await shipAndReceive(c, server.operator, RG, name, {
      trackingNumber: `TN-${name}`,
      driveCount: drives.length,
      driveIds: drives.map((d) => d.driveId),
    });
    for (const d of drives) {
      mkdirSync(d.dir, { recursive: true });
      const r = await server.operator(
        "POST",
        `/jobs/${SUBSCRIPTION}/${RG}/${name}/drives/${d.driveId}/attach`,
        { path: d.dir, ...(d.capacityBytes ? { capacityBytes: d.capacityBytes } : {}) },
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    if (options.drain !== false) await server.runner!.drain();
    return c.jobs.get(name, RG);
  }

  /** Checks a drive: verify passes; every file is its blob's bytes; side files; nothing extra. */
  const checkDrive = (dir: string, driveId: string) =>
    checkExportDrive(service, dir, driveId, snapshot);

  test("prefixes, a snapshot and every blob kind: each file is its blob, the manifest verifies, NTFS-hostile names mapped", async () => {
    const dir = join(tempDir("drivebay-export-"), "X1");
    const job = await exportJob(
      "exp-all",
      {
        blobPath: [`/music/love/a.mp3?snapshot=${snapshot}`],
        blobPathPrefix: ["/music/", "/disks/", "/logs/", "/nothing/"],
      },
      [{ driveId: "EXPALL1", dir, capacityBytes: 1e9 }],
    );
    const drive = job.properties!.driveList![0]!;
    assert.equal(drive.state, "CompletedMoreInfo", "a prefix matched nothing: a warning");
    assert.equal(job.properties?.state, "Packaging");
    assert.equal(drive.percentComplete, 100);
    const manifest = await checkDrive(dir, "EXPALL1");
    const blobs = manifest.blobLists[0]!.blobs;
    assert.equal(blobs.length, 10);
    const total = blobs.reduce((n, b) => n + b.length, 0);
    assert.equal(drive.bytesSucceeded, total);
    const paths = blobs.map((b) => b.filePath);
    assert.ok(paths.includes("\\music\\bad%3Aname%3F%22x%22.txt"), paths.join(" "));
    assert.ok(paths.includes("\\music\\CON_"));
    assert.ok(paths.includes("\\music\\日本語 ✓\\歌.txt"));
    assert.ok(paths.some((p) => p.startsWith("\\music\\love\\a (snapshot ")));
    const spaced = blobs.find((b) => b.blobPath === "disks/ notes ");
    assert.ok(
      spaced,
      `the blob " notes " keeps its spaces: ${blobs.map((b) => b.blobPath).join(" | ")}`,
    );
    assert.ok(!spaced.filePath.endsWith(" "), "no trailing space in a file name on NTFS");
    const page = blobs.find((b) => b.blobPath === "disks/d.vhd")!;
    assert.equal(page.blobType, "PageBlob");
    assert.deepEqual(
      page.ranges.map((r) => [r.offset, r.length]),
      [
        [0, 1024],
        [MiB, 512],
      ],
    );
    const big = blobs.find((b) => b.blobPath === "music/big.bin")!;
    assert.deepEqual(
      big.ranges.map((r) => r.length),
      [4 * MiB, 4 * MiB, MiB + 123],
    );
    // The logs: verbose lists every blob; the error log says what matched nothing.
    const logs = service.getContainerClient("waimportexport");
    const name = (uri: string) =>
      decodeURIComponent(new URL(uri).pathname.split("/").slice(3).join("/"));
    const errorLog = (
      await logs.getBlobClient(name(drive.errorLogUri!)).downloadToBuffer()
    ).toString();
    assert.match(errorLog, /match no blob: \/nothing\//);
    assert.match(errorLog, /<Status>CompletedWithWarnings<\/Status>/);
    const verbose = (
      await logs.getBlobClient(name(drive.verboseLogUri!)).downloadToBuffer()
    ).toString();
    assert.equal(verbose.match(/<Blob Status="Completed">/g)?.length, 10);
    const backup = await logs.getBlobClient(name(drive.manifestUri!)).downloadToBuffer();
    assert.deepEqual(backup, readFileSync(join(dir, "EXPALL1.manifest")));
    // A damaged file fails verify.
    writeFileSync(resolveDriveFile(dir, "\\music\\empty.txt")!, "x");
    assert.equal((await verifyDrive(dir, "\\EXPALL1.manifest")).ok, false);
  });

  test("two small drives split the blobs in listing order; what fits on neither is in the incomplete blob list", async () => {
    const root = tempDir("drivebay-export-");
    const drives = [
      { driveId: "SPLIT1", dir: join(root, "S1"), capacityBytes: 5 * MiB },
      { driveId: "SPLIT2", dir: join(root, "S2"), capacityBytes: 5 * MiB },
    ];
    const job = await exportJob("exp-split", { blobPathPrefix: ["/mid/", "/music/"] }, drives);
    const [d1, d2] = job.properties!.driveList!;
    const m1 = await checkDrive(drives[0]!.dir, "SPLIT1");
    const m2 = await checkDrive(drives[1]!.dir, "SPLIT2");
    const on1 = m1.blobLists[0]!.blobs.map((b) => b.blobPath);
    const on2 = m2.blobLists[0]!.blobs.map((b) => b.blobPath);
    // m1 fills most of drive 1, m2 opens drive 2, and the rest follow on drive 2.
    assert.deepEqual(on1, ["mid/m1.bin"]);
    assert.deepEqual(on2, [
      "mid/m2.bin",
      "music/CON",
      'music/bad:name?"x".txt',
      "music/empty.txt",
      "music/love/a.mp3",
      "music/日本語 ✓/歌.txt",
    ]);
    assert.deepEqual(new Set([...on1, ...on2]).size, on1.length + on2.length, "no blob twice");
    const uri = job.properties!.incompleteBlobListUri!;
    assert.ok(uri, "incompleteBlobListUri is set");
    const listName = decodeURIComponent(new URL(uri).pathname.split("/").slice(3).join("/"));
    const list = (
      await service.getContainerClient("waimportexport").getBlobClient(listName).downloadToBuffer()
    ).toString();
    assert.deepEqual(parseBlobListXml(list), [{ kind: "blobPath", path: "/music/big.bin" }]);
    assert.deepEqual([d1!.state, d2!.state], ["CompletedMoreInfo", "CompletedMoreInfo"]);
    // Shipped back, the job is Completed: an incomplete list is not an error.
    const shipped = await server.operator(
      "POST",
      `/jobs/${SUBSCRIPTION}/${RG}/exp-split/ship-back`,
      {
        carrierName: "FedEx",
        trackingNumber: "RT-split",
      },
    );
    assert.equal(shipped.body.state, "Completed");
  });

  test("an unreadable blob list blob: the drive fails with BlobListFormatInvalid and nothing is written", async () => {
    const lists = service.getContainerClient("lists");
    await lists.createIfNotExists();
    await lists.getBlockBlobClient("bad.xml").upload("<BlobList><BlobPath>", 20);
    const dir = join(tempDir("drivebay-export-"), "B1");
    const job = await exportJob("exp-badlist", { blobListBlobPath: "lists/bad.xml" }, [
      { driveId: "BADLIST1", dir, capacityBytes: 1e9 },
    ]);
    const drive = job.properties!.driveList![0]!;
    assert.equal(drive.state, "CompletedMoreInfo");
    assert.equal(drive.copyStatus, "BlobListFormatInvalid");
    assert.deepEqual(driveFiles(dir), []);
  });

  test("a blob rewritten during the copy is exported as one version, never a mix", async () => {
    const busy = service.getContainerClient("busy");
    await busy.createIfNotExists();
    const blob = busy.getBlockBlobClient("hot.bin");
    const size = 9 * MiB;
    await blob.upload(Buffer.alloc(size, 1), size);
    let stop = false;
    let version = 1;
    const writer = (async () => {
      while (!stop) {
        version = (version % 200) + 1;
        await blob.upload(Buffer.alloc(size, version), size);
      }
    })();
    const dir = join(tempDir("drivebay-export-"), "H1");
    let job;
    try {
      job = await exportJob("exp-busy", { blobPath: ["/busy/hot.bin"] }, [
        { driveId: "BUSY1", dir, capacityBytes: 1e9 },
      ]);
    } finally {
      stop = true;
      await writer;
    }
    assert.equal(job.properties!.driveList![0]!.state, "Completed");
    const bytes = readFileSync(join(dir, "busy", "hot.bin"));
    assert.equal(bytes.length, size);
    const first = bytes[0]!;
    assert.ok(
      bytes.every((b) => b === first),
      "every byte from the same version",
    );
    assert.ok((await verifyDrive(dir, "\\BUSY1.manifest")).ok);
    // The snapshot taken for the copy is gone again.
    const left = [];
    for await (const b of busy.listBlobsFlat({ includeSnapshots: true }))
      if (b.snapshot) left.push(b);
    assert.deepEqual(left, []);
  });

  test("control characters in blob names (U+0001–U+001F, U+007F): mapped file paths in the manifest's FilePath, drive verify passes", async () => {
    const ctl = service.getContainerClient("ctl");
    await ctl.create();
    const names = [
      "a\u0001b.txt",
      "tab\there\t",
      "del\u007f.bin",
      "cr\rlf\n.txt",
      "x\u001f/y\u0002.txt",
    ];
    for (const n of names) await ctl.getBlockBlobClient(n).upload(n, Buffer.byteLength(n));
    // By path: Azurite answers a listing of names with U+0001–U+0008 or U+001F with a 500
    // (Azure returns them with Encoded="true"), so a prefix cannot reach them there.
    const dir = join(tempDir("drivebay-export-"), "CTL1");
    const job = await exportJob("exp-ctl", { blobPath: names.map((n) => `/ctl/${n}`) }, [
      { driveId: "CTL1", dir, capacityBytes: 1e9 },
    ]);
    assert.equal(job.properties!.driveList![0]!.state, "Completed");
    // checkDrive reads every blob back by the manifest's BlobPath, so each name round-trips.
    const manifest = await checkDrive(dir, "CTL1");
    const byBlob = new Map(manifest.blobLists[0]!.blobs.map((b) => [b.blobPath, b.filePath]));
    assert.deepEqual(
      names.map((n) => byBlob.get(`ctl/${n}`)),
      [
        "\\ctl\\a%01b.txt",
        "\\ctl\\tab%09here%09",
        "\\ctl\\del%7F.bin",
        "\\ctl\\cr%0Dlf%0A.txt",
        "\\ctl\\x%1F\\y%02.txt",
      ],
    );
    // No file name on the drive holds a control character.
    assert.deepEqual(
      // eslint-disable-next-line no-control-regex -- what must not be there
      driveFiles(dir).filter((f) => /[\u0000-\u001f\u007f]/.test(f)),
      [],
    );
  });

  test("a blob that grows after the layout: within the drive's room it is exported as it is now; beyond it, it goes to the incomplete blob list and the job still completes", async () => {
    const grow = service.getContainerClient("grow");
    await grow.create();
    await grow.getBlockBlobClient("0-first.txt").upload("first", 5);
    const append = grow.getAppendBlobClient("1-log.txt");
    await append.create();
    await append.appendBlock(Buffer.alloc(10_000, 1), 10_000);
    const replaced = grow.getBlockBlobClient("2-big.bin");
    await replaced.upload(Buffer.alloc(10_000, 2), 10_000);
    await grow.getBlockBlobClient("3-last.txt").upload("last", 4);
    const dir = join(tempDir("drivebay-export-"), "G1");
    // The plan is made (and stored) before the first blob's boundary: the blobs change
    // after it and before any is copied.
    let changed!: () => void;
    const ready = new Promise<void>((r) => (changed = r));
    server.runner!.onBlobStart = async ({ job, index }) => {
      if (job !== "exp-grow") return;
      if (index === 0) {
        await append.appendBlock(Buffer.alloc(64 * 1024, 3), 64 * 1024);
        await replaced.upload(Buffer.alloc(3 * MiB, 4), 3 * MiB);
        changed();
      }
      await ready;
    };
    let job;
    try {
      job = await exportJob("exp-grow", { blobPathPrefix: ["/grow/"] }, [
        // 1 MiB: the four small blobs fit with room to spare, but not 3 MiB more.
        { driveId: "GROW1", dir, capacityBytes: MiB },
      ]);
    } finally {
      server.runner!.onBlobStart = undefined;
    }
    const drive = job.properties!.driveList![0]!;
    assert.equal(drive.state, "CompletedMoreInfo");
    assert.equal(drive.copyStatus, "CompletedWithWarnings");
    const manifest = await checkDrive(dir, "GROW1");
    const blobs = manifest.blobLists[0]!.blobs;
    assert.deepEqual(
      blobs.map((b) => [b.blobPath, b.length]),
      [
        ["grow/0-first.txt", 5],
        ["grow/1-log.txt", 10_000 + 64 * 1024],
        ["grow/3-last.txt", 4],
      ],
    );
    const used = driveFiles(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    assert.ok(used <= MiB, `${used} bytes on a drive of ${MiB}`);
    const uri = job.properties!.incompleteBlobListUri!;
    assert.ok(uri, "incompleteBlobListUri is set");
    const listName = decodeURIComponent(new URL(uri).pathname.split("/").slice(3).join("/"));
    const list = (
      await service.getContainerClient("waimportexport").getBlobClient(listName).downloadToBuffer()
    ).toString();
    assert.deepEqual(parseBlobListXml(list), [{ kind: "blobPath", path: "/grow/2-big.bin" }]);
    const errorLog = (
      await service
        .getContainerClient("waimportexport")
        .getBlobClient(
          decodeURIComponent(new URL(drive.errorLogUri!).pathname.split("/").slice(3).join("/")),
        )
        .downloadToBuffer()
    ).toString();
    assert.match(
      errorLog,
      /grew after the layout and no longer fit on this drive \(grow\/2-big\.bin\)/,
    );
    const shipped = await server.operator(
      "POST",
      `/jobs/${SUBSCRIPTION}/${RG}/exp-grow/ship-back`,
      {
        carrierName: "FedEx",
        trackingNumber: "RT-grow",
      },
    );
    assert.equal(shipped.body.state, "Completed");
  });

  test("cancel during the export stops at a blob boundary; the manifest lists exactly the files written", async () => {
    const dir = join(tempDir("drivebay-export-"), "C1");
    let cancelled = false;
    server.runner!.onBlobStart = async ({ job, index }) => {
      if (job === "exp-cancel" && index === 2 && !cancelled) {
        cancelled = true;
        await server.client().jobs.update("exp-cancel", RG, { cancelRequested: true });
      }
    };
    try {
      const job = await exportJob("exp-cancel", { blobPathPrefix: ["/many/"] }, [
        { driveId: "CANCEL1", dir, capacityBytes: 1e9 },
      ]);
      const drive = job.properties!.driveList![0]!;
      assert.equal(drive.copyStatus, "Cancelled");
      const manifest = await checkDrive(dir, "CANCEL1");
      const written = manifest.blobLists[0]!.blobs.length;
      // Items already past their boundary finish; none starts after the cancel.
      assert.ok(written >= 2 && written < 30, `${written} written`);
      const name = (uri: string) =>
        decodeURIComponent(new URL(uri).pathname.split("/").slice(3).join("/"));
      const log = (
        await service
          .getContainerClient("waimportexport")
          .getBlobClient(name(drive.verboseLogUri!))
          .downloadToBuffer()
      ).toString();
      assert.equal(log.match(/<Blob Status="Cancelled">/g)?.length, 30 - written);
      assert.equal(log.match(/<Blob Status="Completed">/g)?.length, written);
      assert.ok(statSync(join(dir, "CANCEL1.manifest")).size > 0);
    } finally {
      server.runner!.onBlobStart = undefined;
    }
  });
});

describe("the autopilot with a real export", () => {
  test("an export job marked Shipping arrives with driveCount dock drives, is copied, packaged and shipped back Completed", async () => {
    const server = await startTestServer({
      blob: "memory",
      autopilot: { arrivalDelayMs: 1000, stepDelayMs: 1000, exportDriveCapacityBytes: 2e9 },
    });
    try {
      const r = await server.operator("GET", "/storage/autoexport");
      const service = BlobServiceClient.fromConnectionString(r.body.connectionString);
      const cc = service.getContainerClient("photos");
      await cc.create();
      for (let i = 0; i < 5; i++) {
        await cc.getBlockBlobClient(`p${i}.jpg`).upload(Buffer.alloc(1000 + i, i), 1000 + i);
      }
      const c = server.client();
      await c.jobs.create("auto-export", RG, {
        location: "westus",
        properties: {
          storageAccountId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/autoexport`,
          jobType: "Export",
          export: { blobPathPrefix: ["/photos/"] },
        },
      });
      await ship(c, RG, "auto-export", { trackingNumber: "TN-auto", driveCount: 2 });
      await server.operator("POST", "/clock/advance", { by: "1s" });
      assert.equal((await c.jobs.get("auto-export", RG)).properties?.state, "Received");
      await server.operator("POST", "/clock/advance", { by: "1s" });
      await server.runner!.drain();
      const copied = await c.jobs.get("auto-export", RG);
      assert.equal(copied.properties?.state, "Packaging");
      await server.operator("POST", "/clock/advance", { by: "1s" });
      const done = await c.jobs.get("auto-export", RG);
      assert.equal(done.properties?.state, "Completed");
      const drives = done.properties!.driveList!;
      assert.equal(drives.length, 2);
      assert.deepEqual(
        drives.map((d) => d.state),
        ["ShippedBack", "ShippedBack"],
      );
      // Everything fits on the first dock drive; the second gets an empty manifest.
      const first = join(server.dockDir, drives[0]!.driveId!);
      const verified = await verifyDrive(first, `\\${drives[0]!.driveId}.manifest`);
      assert.ok(verified.ok, JSON.stringify(verified.problems));
      assert.equal(verified.blobs, 5);
      for (let i = 0; i < 5; i++) {
        assert.equal(
          md5(readFileSync(join(first, "photos", `p${i}.jpg`))),
          md5(Buffer.alloc(1000 + i, i)),
        );
      }
      const second = join(server.dockDir, drives[1]!.driveId!);
      assert.equal((await verifyDrive(second, `\\${drives[1]!.driveId}.manifest`)).blobs, 0);
    } finally {
      await server.close();
    }
  });
});
