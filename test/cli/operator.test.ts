/**
 * `drivebay operator …` and `drivebay clock …` against a real `drivebay serve` (port 0,
 * fresh data directory, autopilot off so only these commands move jobs). Time-based rules
 * are reached with `clock advance`, never by waiting.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import {
  argv,
  bin,
  driveSpec,
  RETURN_ADDRESS,
  RETURN_SHIPPING,
  runCli,
  startServe,
  stop,
  type Result,
  type Served,
} from "./helpers.ts";
import { DATACENTER_VIEWS } from "../../src/domain/job/lifecycle.ts";

const SUBSCRIPTION = "5e1f0c2a-0000-4000-8000-0000000000e1";
// A manual datacenter: no autopilot, and no embedded blob storage (so no import engine starts copies).
const AUTOPILOT_OFF = { DRIVEBAY_AUTOPILOT: "off", DRIVEBAY_BLOB_EMBEDDED: "off" };

interface OperatorJob {
  subscriptionId: string;
  name: string;
  state: string;
  cancelRequested: boolean;
  drives: { driveId: string; state: string; contentPath?: string; bytesSucceeded?: number }[];
  extraDrives: { driveId: string; trackingNumber: string }[];
  allowedActions: string[];
  returnPackage?: Record<string, unknown>;
  faultReason?: string;
  history?: { actor: string; event: string; from: string | null; to: string }[];
}

interface CustomerJob {
  properties: {
    state: string;
    returnPackage?: Record<string, unknown>;
    driveList?: { driveId: string; state: string }[];
  };
}

/** Client commands against one server: customer ones, and operator ones (key from its data dir). */
function clients(server: () => Served) {
  const customer = (args: string[]) =>
    runCli([...args, "--endpoint", server().url, "--subscription", SUBSCRIPTION]);
  const operator = (args: string[]) =>
    runCli([...args, "--endpoint", server().url, "--data-dir", server().dataDir]);
  /** An operator command that addresses a job of SUBSCRIPTION. */
  const operatorJob = (args: string[]) => operator([...args, "--subscription", SUBSCRIPTION]);
  const json = async <T>(r: Promise<Result>): Promise<T> => {
    const done = await r;
    assert.equal(done.code, 0, done.err);
    return JSON.parse(done.out) as T;
  };
  /** A customer import job with these drives, set to Shipping with this tracking number. */
  const shippingJob = async (name: string, trackingNumber: string, driveIds: string[]) => {
    const drives = driveIds.flatMap((id) => ["--drive", driveSpec(id)]);
    const created = await customer([
      ...argv`job create -n ${name} -l westus --storage-account acct`,
      ...drives,
    ]);
    assert.equal(created.code, 0, created.err);
    const shipped = await customer(argv`job update -n ${name} --state Shipping
      --delivery-package carrierName=FedEx,trackingNumber=${trackingNumber},driveCount=${String(driveIds.length)},shipDate=2024-01-15
      --return-address ${RETURN_ADDRESS} --return-shipping ${RETURN_SHIPPING}`);
    assert.equal(shipped.code, 0, shipped.err);
  };
  return { customer, operator, operatorJob, json, shippingJob };
}

const states = (job: OperatorJob) => job.drives.map((d) => [d.driveId, d.state]);

