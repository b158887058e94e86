/** Jobs_Create, Jobs_Get, Jobs_Update, Jobs_Delete and BitLockerKeys_List through the official SDK, at every api-version. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../support/server.ts";
import { assertConformant } from "../support/conformance.ts";
import {
  API_VERSIONS,
  deliveryPackage,
  exportJob,
  importJob,
  rejectsWith,
  returnAddress,
  returnShipping,
  shippable,
} from "./fixtures.ts";

for (const apiVersion of API_VERSIONS) {
  describe(`jobs at api-version ${apiVersion}`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer();
    });
    after(async () => {
      await server.close();
    });

    test("PUT creates (201) with service-filled fields; GET returns it with drives but never keys", async () => {
      const c = server.client({ apiVersion });
      let status = 0;
      const created = await c.jobs.create("Import-1", "Team-RG", importJob(), {
        onResponse: (r) => (status = r.status),
      });
      assert.equal(status, 201);
      assert.equal(created.name, "Import-1");
      assert.equal(created.type, "Microsoft.ImportExport/jobs");
      assert.equal(
        created.id,
        `/subscriptions/${"8a1b2c3d-0000-4000-8000-000000000001"}/resourceGroups/Team-RG/providers/Microsoft.ImportExport/jobs/Import-1`,
      );
      assert.equal(created.location, "westus");
      const p = created.properties!;
      assert.equal(p.state, "Creating");
      assert.equal(p.cancelRequested, false);
      assert.equal(p.diagnosticsPath, "waimportexport");
      assert.equal(p.logLevel, "Error");
      assert.equal(p.backupDriveManifest, false);
      assert.equal(p.provisioningState, "Succeeded");
      assert.equal(p.shippingInformation?.city, "Santa Clara");
      assert.equal(p.shippingInformation?.streetAddress1, "2045 Lafayette Street");
      assert.deepEqual(p.encryptionKey, { kekType: "MicrosoftManaged" });
      assert.deepEqual(created.identity, { type: "None" });
      assert.ok(created.systemData?.createdAt instanceof Date);
      assert.deepEqual(
        p.driveList?.map((d) => [d.driveId, d.state, d.bitLockerKey]),
        [
          ["WD-WCC4N1234567", "Specified", undefined],
          ["WD-WCC4N7654321", "Specified", undefined],
        ],
      );

      // Names match case-insensitively; the caller's casing at creation is kept.
      const got = await c.jobs.get("import-1", "team-rg");
      assert.equal(got.name, "Import-1");
      assert.equal(got.id, created.id);
      assert.equal(got.properties?.driveList?.length, 2);
      assert.ok(!JSON.stringify(got).includes("111111-222222"), "no BitLocker key in Jobs_Get");

      const keys = [];
      for await (const k of c.bitLockerKeys.list("IMPORT-1", "TEAM-RG")) keys.push(k);
      assert.deepEqual(keys, [
        {
          driveId: "WD-WCC4N1234567",
          bitLockerKey: "111111-222222-333333-444444-555555-666666-777777-888888",
        },
        {
          driveId: "WD-WCC4N7654321",
          bitLockerKey: "999999-888888-777777-666666-555555-444444-333333-222222",
        },
      ]);
    });

    test("PUT on a job in Creating is a full replace (200); after Shipping it is 409 JobNotUpdatable", async () => {
      const c = server.client({ apiVersion });
      await c.jobs.create("replace-me", "rg", importJob({ logLevel: "Verbose" }));
      let status = 0;
      const replaced = await c.jobs.create(
        "replace-me",
        "rg",
        importJob({
          diagnosticsPath: "logs",
          driveList: [{ driveId: "D9", bitLockerKey: "k9", manifestFile: "\\m.xml" }],
        }),
        {
          onResponse: (r) => (status = r.status),
        },
      );
      assert.equal(status, 200);
      assert.equal(
        replaced.properties?.logLevel,
        "Error",
        "a replace does not keep fields the new body leaves out",
      );
      assert.equal(replaced.properties?.diagnosticsPath, "logs");
      assert.deepEqual(
        replaced.properties?.driveList?.map((d) => d.driveId),
        ["D9"],
      );
      await rejectsWith(
        c.jobs.create("replace-me", "rg", importJob({}, "East US")),
        400,
        "InvalidRequestContent",
      );

      await c.jobs.update("replace-me", "rg", shippable);
      const shipping = await c.jobs.update("replace-me", "rg", { state: "Shipping" });
      assert.equal(shipping.properties?.state, "Shipping");
      await rejectsWith(c.jobs.create("replace-me", "rg", importJob()), 409, "JobNotUpdatable");
    });

    test("location: any case or spacing of a known one, stored as the short name; unknown is refused", async () => {
      const c = server.client({ apiVersion });
      for (const [name, loc] of [
        ["loc-a", "west us"],
        ["loc-b", "WESTUS"],
        ["loc-c", "North  Europe"],
      ] as const) {
        const job = await c.jobs.create(name, "rg", importJob({}, loc));
        assert.equal(job.location, loc.replace(/\s+/g, "").toLowerCase());
      }
      const err = await rejectsWith(
        c.jobs.create("loc-d", "rg", importJob({}, "Atlantis")),
        400,
        "LocationNotAvailableForResourceType",
      );
      assert.match(err.message, /Atlantis/);
    });

    test("job names: 2–64 letters, digits, hyphens, starting with a letter", async () => {
      const c = server.client({ apiVersion });
      for (const bad of ["a", "1abc", "a_b", "a.b", "x".repeat(65), "-ab"]) {
        await rejectsWith(c.jobs.create(bad, "rg", importJob()), 400, "InvalidResourceName");
        await rejectsWith(c.jobs.get(bad, "rg"), 400, "InvalidResourceName");
      }
      await c.jobs.create("ab", "rg", importJob());
      await c.jobs.create("a" + "b".repeat(63), "rg", importJob());
      await rejectsWith(c.jobs.get("ok-name", "bad/rg?"), 400, "InvalidResourceGroupName");
    });

    test("create-time validation: drives, export definition, storage account", async () => {
      const c = server.client({ apiVersion });
      await rejectsWith(
        c.jobs.create("v1", "rg", importJob({ driveList: [] })),
        400,
        "InvalidDriveList",
      );
      const eleven = Array.from({ length: 11 }, (_, i) => ({
        driveId: `D${i}`,
        bitLockerKey: "k",
        manifestFile: "\\m.xml",
      }));
      await rejectsWith(
        c.jobs.create("v2", "rg", importJob({ driveList: eleven })),
        400,
        "InvalidDriveList",
      );
      const dup = [
        { driveId: "D1", bitLockerKey: "k", manifestFile: "\\m" },
        { driveId: "d1", bitLockerKey: "k", manifestFile: "\\m" },
      ];
      const e = await rejectsWith(
        c.jobs.create("v3", "rg", importJob({ driveList: dup })),
        400,
        "DuplicateDriveId",
      );
      assert.equal(
        e.details && (e.details as { target?: string }).target,
        "properties.driveList[1].driveId",
      );
      await rejectsWith(
        c.jobs.create(
          "v4",
          "rg",
          importJob({ driveList: [{ driveId: "D1", manifestFile: "\\m" }] }),
        ),
        400,
        "MissingRequiredProperty",
      );
      await rejectsWith(
        c.jobs.create("v5", "rg", importJob({ storageAccountId: "not-an-id" })),
        400,
        "InvalidStorageAccountId",
      );
      await rejectsWith(
        c.jobs.create("v6", "rg", importJob({ export: { blobPathPrefix: ["/c/"] } })),
        400,
        "InvalidExportDefinition",
      );
      await rejectsWith(
        c.jobs.create("v7", "rg", exportJob({ export: {} })),
        400,
        "InvalidExportDefinition",
      );
      await rejectsWith(
        c.jobs.create("v8", "rg", exportJob({ export: { blobPath: ["no-leading-slash"] } })),
        400,
        "InvalidExportDefinition",
      );
      await rejectsWith(
        c.jobs.create("v9", "rg", {
          location: "westus",
          properties: { jobType: "Import" } as never,
        }),
        400,
        "MissingRequiredProperty",
      );
      for (const name of ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9"]) {
        await rejectsWith(c.jobs.get(name, "rg"), 404, "ResourceNotFound");
      }
      const exp = await c.jobs.create("export-1", "rg", exportJob());
      assert.equal(exp.properties?.jobType, "Export");
      assert.deepEqual(exp.properties?.export, {
        blobPathPrefix: ["/photos/2026/"],
        blobPath: ["/docs/readme.txt"],
      });
      assert.deepEqual(exp.properties?.driveList, []);
    });

    test("tags: at most 50, names ≤ 512, values ≤ 256; PATCH replaces the whole set", async () => {
      const c = server.client({ apiVersion });
      const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, `v${i}`]));
      await c.jobs.create("tagged", "rg", { ...importJob(), tags: fifty });
      await rejectsWith(
        c.jobs.create("tagged2", "rg", { ...importJob(), tags: { ...fifty, extra: "x" } }),
        400,
        "TooManyTags",
      );
      await rejectsWith(
        c.jobs.create("tagged2", "rg", { ...importJob(), tags: { ["n".repeat(513)]: "x" } }),
        400,
        "InvalidTagName",
      );
      await rejectsWith(
        c.jobs.create("tagged2", "rg", { ...importJob(), tags: { "a/b": "x" } }),
        400,
        "InvalidTagName",
      );
      await rejectsWith(
        c.jobs.update("tagged", "rg", { tags: { ok: "v".repeat(257) } }),
        400,
        "InvalidTagValue",
      );
      const patched = await c.jobs.update("tagged", "rg", { tags: { only: "this" } });
      assert.deepEqual(patched.tags, { only: "this" });
      assert.deepEqual((await c.jobs.get("tagged", "rg")).tags, { only: "this" });
    });

    test("PATCH: systemData, field updates, same value is not a change, state rules", async () => {
      const c = server.client({ apiVersion });
      const created = await c.jobs.create("patchy", "rg", importJob());
      const before = created.systemData!.lastModifiedAt!;
      const updated = await c.jobs.update("patchy", "rg", {
        returnAddress,
        logLevel: "Verbose",
        backupDriveManifest: true,
      });
      assert.deepEqual(updated.properties?.returnAddress, returnAddress);
      assert.equal(updated.properties?.logLevel, "Verbose");
      assert.equal(updated.properties?.backupDriveManifest, true);
      assert.ok(updated.systemData!.lastModifiedAt! >= before);
      assert.deepEqual(updated.systemData!.createdAt, created.systemData!.createdAt);
      // The Python SDK sends cancelRequested:false and backupDriveManifest on every PATCH.
      const same = await c.jobs.update("patchy", "rg", {
        cancelRequested: false,
        backupDriveManifest: true,
        state: "Creating",
      });
      assert.equal(same.properties?.state, "Creating");
      assert.equal(same.properties?.cancelRequested, false);

      const missing = await rejectsWith(
        c.jobs.update("patchy", "rg", { state: "Shipping" }),
        400,
        "ShippingInformationMissing",
      );
      assert.match(missing.message, /returnShipping/);
      assert.match(missing.message, /deliveryPackage/);
      await rejectsWith(
        c.jobs.update("patchy", "rg", { state: "Completed" }),
        400,
        "InvalidStateTransition",
      );
      // A name that is no state says so and suggests the nearest (not "set by the service").
      const typo = await rejectsWith(
        c.jobs.update("patchy", "rg", { state: "Shiped" }),
        400,
        "InvalidRequestContent",
      );
      assert.match(typo.message, /'Shiped' is not a job state; did you mean 'Shipping'\?/);
      await rejectsWith(
        c.jobs.update("patchy", "rg", { logLevel: "Chatty" }),
        400,
        "InvalidRequestContent",
      );
      // State names match without regard to case, as ARM enum values do.
      const shipped = await c.jobs.update("patchy", "rg", {
        state: "shipping",
        returnShipping,
        deliveryPackage,
      });
      assert.equal(shipped.properties?.state, "Shipping");
      assert.deepEqual(shipped.properties?.deliveryPackage, deliveryPackage);
      // In Shipping: delivery package and log level may still change, the drive list may not.
      await c.jobs.update("patchy", "rg", {
        deliveryPackage: { ...deliveryPackage, trackingNumber: "794600000000" },
      });
      await rejectsWith(
        c.jobs.update("patchy", "rg", {
          driveList: [{ driveId: "NEW", bitLockerKey: "k", manifestFile: "\\m" }],
        }),
        409,
        "JobNotUpdatable",
      );
      await rejectsWith(c.jobs.update("missing-job", "rg", { tags: {} }), 404, "ResourceNotFound");
    });

    test("export jobs: a PATCH driveList may only set keys of the job's drives", async () => {
      const c = server.client({ apiVersion });
      await c.jobs.create("exp-keys", "rg", exportJob());
      await rejectsWith(
        c.jobs.update("exp-keys", "rg", { driveList: [{ driveId: "X1", bitLockerKey: "k" }] }),
        400,
        "InvalidDriveList",
      );
    });

    test("DELETE: 200 in Creating with an empty body; the job is gone everywhere and its name reusable", async () => {
      const c = server.client({ apiVersion });
      await c.jobs.create("doomed", "rg", importJob());
      let status = 0;
      let body: string | undefined;
      await c.jobs.delete("DOOMED", "rg", {
        onResponse: (r) => ((status = r.status), (body = r.bodyAsText ?? "")),
      });
      assert.equal(status, 200);
      assert.equal(body, "");
      await rejectsWith(c.jobs.get("doomed", "rg"), 404, "ResourceNotFound");
      await rejectsWith(c.bitLockerKeys.list("doomed", "rg").next(), 404, "ResourceNotFound");
      const names = [];
      for await (const j of c.jobs.listBySubscription()) names.push(j.name);
      assert.ok(!names.includes("doomed"));
      let again = 0;
      await c.jobs.create("doomed", "rg", importJob(), { onResponse: (r) => (again = r.status) });
      assert.equal(again, 201);
    });

    test("every response conforms to the spec", async (t) => {
      await assertConformant(t, server.exchanges);
    });
  });
}
