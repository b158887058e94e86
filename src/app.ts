/**
 * buildApp(deps) → a Fastify server with the ARM API and the operational endpoints, not
 * listening (tests and main.ts decide where it listens).
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import { randomUUID } from "node:crypto";
import { STATUS_CODES, type IncomingMessage } from "node:http";
import { DomainError, isDomainError } from "./domain/errors.ts";
import { Access, armAction, authorize, bearerOf, type Caller } from "./auth/access.ts";
import type { LocationCatalogue } from "./domain/locations.ts";
import type { JobService } from "./service/job-service.ts";
import type { JobStore } from "./store/ports.ts";
import { checkApiVersion } from "./api/arm/api-version.ts";
import { envelope, fromFrameworkError } from "./api/arm/envelope.ts";
import type { PageTokens } from "./api/arm/paging.ts";
import { Metrics } from "./api/metrics.ts";
import { ResponseCache } from "./api/arm/response-cache.ts";
import {
  bearerToken,
  isOperatorKey,
  operatorRoutes,
  type OperatorDeps,
} from "./api/operator/routes.ts";
import { ARM_ROUTES } from "./api/routes/index.ts";
import { portalRoutes } from "./portal/plugin.ts";
import rateLimit from "@fastify/rate-limit";
import { principalOf } from "./api/plugins/principal.ts";
import type { LogStorage } from "./portal/context.ts";

export interface AppDeps {
  jobs: JobService;
  store: JobStore;
  locations: LocationCatalogue;
  tokens: PageTokens;
  logger?: FastifyBaseLogger | false;
  /** The operator API; absent means no operator surface. */
  operator?: OperatorDeps;
  /** Called by /readyz; false while the service cannot take requests. */
  ready?: () => boolean;
  /** ARM API auth (SPEC §6); development auth when absent. */
  access?: Access;
  /** The storage accounts; the portal serves drive logs from them. */
  blobs?: LogStorage;
  /** Serve https with this PEM certificate and key. */
  https?: { cert: Buffer; key: Buffer };
  /** Per-subscription request limits of the ARM API (SPEC §5); none when absent. */
  rateLimit?: RateLimitSettings;
}

export interface RateLimitSettings {
  /** Reads (GET) a subscription may make per window. */
  reads: number;
  /** Writes (PUT, PATCH, DELETE, POST) a subscription may make per window. */
  writes: number;
  windowMs: number;
}

type Limiter = (req: FastifyRequest) => Promise<{
  isAllowed: boolean;
  isExceeded: boolean;
  remaining: number;
  ttlInSeconds: number;
}>;

export const BODY_LIMIT = 1024 * 1024;

declare module "fastify" {
  interface FastifyRequest {
    /** The spec's operationId of the matched ARM route (for logs and metrics). */
    operationId: string | undefined;
  }
}

/** How many bytes of an oversized body are read (and discarded) so the client sees the 413. */
export const DRAIN_LIMIT = 64 * 1024 * 1024;
const DRAIN_TIMEOUT_MS = 30_000;

const METHOD_ORDER = ["GET", "PUT", "PATCH", "DELETE", "POST"];

/**
 * The paths the server knows and the methods each takes, collected from the routes as
 * they are registered (ARM, operator, portal), so a 405 and its Allow never drift from
 * the route table.
 */
class RouteTable {
  private readonly byPattern = new Map<string, { re: RegExp; methods: Set<string> }>();

  add(url: string, methods: string | string[]): void {
    let entry = this.byPattern.get(url.toLowerCase());
    if (!entry) {
      const source = url
        .split("/")
        .map((seg) =>
          seg.startsWith(":")
            ? "[^/]+"
            : seg === "*"
              ? ".*"
              : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
        )
        .join("/");
      entry = { re: new RegExp(`^${source}/?$`, "i"), methods: new Set() };
      this.byPattern.set(url.toLowerCase(), entry);
    }
    for (const m of [methods].flat()) if (m !== "HEAD") entry.methods.add(m);
  }

  /** The methods a known path takes, in a stable order; undefined for an unknown path. */
  methodsOf(path: string): string[] | undefined {
    const methods = new Set<string>();
    for (const { re, methods: ms } of this.byPattern.values()) {
      if (re.test(path)) for (const m of ms) methods.add(m);
    }
    if (methods.size === 0) return undefined;
    const rank = (m: string) => (METHOD_ORDER.includes(m) ? METHOD_ORDER.indexOf(m) : 99);
    return [...methods].sort((a, b) => rank(a) - rank(b));
  }
}

