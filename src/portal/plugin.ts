/**
 * The web portal at `/portal/` (ADR 0003): server-rendered pages over the service layer,
 * one stylesheet and one small script served from `static/` (no external network), forms
 * that POST and redirect. Register it with the `/portal` prefix.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { fromFrameworkError } from "../api/arm/envelope.ts";
import { DomainError, isDomainError } from "../domain/errors.ts";
import { cookies, PageError, parseForm, isCrossSite } from "./http.ts";
import { errorPage, type Assets } from "./layout.ts";
import { customerRoutes } from "./customer-routes.ts";
import { operatorRoutes } from "./operator-routes.ts";
import { OPERATOR_COOKIE, PortalSessions } from "./sessions.ts";
import { sendHtml, type PortalContext, type PortalDeps } from "./context.ts";

export type { PortalDeps };

const STATIC_DIR = join(import.meta.dirname, "static");
const FORM_TYPE = /^application\/x-www-form-urlencoded\b/i;

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

function loadStatic(): { files: Map<string, StaticFile>; assets: Assets } {
  const files = new Map<string, StaticFile>();
  const urls: Record<string, string> = {};
  for (const [name, type] of [
    ["portal.css", "text/css; charset=utf-8"],
    ["portal.js", "text/javascript; charset=utf-8"],
  ] as const) {
    const body = readFileSync(join(STATIC_DIR, name));
    const hash = createHash("sha256").update(body).digest("base64url").slice(0, 12);
    files.set(name, { body, type, etag: `"${hash}"` });
    urls[name] = `/portal/static/${name}?v=${hash}`;
  }
  return { files, assets: { css: urls["portal.css"]!, js: urls["portal.js"]! } };
}

/**
 * The pages load nothing from elsewhere and run no inline script: the policy says so to
 * the browser, as a second line behind the escaping templates.
 */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export async function portalRoutes(app: FastifyInstance, deps: PortalDeps): Promise<void> {
  const { files, assets } = loadStatic();
  const ctx: PortalContext = {
    ...deps,
    assets,
    sessions: new PortalSessions(deps.sessionStore),
  };

  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string", bodyLimit: 256 * 1024 },
    (_req, body, done) => done(null, parseForm(String(body))),
  );

  app.addHook("onRequest", (req, reply, done) => {
    req.operationId =
      (req.routeOptions.config as { operationId?: string } | undefined)?.operationId ??
      "Portal_Other";
    reply.header("content-security-policy", CSP);
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "same-origin");
    reply.header("x-frame-options", "DENY");
    done();
  });

  // Forms of other sites cannot act here (the customer pages have no credential to forge).
  app.addHook("preHandler", (req, _reply, done) => {
    if (req.method !== "POST") return done();
    if (isCrossSite(req)) {
      return done(
        new PageError(403, "CrossSiteRequest", "A form of another site cannot make changes here."),
      );
    }
    // Pages take form posts only (a JSON body would not be the strings the forms send).
    if (req.body !== undefined && !FORM_TYPE.test(req.headers["content-type"] ?? "")) {
      return done(
        new PageError(
          415,
          "UnsupportedMediaType",
          "The portal's forms send 'application/x-www-form-urlencoded'; use the API for JSON.",
        ),
      );
    }
    done();
  });

  // Whether an error page in the operator area offers "Sign out" (a store that cannot be
  // read now shows the page without it).
  const signedIn = async (req: FastifyRequest): Promise<boolean> => {
    const operator = deps.operator;
    if (!operator || !req.url.startsWith("/portal/operator")) return false;
    if (req.operatorSignedIn !== undefined) return req.operatorSignedIn;
    return ctx.sessions
      .operatorValid(cookies(req)[OPERATOR_COOKIE], operator.operatorKey)
      .catch(() => false);
  };

  app.setErrorHandler(async (err, req, reply: FastifyReply) => {
    let status: number;
    let code: string;
    let message: string;
    if (err instanceof PageError || isDomainError(err)) {
      ({ status, code, message } = err as PageError | DomainError);
    } else {
      const framework = fromFrameworkError(
        err as { code?: string; statusCode?: number; message: string },
      );
      if (framework) {
        ({ status, code, message } = framework);
      } else {
        req.log.error({ err }, "unhandled portal error");
        status = 500;
        code = "InternalServerError";
        message = `The server hit an unexpected error. Report the request id '${req.id}' to the operator.`;
      }
    }
    const operator = req.url.startsWith("/portal/operator");
    return sendHtml(
      reply,
      status,
      errorPage({
        status,
        code,
        message,
        title: status === 404 ? "Not found" : undefined,
        area: operator ? "operator" : "customer",
        assets,
        signedIn: await signedIn(req),
      }),
    );
  });

  app.setNotFoundHandler(async (req, reply) => {
    const path = req.url.split("?")[0] ?? "";
    return sendHtml(
      reply,
      404,
      errorPage({
        status: 404,
        code: "NotFound",
        message: `There is no portal page at '${path}'.`,
        title: "Not found",
        assets,
      }),
    );
  });

  app.get("/static/:file", { config: { operationId: "Portal_Static" } }, async (req, reply) => {
    const file = files.get((req.params as { file: string }).file);
    if (!file) throw new DomainError("NotFound", "There is no such file.");
    reply.header("etag", file.etag);
    reply.header("cache-control", "public, max-age=31536000, immutable");
    if (req.headers["if-none-match"] === file.etag) return reply.code(304).send();
    return reply.type(file.type).send(file.body);
  });

  customerRoutes(app, ctx);
  const operator = deps.operator;
  if (operator) {
    await app.register(async (scope) => operatorRoutes(scope, ctx, operator), {
      prefix: "/operator",
    });
  }
}
