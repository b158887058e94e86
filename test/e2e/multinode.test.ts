/**
 * Several nodes with real processes (issue 12, ADR 0013): one PostgreSQL, one Azurite started
 * on its own, two API nodes and two workers. The official SDK creates jobs through both API
 * nodes; a clock advance on one API node is fired once by the two workers' sweeps; drives are
 * imported, the worker copying one is SIGKILLed mid-drive and the other finishes it after the
 * lease; every blob is right, none missing, no `name (2)`; cancel and delete sent at once
 * through the two API nodes obey SPEC §2 (no resurrected job, no lost update).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { StorageImportExport } from "@azure/arm-storageimportexport";
import { BlobServiceClient } from "@azure/storage-blob";
import { PostgresJobStore } from "../../src/store/postgres/postgres-job-store.ts";
import { freePort, startServe, type Served } from "../cli/helpers.ts";
import { freshDatabase, postgresSkip } from "../support/postgres.ts";
import { armClient } from "../support/server.ts";
import { ship } from "../support/shipping.ts";
import { blobHashes, preparedDrive } from "./support/import-drive.ts";
import { tempDir, writeData } from "../transfer/helpers.ts";

const SUB = "00000000-0000-4000-8000-00000000a0de";
const RG = "nodes";
const ACCOUNT = "multinode";
const ACCOUNT_KEY = randomBytes(32).toString("base64");
const OPERATOR_KEY = "multinode-operator-key-0123456789";
const BITLOCKER = "111111-222222-333333-444444-555555-666666-777777-888888";
const AZURITE = new URL("../../node_modules/azurite/dist/src/blob/main.js", import.meta.url)
  .pathname;

async function startAzurite(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      AZURITE,
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(port),
      "--inMemoryPersistence",
      "--skipApiVersionCheck",
      "--disableTelemetry",
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, AZURITE_ACCOUNTS: `${ACCOUNT}:${ACCOUNT_KEY}` },
    },
  );
  let out = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("successfully listens")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`azurite exited with ${code}: ${out}`)));
  });
  return { child, port };
}

/** A prepared drive of `files` small files and one of 6 MiB, and the MD5 of each blob. */
async function drive(root: string, id: string, prefix: string, files: number) {
  const src = join(root, id, "src");
  for (let i = 0; i < files; i++) writeData(src, `d${i % 5}/f${i}.bin`, 8 * 1024 + i);
  writeData(src, "big.bin", 6 * 1024 * 1024);
  const { driveDir, prepared, expected } = await preparedDrive(join(root, id), src, prefix, id);
  return { id, driveDir, entry: prepared.driveListEntry, expected };
}

