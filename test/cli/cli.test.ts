/**
 * The `drivebay` command line against a real `drivebay serve` (spawned on port 0 with a
 * fresh data directory). Client commands run in-process through `run()` where only the
 * output matters, and as real processes where the exit code of the binary is the point.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { run } from "../../src/cli/index.ts";
import { cliCommand } from "../../src/cli/serve.ts";
import {
  argv,
  bin,
  driveSpec,
  freePort,
  quiet,
  RETURN_ADDRESS,
  RETURN_SHIPPING,
  runCli,
  startServe,
  stop,
  type Result,
  type Served,
} from "./helpers.ts";
import { AUDIENCE, ISSUER, TestIssuer } from "../support/tokens.ts";

const PROJECT = join(import.meta.dirname, "..", "..");
const SUBSCRIPTION = "5e1f0c2a-0000-4000-8000-00000000c11a";
const OPERATOR_ENV = { DRIVEBAY_OPERATOR_KEY: "cli-test-operator-key-0123456789" };

const DELIVERY_PACKAGE = "carrierName=FedEx,trackingNumber=TRK-1,driveCount=1,shipDate=2024-01-15";
const DRIVE = driveSpec("9CA995BB");

describe("drivebay CLI", () => {
  let server: Served;

  /** A client command in-process, against the test server. */
  function cli(args: string[]): Promise<Result> {
    return runCli([...args, "--endpoint", server.url, "--subscription", SUBSCRIPTION]);
  }

  async function cliJson<T>(args: string[]): Promise<T> {
    const r = await cli([...args, "--output", "json"]);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as T;
  }

  before(async () => {
    server = await startServe({ env: OPERATOR_ENV });
  });

  after(async () => {
    assert.equal(await stop(server), 0, server.stderr());
  });

  test("serve prints the endpoint, profile, data dir and an SDK snippet on stderr", () => {
    const banner = server.stderr();
    assert.match(banner, /profile: +emulator/);
    assert.ok(banner.includes(`data dir:     ${server.dataDir}\n`), banner);
    // A configured key is shown in the emulator profile (and never in the service profile).
    assert.ok(
      banner.includes(`operator key: ${OPERATOR_ENV.DRIVEBAY_OPERATOR_KEY} (configured)\n`),
      banner,
    );
    assert.ok(banner.includes(`endpoint: "${server.url}", allowInsecureConnection: true`));
    assert.match(banner, /removePolicy\(\{ name: "bearerTokenAuthenticationPolicy" \}\)/);
    assert.ok(banner.includes(`Portal: ${server.url}/portal/ (open it in a browser)\n`), banner);
    // The hint runs as printed: from the project folder, without anything installed globally.
    const command = cliCommand();
    const hint = `  ${command.name} job list --endpoint ${server.url}\n`;
    assert.ok(banner.includes(hint), banner);
  });

  test("the printed job list hint works as printed, from the project folder", async () => {
    const line = new RegExp(`^  (\\S.* job list --endpoint ${server.url})$`, "m").exec(
      server.stderr(),
    );
    assert.ok(line, server.stderr());
    const r = spawnSync(line[1]!, {
      shell: true,
      cwd: PROJECT,
      encoding: "utf8",
      env: { ...process.env, npm_config_yes: "false" },
    });
    assert.equal(r.status, 0, r.stderr);
    // The default subscription of the hint has no jobs here; the answer came from the server.
    assert.equal(r.stdout, "no jobs\n");
  });

  test("cliCommand: 'drivebay' only when that name on the PATH is this program", () => {
    const dir = mkdtempSync(join(tmpdir(), "drivebay-path-"));
    try {
      assert.equal(cliCommand("").name, "npx drivebay");
      assert.match(cliCommand("").note, /npm link/);
      writeFileSync(join(dir, "drivebay"), "#!/bin/sh\n");
      assert.equal(cliCommand(dir).name, "npx drivebay", "another program of that name");
      rmSync(join(dir, "drivebay"));
      symlinkSync(join(PROJECT, "bin", "drivebay.js"), join(dir, "drivebay"));
      assert.deepEqual(cliCommand(`/nonexistent${delimiter}${dir}`), {
        name: "drivebay",
        note: "",
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a job from create to cancel, with its history", async () => {
    const created = await cli(argv`job create -n cli-import -l westus --storage-account mystorage
      --drive ${DRIVE} --tags env=dev team=data`);
    assert.equal(created.code, 0, created.err);
    assert.match(created.out, /^state +Creating$/m);

    type Job = {
      name: string;
      tags: Record<string, string>;
      properties: Record<string, unknown> & {
        driveList?: { driveId: string; bitLockerKey?: string }[];
        returnAddress?: { streetAddress1: string };
        deliveryPackage?: { driveCount: number };
      };
    };
    const shown = await cliJson<Job>(argv`job show -n cli-import`);
    assert.equal(shown.name, "cli-import");
    assert.equal(shown.properties.state, "Creating");
    assert.equal(shown.properties.jobType, "Import");
    assert.equal(
      shown.properties.storageAccountId,
      `/subscriptions/${SUBSCRIPTION}/resourceGroups/default/providers/Microsoft.Storage/storageAccounts/mystorage`,
    );
    assert.deepEqual(shown.tags, { env: "dev", team: "data" });
    assert.equal(shown.properties.driveList?.[0]?.driveId, "9CA995BB");
    assert.equal(shown.properties.driveList?.[0]?.bitLockerKey, undefined);

    const listed = await cli(argv`job list`);
    assert.equal(listed.code, 0, listed.err);
    // No column that the list operations leave empty (they return no driveList).
    assert.match(listed.out, /^NAME +RESOURCE GROUP +TYPE +STATE +CANCEL REQUESTED +LOCATION\n/);
    assert.match(listed.out, /^cli-import +default +Import +Creating +false +westus$/m);

    // The CLI matches the state's case itself.
    const shipped = await cliJson<Job>(argv`job update -n cli-import --state shipping
      --delivery-package ${DELIVERY_PACKAGE} --return-address ${RETURN_ADDRESS}
      --return-shipping ${RETURN_SHIPPING}`);
    assert.equal(shipped.properties.state, "Shipping");
    assert.equal(shipped.properties.returnAddress?.streetAddress1, "1 Main St, Apt 2");
    assert.equal(shipped.properties.deliveryPackage?.driveCount, 1);

    const keys = await cli(argv`job keys -n cli-import`);
    assert.equal(keys.code, 0, keys.err);
    assert.match(keys.out, /^9CA995BB +238810-662376-448998-450120-652806-203390-606320-483076$/m);

    const cancelled = await cli(argv`job cancel -n cli-import`);
    assert.equal(cancelled.code, 0, cancelled.err);
    assert.equal(cancelled.out, "job cli-import: state Shipping, cancelRequested true\n");
    assert.match(cancelled.err, /best effort/);

    type Entry = { actor: string; event: string; from: string; to: string };
    const history = await cliJson<Entry[]>(argv`job history -n cli-import`);
    assert.deepEqual(
      history.map((h) => [h.actor, h.event, h.from, h.to]),
      [
        ["customer", "create", null, "Creating"],
        ["customer", "markShipping", "Creating", "Shipping"],
        ["customer", "cancel", "Shipping", "Shipping"],
      ],
    );
    const table = await cli(argv`job history -n cli-import`);
    // For a person, who and what in words; the JSON above keeps the recorded names.
    assert.match(table.out, /^\S+ +You +Drives shipped to the datacenter +Creating +Shipping +/m);
    assert.doesNotMatch(table.out, /markShipping/);

    // A shipped job cannot be deleted (the server's lifecycle rule, reported as an API error).
    const refused = await cli(argv`job delete -n cli-import`);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /^error 409 JobNotDeletable: /);
  });

  test("job cancel in Creating says the job ended Completed at once, and nothing about shipped drives", async () => {
    const created = await cli(argv`job create -n cli-cancel-early -l westus --storage-account acct
      --drive ${DRIVE}`);
    assert.equal(created.code, 0, created.err);
    const cancelled = await cli(argv`job cancel -n cli-cancel-early`);
    assert.equal(cancelled.code, 0, cancelled.err);
    assert.equal(cancelled.out, "job cli-cancel-early: state Completed, cancelRequested true\n");
    assert.equal(
      cancelled.err,
      "No drive had been shipped, so the job ended 'Completed' at once. There is nothing to return.\n",
    );
    assert.doesNotMatch(cancelled.err, /best effort|shipped back/);
  });

  test("delete, then show answers 404 with exit code 1", async () => {
    const created = await cli(argv`job create -n cli-gone -l westus --storage-account acct
      --drive ${DRIVE}`);
    assert.equal(created.code, 0, created.err);
    type Job = { properties: { state: string } };
    const cancelled = await cliJson<Job>(argv`job cancel -n cli-gone`);
    assert.equal(cancelled.properties.state, "Completed");

    const deleted = await cli(argv`job delete -n cli-gone`);
    assert.deepEqual([deleted.code, deleted.out, deleted.err], [0, "deleted\n", ""]);

    const shown = await bin(argv`job show -n cli-gone --endpoint ${server.url}
      --subscription ${SUBSCRIPTION}`);
    assert.equal(shown.code, 1);
    assert.match(shown.err, /^error 404 ResourceNotFound: /);
    assert.equal(shown.out, "");

    // Deleting what does not exist is ARM's 204: not an error.
    const again = await cli(argv`job delete -n cli-gone`);
    assert.equal(again.code, 0, again.err);
    assert.match(again.err, /does not exist; nothing to delete/);
  });

  test("export jobs from flags and from a --body file in the wire shape", async () => {
    type Job = { tags: object; properties: { jobType: string; export: unknown; logLevel: string } };
    const fromFlags = await cliJson<Job>(argv`job create -n cli-export -l westus
      --storage-account acct --export-prefix /photos/
      --export-blob-path /docs/a.txt --export-blob-path /docs/b.txt`);
    assert.equal(fromFlags.properties.jobType, "Export");
    assert.deepEqual(fromFlags.properties.export, {
      blobPath: ["/docs/a.txt", "/docs/b.txt"],
      blobPathPrefix: ["/photos/"],
    });

    const dir = mkdtempSync(join(tmpdir(), "drivebay-cli-body-"));
    const file = join(dir, "job.json");
    writeFileSync(
      file,
      JSON.stringify({
        location: "westus",
        tags: { from: "body" },
        properties: {
          storageAccountId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/default/providers/Microsoft.Storage/storageAccounts/acct`,
          jobType: "Export",
          export: { blobList: { blobPathPrefix: ["/videos/"] } },
        },
      }),
    );
    try {
      const fromBody = await cliJson<Job>(
        argv`job create -n cli-body --body ${file} --log-level Verbose`,
      );
      assert.deepEqual(fromBody.tags, { from: "body" });
      assert.deepEqual(fromBody.properties.export, { blobPathPrefix: ["/videos/"] });
      assert.equal(fromBody.properties.logLevel, "Verbose");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("list follows every page, honours --top and filters by state and type", async () => {
    const sub = "5e1f0c2a-0000-4000-8000-0000000000aa";
    const where = argv`--endpoint ${server.url} --subscription ${sub}`;
    const count = 103; // more than one page of 100
    for (let i = 0; i < count; i++) {
      const create = argv`job create -n paged-${String(i)} -l westus --storage-account acct
        -g rg-${String(i % 2)} --drive ${DRIVE}`;
      assert.equal(await run([...create, ...where], quiet), 0);
    }
    const list = async (args: string[]) => {
      let out = "";
      const code = await run([...argv`job list --all-resource-groups -o json`, ...args, ...where], {
        io: { out: (t) => void (out += t), err: () => {} },
      });
      assert.equal(code, 0);
      return (JSON.parse(out) as { name: string }[]).map((j) => j.name);
    };
    const all = await list([]);
    assert.equal(all.length, count);
    assert.equal(new Set(all).size, count);
    assert.equal((await list(argv`--top 101`)).length, 101);
    assert.equal((await list(argv`--top 2`)).length, 2);
    assert.equal((await list(argv`--type Import --state Creating`)).length, count);
    assert.deepEqual(await list(argv`--type Export`), []);

    let out = "";
    const code = await run([...argv`job list -g rg-1`, ...where], {
      io: { out: (t) => void (out += t), err: () => {} },
    });
    assert.equal(code, 0);
    assert.equal(out.trim().split("\n").length, 1 + Math.floor(count / 2));
  });

  test("usage errors exit 2, API errors and an unreachable server exit 1", async () => {
    const noName = await bin(argv`job show --endpoint ${server.url}`);
    assert.equal(noName.code, 2);
    assert.match(noName.err, /required option '-n, --name <name>' not specified/);

    const badDrive = await bin(argv`job create -n cli-x --drive color=red`);
    assert.equal(badDrive.code, 2);
    assert.match(badDrive.err, /unknown key 'color'; use driveId, /);

    const nothing = await bin(argv`job update -n cli-x --endpoint ${server.url}`);
    assert.equal(nothing.code, 2);
    assert.match(nothing.err, /nothing to update/);

    assert.equal((await bin(argv`no-such-command`)).code, 2);

    const typo = await runCli(argv`job update -n cli-x --state shiped --endpoint ${server.url}`);
    assert.equal(typo.code, 2);
    assert.match(typo.err, /'shiped' is not a job state; did you mean 'Shipping'\?/);

    const badRequest = await bin(argv`job create -n cli-x -l atlantis --storage-account acct
      --drive ${DRIVE} --endpoint ${server.url}`);
    assert.equal(badRequest.code, 1);
    assert.match(badRequest.err, /^error 400 LocationNotAvailableForResourceType: /);

    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const down = await bin(argv`job list --endpoint ${endpoint}`);
    assert.equal(down.code, 1);
    assert.equal(
      down.err,
      `cannot reach drivebay at ${endpoint}: is \`drivebay serve\` running?\n`,
    );

    const help = await bin(argv`job --help`);
    assert.equal(help.code, 0);
    assert.match(help.out, /history/);
  });

  test("a second serve on a data directory in use fails with exit code 2 before Azurite starts", async () => {
    const first = await startServe({ env: { DRIVEBAY_BLOB_IN_MEMORY: "true" } });
    try {
      // The in-memory Azurite only made its folder; a second Azurite would make it again.
      const azuriteDir = join(first.dataDir, "azurite");
      assert.ok(existsSync(azuriteDir));
      rmSync(azuriteDir, { recursive: true });
      const second = await bin(argv`serve --port 0 --data-dir ${first.dataDir}`, {
        env: { DRIVEBAY_BLOB_PORT: "0" },
      });
      assert.equal(second.code, 2, second.err);
      assert.match(
        second.err,
        /is in use by another drivebay process; stop it, or give this one another data directory/,
      );
      assert.equal(existsSync(azuriteDir), false, "Azurite was not started");
    } finally {
      assert.equal(await stop(first), 0, first.stderr());
    }
  });

  test("serve refuses a bad profile, a port in use and an unusable data directory with exit code 2", async () => {
    const profile = await bin(argv`serve --profile production --port 0`);
    assert.equal(profile.code, 2);
    assert.match(
      profile.err,
      /profile: 'production' is not a profile; use 'emulator' or 'service'/,
    );

    // A busy port is found before anything is created: the new data directory is not made.
    const port = new URL(server.url).port;
    const parentDir = mkdtempSync(join(tmpdir(), "drivebay-cli-busy-"));
    const dataDir = join(parentDir, "data");
    const busy = await bin(argv`serve --port ${port} --data-dir ${dataDir}`);
    const created = existsSync(dataDir);
    rmSync(parentDir, { recursive: true, force: true });
    assert.equal(busy.code, 2);
    assert.ok(
      busy.err.includes(`port ${port} is in use; pick another with --port or DRIVEBAY_PORT`),
      busy.err,
    );
    assert.equal(created, false, "nothing created for a serve that cannot listen");

    // A data directory that cannot be made (here: under a file) is named, not blamed on the port.
    const parent = mkdtempSync(join(tmpdir(), "drivebay-cli-file-"));
    writeFileSync(join(parent, "file"), "");
    const under = join(parent, "file", "data");
    const unusable = await bin(argv`serve --port 0 --data-dir ${under}`);
    rmSync(parent, { recursive: true, force: true });
    assert.equal(unusable.code, 2);
    assert.ok(
      unusable.err.includes(
        `cannot use the data directory ${under}: mkdir ${under} failed (ENOTDIR)`,
      ),
      unusable.err,
    );
    assert.doesNotMatch(unusable.err, /listen|port/);
  });

  test("the service profile verifies tokens; SIGTERM stops serve gracefully with exit code 0", async () => {
    const issuer = new TestIssuer();
    const noAuthDir = mkdtempSync(join(tmpdir(), "drivebay-cli-noauth-"));
    const none = await bin(argv`serve --profile service --port 0 --data-dir ${noAuthDir}`, {
      env: OPERATOR_ENV,
    });
    rmSync(noAuthDir, { recursive: true, force: true });
    assert.equal(none.code, 2);
    assert.match(none.err, /token auth \(the service profile's default\) needs auth.issuer/);
    const other = await startServe({
      args: argv`--profile service`,
      env: {
        ...OPERATOR_ENV,
        DRIVEBAY_AUTH_ISSUER: ISSUER,
        DRIVEBAY_AUTH_AUDIENCE: AUDIENCE,
        DRIVEBAY_AUTH_JWKS_FILE: issuer.jwksFile,
        DRIVEBAY_AUTH_SUBSCRIPTIONS_CLAIM: "subscriptions",
      },
    });
    assert.match(other.stderr(), /profile: +service/);
    assert.match(other.stderr(), /auth: +token \(issuer /);
    const dev = await bin(argv`job list --endpoint ${other.url} --subscription ${SUBSCRIPTION}`);
    assert.equal(dev.code, 1);
    assert.match(
      dev.err,
      /error 401 AuthenticationFailed: The access token is not accepted: the bearer token is not a JWT/,
    );
    const token = issuer.token({ upn: "ci@example.test", subscriptions: [SUBSCRIPTION] });
    const r = await bin(
      argv`job list --endpoint ${other.url} --subscription ${SUBSCRIPTION} --token ${token}`,
    );
    assert.equal(r.code, 0, r.err);
    const elsewhere = await bin(argv`job list --endpoint ${other.url} --token ${token}`);
    assert.equal(elsewhere.code, 1);
    assert.match(
      elsewhere.err,
      /error 403 AuthorizationFailed: The client 'ci@example.test' does not have authorization/,
    );
    assert.equal(await stop(other), 0);
    assert.match(other.stderr(), /received SIGTERM; shutting down/);
    assert.match(other.stderr(), /drivebay stopped/);
  });
});
