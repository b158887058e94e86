/**
 * `drivebay serve --store <url>`: a store URL that cannot be used stops the start with what
 * to fix (exit 2); with a PostgreSQL URL the jobs live in that database, not in the data
 * directory, so they outlive it and every process on the same URL sees them.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { argv, bin, driveSpec, freePort, runCli, startServe, stop } from "./helpers.ts";
import { freshDatabase, postgresSkip } from "../support/postgres.ts";

const SUBSCRIPTION = "5e1f0c2a-0000-4000-8000-00000000570e";

describe("drivebay serve --store", () => {
  test("a URL that is not PostgreSQL's, or a server that does not answer, is exit code 2 with what to fix", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "drivebay-cli-store-"));
    try {
      const mysql = await bin(argv`serve --port 0 --data-dir ${dataDir} --store mysql://db/x`);
      assert.equal(mysql.code, 2);
      assert.match(
        mysql.err,
        /store.url: 'mysql:' is not a store drivebay knows \(only PostgreSQL\)/,
      );

      const port = await freePort();
      const down = await bin(argv`serve --port 0 --data-dir ${dataDir}`, {
        env: { DRIVEBAY_STORE: `postgres://drivebay:pw-not-shown@127.0.0.1:${port}/jobs` },
      });
      assert.equal(down.code, 2, down.err);
      assert.ok(
        down.err.includes(
          `drivebay serve: cannot connect to the PostgreSQL store at postgres://drivebay:***@127.0.0.1:${port}/jobs`,
        ),
        down.err,
      );
      assert.match(down.err, /ECONNREFUSED.*start the server or fix the URL \(--store/);
      assert.doesNotMatch(down.err, /pw-not-shown/);
      assert.equal(existsSync(join(dataDir, "drivebay.sqlite")), false, "no SQLite store instead");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test(
    "with a PostgreSQL URL, jobs live in the database: another process on it sees them, a new data directory too",
    { skip: postgresSkip() },
    async () => {
      const url = await freshDatabase();
      const first = await startServe({ args: argv`--store ${url}` });
      const second = await startServe({ env: { DRIVEBAY_STORE: url } });
      try {
        assert.match(first.stderr(), /store: +PostgreSQL postgres:\/\/postgres@127\.0\.0\.1:\d+\//);
        const at = (s: { url: string }, args: string[]) =>
          runCli([
            ...args,
            "--endpoint",
            s.url,
            "--subscription",
            SUBSCRIPTION,
            "--output",
            "json",
          ]);
        const created = await at(
          first,
          argv`job create -n pg-job -l westus --storage-account acct --drive ${driveSpec("PG1")}`,
        );
        assert.equal(created.code, 0, created.err);
        const updated = await at(second, argv`job update -n pg-job --tags via=second`);
        assert.equal(updated.code, 0, updated.err);
        const shown = JSON.parse((await at(first, argv`job show -n pg-job`)).out) as {
          tags: Record<string, string>;
        };
        assert.deepEqual(shown.tags, { via: "second" });
        assert.equal(existsSync(join(first.dataDir, "drivebay.sqlite")), false);
      } finally {
        assert.equal(await stop(first), 0);
        assert.equal(await stop(second), 0);
      }
      // A fresh data directory on the same store finds the job as it was, and its history.
      const third = await startServe({ args: argv`--store ${url}` });
      try {
        const where = argv`-n pg-job --endpoint ${third.url} --subscription ${SUBSCRIPTION} --output json`;
        const shown = await runCli(["job", "show", ...where]);
        assert.equal(shown.code, 0, shown.err);
        assert.deepEqual((JSON.parse(shown.out) as { tags: unknown }).tags, { via: "second" });
        const history = await runCli(["job", "history", ...where]);
        assert.equal(history.code, 0, history.err);
        assert.deepEqual(
          (JSON.parse(history.out) as { event: string }[]).map((h) => h.event),
          ["create"],
        );
      } finally {
        assert.equal(await stop(third), 0);
      }
    },
  );
});
