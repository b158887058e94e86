/**
 * A scripted walk through the official SDK at every api-version: every operation, several
 * error answers and paging with nextLink. Afterwards EVERY exchange the SDK clients recorded
 * is validated against the spec of the requested api-version, and each URL (nextLinks
 * included) must carry that api-version.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type {
  JobResponse,
  PutJobParameters,
  StorageImportExport,
} from "@azure/arm-storageimportexport";
import { SUBSCRIPTION, startTestServer, type TestServer } from "../support/server.ts";
import { SUPPORTED_VERSIONS, type SpecValidator } from "../support/spec-validator.ts";
import { availability, isObject, loadValidator, problemsOf, specGate } from "./helpers.ts";

const RG = "Conformance-RG";
const PAGING_SUBSCRIPTION = "8a1b2c3d-0000-4000-8000-0000000000aa";
const PAGING_RG = "paging-rg";
const STORAGE = `/subscriptions/${SUBSCRIPTION}/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/conformance`;
const KEY = "123456-234567-345678-456789-567890-678901-789012-890123";

const returnAddress = {
  recipientName: "Grace Hopper",
  streetAddress1: "1 Compiler Road",
  city: "Arlington",
  postalCode: "22201",
  countryOrRegion: "USA",
  phone: "+1 703 000 0000",
  email: "grace@example.com",
};
const returnShipping = { carrierName: "FedEx", carrierAccountNumber: "123456789" };
const deliveryPackage = {
  carrierName: "FedEx",
  trackingNumber: "794600000001",
  driveCount: 1,
  shipDate: "2026-11-20",
};

function importJob(driveId = "WD-CONF0001"): PutJobParameters {
  return {
    location: "West US",
    properties: {
      storageAccountId: STORAGE,
      jobType: "Import",
      returnAddress,
      returnShipping,
      driveList: [
        { driveId, bitLockerKey: KEY, manifestFile: "\\DriveManifest.xml", manifestHash: "AB12" },
      ],
    },
  };
}

function exportJob(): PutJobParameters {
  return {
    location: "eastus",
    properties: {
      storageAccountId: STORAGE,
      jobType: "Export",
      export: { blobPathPrefix: ["/photos/"], blobPath: ["/docs/readme.txt"] },
    },
  };
}

interface ArmFailure {
  statusCode?: number;
  code?: string;
  message: string;
}

/** Awaits a call that must fail with this status (and ARM code, when given). */
async function rejects(call: Promise<unknown>, status: number, code?: string): Promise<ArmFailure> {
  try {
    await call;
  } catch (e) {
    const err = e as ArmFailure;
    assert.equal(err.statusCode, status, `expected ${status} ${code ?? ""}, got: ${err.message}`);
    if (code !== undefined) assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${status} ${code ?? ""}, but the call succeeded`);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function pageNames(pages: AsyncIterable<JobResponse[]>): Promise<string[][]> {
  const out: string[][] = [];
  for await (const page of pages) out.push(page.map((j) => j.name!));
  return out;
}

for (const apiVersion of SUPPORTED_VERSIONS) {
  describe(`official SDK walk at api-version ${apiVersion}`, () => {
    let server: TestServer | undefined;
    let v: SpecValidator;
    let c: StorageImportExport;

    before(async () => {
      if (!availability.available) return;
      v = await loadValidator();
      server = await startTestServer();
      c = server.client({ apiVersion });
    });
    after(async () => {
      await server?.close();
    });

    test("Operations_List, Locations_List, Locations_Get", async (t) => {
      if (!specGate(t)) return;
      const operations = await collect(c.operations.list());
      assert.equal(operations.length, 6);
      const locations = await collect(c.locations.list());
      assert.ok(
        locations.some((l) => l.id === "/providers/Microsoft.ImportExport/locations/westus"),
      );
      const westUs = await c.locations.get("West US");
      assert.equal(westUs.id, "/providers/Microsoft.ImportExport/locations/westus");
      assert.equal((await c.locations.get("australiaeast")).name, "Australia East");
    });

    test("jobs: create (201, then 200), get, update, keys, filtered lists, cancel, delete", async (t) => {
      if (!specGate(t)) return;
      const statuses: number[] = [];
      const onResponse = (r: { status: number }) => void statuses.push(r.status);
      const created = await c.jobs.create("conf-import", RG, importJob(), { onResponse });
      await c.jobs.create("conf-import", RG, importJob(), { onResponse });
      await c.jobs.create("conf-export", RG, exportJob(), { onResponse });
      assert.deepEqual(statuses, [201, 200, 201]);
      assert.equal(created.properties?.state, "Creating");

      const got = await c.jobs.get("CONF-IMPORT", RG.toLowerCase());
      assert.equal(got.name, "conf-import");
      assert.equal(got.properties?.driveList?.[0]?.bitLockerKey, undefined);
      assert.equal((await c.jobs.get("conf-export", RG)).properties?.jobType, "Export");

      const updated = await c.jobs.update("conf-import", RG, {
        tags: { team: "conformance" },
        logLevel: "Verbose",
        backupDriveManifest: true,
      });
      assert.deepEqual(updated.tags, { team: "conformance" });
      assert.equal(updated.properties?.logLevel, "Verbose");

      const keys = await collect(c.bitLockerKeys.list("conf-import", RG));
      assert.deepEqual(keys, [{ driveId: "WD-CONF0001", bitLockerKey: KEY }]);

      const exports = await collect(
        c.jobs.listByResourceGroup(RG, { filter: "jobType eq 'Export'" }),
      );
      assert.deepEqual(
        exports.map((j) => j.name),
        ["conf-export"],
      );
      const creating = await collect(c.jobs.listBySubscription({ filter: "state eq 'Creating'" }));
      assert.deepEqual(creating.map((j) => j.name).sort(), ["conf-export", "conf-import"]);

      const cancelled = await c.jobs.update("conf-export", RG, { cancelRequested: true });
      assert.equal(cancelled.properties?.state, "Completed", "cancel while Creating completes");
      assert.equal(cancelled.properties?.cancelRequested, true);
      await c.jobs.delete("conf-export", RG);
      await c.jobs.delete("conf-import", RG);
      assert.deepEqual(await collect(c.jobs.listByResourceGroup(RG)), []);
    });

    test("error answers: 404, 409, 400 (name, $top, $filter, state), 204 delete of nothing", async (t) => {
      if (!specGate(t)) return;
      await rejects(c.jobs.get("no-such-job", RG), 404, "ResourceNotFound");
      await rejects(collect(c.bitLockerKeys.list("no-such-job", RG)), 404, "ResourceNotFound");

      await c.jobs.create("conf-shipping", RG, importJob("WD-CONF0002"));
      const shipping = await c.jobs.update("conf-shipping", RG, {
        state: "Shipping",
        deliveryPackage,
      });
      assert.equal(shipping.properties?.state, "Shipping");
      await rejects(c.jobs.delete("conf-shipping", RG), 409, "JobNotDeletable");
      await rejects(c.jobs.create("conf-shipping", RG, importJob()), 409, "JobNotUpdatable");
      await rejects(
        c.jobs.update("conf-shipping", RG, { state: "Received" }),
        400,
        "InvalidStateTransition",
      );

      for (const name of ["1starts-with-digit", "x", "under_score", `a${"b".repeat(64)}`]) {
        await rejects(c.jobs.create(name, RG, importJob()), 400, "InvalidResourceName");
      }
      await rejects(
        c.jobs.create("conf-nowhere", RG, { ...importJob(), location: "Atlantis" }),
        400,
        "LocationNotAvailableForResourceType",
      );
      const top = await rejects(c.jobs.listBySubscription({ top: 500 }).next(), 400);
      assert.match(top.message, /\$top/);
      const filter = await rejects(
        c.jobs.listByResourceGroup(RG, { filter: "name eq 'x'" }).next(),
        400,
      );
      assert.match(filter.message, /filter/i);

      // SPEC §1.2: deleting a job that does not exist answers 204 (ARM contract); the SDK
      // only expects 200 and rejects it. The exchange is still validated below.
      await rejects(c.jobs.delete("no-such-job", RG), 204);
    });

    test("paging: $top=2 over 5 jobs follows nextLink to the last page, in both lists", async (t) => {
      if (!specGate(t)) return;
      const pc = server!.client({ apiVersion, subscriptionId: PAGING_SUBSCRIPTION });
      const names = ["page-1", "page-2", "page-3", "page-4", "page-5"];
      for (const name of names) await pc.jobs.create(name, PAGING_RG, exportJob());

      for (const pages of [
        await pageNames(pc.jobs.listBySubscription({ top: 2 }).byPage()),
        await pageNames(pc.jobs.listByResourceGroup(PAGING_RG, { top: 2 }).byPage()),
      ]) {
        assert.deepEqual(
          pages.map((p) => p.length),
          [2, 2, 1],
        );
        assert.deepEqual(pages.flat().sort(), names, "every job once");
      }
      const nextLinks = server!.exchanges.filter((ex) => ex.url.includes("skipToken"));
      assert.equal(nextLinks.length, 4, "two nextLink requests per list");
    });

    test("every recorded exchange conforms to the spec and carries the requested api-version", (t) => {
      if (!specGate(t)) return;
      const exchanges = server!.exchanges;
      const problems = problemsOf(v, exchanges);
      assert.deepEqual(problems, [], `spec problems:\n  ${problems.join("\n  ")}`);

      const seen = new Set<string>();
      for (const ex of exchanges) {
        const url = new URL(ex.url);
        assert.equal(url.searchParams.get("api-version"), apiVersion, `${ex.method} ${ex.url}`);
        const op = v.findOperation(apiVersion, ex.method, url.pathname);
        assert.ok(op, `${ex.method} ${url.pathname} is a spec operation`);
        seen.add(op.operationId);
        if (ex.status !== 200 || !ex.body) continue;
        const body: unknown = JSON.parse(ex.body);
        if (isObject(body) && typeof body.nextLink === "string") {
          const next = new URL(body.nextLink);
          assert.equal(next.origin, new URL(server!.url).origin, "nextLink is absolute");
          assert.equal(next.pathname, url.pathname, "nextLink stays on the list");
          assert.equal(next.searchParams.get("api-version"), apiVersion, body.nextLink);
        }
      }
      const spec = v.spec(apiVersion) as { paths: Record<string, Record<string, unknown>> };
      const operationIds = Object.values(spec.paths).flatMap((item) =>
        Object.values(item)
          .filter(isObject)
          .map((op) => String(op.operationId)),
      );
      assert.deepEqual([...seen].sort(), operationIds.sort(), "every operation was exercised");
    });
  });
}