describe("drivebay operator", () => {
  let server: Served;
  let operatorKey: string;
  const { customer, operator, operatorJob, json, shippingJob } = clients(() => server);

  before(async () => {
    // Named .drivebay so that the default --data-dir (./.drivebay) finds it from its parent.
    server = await startServe({ env: AUTOPILOT_OFF, dataDirName: ".drivebay" });
    operatorKey = readFileSync(join(server.dataDir, "operator.key"), "utf8").trim();
  });

  after(async () => {
    assert.equal(await stop(server), 0, server.stderr());
  });

  test("serve prints the operator key and its file, the dock folder and the autopilot", () => {
    const banner = server.stderr();
    const file = join(server.dataDir, "operator.key");
    assert.ok(banner.includes(`operator key: ${operatorKey} (saved in ${file})\n`), banner);
    assert.ok(banner.includes(`dock:         ${join(server.dataDir, "dock")} `), banner);
    assert.match(banner, /^ {2}autopilot: +off /m);
    assert.ok(
      banner.includes(
        `drivebay operator inbound --endpoint ${server.url} --data-dir ${server.dataDir}`,
      ),
      banner,
    );
  });

  test("a package from inbound to shipped back, with an extra and a missing drive", async () => {
    await shippingJob("op-flow", "TRK-OP-FLOW", ["OPDRIVEA1", "OPDRIVEB2"]);

    const inbound = await operator(argv`operator inbound`);
    assert.equal(inbound.code, 0, inbound.err);
    assert.match(inbound.out, /^NAME +RESOURCE GROUP +SUBSCRIPTION +TYPE +STATE +/);
    assert.match(
      inbound.out,
      new RegExp(
        `^op-flow +default +${SUBSCRIPTION} +Import +Shipping +false +2 +FedEx +TRK-OP-FLOW$`,
        "m",
      ),
    );
    const inboundJson = await json<OperatorJob[]>(operator(argv`operator inbound -o json`));
    assert.equal(inboundJson.find((j) => j.name === "op-flow")?.state, "Shipping");

    const unknown = await bin(argv`operator receive --tracking-number TRK-NOBODY --drive OPDRIVEA1
      --endpoint ${server.url} --operator-key ${operatorKey}`);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /^error 404 PackageNotFound: .*'TRK-NOBODY'/);

    const received = await json<OperatorJob>(
      operator(argv`operator receive --tracking-number TRK-OP-FLOW --carrier FedEx
        --drive OPDRIVEA1 --drives EXTRA-9 -o json`),
    );
    assert.equal(received.state, "Received");
    assert.deepEqual(states(received), [
      ["OPDRIVEA1", "Received"],
      ["OPDRIVEB2", "NeverReceived"],
    ]);
    assert.deepEqual(
      received.extraDrives.map((e) => [e.driveId, e.trackingNumber]),
      [["EXTRA-9", "TRK-OP-FLOW"]],
    );
    assert.ok(received.allowedActions.includes("attachDrive"));

    const missing = await bin(argv`operator attach -n op-flow --subscription ${SUBSCRIPTION}
      --drive OPDRIVEA1 --path ${join(server.root, "no-such-dir")}
      --endpoint ${server.url} --data-dir ${server.dataDir}`);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /^error 400 InvalidDrivePath: .*does not exist/);

    // A relative --path is resolved against the current directory before it is sent.
    const driveDir = mkdtempSync(join(tmpdir(), "drivebay-cli-drive-"));
    try {
      const attached = await json<OperatorJob>(
        operatorJob(argv`operator attach -n op-flow --drive OPDRIVEA1
          --path ${relative(process.cwd(), driveDir)} -o json`),
      );
      assert.equal(attached.drives[0]?.contentPath, realpathSync(driveDir));

      const started = await json<OperatorJob>(
        operatorJob(argv`operator transfer-start -n op-flow -o json`),
      );
      assert.equal(started.state, "Transferring");
      assert.deepEqual(states(started)[0], ["OPDRIVEA1", "Transferring"]);

      const completed = await json<OperatorJob>(
        operatorJob(argv`operator complete -n op-flow --drive OPDRIVEA1 --outcome Completed
          --bytes 2048 -o json`),
      );
      assert.equal(completed.state, "Packaging");
      assert.equal(completed.drives[0]?.bytesSucceeded, 2048);
    } finally {
      rmSync(driveDir, { recursive: true, force: true });
    }

    const shown = await operatorJob(argv`operator show -n op-flow`);
    assert.equal(shown.code, 0, shown.err);
    assert.match(shown.out, /^state +Packaging$/m);
    assert.match(shown.out, /^allowedActions +.*ship-back/m);
    assert.match(shown.out, /^OPDRIVEA1 +Completed +Completed +100 +2048 +\//m);
    assert.match(shown.out, /^OPDRIVEB2 +NeverReceived +- /m);
    assert.match(shown.out, /^EXTRA-9 +TRK-OP-FLOW +\d{4}-/m);
    assert.match(
      shown.out,
      /^\S+ +Operator +Package received at the datacenter +Shipping +Received +Package/m,
    );

    const shipped = await operatorJob(argv`operator ship-back -n op-flow --carrier FedEx
      --tracking-number RET-OP-1 --ship-date 2024-02-01`);
    assert.equal(shipped.code, 0, shipped.err);
    // A drive never arrived, so the server ends the job Closed rather than Completed.
    assert.match(shipped.out, /^state +Closed$/m);
    assert.match(shipped.out, /^OPDRIVEA1 +ShippedBack /m);

    const seen = await json<CustomerJob>(customer(argv`job show -n op-flow -o json`));
    assert.equal(seen.properties.state, "Closed");
    assert.deepEqual(seen.properties.returnPackage, {
      carrierName: "FedEx",
      trackingNumber: "RET-OP-1",
      shipDate: "2024-02-01",
      driveCount: 1,
    });

    const again = await bin(argv`operator ship-back -n op-flow --subscription ${SUBSCRIPTION}
      --carrier FedEx --tracking-number RET-OP-2
      --endpoint ${server.url} --data-dir ${server.dataDir}`);
    assert.equal(again.code, 1);
    assert.match(again.err, /^error 409 OperatorActionNotAllowed: /);

    const history = await json<OperatorJob>(operatorJob(argv`operator show -n op-flow -o json`));
    assert.deepEqual(
      history.history?.filter((h) => h.actor === "operator").map((h) => h.event),
      ["receivePackage", "attachDrive", "startTransfer", "completeDrive", "package", "shipBack"],
    );
  });

  test("fault, resolve and package; jobs --view in-progress", async () => {
    await shippingJob("op-fault", "TRK-OP-FAULT", ["OPDRIVEF1"]);
    const received = await json<OperatorJob>(
      operator(argv`operator receive --tracking-number TRK-OP-FAULT --drives OPDRIVEF1 -o json`),
    );
    assert.equal(received.state, "Received");

    const faulted = await json<OperatorJob>(
      operatorJob(argv`operator fault -n op-fault -o json --reason ${"drive arrived damaged"}`),
    );
    assert.equal(faulted.state, "Faulted");
    assert.equal(faulted.faultReason, "drive arrived damaged");
    assert.ok(faulted.allowedActions.includes("resolve"));

    const inProgress = await json<OperatorJob[]>(
      operator(argv`operator jobs --view in-progress -o json`),
    );
    assert.equal(inProgress.find((j) => j.name === "op-fault")?.state, "Faulted");
    const inbound = await json<OperatorJob[]>(operator(argv`operator jobs --view inbound -o json`));
    assert.equal(
      inbound.find((j) => j.name === "op-fault"),
      undefined,
    );

    const resolved = await operatorJob(argv`operator resolve -n op-fault --reason ${"re-seated"}`);
    assert.equal(resolved.code, 0, resolved.err);
    assert.match(resolved.out, /^state +Received$/m);

    const packaged = await json<OperatorJob>(
      operatorJob(argv`operator package -n op-fault -o json`),
    );
    assert.equal(packaged.state, "Packaging");

    const notFound = await operatorJob(argv`operator show -n op-nobody`);
    assert.equal(notFound.code, 1);
    assert.match(notFound.err, /^error 404 /);
  });

  test("operator jobs follows every page", async () => {
    const sub = "5e1f0c2a-0000-4000-8000-0000000000e2";
    const count = 102; // more than one page of 100
    for (let i = 0; i < count; i++) {
      const created = await runCli(argv`job create -n paged-${String(i)} -l westus
        --storage-account acct --drive ${driveSpec("PAGED001")}
        --endpoint ${server.url} --subscription ${sub}`);
      assert.equal(created.code, 0, created.err);
    }
    const all = await json<OperatorJob[]>(operator(argv`operator jobs -o json`));
    const mine = all.filter((j) => j.subscriptionId === sub);
    assert.equal(mine.length, count);
    assert.equal(new Set(mine.map((j) => j.name)).size, count);
  });

  test("the operator key: flag, environment, data dir (default ./.drivebay); wrong or none", async () => {
    const endpoint = ["--endpoint", server.url];
    const empty = mkdtempSync(join(tmpdir(), "drivebay-cli-nokey-"));
    try {
      // No flag, no environment: ./.drivebay/operator.key from the working directory.
      const fromCwd = await bin([...argv`operator jobs`, ...endpoint], {
        cwd: dirname(server.dataDir),
      });
      assert.equal(fromCwd.code, 0, fromCwd.err);
      assert.match(fromCwd.out, /^NAME +RESOURCE GROUP/);

      const fromEnvDir = await bin([...argv`operator jobs`, ...endpoint], {
        cwd: empty,
        env: { DRIVEBAY_DATA_DIR: server.dataDir },
      });
      assert.equal(fromEnvDir.code, 0, fromEnvDir.err);

      // An explicit key needs no data dir.
      const fromFlag = await runCli([
        ...argv`operator jobs --operator-key ${operatorKey} --data-dir ${empty}`,
        ...endpoint,
      ]);
      assert.equal(fromFlag.code, 0, fromFlag.err);
      const fromEnv = await bin([...argv`operator jobs --data-dir ${empty}`, ...endpoint], {
        env: { DRIVEBAY_OPERATOR_KEY: operatorKey },
      });
      assert.equal(fromEnv.code, 0, fromEnv.err);

      const wrong = await bin([
        ...argv`operator jobs --operator-key not-the-operator-key-000`,
        ...endpoint,
      ]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.err, /^error 401 AuthenticationFailed: /);
      assert.match(wrong.err, /^\(operator key from --operator-key\)$/m);
      // The customer's token is not the operator key either.
      const customerToken = await runCli([...argv`operator jobs --operator-key dev`, ...endpoint]);
      assert.equal(customerToken.code, 1);
      assert.match(customerToken.err, /AuthenticationFailed/);

      const none = await bin([...argv`operator jobs`, ...endpoint], { cwd: empty });
      assert.equal(none.code, 2);
      assert.ok(
        none.err.startsWith(
          `no operator key: ${join(realpathSync(empty), ".drivebay", "operator.key")} does not exist.`,
        ),
        none.err,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test("usage errors exit 2", async () => {
    const noDrives = await operator(argv`operator receive --tracking-number TRK-X`);
    assert.equal(noDrives.code, 2);
    assert.match(noDrives.err, /--drive <id> or --drives/);

    const badOutcome = await operatorJob(argv`operator complete -n x --drive D --outcome Done`);
    assert.equal(badOutcome.code, 2);
    assert.match(badOutcome.err, /Allowed choices are Completed, CompletedMoreInfo/);

    const badBytes = await operatorJob(argv`operator complete -n x --drive D --outcome Completed
      --bytes -1`);
    assert.equal(badBytes.code, 2);

    const noName = await operator(argv`operator transfer-start`);
    assert.equal(noName.code, 2);
    assert.match(noName.err, /required option '-n, --name <name>' not specified/);

    const badView = await operator(argv`operator jobs --view sideways`);
    assert.equal(badView.code, 2);
    // The help names each view with the states it shows, as the lifecycle defines them.
    const help = await runCli(argv`operator jobs --help`);
    const viewHelp = help.out.replace(/\s+/g, " ");
    for (const [view, states] of Object.entries(DATACENTER_VIEWS)) {
      const shown = view === "all" ? view : `${view} (${states.join(", ")})`;
      assert.ok(viewHelp.includes(shown), `--view's help shows ${shown}: ${viewHelp}`);
    }

    const badDuration = await operator(argv`clock advance soon`);
    assert.equal(badDuration.code, 2);
    assert.match(badDuration.err, /'soon' is not a duration/);
  });
});

describe("drivebay clock", () => {
  let server: Served;
  const { customer, operator, json, shippingJob } = clients(() => server);

  before(async () => {
    server = await startServe({ env: AUTOPILOT_OFF });
  });

  after(async () => {
    assert.equal(await stop(server), 0, server.stderr());
  });

  test("clock advance 15d fires the shipping alert: the drives become NeverReceived", async () => {
    await shippingJob("op-late", "TRK-OP-LATE", ["LATEDRV1", "LATEDRV2"]);

    const before = await json<{ offsetMs: number; controllable: boolean }>(
      operator(argv`clock show -o json`),
    );
    assert.deepEqual([before.offsetMs, before.controllable], [0, true]);

    const advanced = await operator(argv`clock advance 15d`);
    assert.equal(advanced.code, 0, advanced.err);
    assert.match(advanced.out, /^offset +15d \(1296000000 ms\)$/m);
    assert.match(advanced.out, /^jobs changed +1$/m);
    assert.match(advanced.out, /^jobs purged +0$/m);

    const job = await json<CustomerJob>(customer(argv`job show -n op-late -o json`));
    assert.equal(job.properties.state, "Shipping");
    assert.deepEqual(
      job.properties.driveList?.map((d) => [d.driveId, d.state]),
      [
        ["LATEDRV1", "NeverReceived"],
        ["LATEDRV2", "NeverReceived"],
      ],
    );

    const iso = await json<{ offsetMs: number; now: string }>(
      operator(argv`clock advance PT12H -o json`),
    );
    assert.equal(iso.offsetMs, 15 * 86_400_000 + 12 * 3_600_000);
    const shown = await operator(argv`clock show`);
    assert.match(shown.out, /^offset +15d 12h \(1339200000 ms\)$/m);
    assert.match(shown.out, new RegExp(`^service time +${iso.now.slice(0, 10)}`, "m"));
  });

  test("the service profile refuses clock control and never prints its key", async () => {
    const key = "service-profile-operator-key-0123";
    const service = await startServe({
      args: argv`--profile service`,
      env: { DRIVEBAY_OPERATOR_KEY: key, DRIVEBAY_AUTH_MODE: "development" },
    });
    try {
      const banner = service.stderr();
      assert.match(banner, /^ {2}operator key: configured \(/m);
      assert.ok(!banner.includes(key), banner);
      assert.doesNotMatch(banner, /autopilot:|dock:/);
      assert.equal(existsSync(join(service.dataDir, "operator.key")), false);

      const refused = await bin(argv`clock advance 1d --endpoint ${service.url}`, {
        env: { DRIVEBAY_OPERATOR_KEY: key },
      });
      assert.equal(refused.code, 1);
      assert.match(refused.err, /^error 403 ClockControlDisabled: /);

      const shown = await runCli(argv`clock show --endpoint ${service.url} --operator-key ${key}`);
      assert.equal(shown.code, 0, shown.err);
      assert.match(shown.out, /^controllable +false$/m);
    } finally {
      assert.equal(await stop(service), 0, service.stderr());
    }
  });
});