describe(
  "two API nodes and two workers on one PostgreSQL and one Azurite",
  { skip: postgresSkip() },
  () => {
    let root: string;
    let azurite: { child: ChildProcess; port: number };
    let store: PostgresJobStore;
    const nodes: Served[] = [];
    let api: [Served, Served];
    let workers: Served[];
    let sdk: [StorageImportExport, StorageImportExport];

    const operator = async (node: Served, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${node.url}/operator/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${OPERATOR_KEY}`,
          ...(body ? { "content-type": "application/json" } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      const json = (await res.json()) as Record<string, unknown>;
      assert.ok(res.ok, `${method} ${path}: ${JSON.stringify(json)}`);
      return json;
    };
    const key = (name: string) => ({ subscriptionId: SUB, resourceGroup: RG, name });

    before(async () => {
      root = tempDir("drivebay-multinode-");
      azurite = await startAzurite();
      const url = await freshDatabase();
      const config = join(root, "config.json");
      writeFileSync(
        config,
        JSON.stringify({
          storageAccounts: [
            {
              name: ACCOUNT,
              blobEndpoint: `http://127.0.0.1:${azurite.port}/${ACCOUNT}`,
              accountKey: ACCOUNT_KEY,
            },
          ],
        }),
      );
      const env = {
        DRIVEBAY_STORE: url,
        DRIVEBAY_CONFIG: config,
        DRIVEBAY_BLOB_EMBEDDED: "off",
        DRIVEBAY_OPERATOR_KEY: OPERATOR_KEY,
        DRIVEBAY_AUTOPILOT: "off",
        DRIVEBAY_TICK_INTERVAL: "200ms",
        DRIVEBAY_DRIVE_LEASE: "3s",
        DRIVEBAY_IMPORT_CONCURRENCY: "2",
      };
      // The first node migrates; the others start together.
      const first = await startServe({ args: ["--role", "api"], env });
      const rest = await Promise.all([
        startServe({ args: ["--role", "api"], env }),
        startServe({ args: ["--role", "worker"], env }),
        startServe({ args: ["--role", "worker"], env }),
      ]);
      nodes.push(first, ...rest);
      api = [first, rest[0]!];
      workers = [rest[1]!, rest[2]!];
      sdk = [
        armClient(api[0].url, { subscriptionId: SUB }),
        armClient(api[1].url, { subscriptionId: SUB }),
      ];
      store = await PostgresJobStore.open({ url, poolSize: 2 });
    });

    after(async () => {
      await store?.close();
      // Every node still running stops on SIGTERM (the SIGKILLed worker has a signalCode).
      await Promise.all(
        nodes.map(async (n) => {
          if (n.child.exitCode !== null || n.child.signalCode !== null) return;
          const exited = once(n.child, "exit");
          n.child.kill("SIGTERM");
          await exited;
        }),
      );
      rmSync(root, { recursive: true, force: true });
      for (const n of nodes) rmSync(n.root, { recursive: true, force: true });
      if (azurite && azurite.child.exitCode === null && azurite.child.signalCode === null) {
        const exited = once(azurite.child, "exit");
        azurite.child.kill("SIGKILL");
        await exited;
      }
    });

    test("a clock advance on one API node: the two workers' sweeps fire each job's deadline once", async () => {
      const names = Array.from({ length: 12 }, (_, i) => `timed-${i}`);
      await Promise.all(
        names.map(async (name, i) => {
          const c = sdk[i % 2]!;
          await c.jobs.create(name, RG, {
            location: "westus",
            properties: {
              storageAccountId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${ACCOUNT}`,
              driveList: [
                {
                  driveId: `T${i}`,
                  bitLockerKey: BITLOCKER,
                  manifestFile: "\\m.xml",
                  manifestHash: "0".repeat(32),
                  driveHeaderHash: "",
                },
              ],
            },
          });
          await ship(sdk[(i + 1) % 2]!, RG, name, { trackingNumber: `TN-T${i}` });
        }),
      );
      // Shipping alert after 14 days: each job gets one history entry from a timer.
      await operator(api[1], "POST", "/clock/advance", { by: "15d" });
      const alerts = async () =>
        Promise.all(
          names.map(async (n) => {
            const job = (await store.get(key(n)))!;
            return (await store.history(job.uid))
              .filter((h) => h.actor === "timer")
              .map((h) => h.event);
          }),
        );
      let seen = await alerts();
      while (seen.some((events) => events.length === 0)) {
        await sleep(100);
        seen = await alerts();
      }
      // Several more sweeps of both workers find nothing more to fire.
      await sleep(1000);
      assert.deepEqual(
        await alerts(),
        names.map(() => ["shippingAlert"]),
      );
      for (const c of sdk) {
        const job = await c.jobs.get(names[0]!, RG);
        assert.equal(job.properties?.state, "Shipping");
      }
    });

    test("drives imported by two workers; the one copying a drive is SIGKILLed and the other finishes it: every blob right, none twice", async () => {
      const drives = [
        await drive(root, "WD-NODES-A", "alpha", 500),
        await drive(root, "WD-NODES-B", "beta", 150),
      ];
      const jobs = drives.map((d, i) => ({
        name: `import-${i}`,
        drive: d,
        api: api[i]!,
        sdk: sdk[i]!,
      }));
      for (const j of jobs) {
        await j.sdk.jobs.create(j.name, RG, {
          location: "westus",
          properties: {
            storageAccountId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${ACCOUNT}`,
            driveList: [{ ...j.drive.entry, bitLockerKey: BITLOCKER }],
          },
        });
        await ship(j.sdk, RG, j.name, { trackingNumber: `TN-${j.drive.id}` });
        await operator(j.api, "POST", "/packages/receive", {
          trackingNumber: `TN-${j.drive.id}`,
          driveIds: [j.drive.id],
        });
        // The attach starts the copy: a worker hears it through the store's wake-ups.
        await operator(j.api, "POST", `/jobs/${SUB}/${RG}/${j.name}/drives/${j.drive.id}/attach`, {
          path: j.drive.driveDir,
        });
      }
      const a = (await store.get(key("import-0")))!;
      const total = drives[0]!.expected.size;
      // Wait until the first drive is well under way, then kill the worker holding it.
      let done: number;
      for (;;) {
        done = (await store.importRecords(a.uid, drives[0]!.id)).filter(
          (r) => r.status === "done",
        ).length;
        if (done >= 30) break;
        await sleep(10);
      }
      const [run] = await store.driveRuns(a.uid);
      assert.ok(run?.owner, "the drive is claimed");
      const holder = workers.find((w) => run.owner!.split("/")[1] === String(w.child.pid));
      assert.ok(holder, `a worker of this test holds it (${run.owner})`);
      holder.child.kill("SIGKILL");
      await once(holder.child, "exit");
      const survivor = workers.find((w) => w !== holder)!;
      assert.ok(done < total, `killed mid-drive: ${done} of ${total} blobs done`);

      for (const j of jobs) {
        let job = await sdk[0].jobs.get(j.name, RG);
        while (job.properties?.state === "Transferring" || job.properties?.state === "Received") {
          await sleep(200);
          job = await sdk[1].jobs.get(j.name, RG);
        }
        assert.equal(job.properties?.state, "Packaging", j.name);
        assert.equal(
          job.properties?.driveList?.[0]?.state,
          "Completed",
          job.properties?.driveList?.[0]?.copyStatus,
        );
      }
      const [after] = await store.driveRuns(a.uid);
      assert.ok(after!.finished);
      assert.ok(after!.token > run.token, "claimed again after the kill");
      assert.equal(after!.owner ?? "", "", "released when finished");

      const blobs = BlobServiceClient.fromConnectionString(
        `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:${azurite.port}/${ACCOUNT};`,
      );
      for (const d of drives) {
        const container = [...d.expected.keys()][0]!.split("/")[0]!;
        const found = await blobHashes(blobs.getContainerClient(container));
        assert.deepEqual(
          [...found.keys()].sort(),
          [...d.expected.keys()].sort(),
          `${d.id}: exactly the manifest's blobs, none missing, no 'name (2)'`,
        );
        for (const [name, sum] of d.expected) assert.equal(found.get(name), sum, name);
      }
      assert.equal(survivor.child.exitCode, null, "the other worker is still running");
    });

    test("cancel and delete at once through the two API nodes: no resurrected job, no lost update", async () => {
      const created = Array.from({ length: 6 }, (_, i) => `race-c-${i}`);
      const shipping = Array.from({ length: 6 }, (_, i) => `race-s-${i}`);
      const body = (i: number) => ({
        location: "westus",
        properties: {
          storageAccountId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${ACCOUNT}`,
          driveList: [
            {
              driveId: `R${i}`,
              bitLockerKey: BITLOCKER,
              manifestFile: "\\m.xml",
              manifestHash: "0".repeat(32),
              driveHeaderHash: "",
            },
          ],
        },
      });
      for (const [i, name] of created.entries()) await sdk[i % 2]!.jobs.create(name, RG, body(i));
      for (const [i, name] of shipping.entries()) {
        await sdk[i % 2]!.jobs.create(name, RG, body(100 + i));
        await ship(sdk[i % 2]!, RG, name, { trackingNumber: `TN-RS${i}` });
      }
      const outcome = (p: Promise<unknown>) =>
        p.then(
          () => 200,
          (e: { statusCode?: number; code?: string }) => `${e.statusCode} ${e.code}`,
        );

      // Creating: cancel (→ Completed at once) through one node, delete through the other.
      // Delete is allowed in both Creating and Completed, so it always wins in the end; a
      // cancel that comes after it finds no job.
      const createdResults = await Promise.all(
        created.map((name, i) =>
          Promise.all([
            outcome(sdk[i % 2]!.jobs.update(name, RG, { cancelRequested: true })),
            outcome(sdk[(i + 1) % 2]!.jobs.delete(name, RG)),
          ]),
        ),
      );
      for (const [i, [cancel, del]] of createdResults.entries()) {
        assert.equal(del, 200, `${created[i]}: delete`);
        assert.ok(
          cancel === 200 || cancel === "404 ResourceNotFound",
          `${created[i]}: cancel ${cancel}`,
        );
        for (const c of sdk) await assert.rejects(c.jobs.get(created[i]!, RG), { statusCode: 404 });
      }
      // Shipping: delete is refused there (409), the cancel and a tag change sent at once
      // through the two nodes both land.
      const shippingResults = await Promise.all(
        shipping.map((name, i) =>
          Promise.all([
            outcome(sdk[i % 2]!.jobs.update(name, RG, { cancelRequested: true })),
            outcome(sdk[(i + 1) % 2]!.jobs.delete(name, RG)),
            outcome(
              sdk[(i + 1) % 2]!.jobs.update(name, RG, { tags: { via: `node-${(i + 1) % 2}` } }),
            ),
          ]),
        ),
      );
      for (const [i, [cancel, del, tags]] of shippingResults.entries()) {
        const name = shipping[i]!;
        assert.deepEqual([cancel, del, tags], [200, "409 JobNotDeletable", 200], name);
        for (const c of sdk) {
          const job = await c.jobs.get(name, RG);
          assert.equal(job.properties?.cancelRequested, true, name);
          assert.deepEqual(job.tags, { via: `node-${(i + 1) % 2}` }, name);
        }
        const uid = (await store.get(key(name)))!.uid;
        const events = (await store.history(uid)).map((h) => h.event);
        assert.equal(
          events.filter((e) => e === "cancel").length,
          1,
          `${name}: ${events.join(", ")}`,
        );
      }
    });
  },
);
