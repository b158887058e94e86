/**
 * Replays the official x-ms-examples of every api-version against a fresh drivebay, as raw
 * HTTP (these are the examples' own requests, so no SDK in between).
 *
 * For each version the examples are found through the operations' `x-ms-examples` $refs and
 * sent in an order that makes sense against one server: create (201, then the same PUT again:
 * 200, a full replace while Creating), get, update, BitLocker keys, both lists, locations,
 * operations, and delete last. Every response must
 *   (a) have a status the example lists,
 *   (b) validate against the spec (strict: no undeclared properties),
 *   (c) be shape-compatible with the example's body: each key path of the example exists in
 *       ours with the same JSON type, and each value is equal, except the paths named below
 *       with the reason (service-decided values, example inconsistencies, job progress).
 *
 * The examples are independent of each other; where one contradicts what an earlier replayed
 * request made (GetExportJob's job name, GetJob's drive data, ListBitLockerKeys' key), ours is
 * checked against what we sent, and the test says so.
 *
 * The list examples: ListJobsInResourceGroup is scoped to the same subscription and resource
 * group as CreateJob (myResourceGroup), ListJobsInSubscription to the same subscription, but
 * both show jobs the other examples never create (test-by1-ssd-2 in myResourceGroup,
 * test-bn1-import-cpu100-01/-02 in testrg). Before replaying a list, those jobs are created
 * from the example's own list entries (PUT, then PATCH with their deliveryPackage, and
 * state Shipping when they have a return address and carrier), so the example's request is
 * replayed unchanged and each example entry can be compared with ours of the same id.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { startTestServer, type TestServer } from "../support/server.ts";
import { SUPPORTED_VERSIONS, type SpecValidator } from "../support/spec-validator.ts";
import {
  assertConforms,
  assertNoDifferences,
  availability,
  differences,
  isObject,
  loadValidator,
  specGate,
  type Exemptions,
  type Json,
  type JsonObject,
} from "./helpers.ts";

/** Every example the specs reference, in replay order, with the operation it belongs to. */
const PLAN: readonly (readonly [example: string, operationId: string])[] = [
  ["CreateJob", "Jobs_Create"],
  ["CreateExportJob", "Jobs_Create"],
  ["GetJob", "Jobs_Get"],
  ["GetExportJob", "Jobs_Get"],
  ["UpdateJob", "Jobs_Update"],
  ["UpdateExportJob", "Jobs_Update"],
  ["ListBitLockerKeys", "BitLockerKeys_List"],
  ["ListJobsInResourceGroup", "Jobs_ListByResourceGroup"],
  ["ListJobsInSubscription", "Jobs_ListBySubscription"],
  ["ListLocations", "Locations_List"],
  ["GetLocation", "Locations_Get"],
  ["ListOperations", "Operations_List"],
  ["DeleteJob", "Jobs_Delete"],
];

const SYSTEM_DATA: Exemptions = {
  "systemData.createdBy": 'the caller; the examples show the placeholder "string"',
  "systemData.createdAt": "a timestamp from the service clock",
  "systemData.lastModifiedBy": 'the caller; the examples show the placeholder "string"',
  "systemData.lastModifiedAt": "a timestamp from the service clock",
};

const CANONICAL_LOCATION: Exemptions = {
  location:
    'SPEC §1.2: stored and returned as the canonical short name ("westus"); the examples echo the display name the request used ("West US"); asserted separately',
};

const PLACEHOLDER_PHONE: Exemptions = {
  "properties.shippingInformation.phone":
    'the example shows the placeholder "408 0000 0000"; the service fills shippingInformation from the location, and GetLocation.json gives West US\'s phone as "408 352 7600"; asserted equal to GetLocation.json separately',
};

/** Create and Update: no key path is exempt; only service-decided values. */
const JOB_VALUES: Exemptions = { ...SYSTEM_DATA, ...CANONICAL_LOCATION, ...PLACEHOLDER_PHONE };

const GET_JOB_VALUES: Exemptions = {
  ...JOB_VALUES,
  id: "GetJob.json's id ends in /jobs/test while its name is myJob (inconsistent example); ours is checked against the request path",
  "properties.driveList[].manifestFile":
    "GetJob.json shows other drive data than CreateJob.json sent; ours must echo what CreateJob sent (checked separately)",
  "properties.driveList[].manifestHash": "as manifestFile",
  "properties.driveList[].driveHeaderHash": "as manifestFile",
};

