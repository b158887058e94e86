/**
 * `drivebay storage list|show` and `drivebay serve` with the embedded Azurite: the banner
 * names the blob endpoint, the connection string `show` prints works with the Blob SDK,
 * and the Azurite process ends with drivebay however drivebay ends (SIGINT to its
 * process group as a terminal's Ctrl+C sends it, or SIGKILL).
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { BlobServiceClient } from "@azure/storage-blob";
import { run } from "../../src/cli/index.ts";
import { startTestServer } from "../support/server.ts";
import { processesWith, roundTrip, waitGone } from "./helpers.ts";

const BIN = fileURLToPath(new URL("../../bin/drivebay.js", import.meta.url));

// The developer's own DRIVEBAY_* settings must not leak into these runs.
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith("DRIVEBAY_")),
) as Record<string, string>;

interface Result {
  code: number | null;
  out: string;
  err: string;
}

async function cli(args: string[]): Promise<Result> {
  let out = "";
  let err = "";
  const code = await run(args, {
    io: { out: (t) => void (out += t), err: (t) => void (err += t) },
  });
  return { code, out, err };
}

function bin(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: cleanEnv }, (error, out, err) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, out, err });
    });
  });
}

interface Served {
  child: ChildProcess;
  url: string;
  banner: string;
}

/** `drivebay serve` in its own process group (like a shell job), once it printed its banner. */
async function serve(dataDir: string, extra: string[]): Promise<Served> {
  const child = spawn(
    process.execPath,
    [BIN, "serve", "--port", "0", "--data-dir", dataDir, "--log-level", "silent", ...extra],
    { stdio: ["ignore", "ignore", "pipe"], env: cleanEnv, detached: true },
  );
  let stderr = "";
  const banner = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes("Stop with Ctrl+C")) resolve(stderr);
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  const url = /^drivebay listening on (\S+)$/m.exec(banner)![1]!;
  return { child, url, banner };
}

describe("drivebay storage (in process)", () => {
  it("show --output json gives name, blobEndpoint and a working connection string; list shows it", async () => {
    const server = await startTestServer({ blob: "memory" });
    try {
      const connection = ["--endpoint", server.url, "--data-dir", server.dataDir];
      const empty = await cli(["storage", "list", ...connection]);
      assert.equal(empty.code, 0, empty.err);
      assert.match(empty.out, /no storage accounts yet/);

      const show = await cli([
        "storage",
        "show",
        "customerdata",
        "--output",
        "json",
        ...connection,
      ]);
      assert.equal(show.code, 0, show.err);
      const account = JSON.parse(show.out) as Record<string, string>;
      assert.deepEqual(Object.keys(account).sort(), ["blobEndpoint", "connectionString", "name"]);
      assert.equal(account.name, "customerdata");
      assert.equal(account.blobEndpoint, server.azurite!.blobEndpoint("customerdata"));
      const client = BlobServiceClient.fromConnectionString(account.connectionString!);
      await roundTrip(client.getContainerClient("readback"), "via-cli.bin", 8192);
      // What the customer wrote with the CLI's string is what the service sees.
      const seen = await server.storage.containerClient("customerdata", "readback");
      assert.equal(await seen.getBlockBlobClient("via-cli.bin").exists(), true);

      const table = await cli(["storage", "show", "customerdata", ...connection]);
      assert.match(
        table.out,
        /^connection string +DefaultEndpointsProtocol=http;AccountName=customerdata;/m,
      );
      const list = await cli(["storage", "list", ...connection]);
      assert.match(
        list.out,
        /^NAME +SUBSCRIPTION +RESOURCE GROUP +BLOB ENDPOINT\ncustomerdata +\(any\) +\(any\) +http:\/\/127\.0\.0\.1:\d+\/customerdata\n$/,
      );
      const listJson = await cli(["storage", "list", "-o", "json", ...connection]);
      assert.deepEqual(JSON.parse(listJson.out), [
        { name: "customerdata", blobEndpoint: account.blobEndpoint },
      ]);

      const bad = await cli(["storage", "show", "no_such", ...connection]);
      assert.equal(bad.code, 1);
      assert.match(
        bad.err,
        /error 400 StorageAccountNotFound: 'no_such' is not a storage account name/,
      );
      const wrongKey = await cli([
        "storage",
        "list",
        "--endpoint",
        server.url,
        "--operator-key",
        "not-the-operator-key",
      ]);
      assert.equal(wrongKey.code, 1);
      assert.match(wrongKey.err, /error 401/);
      const noArg = await cli(["storage", "show", ...connection]);
      assert.equal(noArg.code, 2);
    } finally {
      await server.close();
    }
  });
});

