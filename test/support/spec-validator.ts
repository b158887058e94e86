/**
 * Response validator against the official Microsoft.ImportExport OpenAPI 2.0 specs.
 *
 * The specs are read at test time from `../shared/azure-spec/<version>/storageimportexport.json`
 * (relative to the repo root) or from `$AZURE_SPEC_DIR`; they are never copied into the project.
 *
 * Validation is deliberately stricter than the spec in one way: an object schema that declares
 * `properties` but no `additionalProperties` is closed (`additionalProperties: false`), so
 * undeclared properties in drivebay's responses are caught. Objects without `properties`
 * (e.g. `tags`, `innererror`) stay open.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import type { ErrorObject, ValidateFunction } from "ajv";
import addFormatsImport from "ajv-formats";
import type { FormatsPlugin } from "ajv-formats";
import type { PipelinePolicy, PipelineRequest, PipelineResponse } from "@azure/core-rest-pipeline";

// ajv-formats is CommonJS; depending on the interop the default import is the plugin itself or
// the module object carrying it as `.default`.
const addFormats: FormatsPlugin =
  (addFormatsImport as unknown as { default?: FormatsPlugin }).default ??
  (addFormatsImport as unknown as FormatsPlugin);

export interface Exchange {
  method: string;
  url: string;
  status: number;
  body: string | undefined;
}

export type SpecAvailability =
  { available: true; dir: string } | { available: false; reason: string };

export const SUPPORTED_VERSIONS: readonly string[] = Object.freeze([
  "2016-11-01",
  "2020-08-01",
  "2021-01-01",
]);

const SPEC_FILE = "storageimportexport.json";
const COMMON_TYPES_SUFFIX = "common-types/resource-management/v2/types.json";
const COMMON_TYPES_ID =
  "https://drivebay.test/azure-spec/common-types/resource-management/v2/types.json";
const FALLBACK_VERSION = "2021-01-01";
const HTTP_METHODS = ["get", "put", "post", "patch", "delete", "head", "options"];

function specIdFor(version: string): string {
  return `https://drivebay.test/azure-spec/${version}/${SPEC_FILE}`;
}

function defaultSpecDir(): string {
  const env = process.env.AZURE_SPEC_DIR;
  if (env !== undefined && env !== "") return path.resolve(env);
  const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
  return path.resolve(repoRoot, "..", "shared", "azure-spec");
}

function requiredFiles(dir: string): string[] {
  return [
    ...SUPPORTED_VERSIONS.map((v) => path.join(dir, v, SPEC_FILE)),
    path.join(dir, ...COMMON_TYPES_SUFFIX.split("/")),
  ];
}

/** Whether the spec folder is present (env `AZURE_SPEC_DIR`, else `<repo>/../shared/azure-spec`). */
export function specAvailability(): SpecAvailability {
  const dir = defaultSpecDir();
  const source = process.env.AZURE_SPEC_DIR ? "AZURE_SPEC_DIR" : "default location";
  if (!existsSync(dir)) {
    return { available: false, reason: `Azure spec folder not found at ${dir} (${source})` };
  }
  const missing = requiredFiles(dir).filter((f) => !existsSync(f));
  if (missing.length > 0) {
    return {
      available: false,
      reason: `Azure spec folder ${dir} (${source}) lacks: ${missing.join(", ")}`,
    };
  }
  return { available: true, dir };
}

/**
 * A PipelinePolicy for the Azure SDK client that records every request/response pair.
 * Add it with `additionalPolicies: [{ policy: recordingPolicy(log), position: "perRetry" }]`.
 * In the "perCall" position the SDK's deserialization policy sits between this policy and the
 * wire and throws a RestError for non-2xx answers; those are recorded from `error.response`.
 */