const GET_EXPORT_JOB_VALUES: Exemptions = {
  ...JOB_VALUES,
  id: "GetExportJob.json's id ends in /jobs/test (inconsistent example); ours is checked against the request path",
  name: "GetExportJob.json calls the export job myJob, which is the import job of CreateJob.json; it is replayed against myExportJob, the job CreateExportJob made",
};

const LIST_ENTRY_SHAPE: Exemptions = {
  "properties.driveList":
    "SPEC §1.2: lists omit driveList, as the real service and ListJobsInResourceGroup.json do (ListJobsInSubscription.json shows it)",
  "properties.percentComplete":
    "job progress: present only while Transferring, a state only the datacenter side reaches",
};

const LIST_ENTRY_VALUES: Exemptions = {
  ...SYSTEM_DATA,
  ...CANONICAL_LOCATION,
  "properties.state":
    "job progress: the example's jobs are Received/Transferring, states only the datacenter side reaches (not the ARM API); the seeded jobs are Shipping or Creating",
};

const SUBSCRIPTION_LIST_ENTRY_VALUES: Exemptions = {
  ...LIST_ENTRY_VALUES,
  "properties.shippingInformation":
    "the example's East US 2 jobs show the Boydton (East US) address; drivebay fills shippingInformation from its own catalogue entry for the job's location, checked against Locations_Get instead",
};

const BITLOCKER_VALUES: Exemptions = {
  "value[].bitLockerKey":
    "ListBitLockerKeys.json shows another key than CreateJob.json sent (independent examples); ours must return the key CreateJob sent (checked separately)",
};

interface SpecParameter {
  name: string;
  in: "path" | "query" | "header" | "body" | "formData";
  required?: boolean;
}

interface Example {
  name: string;
  operationId: string;
  method: string;
  pathTemplate: string;
  specParameters: SpecParameter[];
  parameters: JsonObject;
  responses: Record<string, { body?: Json }>;
}

interface Reply {
  status: number;
  text: string;
  body: Json | undefined;
}

/** The examples a version's spec references, keyed by file name without `.json`. */
function loadExamples(v: SpecValidator, specDir: string, version: string): Map<string, Example> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const spec: any = v.spec(version);
  const resolve = (p: { $ref?: string } & Partial<SpecParameter>): SpecParameter => {
    if (typeof p.$ref === "string") {
      const name = p.$ref.replace(/^#\/parameters\//, "");
      const target = spec.parameters?.[name] as SpecParameter | undefined;
      if (!target) throw new Error(`unresolved parameter ${p.$ref}`);
      return target;
    }
    return p as SpecParameter;
  };
  const out = new Map<string, Example>();
  for (const [pathTemplate, pathItem] of Object.entries<JsonObject>(spec.paths)) {
    const shared = (pathItem.parameters ?? []) as JsonObject[];
    for (const method of ["get", "put", "patch", "post", "delete"]) {
      const op = pathItem[method];
      if (!isObject(op)) continue;
      const refs = isObject(op["x-ms-examples"]) ? op["x-ms-examples"] : {};
      for (const ref of Object.values(refs)) {
        if (!isObject(ref) || typeof ref.$ref !== "string") continue;
        const file = path.resolve(specDir, version, ref.$ref);
        const example = JSON.parse(readFileSync(file, "utf8")) as JsonObject;
        out.set(path.basename(file, ".json"), {
          name: path.basename(file, ".json"),
          operationId: String(op.operationId),
          method: method.toUpperCase(),
          pathTemplate,
          specParameters: [...shared, ...((op.parameters ?? []) as JsonObject[])].map(resolve),
          parameters: example.parameters as JsonObject,
          responses: example.responses as Record<string, { body?: Json }>,
        });
      }
    }
  }
  return out;
}

function obj(x: Json | undefined, what: string): JsonObject {
  assert.ok(isObject(x), `${what}: expected a JSON object, got ${JSON.stringify(x)}`);
  return x;
}

function list(x: Json | undefined, what: string): Json[] {
  assert.ok(Array.isArray(x), `${what}: expected a JSON array, got ${JSON.stringify(x)}`);
  return x;
}

