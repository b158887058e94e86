/**
 * `drivebay serve --role all|api|worker` (ADR 0013): split roles need a PostgreSQL store and
 * blob storage every node reaches, and refuse to start otherwise with what to configure;
 * an API node and a worker on one store share the work (the worker's timers fire what the
 * API node's clock advance made due; the operator key is the same on both).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { argv, bin, driveSpec, runCli, startServe, stop } from "./helpers.ts";
import { freshDatabase, postgresSkip } from "../support/postgres.ts";

const SUBSCRIPTION = "5e1f0c2a-0000-4000-8000-0000000070e5";

describe("drivebay serve --role", () => {
  test("a split role without PostgreSQL, or with the embedded Azurite, or an unknown role: exit 2 with what to configure", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "drivebay-cli-role-"));
    try {
      const bogus = await bin(argv`serve --port 0 --data-dir ${dataDir} --role leader`);
      assert.equal(bogus.code, 2);
      assert.match(bogus.err, /role: 'leader' is not a role; use 'all'.*'api' or 'worker'/);

      const sqlite = await bin(argv`serve --port 0 --data-dir ${dataDir} --role api`);
      assert.equal(sqlite.code, 2);
      assert.match(sqlite.err, /role: 'api' shares the work .* through a PostgreSQL store/);
      assert.match(sqlite.err, /give --store postgres:\/\/.* or run one process with --role all/);

      // Checked before any connection is tried: no server needs to answer at this URL.
      const store = "postgres://drivebay:secret@127.0.0.1:1/jobs";
      const embedded = await bin(
        argv`serve --port 0 --data-dir ${dataDir} --role worker --store ${store}`,
      );
      assert.equal(embedded.code, 2, embedded.err);
      assert.match(embedded.err, /a 'worker' node cannot use the embedded Azurite/);
      assert.match(embedded.err, /DRIVEBAY_BLOB_EMBEDDED=off/);
      assert.match(embedded.err, /storageAccounts/);
      assert.match(embedded.err, /one Azurite started on its own/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test(
    "an API node and a worker on one store: the API serves, the worker only answers health, and its timers fire the API node's clock advance",
    { skip: postgresSkip() },
    async () => {
      const url = await freshDatabase();
      const env = {
        DRIVEBAY_STORE: url,
        DRIVEBAY_BLOB_EMBEDDED: "off",
        DRIVEBAY_TICK_INTERVAL: "200ms",
      };
      const api = await startServe({ args: argv`--role api`, env });
      const worker = await startServe({ args: argv`--role worker`, env });
      try {
        assert.match(api.stderr(), /role: +api \(ARM API, operator API, portal/);
        const key = /operator key: (\S+) \(kept in the store: the same on every node\)/.exec(
          api.stderr(),
        )?.[1];
        assert.ok(key, api.stderr());
        assert.match(
          worker.stderr(),
          /drivebay worker listening on http:.* \(only \/healthz and \/readyz\)/,
        );

        const health = (await (await fetch(`${worker.url}/healthz`)).json()) as { role: string };
        assert.equal(health.role, "worker");
        const arm = await fetch(
          `${worker.url}/subscriptions/${SUBSCRIPTION}/providers/Microsoft.ImportExport/jobs?api-version=2021-01-01`,
        );
        assert.equal(arm.status, 404, "a worker serves no API");

        const at = (args: string[]) =>
          runCli([
            ...args,
            "--endpoint",
            api.url,
            "--subscription",
            SUBSCRIPTION,
            "--output",
            "json",
          ]);
        const created = await at(
          argv`job create -n role-job -l westus --storage-account acct --drive ${driveSpec("R1")}`,
        );
        assert.equal(created.code, 0, created.err);

        // The API node does not read its dock (the workers read their own): --dock is
        // refused before anything is copied, even though the folder is on this machine.
        const work = mkdtempSync(join(tmpdir(), "drivebay-cli-role-dock-"));
        try {
          writeFileSync(join(work, "a.txt"), "a\n");
          writeFileSync(join(work, "data.csv"), "BasePath,DstBlobPathOrPrefix\na.txt,a.txt\n");
          const docked = await runCli(
            argv`drive prepare --dataset ${join(work, "data.csv")} --dock --drive-id ROLEDOCK
              --endpoint ${api.url} --operator-key ${key}`,
          );
          assert.equal(docked.code, 1, docked.err);
          assert.match(
            docked.err,
            /the server at \S+ does not read its dock \S+: its workers run the autopilot, each with the dock of its own data directory\. .*Nothing was copied\./,
          );
          assert.equal(existsSync(join(api.dataDir, "dock", "ROLEDOCK")), false);
        } finally {
          rmSync(work, { recursive: true, force: true });
        }

        // Creating expires after 14 days: the API node stores the advance, the worker sweeps.
        const advanced = await runCli(
          argv`clock advance 15d --endpoint ${api.url} --operator-key ${key} --output json`,
        );
        assert.equal(advanced.code, 0, advanced.err);
        const reading = JSON.parse(advanced.out) as { offsetMs: number; tick?: unknown };
        assert.equal(reading.offsetMs, 15 * 86_400_000);
        assert.equal(reading.tick, undefined, "the API node runs no sweep itself");
        for (;;) {
          const shown = await at(argv`job show -n role-job`);
          if (shown.code !== 0) {
            assert.match(shown.err, /ResourceNotFound/);
            break;
          }
          await sleep(100);
        }
      } finally {
        assert.equal(await stop(api), 0);
        assert.equal(await stop(worker), 0);
      }
    },
  );
});
