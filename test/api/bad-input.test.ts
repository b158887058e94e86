/**
 * Bad input (SPEC §1.2): every case is a 4xx ARM envelope with a specific code, never a
 * 500, and changes nothing. The SDK cannot send malformed bodies, so these use raw HTTP.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { assertConformant, rawRequest } from "../support/conformance.ts";
import { importJob } from "./fixtures.ts";

describe("bad input", () => {
  let server: TestServer;
  let jobUrl: string;
  const v = "api-version=2021-01-01";
  before(async () => {
    server = await startTestServer();
    jobUrl = `${server.url}/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.ImportExport/jobs`;
    await server.client().jobs.create("existing", "rg", importJob());
  });
  after(async () => {
    await server.close();
  });

  async function expectError(
    method: string,
    url: string,
    body: string | undefined,
    status: number,
    code: string,
    target?: string,
    headers?: Record<string, string>,
  ) {
    const res = await rawRequest(server.exchanges, method, url, { body, headers });
    assert.equal(res.status, status, `${method} ${url}: ${res.text.slice(0, 300)}`);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    const e = res.json().error;
    assert.equal(e.code, code, res.text);
    assert.ok(typeof e.message === "string" && e.message.length > 10);
    if (target !== undefined) assert.equal(e.target, target);
    return e;
  }

  test("api-version missing, malformed or unsupported", async () => {
    await expectError("GET", `${jobUrl}/existing`, undefined, 400, "MissingApiVersionParameter");
    await expectError(
      "GET",
      `${jobUrl}/existing?api-version=yesterday`,
      undefined,
      400,
      "InvalidApiVersionParameter",
    );
    const e = await expectError(
      "GET",
      `${jobUrl}/existing?api-version=2019-01-01`,
      undefined,
      400,
      "NoRegisteredProviderFound",
    );
    assert.match(e.message, /2021-01-01, 2020-08-01, 2016-11-01/);
    await expectError(
      "GET",
      `${server.url}/providers/Microsoft.ImportExport/operations`,
      undefined,
      400,
      "MissingApiVersionParameter",
    );
  });

  test("malformed JSON, wrong types, unknown properties and enums name the offending property", async () => {
    const url = `${jobUrl}/new-job?${v}`;
    const good = importJob() as { location: string; properties: Record<string, unknown> };
    await expectError("PUT", url, "{not json", 400, "InvalidRequestContent");
    await expectError("PUT", url, "[1,2]", 400, "InvalidRequestContent");
    await expectError("PUT", url, "", 400, "InvalidRequestContent");
    await expectError(
      "PUT",
      url,
      JSON.stringify({ ...good, location: 42 }),
      400,
      "InvalidRequestContent",
      "location",
    );
    await expectError(
      "PUT",
      url,
      JSON.stringify({ ...good, properties: { ...good.properties, backupDriveManifest: "yes" } }),
      400,
      "InvalidRequestContent",
      "properties.backupDriveManifest",
    );
    await expectError(
      "PUT",
      url,
      JSON.stringify({ ...good, properties: { ...good.properties, jobType: "Teleport" } }),
      400,
      "InvalidRequestContent",
      "properties.jobType",
    );
    await expectError(
      "PUT",
      url,
      JSON.stringify({ ...good, properties: { ...good.properties, colour: "blue" } }),
      400,
      "InvalidRequestContent",
      "properties.colour",
    );
    await expectError(
      "PUT",
      url,
      JSON.stringify({ ...good, surprise: 1 }),
      400,
      "InvalidRequestContent",
      "surprise",
    );
    await expectError(
      "PUT",
      url,
      JSON.stringify({ ...good, properties: { ...good.properties, driveList: [{ driveId: 7 }] } }),
      400,
      "InvalidRequestContent",
      "properties.driveList[0].driveId",
    );
    await expectError(
      "PUT",
      url,
      JSON.stringify({ ...good, tags: { a: 1 } }),
      400,
      "InvalidRequestContent",
      "tags.a",
    );
    await expectError(
      "PUT",
      url,
      JSON.stringify({ properties: good.properties }),
      400,
      "MissingRequiredProperty",
      "location",
    );
    await expectError(
      "PUT",
      url,
      JSON.stringify({ ...good, properties: { ...good.properties, returnAddress: { city: "x" } } }),
      400,
      "MissingRequiredProperty",
      "properties.returnAddress.recipientName",
    );
    await expectError(
      "PATCH",
      `${jobUrl}/existing?${v}`,
      JSON.stringify({ properties: { cancelRequested: "true" } }),
      400,
      "InvalidRequestContent",
      "properties.cancelRequested",
    );
    await expectError(
      "PATCH",
      `${jobUrl}/existing?${v}`,
      JSON.stringify({ properties: { storageAccountId: "x" } }),
      400,
      "InvalidRequestContent",
      "properties.storageAccountId",
    );
    await expectError("PATCH", `${jobUrl}/existing?${v}`, "null", 400, "InvalidRequestContent");
    await expectError("PUT", url, JSON.stringify(good), 415, "UnsupportedMediaType", undefined, {
      "content-type": "text/plain",
    });
    // A prototype-pollution attempt is just an unknown property.
    await expectError(
      "PUT",
      url,
      `{"__proto__":{"polluted":true},"location":"westus","properties":{}}`,
      400,
      "InvalidRequestContent",
      "__proto__",
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // Nothing was created by any of these.
    assert.equal((await rawRequest(server.exchanges, "GET", url)).status, 404);
  });

  test("read-only properties echoed back by clients are ignored, not rejected", async () => {
    const url = `${jobUrl}/echoed?${v}`;
    const good = importJob() as { location: string; properties: Record<string, unknown> };
    const body = {
      id: "/whatever",
      name: "whatever",
      type: "Microsoft.ImportExport/jobs",
      systemData: { createdBy: "x" },
      ...good,
      properties: {
        ...good.properties,
        state: "Completed",
        cancelRequested: true,
        provisioningState: "Failed",
        percentComplete: 50,
        shippingInformation: { city: "Nowhere" },
      },
    };
    const res = await rawRequest(server.exchanges, "PUT", url, { body: JSON.stringify(body) });
    assert.equal(res.status, 201);
    const job = res.json();
    assert.equal(job.name, "echoed");
    assert.equal(job.properties.state, "Creating");
    assert.equal(job.properties.cancelRequested, false);
    assert.equal(job.properties.shippingInformation.city, "Santa Clara");
  });

  test("a body over 1 MiB is 413 with an envelope", async () => {
    const huge = JSON.stringify({ location: "westus", tags: { big: "x".repeat(1_100_000) } });
    await expectError("PUT", `${jobUrl}/huge?${v}`, huge, 413, "RequestEntityTooLarge");
    assert.equal((await rawRequest(server.exchanges, "GET", `${jobUrl}/huge?${v}`)).status, 404);
  });

  test("unknown paths and methods", async () => {
    await expectError("GET", `${server.url}/nothing/here`, undefined, 404, "NotFound");
    await expectError(
      "GET",
      `${server.url}/subscriptions/${SUBSCRIPTION}/providers/Microsoft.ImportExport/widgets?${v}`,
      undefined,
      404,
      "InvalidResourceType",
    );
    const e = await expectError("POST", `${jobUrl}/existing?${v}`, "{}", 405, "MethodNotAllowed");
    assert.match(e.message, /GET, PUT, PATCH, DELETE/);
    await expectError("GET", `${jobUrl}/has%2Fslash?${v}`, undefined, 400, "InvalidResourceName");
    // Broken percent-encoding fails before routing; it gets the envelope and a request id.
    const bad = await expectError(
      "GET",
      `${jobUrl}/bad%zz?${v}`,
      undefined,
      400,
      "InvalidRequestUri",
    );
    assert.match(bad.message, /Encode '%' as '%25'/);
    const raw = await rawRequest(
      server.exchanges,
      "GET",
      `${server.url}/subscriptions/%zz/providers`,
    );
    assert.match(raw.headers.get("x-ms-request-id") ?? "", /^[0-9a-f-]{36}$/);
    await expectError(
      "GET",
      `${jobUrl}/${"%C3%A9t%C3%A9"}?${v}`,
      undefined,
      400,
      "InvalidResourceName",
    );
  });

  test("deleting a job that does not exist is 204 (ARM contract)", async () => {
    const res = await rawRequest(server.exchanges, "DELETE", `${jobUrl}/never-was?${v}`);
    assert.equal(res.status, 204);
    assert.equal(res.text, "");
  });

  test("request ids: x-ms-request-id always; client and correlation ids echoed", async () => {
    const res = await rawRequest(server.exchanges, "GET", `${jobUrl}/existing?${v}`, {
      headers: {
        "x-ms-client-request-id": "client-123",
        "x-ms-correlation-request-id": "corr-456",
      },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("x-ms-request-id") ?? "", /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.get("x-ms-client-request-id"), "client-123");
    assert.equal(res.headers.get("x-ms-correlation-request-id"), "corr-456");
    const err = await rawRequest(server.exchanges, "GET", `${jobUrl}/missing?${v}`);
    assert.equal(err.status, 404);
    assert.match(err.headers.get("x-ms-request-id") ?? "", /^[0-9a-f-]{36}$/);
  });

  test("the job that existed before is untouched by all of the above", async () => {
    const job = await server.client().jobs.get("existing", "rg");
    assert.equal(job.properties?.state, "Creating");
    assert.equal(job.properties?.cancelRequested, false);
    assert.equal(job.properties?.driveList?.length, 2);
  });

  test("every response conforms to the spec", async (t) => {
    assert.ok(
      server.exchanges.every((e) => e.status < 500),
      "no 5xx",
    );
    await assertConformant(t, server.exchanges);
  });
});