/** Reads and discards the rest of a request body (up to DRAIN_LIMIT) before answering. */
function drain(req: IncomingMessage): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let read = 0;
    const done = () => {
      clearTimeout(timer);
      req.off("data", onData);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (read > DRAIN_LIMIT) done();
    };
    const timer = setTimeout(done, DRAIN_TIMEOUT_MS);
    req.on("data", onData);
    req.once("end", done);
    req.once("close", done);
    req.once("error", done);
    req.resume();
  });
}

/** A request line Node could not take (an unknown method, a malformed line). */
function clientErrorResponse(
  err: Error & { code?: string; rawPacket?: Buffer },
  routes: RouteTable,
): { status: number; headers: Record<string, string>; error: DomainError } {
  const line = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\/\S*) HTTP\/1\.[01]\r?$/m.exec(
    err.rawPacket?.subarray(0, 8192).toString("latin1").split("\n")[0] ?? "",
  );
  const path = line?.[2]?.split("?")[0];
  const allowed = path ? routes.methodsOf(path) : undefined;
  if (line && allowed && err.code === "HPE_INVALID_METHOD") {
    return {
      status: 405,
      headers: { allow: allowed.join(", ") },
      error: new DomainError(
        "MethodNotAllowed",
        `The method '${line[1]}' is not supported on this resource; allowed: ${allowed.join(", ")}.`,
      ),
    };
  }
  if (err.code === "HPE_HEADER_OVERFLOW") {
    return {
      status: 431,
      headers: {},
      error: new DomainError(
        "RequestHeaderFieldsTooLarge",
        "The request's headers are larger than this server accepts. Send fewer or shorter headers.",
      ),
    };
  }
  return {
    status: 400,
    headers: {},
    error: new DomainError(
      "BadRequest",
      `The request could not be parsed as HTTP/1.1 (${err.code ?? "malformed"}). Send a standard method, path and headers.`,
    ),
  };
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const access = deps.access ?? new Access({ mode: "development", grants: [] }, undefined);
  const routes = new RouteTable();
  const app = Fastify({
    // A request line Node cannot parse still gets an ARM envelope and a request id.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return socket.destroy(err);
      const { status, headers, error } = clientErrorResponse(err as never, routes);
      const body = JSON.stringify(envelope(error));
      const head = [
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Bad Request"}`,
        `x-ms-request-id: ${randomUUID()}`,
        "content-type: application/json; charset=utf-8",
        `content-length: ${Buffer.byteLength(body)}`,
        "connection: close",
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ];
      socket.end(`${head.join("\r\n")}\r\n\r\n${body}`);
    },
    ...(deps.https ? { https: deps.https } : {}),
    loggerInstance: deps.logger || undefined,
    logger: deps.logger ? undefined : false,
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: "requestId",
    }),
    bodyLimit: BODY_LIMIT,
    routerOptions: {
      caseSensitive: false,
      ignoreTrailingSlash: true,
      ignoreDuplicateSlashes: true,
    },
    genReqId: () => randomUUID(),
    // A silent logger needs no per-request child (it would cost every request for nothing).
    childLoggerFactory: (logger, bindings, options) =>
      logger.level === "silent" ? logger : logger.child(bindings, options),
    return503OnClosing: true,
    // Errors before routing (a path with broken percent-encoding) get the envelope too.
    frameworkErrors: (err, req, reply) => {
      const e =
        err.code === "FST_ERR_BAD_URL"
          ? new DomainError(
              "InvalidRequestUri",
              "The request path is not valid: a '%' must be followed by two hexadecimal digits. Encode '%' as '%25'.",
            )
          : new DomainError("InvalidRequestContent", err.message);
      void (reply as FastifyReply)
        .code(e.status)
        .header("x-ms-request-id", req.id)
        .send(envelope(e));
    },
  });
  app.addHook("onRoute", (route) => routes.add(route.url, route.method));
  // Per-subscription limits (@fastify/rate-limit's counters), asked by the ARM routes
  // after the caller is authorized, so refused callers never spend a tenant's budget.
  const limiters: { reads?: Limiter; writes?: Limiter } = {};
  const limits = deps.rateLimit;
  if (limits) {
    app.register(rateLimit, { global: false }).after(() => {
      const keyOf = (kind: string) => (req: FastifyRequest) => {
        const sub = (req.params as Record<string, string | undefined>).subscriptionId;
        return `${kind}:${sub ? sub.toLowerCase() : `tenant:${principalOf(req).id}`}`;
      };
      limiters.reads = app.createRateLimit({
        max: limits.reads,
        timeWindow: limits.windowMs,
        keyGenerator: keyOf("reads"),
      }) as unknown as Limiter;
      limiters.writes = app.createRateLimit({
        max: limits.writes,
        timeWindow: limits.windowMs,
        keyGenerator: keyOf("writes"),
      }) as unknown as Limiter;
    });
  }
  /** Counts the request against its subscription: ARM's remaining header, or 429 with Retry-After. */
  const limited = (
    req: FastifyRequest,
    reply: FastifyReply,
    method: string,
    done: (e?: Error) => void,
  ) => {
    const kind = method === "GET" ? "reads" : "writes";
    const limiter = limiters[kind];
    if (!limiter) return done();
    limiter(req).then(
      (r) => {
        reply.header(`x-ms-ratelimit-remaining-subscription-${kind}`, Math.max(0, r.remaining));
        if (r.isAllowed || !r.isExceeded) return done();
        reply.header("retry-after", Math.max(1, r.ttlInSeconds));
        done(
          new DomainError(
            "SubscriptionRequestsThrottled",
            `Number of ${kind === "reads" ? "read" : "write"} requests for this subscription exceeded the limit of ${limits![kind]} per ${Math.round(limits!.windowMs / 1000)} seconds. Try again after ${Math.max(1, r.ttlInSeconds)} seconds.`,
          ),
        );
      },
      (e: Error) => done(e),
    );
  };
  const metrics = new Metrics();
  const logRequests = deps.logger ? ["trace", "debug", "info"].includes(deps.logger.level) : false;

  // JSON bodies; an empty body is "no body" (the SDK POSTs listBitLockerKeys with content-length 0).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    /^application\/([\w.+-]+\+)?json\b/i,
    { parseAs: "string" },
    (_req, text, done) => {
      const s = String(text);
      if (s.trim() === "") return done(null, undefined);
      try {
        done(null, JSON.parse(s));
      } catch (e) {
        done(
          new DomainError(
            "InvalidRequestContent",
            `The request body is not valid JSON: ${(e as Error).message}`,
          ),
          undefined,
        );
      }
    },
  );

  app.decorateRequest("operationId", undefined);
  app.decorateRequest("caller", undefined);
  app.decorateRequest("developmentAuth", !access.tokenMode);

  app.addHook("onRequest", (req, reply, done) => {
    const clientId = req.headers["x-ms-client-request-id"];
    const correlationId = req.headers["x-ms-correlation-request-id"];
    reply.header("x-ms-request-id", req.id);
    reply.header(
      "x-ms-correlation-request-id",
      typeof correlationId === "string" ? correlationId : req.id,
    );
    reply.header("cache-control", "no-cache");
    if (typeof clientId === "string") reply.header("x-ms-client-request-id", clientId);
    done();
  });

  app.addHook("onResponse", (req, reply, done) => {
    const operationId = req.operationId ?? (req.is404 ? "NotFound" : "Other");
    const ms = reply.elapsedTime;
    metrics.observe(operationId, reply.statusCode, ms / 1000);
    if (logRequests) {
      req.log.info(
        {
          operationId,
          method: req.method,
          path: req.url.split("?")[0],
          status: reply.statusCode,
          latencyMs: Math.round(ms * 100) / 100,
        },
        "request",
      );
    }
    done();
  });

  app.setErrorHandler(async (err, req, reply) => {
    const domainError = isDomainError(err)
      ? err
      : fromFrameworkError(err as { code?: string; statusCode?: number; message: string });
    if (domainError) {
      reply.code(domainError.status);
      if (domainError.code === "MethodNotAllowed") reply.header("allow", domainError.target ?? "");
      if (domainError.code === "RequestEntityTooLarge") {
        // Read what the client is still sending, so it gets to read this answer.
        reply.header("connection", "close");
        await drain(req.raw);
      }
      if (domainError.code === "AuthenticationFailed") {
        // RFC 6750 §3.1: no error code when the request carried no credentials at all.
        reply.header(
          "www-authenticate",
          bearerOf(req.headers.authorization) === undefined
            ? "Bearer"
            : 'Bearer error="invalid_token"',
        );
      }
      return envelope(domainError);
    }
    req.log.error({ err }, "unhandled error");
    reply.code(500);
    return envelope(
      new DomainError(
        "InternalServerError",
        `The server hit an unexpected error. Report the request id '${req.id}' to the operator.`,
      ),
    );
  });

  app.setNotFoundHandler(async (req, reply) => {
    const path = req.url.split("?")[0] ?? "";
    const known = routes.methodsOf(path);
    let err: DomainError;
    if (known) {
      err = new DomainError(
        "MethodNotAllowed",
        `The method '${req.method}' is not supported on this resource; allowed: ${known.join(", ")}.`,
      );
      reply.header("allow", known.join(", "));
    } else if (/\/providers\/microsoft\.importexport\//i.test(path)) {
      err = new DomainError(
        "InvalidResourceType",
        `The resource type addressed by '${path}' is not provided by Microsoft.ImportExport.`,
      );
    } else {
      err = new DomainError("NotFound", `No API is served at '${path}'.`);
    }
    reply.code(err.status);
    return envelope(err);
  });

  // A person who opens the server's address in a browser lands on the portal.
  app.get("/", async (_req, reply) => reply.redirect("/portal/", 302));
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const ready = deps.ready ? deps.ready() : true;
    reply.code(ready ? 200 : 503);
    return { status: ready ? "ready" : "starting" };
  });
  app.get("/metrics", async (_req, reply) => {
    const counts = await deps.store.countByState();
    reply.type("text/plain; version=0.0.4");
    return metrics.render(counts as Record<string, number>);
  });

  const routeDeps = {
    jobs: deps.jobs,
    locations: deps.locations,
    tokens: deps.tokens,
    responses: new ResponseCache(),
  };
  const operatorKey = deps.operator?.operatorKey;
  if (deps.operator) {
    const operator = deps.operator;
    app.register(async (scope) => operatorRoutes(scope, operator), { prefix: "/operator/v1" });
  }

  app.register(
    async (scope) =>
      portalRoutes(scope, {
        jobs: deps.jobs,
        locations: deps.locations,
        operator: deps.operator,
        access,
        sessionStore: deps.store,
        ...(deps.blobs ? { blobs: deps.blobs } : {}),
      }),
    { prefix: "/portal" },
  );

  for (const route of ARM_ROUTES) {
    const resourceType = `Microsoft.ImportExport/${route.resourceType}`;
    const action = armAction(resourceType, route.method);
    app.route({
      method: route.method,
      url: route.url,
      // Name the operation, authenticate and authorize the caller, then ARM's api-version
      // check (all before any body is read). Development auth needs no caller here (every
      // subscription is allowed; systemData reads the header when it needs to), so its
      // requests stay synchronous.
      onRequest: (req, reply, done) => {
        req.operationId = route.operationId;
        try {
          // Operator credentials are never accepted on the ARM surface.
          if (operatorKey && isOperatorKey(operatorKey, bearerToken(req))) {
            throw new DomainError(
              "OperatorCredentialsNotAccepted",
              "The operator key is not accepted by the Microsoft.ImportExport API; use a customer token here and the operator key only on /operator/v1/.",
            );
          }
          if (!access.tokenMode) {
            checkApiVersion((req.query as Record<string, unknown>)["api-version"], resourceType);
            return limits ? limited(req, reply, route.method, done) : done();
          }
          const proceed = (caller: Caller) => {
            try {
              req.caller = caller;
              const subscriptionId = (req.params as Record<string, string>).subscriptionId;
              if (subscriptionId !== undefined) {
                authorize(caller, subscriptionId, action, req.url.split("?")[0]!);
              }
              checkApiVersion((req.query as Record<string, unknown>)["api-version"], resourceType);
              limited(req, reply, route.method, done);
            } catch (e) {
              done(e as Error);
            }
          };
          // A token verified before is answered at once (ADR 0006, docs/security.md).
          const caller = access.caller(req.headers.authorization);
          if (!(caller instanceof Promise)) return proceed(caller);
          caller.then(proceed, (e: Error) => done(e));
        } catch (e) {
          done(e as Error);
        }
      },
      handler: (req, reply) => route.handler(req, reply, routeDeps),
    });
  }
  return app;
}