export function recordingPolicy(log: Exchange[]): PipelinePolicy {
  const record = (request: PipelineRequest, response: PipelineResponse): void => {
    log.push({
      method: request.method,
      url: request.url,
      status: response.status,
      body: response.bodyAsText ?? undefined,
    });
  };
  return {
    name: "recordExchanges",
    async sendRequest(request, next) {
      let response: PipelineResponse;
      try {
        response = await next(request);
      } catch (error) {
        const failed = (error as { response?: PipelineResponse } | null)?.response;
        if (failed && typeof failed.status === "number") record(request, failed);
        throw error;
      }
      record(request, response);
      return response;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Schema transformation (Swagger 2.0 schema -> ajv draft-07 schema)

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function isObject(x: unknown): x is JsonObject {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

interface TransformContext {
  /** absolute id of the document whose local refs (`#/...`) are being rewritten */
  docId: string;
}

function rewriteRef(ref: string, ctx: TransformContext): string {
  const hash = ref.indexOf("#");
  const file = hash === -1 ? ref : ref.slice(0, hash);
  const fragment = hash === -1 ? "" : ref.slice(hash);
  if (file === "") return `${ctx.docId}${fragment}`;
  if (file.replace(/\\/g, "/").endsWith(COMMON_TYPES_SUFFIX))
    return `${COMMON_TYPES_ID}${fragment}`;
  throw new Error(`spec-validator: unsupported external $ref ${JSON.stringify(ref)}`);
}

/**
 * Copies a Swagger schema into an ajv-ready one: refs made absolute, `x-ms-*` and `discriminator`
 * dropped, and object schemas with `properties` but no `additionalProperties` closed.
 */
function transformSchema(schema: Json, ctx: TransformContext): Json {
  if (!isObject(schema)) return schema;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key.startsWith("x-ms-") || key === "x-nullable" || key === "discriminator") continue;
    if (key === "example") continue;
    switch (key) {
      case "$ref":
        out[key] = typeof value === "string" ? rewriteRef(value, ctx) : value;
        break;
      case "properties":
      case "definitions":
      case "patternProperties":
        out[key] = isObject(value)
          ? Object.fromEntries(
              Object.entries(value).map(([name, sub]) => [name, transformSchema(sub, ctx)]),
            )
          : value;
        break;
      case "items":
        out[key] = Array.isArray(value)
          ? value.map((v) => transformSchema(v, ctx))
          : transformSchema(value, ctx);
        break;
      case "additionalProperties":
      case "not":
        out[key] = transformSchema(value, ctx);
        break;
      case "allOf":
      case "anyOf":
      case "oneOf":
        out[key] = Array.isArray(value) ? value.map((v) => transformSchema(v, ctx)) : value;
        break;
      default:
        out[key] = value;
    }
  }
  // Stricter than the spec: close objects that list their properties. Schemas composed with
  // allOf cannot be closed this way (the parts would reject each other's properties).
  if (isObject(out.properties) && !("additionalProperties" in out) && !("allOf" in out)) {
    out.additionalProperties = false;
  }
  // Many spec schemas list properties without `type: object`; a string there would pass.
  if (isObject(out.properties) && !("type" in out)) out.type = "object";
  return out;
}

/** Definitions used as allOf parents must stay open, or the composition would reject its own parts. */
function reopenAllOfParents(definitions: JsonObject, docId: string): void {
  const parents = new Set<string>();
  const visit = (node: Json): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (isObject(node)) {
      if (Array.isArray(node.allOf)) {
        for (const part of node.allOf) {
          if (isObject(part) && typeof part.$ref === "string") {
            const prefix = `${docId}#/definitions/`;
            if (part.$ref.startsWith(prefix)) parents.add(part.$ref.slice(prefix.length));
          }
        }
      }
      Object.values(node).forEach(visit);
    }
  };
  visit(definitions);
  for (const name of parents) {
    const def = definitions[name];
    if (isObject(def) && def.additionalProperties === false) delete def.additionalProperties;
  }
}

// ---------------------------------------------------------------------------------------------

interface OperationEntry {
  operationId: string;
  method: string;
  pathTemplate: string;
  segments: string[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  operation: any;
}

interface VersionData {
  version: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec: any;
  ajv: Ajv;
  operations: OperationEntry[];
  validators: Map<string, ValidateFunction>;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const INT64_LIMIT = 2 ** 63;

function createAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addFormat("int32", {
    type: "number",
    validate: (n: number) => Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX,
  });
  ajv.addFormat("int64", {
    type: "number",
    validate: (n: number) => Number.isInteger(n) && n >= -INT64_LIMIT && n < INT64_LIMIT,
  });
  ajv.addFormat("double", { type: "number", validate: (n: number) => Number.isFinite(n) });
  ajv.addFormat("float", { type: "number", validate: (n: number) => Number.isFinite(n) });
  ajv.addFormat("unixtime", { type: "number", validate: (n: number) => Number.isInteger(n) });
  return ajv;
}

function splitPath(p: string): string[] {
  const q = p.indexOf("?");
  const pathOnly = q === -1 ? p : p.slice(0, q);
  const trimmed = pathOnly.startsWith("/") ? pathOnly.slice(1) : pathOnly;
  return trimmed.split("/").map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
}

function formatAjvError(e: ErrorObject): string {
  const where = e.instancePath === "" ? "(root)" : e.instancePath;
  let detail = "";
  const params = e.params as Record<string, unknown>;
  if (e.keyword === "additionalProperties")
    detail = ` (${JSON.stringify(params.additionalProperty)})`;
  else if (e.keyword === "enum") detail = ` (${JSON.stringify(params.allowedValues)})`;
  return `${where} ${e.message ?? e.keyword}${detail}`;
}

function describeBody(body: string | undefined): string {
  if (body === undefined) return "undefined";
  return body.length > 200 ? `${JSON.stringify(body.slice(0, 200))}...` : JSON.stringify(body);
}

export class SpecValidator {
  private readonly versions: Map<string, VersionData>;

  private constructor(versions: Map<string, VersionData>) {
    this.versions = versions;
  }

  static async load(dir?: string): Promise<SpecValidator> {
    let specDir = dir;
    if (specDir === undefined) {
      const availability = specAvailability();
      if (!availability.available) throw new Error(availability.reason);
      specDir = availability.dir;
    }
    const commonTypesPath = path.join(specDir, ...COMMON_TYPES_SUFFIX.split("/"));
    const commonTypes = JSON.parse(readFileSync(commonTypesPath, "utf8")) as JsonObject;
    const commonDefs = transformSchema(
      { definitions: commonTypes.definitions ?? {} },
      { docId: COMMON_TYPES_ID },
    ) as JsonObject;

    const versions = new Map<string, VersionData>();
    for (const version of SUPPORTED_VERSIONS) {
      const file = path.join(specDir, version, SPEC_FILE);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const spec: any = JSON.parse(readFileSync(file, "utf8"));
      const docId = specIdFor(version);
      const fixedDefs: JsonObject = {};
      for (const [name, def] of Object.entries(spec.definitions ?? {})) {
        fixedDefs[name] = transformSchema(def as Json, { docId });
      }
      reopenAllOfParents(fixedDefs, docId);

      const ajv = createAjv();
      ajv.addSchema({ $id: COMMON_TYPES_ID, ...commonDefs });
      ajv.addSchema({ $id: docId, definitions: fixedDefs });

      const operations: OperationEntry[] = [];
      for (const [pathTemplate, pathItem] of Object.entries(spec.paths ?? {})) {
        if (!isObject(pathItem)) continue;
        for (const method of HTTP_METHODS) {
          const operation = (pathItem as JsonObject)[method];
          if (!isObject(operation)) continue;
          operations.push({
            operationId: String(operation.operationId ?? `${method.toUpperCase()} ${pathTemplate}`),
            method,
            pathTemplate,
            segments: splitPath(pathTemplate),
            operation,
          });
        }
      }
      versions.set(version, { version, spec, ajv, operations, validators: new Map() });
    }
    const validator = new SpecValidator(versions);
    // Compile everything up front so a broken spec/ref fails at load, not mid-test.
    for (const data of versions.values()) {
      for (const op of data.operations) {
        for (const status of Object.keys(op.operation.responses ?? {})) {
          validator.responseValidator(data, op, status);
        }
      }
      validator.errorValidator(data);
    }
    return validator;
  }

  /** The parsed spec of a version (as read from disk, untransformed). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec(version: string): any {
    const data = this.versions.get(version);
    if (!data) throw new Error(`spec-validator: unsupported api-version ${version}`);
    return data.spec;
  }

  /** The operation for a method + request path (query ignored), or undefined. */
  findOperation(
    version: string,
    method: string,
    requestPath: string,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ): { operationId: string; pathTemplate: string; operation: any } | undefined {
    const data = this.versions.get(version);
    if (!data) return undefined;
    const entry = this.matchOperation(data, method, requestPath);
    return entry
      ? {
          operationId: entry.operationId,
          pathTemplate: entry.pathTemplate,
          operation: entry.operation,
        }
      : undefined;
  }

  /** Problems with this response; [] when it conforms. */
  validate(ex: Exchange): string[] {
    let url: URL;
    try {
      url = new URL(ex.url, "http://localhost");
    } catch {
      return [`${ex.method} ${ex.url}: unparseable URL`];
    }
    const label = `${ex.method.toUpperCase()} ${url.pathname}`;
    const version = url.searchParams.get("api-version") ?? "";
    const data = this.versions.get(version);
    const isSuccess = ex.status >= 200 && ex.status < 300;

    if (!data) {
      // Unknown or missing api-version: only the error envelope can be checked.
      if (isSuccess) {
        return [
          `${label} (api-version ${JSON.stringify(version)} unsupported) → ${ex.status}: expected an error status`,
        ];
      }
      const fallback = this.versions.get(FALLBACK_VERSION)!;
      return this.checkError(this.errorValidator(fallback), `${label} (no operation)`, ex);
    }

    const entry = this.matchOperation(data, ex.method, url.pathname);
    if (!entry) {
      if (isSuccess) return [];
      return this.checkError(this.errorValidator(data), `${label} (no operation)`, ex);
    }

    const where = `${entry.operationId} [${version}]`;
    const responses = (entry.operation.responses ?? {}) as Record<string, JsonObject>;
    const statusKey = String(ex.status);

    if (isSuccess) {
      if (!(statusKey in responses)) {
        if (entry.method === "delete" && ex.status === 204) {
          // Deliberate deviation: 204 for deleting a job that does not exist (ARM contract).
          if (ex.body !== undefined && ex.body !== "") {
            return [`${where} → 204: body must be empty, got ${describeBody(ex.body)}`];
          }
          return [];
        }
        const declared = Object.keys(responses).join(", ");
        return [`${where} → ${ex.status}: status not declared by the spec (declared: ${declared})`];
      }
      const validateFn = this.responseValidator(data, entry, statusKey);
      if (!validateFn) return [];
      return this.checkJson(validateFn, `${where} → ${ex.status}`, ex.body);
    }

    const declaredSchema = statusKey in responses ? responses[statusKey]?.schema : undefined;
    const validateFn =
      declaredSchema !== undefined
        ? this.responseValidator(data, entry, statusKey)
        : "default" in responses
          ? this.responseValidator(data, entry, "default")
          : this.errorValidator(data);
    return this.checkError(validateFn ?? this.errorValidator(data), where, ex);
  }

  // -------------------------------------------------------------------------------------------

  private matchOperation(
    data: VersionData,
    method: string,
    requestPath: string,
  ): OperationEntry | undefined {
    const m = method.toLowerCase();
    const segments = splitPath(requestPath);
    let best: OperationEntry | undefined;
    let bestLiterals = -1;
    for (const op of data.operations) {
      if (op.method !== m || op.segments.length !== segments.length) continue;
      let literals = 0;
      let ok = true;
      for (let i = 0; i < segments.length; i++) {
        const tpl = op.segments[i]!;
        const seg = segments[i]!;
        if (/^\{[^}]+\}$/.test(tpl)) {
          if (seg === "") {
            ok = false;
            break;
          }
        } else if (tpl.toLowerCase() === seg.toLowerCase()) {
          literals++;
        } else {
          ok = false;
          break;
        }
      }
      if (ok && literals > bestLiterals) {
        best = op;
        bestLiterals = literals;
      }
    }
    return best;
  }

  private responseValidator(
    data: VersionData,
    op: OperationEntry,
    status: string,
  ): ValidateFunction | undefined {
    const key = `${op.method} ${op.pathTemplate} ${status}`;
    const cached = data.validators.get(key);
    if (cached) return cached;
    const response = op.operation.responses?.[status];
    if (!isObject(response) || response.schema === undefined) return undefined;
    const schema = transformSchema(response.schema, { docId: specIdFor(data.version) });
    const fn = data.ajv.compile(schema as JsonObject);
    data.validators.set(key, fn);
    return fn;
  }

  private errorValidator(data: VersionData): ValidateFunction {
    const key = "#ErrorResponse";
    const cached = data.validators.get(key);
    if (cached) return cached;
    const fn = data.ajv.compile({ $ref: `${specIdFor(data.version)}#/definitions/ErrorResponse` });
    data.validators.set(key, fn);
    return fn;
  }

  private checkJson(fn: ValidateFunction, where: string, body: string | undefined): string[] {
    if (body === undefined || body === "") return [`${where}: expected a JSON body, got none`];
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return [`${where}: body is not JSON: ${describeBody(body)}`];
    }
    if (fn(parsed)) return [];
    return (fn.errors ?? []).map((e) => `${where}: ${formatAjvError(e)}`);
  }

  private checkError(fn: ValidateFunction, where: string, ex: Exchange): string[] {
    const at = `${where} → ${ex.status}`;
    const problems = this.checkJson(fn, `${at} (error envelope)`, ex.body);
    if (problems.length > 0 && (ex.body === undefined || ex.body === "")) return problems;
    let parsed: unknown;
    try {
      parsed = JSON.parse(ex.body ?? "");
    } catch {
      return problems;
    }
    const error = isObject(parsed) ? parsed.error : undefined;
    if (!isObject(error)) {
      problems.push(`${at} (error envelope): /error must be an object`);
      return problems;
    }
    for (const field of ["code", "message"]) {
      const value = error[field];
      if (typeof value !== "string" || value.trim() === "") {
        problems.push(`${at} (error envelope): /error/${field} must be a non-empty string`);
      }
    }
    return problems;
  }
}
