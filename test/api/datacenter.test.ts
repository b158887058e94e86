/**
 * The datacenter side through the operator API, with the customer's view through the
 * official SDK: the cancel and delete matrices in every state, the timers through clock
 * control, the autopilot end to end, and bad input on the operator surface.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobResponse } from "@azure/arm-storageimportexport";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { ship } from "../support/shipping.ts";
import { assertConformant } from "../support/conformance.ts";
import { importJob, rejectsWith, shippable } from "./fixtures.ts";

const RG = "dc";
const jobPath = (name: string) => `/jobs/${SUBSCRIPTION}/${RG}/${name}`;
const mountDir = mkdtempSync(join(tmpdir(), "drivebay-mount-"));
const DRIVES = ["WD-WCC4N1234567", "WD-WCC4N7654321"];

/** Moves a new job to `state` through the customer API and the operator API. */
async function jobIn(server: TestServer, name: string, state: string): Promise<void> {
  const c = server.client();
  await c.jobs.create(name, RG, importJob({}, "westus"));
  if (state === "Creating") return;
  await ship(c, RG, name, { trackingNumber: `TN-${name}` });
  if (state === "Shipping") return;
  const ok = async (method: string, path: string, body?: unknown) => {
    const r = await server.operator(method, path, body);
    assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const onlyFirst = state === "Closed";
  await ok("POST", "/packages/receive", {
    trackingNumber: `TN-${name}`,
    driveIds: onlyFirst ? [DRIVES[0]] : DRIVES,
  });
  if (state === "Received") return;
  if (state === "Faulted")
    return void (await ok("POST", `${jobPath(name)}/fault`, { reason: "box damaged" }));
  const attach = state === "Transferring" || state === "Closed" ? [DRIVES[0]!] : DRIVES;
  for (const d of attach)
    await ok("POST", `${jobPath(name)}/drives/${d}/attach`, { path: mountDir });
  await ok("POST", `${jobPath(name)}/transfer/start`);
  if (state === "Transferring") return;
  for (const d of attach)
    await ok("POST", `${jobPath(name)}/drives/${d}/complete`, { outcome: "Completed" });
  if (state === "Packaging") return;
  await ok("POST", `${jobPath(name)}/ship-back`, {
    carrierName: "FedEx",
    trackingNumber: `RT-${name}`,
    shipDate: "2026-12-01",
  });
}

const STATES = [
  "Creating",
  "Shipping",
  "Received",
  "Transferring",
  "Packaging",
  "Completed",
  "Closed",
  "Faulted",
];

describe("the datacenter side", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
    rmSync(mountDir, { recursive: true, force: true });
  });

  test("every state is reached and reported the same to the customer and the operator", async () => {
    for (const state of STATES) {
      const name = `reach-${state.toLowerCase()}`;
      await jobIn(server, name, state);
      const job = await server.client().jobs.get(name, RG);
      assert.equal(job.properties?.state, state);
      const op = await server.operator("GET", jobPath(name));
      assert.equal(op.body.state, state);
    }
  });

  // SPEC §2.3: accepted before Packaging; the state it ends in after the datacenter is done.
  const CANCEL: Record<string, { accepted: boolean; endsIn?: string }> = {
    Creating: { accepted: true, endsIn: "Completed" },
    Shipping: { accepted: true, endsIn: "Completed" },
    Received: { accepted: true, endsIn: "Completed" },
    Transferring: { accepted: true, endsIn: "Completed" },
    Packaging: { accepted: false },
    Completed: { accepted: false },
    Closed: { accepted: false },
    Faulted: { accepted: false },
  };

  test("the cancel matrix: accepted or 409 JobNotCancellable, and the state a cancelled job ends in", async () => {
    const c = server.client();
    for (const state of STATES) {
      const name = `cancel-${state.toLowerCase()}`;
      await jobIn(server, name, state);
      const expect = CANCEL[state]!;
      if (!expect.accepted) {
        const before = await c.jobs.get(name, RG);
        const err = await rejectsWith(
          c.jobs.update(name, RG, { cancelRequested: true }),
          409,
          "JobNotCancellable",
        );
        assert.match(err.message, new RegExp(`'${state}'`));
        assert.deepEqual(await c.jobs.get(name, RG), before, "a refused cancel changes nothing");
        continue;
      }
      const cancelled = await c.jobs.update(name, RG, { cancelRequested: true });
      assert.equal(cancelled.properties?.cancelRequested, true);
      assert.equal(cancelled.properties?.state, state === "Creating" ? "Completed" : state);
      // The datacenter honours it: no copy starts, drives are packaged and shipped back.
      if (state === "Shipping") {
        await server.operator("POST", "/packages/receive", {
          trackingNumber: `TN-${name}`,
          driveIds: DRIVES,
        });
      }
      if (state === "Received" || state === "Shipping") {
        await server.operator("POST", `${jobPath(name)}/drives/${DRIVES[0]}/attach`, {
          path: mountDir,
        });
        const start = await server.operator("POST", `${jobPath(name)}/transfer/start`);
        assert.equal(start.status, 409);
        assert.equal(start.body.error.code, "JobCancelled");
        assert.equal((await server.operator("POST", `${jobPath(name)}/package`)).status, 200);
      }
      if (state === "Transferring") {
        const done = await server.operator(
          "POST",
          `${jobPath(name)}/drives/${DRIVES[0]}/complete`,
          { outcome: "Completed" },
        );
        assert.equal(done.body.state, "Packaging", "the drive that had not started is skipped");
      }
      if (state !== "Creating") {
        const shipped = await server.operator("POST", `${jobPath(name)}/ship-back`, {
          carrierName: "FedEx",
          trackingNumber: `RT-${name}`,
        });
        assert.equal(shipped.status, 200, JSON.stringify(shipped.body));
      }
      const end = await c.jobs.get(name, RG);
      assert.equal(end.properties?.state, expect.endsIn);
      assert.equal(end.properties?.cancelRequested, true);
      if (state !== "Creating")
        assert.equal(end.properties?.returnPackage?.trackingNumber, `RT-${name}`);
    }
  });

  test("the delete matrix: 200 in Creating, Completed, Closed; 409 JobNotDeletable elsewhere", async () => {
    const c = server.client();
    for (const state of STATES) {
      const name = `delete-${state.toLowerCase()}`;
      await jobIn(server, name, state);
      if (["Creating", "Completed", "Closed"].includes(state)) {
        await c.jobs.delete(name, RG);
        await rejectsWith(c.jobs.get(name, RG), 404, "ResourceNotFound");
        assert.equal((await server.operator("GET", jobPath(name))).status, 404);
      } else {
        const err = await rejectsWith(c.jobs.delete(name, RG), 409, "JobNotDeletable");
        assert.match(err.message, new RegExp(`'${state}'`));
        assert.equal((await c.jobs.get(name, RG)).properties?.state, state);
      }
    }
  });

  test("receive: missing drives NeverReceived, strangers recorded, a late drive turns up; history names the operator", async () => {
    const c = server.client();
    await jobIn(server, "late-drive", "Shipping");
    const r = await server.operator("POST", "/packages/receive", {
      carrierName: "fedex",
      trackingNumber: "tn-late-drive",
      driveIds: [DRIVES[0], "STRANGER-1"],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(
      r.body.drives.map((d: { state: string }) => d.state),
      ["Received", "NeverReceived"],
    );
    assert.deepEqual(
      r.body.extraDrives.map((d: { driveId: string }) => d.driveId),
      ["STRANGER-1"],
    );
    let job = await c.jobs.get("late-drive", RG);
    assert.equal(job.properties?.state, "Received");
    assert.ok(
      !JSON.stringify(job).includes("STRANGER-1"),
      "extra drives are the operator's business",
    );
    const again = await server.operator("POST", "/packages/receive", {
      trackingNumber: "TN-late-drive",
      driveIds: [DRIVES[0]],
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "PackageAlreadyReceived");
    const late = await server.operator("POST", "/packages/receive", {
      trackingNumber: "TN-late-drive",
      driveIds: [DRIVES[1]],
    });
    assert.equal(late.status, 200);
    job = await c.jobs.get("late-drive", RG);
    assert.deepEqual(
      job.properties?.driveList?.map((d) => d.state),
      ["Received", "Received"],
    );
    const shown = await server.operator("GET", jobPath("late-drive"));
    assert.deepEqual(
      shown.body.history.map((h: { actor: string; event: string }) => [h.actor, h.event]),
      [
        ["customer", "create"],
        ["customer", "markShipping"],
        ["operator", "receivePackage"],
        ["operator", "receivePackage"],
      ],
    );
  });

  test("bad input on the operator surface is a clear 4xx and changes nothing", async () => {
    await jobIn(server, "bad-ops", "Received");
    await jobIn(server, "other-job", "Shipping");
    await server.client().jobs.create(
      "owner-job",
      RG,
      importJob({
        driveList: [{ driveId: "OWNED-ELSEWHERE", bitLockerKey: "k", manifestFile: "\\m.xml" }],
      }),
    );
    const before = await server.operator("GET", jobPath("bad-ops"));
    const file = join(mountDir, "a-file.txt");
    writeFileSync(file, "not a directory");
    const cases: [string, string, unknown, number, string][] = [
      [
        "POST",
        "/packages/receive",
        { trackingNumber: "NO-SUCH-TN", driveIds: [DRIVES[0]] },
        404,
        "PackageNotFound",
      ],
      [
        "POST",
        "/packages/receive",
        { trackingNumber: "TN-other-job", driveIds: [DRIVES[0], "OWNED-ELSEWHERE"] },
        409,
        "DriveBelongsToAnotherJob",
      ],
      [
        "POST",
        "/packages/receive",
        { trackingNumber: "TN-other-job", carrierName: "DHL", driveIds: [DRIVES[0]] },
        404,
        "PackageNotFound",
      ],
      ["POST", "/packages/receive", { trackingNumber: 42 }, 400, "InvalidRequestContent"],
      [
        "POST",
        `${jobPath("bad-ops")}/drives/${DRIVES[0]}/attach`,
        { path: "/definitely/not/here" },
        400,
        "InvalidDrivePath",
      ],
      [
        "POST",
        `${jobPath("bad-ops")}/drives/${DRIVES[0]}/attach`,
        { path: file },
        400,
        "InvalidDrivePath",
      ],
      [
        "POST",
        `${jobPath("bad-ops")}/drives/${DRIVES[0]}/attach`,
        { path: "relative/dir" },
        400,
        "InvalidDrivePath",
      ],
      [
        "POST",
        `${jobPath("bad-ops")}/drives/NOT-A-DRIVE/attach`,
        { path: mountDir },
        404,
        "DriveNotFound",
      ],
      ["POST", `${jobPath("bad-ops")}/transfer/start`, undefined, 409, "DriveNotAttached"],
      [
        "POST",
        `${jobPath("bad-ops")}/ship-back`,
        { carrierName: "FedEx", trackingNumber: "X" },
        409,
        "OperatorActionNotAllowed",
      ],
      [
        "POST",
        `${jobPath("bad-ops")}/resolve`,
        { reason: "nothing to resolve" },
        409,
        "OperatorActionNotAllowed",
      ],
      ["POST", `${jobPath("bad-ops")}/fault`, {}, 400, "MissingRequiredProperty"],
      ["POST", `${jobPath("no-such-job")}/package`, undefined, 404, "ResourceNotFound"],
      ["GET", "/jobs?view=sideways", undefined, 400, "InvalidQueryParameterValue"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await server.operator(method, path, body);
      assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, code, `${method} ${path}`);
      assert.ok(r.body.error.message.length > 10);
    }
    const after = await server.operator("GET", jobPath("bad-ops"));
    assert.deepEqual(after.body, before.body, "nothing changed");
    assert.equal((await server.client().jobs.get("other-job", RG)).properties?.state, "Shipping");

    // Ship back twice: the second is refused and the first return package stays.
    await jobIn(server, "twice", "Completed");
    const second = await server.operator("POST", `${jobPath("twice")}/ship-back`, {
      carrierName: "DHL",
      trackingNumber: "RT-2",
    });
    assert.equal(second.status, 409);
    assert.equal(second.body.error.code, "OperatorActionNotAllowed");
    assert.equal(
      (await server.client().jobs.get("twice", RG)).properties?.returnPackage?.trackingNumber,
      "RT-twice",
    );
  });

  test("credentials: the operator key only on /operator/v1/, customer tokens only on the ARM API", async () => {
    assert.equal((await server.operator("GET", "/jobs", undefined, null)).status, 401);
    const wrong = await server.operator("GET", "/jobs", undefined, "dummy");
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.code, "AuthenticationFailed");
    const res = await fetch(
      `${server.url}/subscriptions/${SUBSCRIPTION}/providers/Microsoft.ImportExport/jobs?api-version=2021-01-01`,
      {
        headers: { authorization: `Bearer ${server.operatorKey}` },
      },
    );
    assert.equal(res.status, 403);
    assert.equal(
      ((await res.json()) as { error: { code: string } }).error.code,
      "OperatorCredentialsNotAccepted",
    );
  });

  test("inbound and in-progress views", async () => {
    const inbound = await server.operator("GET", "/jobs?view=inbound&top=1000");
    assert.ok(inbound.body.value.length > 0);
    assert.ok(inbound.body.value.every((j: { state: string }) => j.state === "Shipping"));
    const busy = await server.operator("GET", "/jobs?view=in-progress&top=2");
    assert.equal(busy.body.value.length, 2);
    assert.ok(busy.body.nextAfter > 0);
    const next = await server.operator(
      "GET",
      `/jobs?view=in-progress&top=1000&after=${busy.body.nextAfter}`,
    );
    const names = [...busy.body.value, ...next.body.value].map((j: { name: string }) => j.name);
    assert.equal(new Set(names).size, names.length, "pages do not repeat jobs");
    assert.ok(names.every((n: string) => !n.startsWith("reach-creating")));
  });

  test("customer responses stay conformant while the datacenter works", async (t) => {
    await assertConformant(t, server.exchanges);
  });
});