/** What the service must echo of a PUT body: everything sent, drives without keys, Specified. */
function expectedEcho(put: JsonObject): JsonObject {
  const properties = obj(put.properties, "PUT body properties");
  const echo: JsonObject = {};
  for (const [key, value] of Object.entries(properties)) {
    echo[key] =
      key === "driveList"
        ? list(value, "driveList").map((d) => {
            const { bitLockerKey: _key, ...drive } = obj(d, "drive");
            return { ...drive, state: "Specified" };
          })
        : value;
  }
  return echo;
}

/** Location.properties → the ShippingInformation a job at that location carries. */
function shippingInformationOf(location: JsonObject): JsonObject {
  const {
    additionalShippingInformation,
    supportedCarriers: _carriers,
    alternateLocations: _alternates,
    ...address
  } = obj(location.properties, "location properties");
  return { ...address, additionalInformation: additionalShippingInformation ?? "" };
}

const JOB_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ImportExport\/jobs\/([^/]+)$/;

for (const version of SUPPORTED_VERSIONS) {
  describe(`x-ms-examples replay at api-version ${version}`, () => {
    let server: TestServer | undefined;
    let v: SpecValidator;
    let examples: Map<string, Example>;

    before(async () => {
      if (!availability.available) return;
      v = await loadValidator();
      examples = loadExamples(v, availability.dir, version);
      server = await startTestServer();
    });
    after(async () => {
      await server?.close();
    });

    const example = (name: string): Example => {
      const ex = examples.get(name);
      assert.ok(ex, `the ${version} spec references no example ${name}.json`);
      return ex;
    };

    /** Sends an example's request (parameters optionally overridden) and checks (a) and (b). */
    async function replay(
      ex: Example,
      expectedStatus: number,
      override: JsonObject = {},
    ): Promise<Reply> {
      const values: JsonObject = { ...ex.parameters, ...override };
      let pathname = ex.pathTemplate;
      const query = new URLSearchParams();
      const headers: Record<string, string> = { authorization: "Bearer x" };
      let body: string | undefined;
      for (const p of ex.specParameters) {
        const value = values[p.name];
        if (value === undefined) {
          assert.ok(!p.required, `${ex.name}.json gives no value for required ${p.name}`);
          continue;
        }
        if (p.in === "path")
          pathname = pathname.replace(`{${p.name}}`, encodeURIComponent(String(value)));
        else if (p.in === "query") query.set(p.name, String(value));
        else if (p.in === "header") headers[p.name] = String(value);
        else if (p.in === "body") {
          body = JSON.stringify(value);
          headers["content-type"] = "application/json";
        }
      }
      assert.doesNotMatch(pathname, /\{/, `${ex.name}: unfilled path parameter in ${pathname}`);
      const url = `${server!.url}${pathname}?${query.toString()}`;
      const res = await fetch(url, { method: ex.method, headers, body });
      const text = await res.text();
      assert.ok(
        String(expectedStatus) in ex.responses,
        `${ex.name}.json does not list ${expectedStatus}`,
      );
      assert.ok(
        String(res.status) in ex.responses,
        `${ex.method} ${pathname} → ${res.status}; ${ex.name}.json lists ${Object.keys(ex.responses).join(", ")}: ${text}`,
      );
      assert.equal(res.status, expectedStatus, `${ex.method} ${pathname}: ${text}`);
      assertConforms(v, { method: ex.method, url, status: res.status, body: text });
      return {
        status: res.status,
        text,
        body: text === "" ? undefined : (JSON.parse(text) as Json),
      };
    }

    /** A request of our own (seeding, follow-up checks), validated like the replays. */
    async function call(method: string, pathname: string, body?: Json): Promise<Reply> {
      const url = `${server!.url}${pathname}?api-version=${version}`;
      const res = await fetch(url, {
        method,
        headers: {
          authorization: "Bearer x",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      assertConforms(v, { method, url, status: res.status, body: text });
      return {
        status: res.status,
        text,
        body: text === "" ? undefined : (JSON.parse(text) as Json),
      };
    }

    const responseBody = (ex: Example, status: number): Json => {
      const body = ex.responses[String(status)]?.body;
      assert.ok(body !== undefined, `${ex.name}.json has no ${status} body`);
      return body;
    };

    /** West US's address as a job's shippingInformation, from GetLocation.json. */
    const westUsShipping = (): JsonObject =>
      shippingInformationOf(obj(responseBody(example("GetLocation"), 200), "GetLocation.json"));

    /** The job checks shared by Create/Get/Update: echo of the PUT, id, keys, shipping. */
    function assertJob(reply: Reply, put: Example, what: string): JsonObject {
      const job = obj(reply.body, what);
      const { subscriptionId, resourceGroupName, jobName } = put.parameters;
      const sent = obj(put.parameters.body, `${put.name}.json body`);
      assert.equal(
        job.id,
        `/subscriptions/${String(subscriptionId)}/resourceGroups/${String(resourceGroupName)}/providers/Microsoft.ImportExport/jobs/${String(jobName)}`,
      );
      assert.equal(job.name, jobName);
      assert.equal(job.location, "westus", '"West US" is returned as the short name');
      const properties = obj(job.properties, `${what} properties`);
      for (const [key, value] of Object.entries(expectedEcho(sent))) {
        assert.deepEqual(properties[key], value, `${what}: properties.${key} echoes ${put.name}`);
      }
      assert.deepEqual(
        properties.shippingInformation,
        westUsShipping(),
        `${what}: West US address`,
      );
      for (const drive of Array.isArray(properties.driveList) ? properties.driveList : []) {
        assert.ok(isObject(drive) && !("bitLockerKey" in drive), `${what}: a drive carries a key`);
      }
      const sentDrives = obj(sent.properties, "PUT properties").driveList;
      for (const drive of Array.isArray(sentDrives) ? sentDrives : []) {
        const key = obj(drive, "drive").bitLockerKey;
        assert.ok(typeof key !== "string" || !reply.text.includes(key), `${what} leaks a key`);
      }
      return job;
    }

    function assertLikeExample(reply: Reply, ex: Example, status: number, values: Exemptions) {
      assertNoDifferences(
        differences(reply.body, responseBody(ex, status), { values }),
        `${ex.name}: ours differs from the example's ${status} body`,
      );
    }

    test("the spec's x-ms-examples are the ones this replay plans, for this api-version", (t) => {
      if (!specGate(t)) return;
      assert.deepEqual(
        [...examples.keys()].sort(),
        PLAN.map(([name]) => name).sort(),
        "an example was added or removed upstream: extend the replay",
      );
      for (const [name, operationId] of PLAN) {
        const ex = example(name);
        assert.equal(ex.operationId, operationId, `${name}.json belongs to ${operationId}`);
        assert.equal(ex.parameters["api-version"], version, `${name}.json is a ${version} example`);
      }
    });

    test("CreateJob → 201 for a new job, like the example", async (t) => {
      if (!specGate(t)) return;
      const ex = example("CreateJob");
      const reply = await replay(ex, 201);
      assertLikeExample(reply, ex, 201, JOB_VALUES);
      assertJob(reply, ex, "CreateJob 201");
    });

    test("CreateJob again → 200: a full replace while Creating", async (t) => {
      if (!specGate(t)) return;
      const ex = example("CreateJob");
      const reply = await replay(ex, 200);
      assertLikeExample(reply, ex, 200, JOB_VALUES);
      assertJob(reply, ex, "CreateJob 200");
    });

    test("CreateExportJob → 201, like the example", async (t) => {
      if (!specGate(t)) return;
      const ex = example("CreateExportJob");
      const reply = await replay(ex, 201);
      assertLikeExample(reply, ex, 201, JOB_VALUES);
      assertJob(reply, ex, "CreateExportJob 201");
    });

    test("GetJob → 200, like the example; drives as CreateJob sent them, without keys", async (t) => {
      if (!specGate(t)) return;
      const ex = example("GetJob");
      const reply = await replay(ex, 200);
      assertLikeExample(reply, ex, 200, GET_JOB_VALUES);
      assertJob(reply, example("CreateJob"), "GetJob");
    });

    test("GetExportJob → 200, like the example (replayed against myExportJob)", async (t) => {
      if (!specGate(t)) return;
      const ex = example("GetExportJob");
      const create = example("CreateExportJob");
      const reply = await replay(ex, 200, { jobName: create.parameters.jobName! });
      assertLikeExample(reply, ex, 200, GET_EXPORT_JOB_VALUES);
      assertJob(reply, create, "GetExportJob");
    });

    test('UpdateJob → 200, like the example (state "" is no change)', async (t) => {
      if (!specGate(t)) return;
      const ex = example("UpdateJob");
      const reply = await replay(ex, 200);
      assertLikeExample(reply, ex, 200, JOB_VALUES);
      assertJob(reply, example("CreateJob"), "UpdateJob");
    });

    test("UpdateExportJob → 200, like the example", async (t) => {
      if (!specGate(t)) return;
      const ex = example("UpdateExportJob");
      const reply = await replay(ex, 200);
      assertLikeExample(reply, ex, 200, JOB_VALUES);
      assertJob(reply, example("CreateExportJob"), "UpdateExportJob");
    });

    test("ListBitLockerKeys → 200 with the keys CreateJob sent", async (t) => {
      if (!specGate(t)) return;
      const ex = example("ListBitLockerKeys");
      const reply = await replay(ex, 200);
      assertLikeExample(reply, ex, 200, BITLOCKER_VALUES);
      const sent = obj(obj(example("CreateJob").parameters.body, "CreateJob body").properties, "");
      assert.deepEqual(reply.body, {
        value: list(sent.driveList, "driveList").map((d) => {
          const drive = obj(d, "drive");
          return { driveId: drive.driveId!, bitLockerKey: drive.bitLockerKey! };
        }),
      });
    });

    /** Creates the jobs a list example shows, from the example's own entries. */
    async function seedListedJobs(ex: Example): Promise<void> {
      const entries = list(obj(responseBody(ex, 200), ex.name).value, `${ex.name} value`);
      for (const [i, e] of entries.entries()) {
        const entry = obj(e, `${ex.name} value[${i}]`);
        const id = String(entry.id);
        assert.match(id, JOB_ID);
        const p = obj(entry.properties, `${ex.name} value[${i}].properties`);
        const drives = Array.isArray(p.driveList)
          ? p.driveList.map((d) => obj(d, "drive"))
          : [{ driveId: `SEED${i}`, manifestFile: "\\DriveManifest.xml", manifestHash: "00" }];
        const properties: JsonObject = {
          storageAccountId: p.storageAccountId!,
          jobType: p.jobType!,
          diagnosticsPath: p.diagnosticsPath!,
          logLevel: p.logLevel!,
          backupDriveManifest: p.backupDriveManifest!,
          driveList: drives.map((d) => ({
            driveId: d.driveId!,
            manifestFile: d.manifestFile!,
            manifestHash: d.manifestHash!,
            bitLockerKey: "111111-222222-333333-444444-555555-666666-777777-888888",
          })),
        };
        if (p.returnAddress) properties.returnAddress = p.returnAddress;
        if (p.returnShipping) properties.returnShipping = p.returnShipping;
        const created = await call("PUT", id, { location: entry.location!, properties });
        assert.equal(created.status, 201, `seeding ${id}: ${created.text}`);
        const shippable = p.returnAddress !== undefined && p.returnShipping !== undefined;
        const patch: JsonObject = {};
        if (p.deliveryPackage !== undefined) patch.deliveryPackage = p.deliveryPackage;
        if (shippable && p.deliveryPackage !== undefined) patch.state = "Shipping";
        const updated = await call("PATCH", id, { properties: patch });
        assert.equal(updated.status, 200, `seeding ${id}: ${updated.text}`);
      }
    }

    async function assertListLikeExample(
      ex: Example,
      reply: Reply,
      values: Exemptions,
      mustInclude: string[],
    ): Promise<void> {
      const exampleBody = obj(responseBody(ex, 200), ex.name);
      const ours = obj(reply.body, ex.name);
      if (!("nextLink" in exampleBody)) assert.equal(ours.nextLink, undefined, "one page");
      const ourJobs = list(ours.value, `${ex.name} value`).map((j) => obj(j, "job"));
      const ids = ourJobs.map((j) => String(j.id));
      for (const id of mustInclude) assert.ok(ids.includes(id), `${ex.name} lists ${id}`);
      for (const job of ourJobs) {
        const p = obj(job.properties, `${String(job.id)} properties`);
        assert.ok(!("driveList" in p), `lists omit driveList (${String(job.id)})`);
      }
      for (const e of list(exampleBody.value, `${ex.name} value`)) {
        const entry = obj(e, "example entry");
        const job = ourJobs.find((j) => j.id === entry.id);
        assert.ok(job, `${ex.name} lists the example's ${String(entry.id)}`);
        assertNoDifferences(
          differences(job, entry, { shape: LIST_ENTRY_SHAPE, values }),
          `${ex.name}: ${String(entry.id)} differs from the example's entry`,
        );
        // shippingInformation is the address of the job's own location.
        const location = await call(
          "GET",
          `/providers/Microsoft.ImportExport/locations/${encodeURIComponent(String(job.location))}`,
        );
        assert.equal(location.status, 200);
        assert.deepEqual(
          obj(job.properties, "").shippingInformation,
          shippingInformationOf(obj(location.body, "location")),
          `${String(entry.id)}: shippingInformation is ${String(job.location)}'s address`,
        );
      }
    }

    const createdIds = (...names: string[]): string[] =>
      names.map((n) => {
        const p = example(n).parameters;
        return `/subscriptions/${String(p.subscriptionId)}/resourceGroups/${String(p.resourceGroupName)}/providers/Microsoft.ImportExport/jobs/${String(p.jobName)}`;
      });

    test("ListJobsInResourceGroup → 200; the example's job, seeded, is listed like the example", async (t) => {
      if (!specGate(t)) return;
      const ex = example("ListJobsInResourceGroup");
      await seedListedJobs(ex);
      const reply = await replay(ex, 200);
      await assertListLikeExample(
        ex,
        reply,
        LIST_ENTRY_VALUES,
        createdIds("CreateJob", "CreateExportJob"),
      );
      const { subscriptionId, resourceGroupName } = ex.parameters;
      for (const job of list(obj(reply.body, "").value, "value")) {
        const m = JOB_ID.exec(String(obj(job, "job").id));
        assert.ok(m, "job id");
        assert.deepEqual([m[1], m[2]], [subscriptionId, resourceGroupName], "scoped to the RG");
      }
    });

    test("ListJobsInSubscription → 200; the example's jobs, seeded, are listed like the example", async (t) => {
      if (!specGate(t)) return;
      const ex = example("ListJobsInSubscription");
      await seedListedJobs(ex);
      const reply = await replay(ex, 200);
      await assertListLikeExample(
        ex,
        reply,
        SUBSCRIPTION_LIST_ENTRY_VALUES,
        createdIds("CreateJob", "CreateExportJob"),
      );
      for (const job of list(obj(reply.body, "").value, "value")) {
        const m = JOB_ID.exec(String(obj(job, "job").id));
        assert.ok(m, "job id");
        assert.equal(m[1], ex.parameters.subscriptionId, "scoped to the subscription");
      }
    });

    test("ListLocations → 200; the example's locations (and West US) are ours exactly", async (t) => {
      if (!specGate(t)) return;
      const ex = example("ListLocations");
      const reply = await replay(ex, 200);
      const exampleBody = obj(responseBody(ex, 200), ex.name);
      const ours = obj(reply.body, ex.name);
      assert.deepEqual(Object.keys(ours), Object.keys(exampleBody), "value only, no nextLink");
      const ourLocations = list(ours.value, "value").map((l) => obj(l, "location"));
      const exampleLocations = list(exampleBody.value, "value").map((l) => obj(l, "location"));
      exampleLocations.push(obj(responseBody(example("GetLocation"), 200), "GetLocation.json"));
      for (const expected of exampleLocations) {
        const location = ourLocations.find((l) => l.id === expected.id);
        assert.deepEqual(location, expected, `${String(expected.id)} as in the examples`);
      }
      for (const location of ourLocations) {
        assertNoDifferences(
          differences(location, exampleLocations[0], { shapeOnly: true }),
          `${String(location.id)} has the example's shape`,
        );
      }
    });

    test("GetLocation → 200 equal to the example", async (t) => {
      if (!specGate(t)) return;
      const ex = example("GetLocation");
      const reply = await replay(ex, 200);
      assert.deepEqual(reply.body, responseBody(ex, 200));
    });

    test("ListOperations → 200 equal to the example", async (t) => {
      if (!specGate(t)) return;
      const ex = example("ListOperations");
      const reply = await replay(ex, 200);
      assert.deepEqual(reply.body, responseBody(ex, 200));
    });

    test("DeleteJob → 200 with an empty body; the job is gone", async (t) => {
      if (!specGate(t)) return;
      const ex = example("DeleteJob");
      assert.equal(ex.responses["200"]?.body, undefined, "the example's 200 has no body");
      const reply = await replay(ex, 200);
      assert.equal(reply.text, "");
      const [id] = createdIds("DeleteJob");
      const gone = await call("GET", id!);
      assert.equal(gone.status, 404, gone.text);
      const keys = await call("POST", `${id!}/listBitLockerKeys`);
      assert.equal(keys.status, 404, keys.text);
    });
  });
}