describe("drivebay serve with the embedded Azurite", () => {
  it("prints the blob endpoint (next free port when busy); Ctrl+C stops Azurite with drivebay", async () => {
    const root = mkdtempSync(join(tmpdir(), "drivebay-storage-serve-"));
    const busy = createServer();
    busy.listen(0, "127.0.0.1");
    await once(busy, "listening");
    const busyPort = (busy.address() as { port: number }).port;
    try {
      const dataDir = join(root, "data");
      const served = await serve(dataDir, ["--blob-port", String(busyPort)]);
      const line =
        /^ {2}blob storage: http:\/\/127\.0\.0\.1:(\d+)\/<account> \(embedded Azurite, on disk in (.+); port (\d+) was busy\)$/m.exec(
          served.banner,
        );
      assert.ok(line, served.banner);
      const blobPort = Number(line[1]);
      assert.ok(blobPort > busyPort, `${blobPort} > ${busyPort}`);
      assert.equal(line[2], join(dataDir, "azurite"));
      assert.equal(Number(line[3]), busyPort);
      assert.ok(
        served.banner.includes(
          `drivebay storage show <account> --output json --endpoint ${served.url} --data-dir ${dataDir}`,
        ),
      );
      const [azuritePid] = processesWith(join(dataDir, "azurite"));
      assert.ok(azuritePid, "one Azurite process for this data directory");

      // The real binary, the operator key read from the data directory.
      const connection = ["--endpoint", served.url, "--data-dir", dataDir];
      const show = await bin(["storage", "show", "fromshell", "-o", "json", ...connection]);
      assert.equal(show.code, 0, show.err);
      const account = JSON.parse(show.out) as { blobEndpoint: string; connectionString: string };
      assert.equal(account.blobEndpoint, `http://127.0.0.1:${blobPort}/fromshell`);
      await roundTrip(
        BlobServiceClient.fromConnectionString(account.connectionString).getContainerClient(
          "shell",
        ),
        "s.bin",
        4096,
      );
      const list = await bin(["storage", "list", ...connection]);
      assert.match(
        list.out,
        /^fromshell +\(any\) +\(any\) +http:\/\/127\.0\.0\.1:\d+\/fromshell$/m,
      );

      // A terminal's Ctrl+C: SIGINT to the whole foreground process group.
      const exited = once(served.child, "exit");
      process.kill(-served.child.pid!, "SIGINT");
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0);
      await waitGone(azuritePid);
      assert.deepEqual(processesWith(join(dataDir, "azurite")), []);
    } finally {
      busy.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("a killed drivebay (SIGKILL) leaves no Azurite process behind", async () => {
    const root = mkdtempSync(join(tmpdir(), "drivebay-storage-kill-"));
    try {
      const dataDir = join(root, "data");
      const served = await serve(dataDir, ["--blob-port", "0"]);
      const [azuritePid] = processesWith(join(dataDir, "azurite"));
      assert.ok(azuritePid);
      served.child.kill("SIGKILL");
      await once(served.child, "exit");
      await waitGone(azuritePid);
    } finally {
      // Should the test fail, do not leave its Azurite running.
      for (const pid of processesWith(join(root, "data", "azurite"))) process.kill(pid, "SIGKILL");
      rmSync(root, { recursive: true, force: true });
    }
  });
});
