/**
 * node --import tsx bench/azurite-growth.ts — how Azurite's CPU for one Put Blob depends on
 * how many blobs its account already holds (bench:import's small set made it look like a
 * swing from run to run). One embedded Azurite, in memory, as bench:import starts it; the
 * same 4 KiB body uploaded BATCHES × BATCH times, 16 at a time, with Content-MD5, each
 * batch into a container of its own; Azurite's user and system CPU per blob is printed for
 * every batch, with the CPU other processes used meanwhile (the machine is shared).
 *
 * Options (env): GROWTH_BATCHES (4), GROWTH_BATCH (2000).
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { EmbeddedAzurite } from "../src/storage/azurite.ts";
import { fmt, TempDirs } from "./support.ts";

const BATCHES = Number(process.env.GROWTH_BATCHES ?? 4);
const BATCH = Number(process.env.GROWTH_BATCH ?? 2000);
const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

function cpu(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(f[11]) / CLK_TCK, system: Number(f[12]) / CLK_TCK };
}

function machineBusy(): number {
  const n = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1);
  const v = n.map(Number);
  return (v.reduce((a, b) => a + b, 0) - v[3]! - v[4]!) / CLK_TCK;
}

const dirs = new TempDirs();
const dir = dirs.make();
const azurite = await EmbeddedAzurite.start({
  host: "127.0.0.1",
  port: 0,
  inMemory: true,
  location: join(dir, "azurite"),
  accountsFile: join(dir, "storage-accounts.json"),
});
try {
  const key = await azurite.ensureAccount("growth");
  const service = new BlobServiceClient(
    azurite.blobEndpoint("growth"),
    new StorageSharedKeyCredential("growth", key),
  );
  const body = randomBytes(4096);
  const md5 = createHash("md5").update(body).digest();
  console.log(
    `Azurite CPU per Put Blob as the account fills: ${BATCHES} batches of ${BATCH} blobs of 4 KiB, 16 at a time`,
  );
  for (let b = 0; b < BATCHES; b++) {
    const cc = service.getContainerClient(`batch${b}`);
    await cc.create();
    const pid = azurite.pid!;
    const c0 = cpu(pid);
    const m0 = machineBusy();
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < BATCH; i = next++) {
          await cc
            .getBlockBlobClient(`d${String(i % 50).padStart(2, "0")}/f${i}.bin`)
            .upload(body, body.length, { blobHTTPHeaders: { blobContentMD5: md5 } });
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    const c1 = cpu(pid);
    const own = process.cpuUsage(own0);
    const azCpu = c1.user - c0.user + (c1.system - c0.system);
    const other = machineBusy() - m0 - azCpu - (own.user + own.system) / 1e6;
    console.log(
      `blobs already in the account ${String(b * BATCH).padStart(6)}: ${fmt(s, 1)} s, Azurite ${fmt((1000 * (c1.user - c0.user)) / BATCH, 2)} ms user + ${fmt((1000 * (c1.system - c0.system)) / BATCH, 2)} ms system a blob; other processes ${fmt(Math.max(0, other), 1)} s CPU`,
    );
  }
} finally {
  await azurite.close();
  dirs.removeAll();
}
