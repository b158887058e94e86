/** Jobs_ListBySubscription / Jobs_ListByResourceGroup: $top, keyset nextLink, $filter, no driveList. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { assertConformant, rawRequest } from "../support/conformance.ts";
import { API_VERSIONS, exportJob, importJob, rejectsWith, shippable } from "./fixtures.ts";

for (const apiVersion of API_VERSIONS) {
  describe(`lists at api-version ${apiVersion}`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer();
      const c = server.client({ apiVersion });
      for (let i = 0; i < 7; i++)
        await c.jobs.create(`imp-${i}`, i % 2 ? "odd" : "even", importJob());
      for (let i = 0; i < 3; i++) await c.jobs.create(`exp-${i}`, "even", exportJob());
      await c.jobs.update("imp-0", "even", { ...shippable, state: "Shipping" });
      await c.jobs.update("imp-1", "odd", { cancelRequested: true });
      // Another subscription's jobs never show up.
      await server
        .client({ apiVersion, subscriptionId: "ffffffff-0000-4000-8000-000000000000" })
        .jobs.create("other", "even", importJob());
    });
    after(async () => {
      await server.close();
    });

    test("pages of $top jobs follow nextLink to the end, in creation order, without driveList", async () => {
      const c = server.client({ apiVersion });
      const pages: string[][] = [];
      for await (const page of c.jobs.listBySubscription({ top: 3 }).byPage()) {
        pages.push(page.map((j) => j.name!));
        for (const j of page)
          assert.equal(j.properties?.driveList, undefined, "lists omit driveList");
      }
      assert.deepEqual(pages, [
        ["imp-0", "imp-1", "imp-2"],
        ["imp-3", "imp-4", "imp-5"],
        ["imp-6", "exp-0", "exp-1"],
        ["exp-2"],
      ]);
      const nextLinks = server.exchanges.filter((e) => e.url.includes("skipToken"));
      assert.ok(nextLinks.length >= 3);
      for (const e of nextLinks) assert.match(e.url, new RegExp(`api-version=${apiVersion}`));
      const byRg: string[] = [];
      for await (const j of c.jobs.listByResourceGroup("EVEN", { top: 2 })) byRg.push(j.name!);
      assert.deepEqual(byRg, ["imp-0", "imp-2", "imp-4", "imp-6", "exp-0", "exp-1", "exp-2"]);
    });

    test("the last page has no nextLink; the default page is 100", async () => {
      const res = await rawRequest(
        server.exchanges,
        "GET",
        `${server.url}/subscriptions/${SUBSCRIPTION}/providers/Microsoft.ImportExport/jobs?api-version=${apiVersion}`,
      );
      assert.equal(res.status, 200);
      const body = res.json();
      assert.equal(body.value.length, 10);
      assert.equal("nextLink" in body, false);
    });

    test("$filter on state and jobType, alone or joined with and", async () => {
      const c = server.client({ apiVersion });
      const names = async (filter: string, rg?: string) => {
        const out: string[] = [];
        const it = rg
          ? c.jobs.listByResourceGroup(rg, { filter, top: 2 })
          : c.jobs.listBySubscription({ filter, top: 2 });
        for await (const j of it) out.push(j.name!);
        return out;
      };
      assert.deepEqual(await names("state eq 'Shipping'"), ["imp-0"]);
      assert.deepEqual(await names("state eq 'completed'"), ["imp-1"]);
      assert.deepEqual(await names("jobType eq 'Export'"), ["exp-0", "exp-1", "exp-2"]);
      assert.deepEqual(await names("jobType eq 'Import' and state eq 'Creating'", "even"), [
        "imp-2",
        "imp-4",
        "imp-6",
      ]);
      for (const bad of [
        "state ne 'Creating'",
        "location eq 'westus'",
        "state eq 'Lost'",
        "state eq Creating",
        "contains(name,'a')",
      ]) {
        const err = await rejectsWith(
          c.jobs.listBySubscription({ filter: bad }).next(),
          400,
          "InvalidFilter",
        );
        assert.match(err.message, /state eq/);
      }
    });

    test("$top outside 1–100 is refused", async () => {
      const c = server.client({ apiVersion });
      for (const top of [0, 101, 500]) {
        await rejectsWith(
          c.jobs.listBySubscription({ top }).next(),
          400,
          "InvalidQueryParameterValue",
        );
      }
      const res = await rawRequest(
        server.exchanges,
        "GET",
        `${server.url}/subscriptions/${SUBSCRIPTION}/providers/Microsoft.ImportExport/jobs?api-version=${apiVersion}&$top=abc`,
      );
      assert.equal(res.status, 400);
      assert.equal(res.json().error.target, "$top");
    });

    test("a tampered or transplanted continuation token is refused", async () => {
      const first = await rawRequest(
        server.exchanges,
        "GET",
        `${server.url}/subscriptions/${SUBSCRIPTION}/providers/Microsoft.ImportExport/jobs?api-version=${apiVersion}&$top=2`,
      );
      const nextLink: string = first.json().nextLink;
      assert.ok(nextLink.startsWith(server.url));
      const url = new URL(nextLink);
      const token = url.searchParams.get("$skipToken")!;
      const [payload, sig] = token.split(".");
      const forged = Buffer.from(
        JSON.stringify({ a: 0, s: JSON.parse(Buffer.from(payload!, "base64url").toString()).s }),
      ).toString("base64url");
      for (const bad of [`${forged}.${sig}`, "garbage", `${payload}.AAAA`, ""]) {
        url.searchParams.set("$skipToken", bad);
        const res = await rawRequest(server.exchanges, "GET", url.toString());
        assert.equal(res.status, 400, bad);
        assert.equal(res.json().error.code, "InvalidSkipToken");
      }
      // The same token on another list (other resource group or filter) is not accepted.
      const elsewhere = new URL(
        `${server.url}/subscriptions/${SUBSCRIPTION}/resourceGroups/even/providers/Microsoft.ImportExport/jobs?api-version=${apiVersion}`,
      );
      elsewhere.searchParams.set("$skipToken", token);
      assert.equal((await rawRequest(server.exchanges, "GET", elsewhere.toString())).status, 400);
      const withFilter = new URL(nextLink);
      withFilter.searchParams.set("$filter", "state eq 'Creating'");
      assert.equal((await rawRequest(server.exchanges, "GET", withFilter.toString())).status, 400);
    });

    test("keyset paging neither skips nor repeats jobs created or deleted between pages", async () => {
      const c = server.client({ apiVersion });
      const seen: string[] = [];
      const pages = c.jobs.listByResourceGroup("odd", { top: 2 }).byPage();
      const first = await pages.next();
      seen.push(...first.value.map((j: { name: string }) => j.name));
      await c.jobs.delete("imp-1", "odd"); // already seen, deleted
      await c.jobs.create("late-1", "odd", importJob()); // created after the first page
      for await (const page of pages) seen.push(...page.map((j) => j.name!));
      assert.deepEqual(seen, ["imp-1", "imp-3", "imp-5", "late-1"]);
    });

    test("every response conforms to the spec", async (t) => {
      await assertConformant(t, server.exchanges);
    });
  });
}

describe("Locations and Operations", () => {
  test("Locations_List and Locations_Get accept short and display names", async (t) => {
    const server = await startTestServer();
    try {
      const c = server.client();
      const all = [];
      for await (const l of c.locations.list()) all.push(l);
      assert.ok(all.length >= 30);
      const westus = all.find((l) => l.id === "/providers/Microsoft.ImportExport/locations/westus");
      assert.equal(westus?.name, "West US");
      for (const name of ["West US", "westus", "WESTUS"]) {
        const l = await c.locations.get(name);
        assert.equal(l.id, "/providers/Microsoft.ImportExport/locations/westus");
        assert.equal(l.city, "Santa Clara");
        assert.deepEqual(l.alternateLocations, [
          "/providers/Microsoft.ImportExport/locations/westus",
        ]);
      }
      await rejectsWith(c.locations.get("Atlantis"), 404, "LocationNotFound");
      const ops = [];
      for await (const o of c.operations.list()) ops.push(o.name);
      assert.ok(ops.includes("Microsoft.ImportExport/jobs/listBitLockerKeys/action"));
      assert.equal(ops.length, 6);
      await assertConformant(t, server.exchanges);
    } finally {
      await server.close();
    }
  });
});