describe("clock control and timers", () => {
  test("14 d expiry reset by updates, 14 d alert, +30 d close, 90 d retention — then gone everywhere", async () => {
    const server = await startTestServer();
    try {
      const c = server.client();
      const advance = async (by: string) => {
        const r = await server.operator("POST", "/clock/advance", { by });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return r.body;
      };
      await c.jobs.create("idle", RG, importJob());
      await c.jobs.create("touched", RG, importJob());
      await c.jobs.create("shipped", RG, importJob());
      await c.jobs.update("shipped", RG, { ...shippable, state: "Shipping" });
      await advance("13d");
      await c.jobs.update("touched", RG, { tags: { still: "here" } });
      const day14 = await advance("P1DT1H");
      assert.ok(day14.tick.purged >= 1);
      await rejectsWith(c.jobs.get("idle", RG), 404, "ResourceNotFound");
      assert.equal((await c.jobs.get("touched", RG)).properties?.state, "Creating");
      const alerted = await c.jobs.get("shipped", RG);
      assert.deepEqual(
        alerted.properties?.driveList?.map((d) => d.state),
        ["NeverReceived", "NeverReceived"],
      );
      await advance("30d");
      await rejectsWith(c.jobs.get("touched", RG), 404, "ResourceNotFound");
      const closed: JobResponse = await c.jobs.get("shipped", RG);
      assert.equal(closed.properties?.state, "Closed");
      await advance("89d");
      assert.equal((await c.jobs.get("shipped", RG)).properties?.state, "Closed");
      await advance("1d");
      await rejectsWith(c.jobs.get("shipped", RG), 404, "ResourceNotFound");
      await rejectsWith(c.bitLockerKeys.list("shipped", RG).next(), 404, "ResourceNotFound");
      const names = [];
      for await (const j of c.jobs.listBySubscription()) names.push(j.name);
      assert.deepEqual(names, []);
      assert.equal((await server.operator("GET", jobPath("shipped"))).status, 404);
      const clock = await server.operator("GET", "/clock");
      assert.equal(clock.body.controllable, true);
      assert.ok(clock.body.offsetMs >= 134 * 86_400_000);
      const bad = await server.operator("POST", "/clock/advance", { by: "soon" });
      assert.equal(bad.status, 400);
    } finally {
      await server.close();
    }
  });

  test("the clock offset survives a restart; the service profile refuses clock control", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "drivebay-clock-"));
    try {
      const first = await startTestServer({ dataDir, clock: undefined });
      await first.operator("POST", "/clock/advance", { by: "10d" });
      const offset = (await first.operator("GET", "/clock")).body.offsetMs;
      await first.close();
      const second = await startTestServer({ dataDir });
      assert.equal((await second.operator("GET", "/clock")).body.offsetMs, offset);
      await second.close();
      const service = await startTestServer({
        config: { profile: "service", operatorKey: "a-configured-operator-key-123" },
      });
      try {
        const r = await service.operator("POST", "/clock/advance", { by: "1d" });
        assert.equal(r.status, 403);
        assert.equal(r.body.error.code, "ClockControlDisabled");
      } finally {
        await service.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("autopilot", () => {
  const delays = { arrivalDelayMs: 2000, stepDelayMs: 1000 };

  test("create → Shipping → cancel → Completed with no manual step", async () => {
    const server = await startTestServer({ autopilot: delays });
    try {
      const c = server.client();
      await c.jobs.create("auto-cancel", RG, importJob());
      await c.jobs.update("auto-cancel", RG, { ...shippable, state: "Shipping" });
      await c.jobs.update("auto-cancel", RG, { cancelRequested: true });
      const states: string[] = [];
      for (let i = 0; i < 5; i++) {
        await server.operator("POST", "/clock/advance", { by: "2s" });
        states.push((await c.jobs.get("auto-cancel", RG)).properties!.state!);
      }
      assert.deepEqual(states.slice(0, 3), ["Received", "Packaging", "Completed"]);
      const job = await c.jobs.get("auto-cancel", RG);
      assert.equal(job.properties?.cancelRequested, true);
      assert.match(job.properties?.returnPackage?.trackingNumber ?? "", /^DB\d+$/);
      const history = (await server.operator("GET", jobPath("auto-cancel"))).body.history;
      assert.deepEqual(
        history
          .filter((h: { actor: string }) => h.actor === "autopilot")
          .map((h: { to: string }) => h.to),
        ["Received", "Packaging", "Completed"],
      );
    } finally {
      await server.close();
    }
  });

  test("create → Shipping with dock folders → docked drives Received and attached, the other NeverReceived → Closed", async () => {
    const server = await startTestServer({ autopilot: delays });
    try {
      const c = server.client();
      mkdirSync(join(server.dockDir, DRIVES[0]!), { recursive: true });
      await c.jobs.create("auto-dock", RG, importJob());
      await c.jobs.update("auto-dock", RG, { ...shippable, state: "Shipping" });
      await server.operator("POST", "/clock/advance", { by: "1s" });
      assert.equal(
        (await c.jobs.get("auto-dock", RG)).properties?.state,
        "Shipping",
        "not before the arrival delay",
      );
      await server.operator("POST", "/clock/advance", { by: "1s" });
      const received = await server.operator("GET", jobPath("auto-dock"));
      assert.equal(received.body.state, "Received");
      assert.deepEqual(
        received.body.drives.map((d: { state: string; contentPath?: string }) => [
          d.state,
          Boolean(d.contentPath),
        ]),
        [
          ["Received", true],
          ["NeverReceived", false],
        ],
      );
      await server.operator("POST", "/clock/advance", { by: "1s" });
      assert.equal((await c.jobs.get("auto-dock", RG)).properties?.state, "Packaging");
      await server.operator("POST", "/clock/advance", { by: "1s" });
      const done = await c.jobs.get("auto-dock", RG);
      assert.equal(done.properties?.state, "Closed");
      assert.deepEqual(
        done.properties?.driveList?.map((d) => d.state),
        ["ShippedBack", "NeverReceived"],
      );
    } finally {
      await server.close();
    }
  });
});
