/**
 * The operator pages (`/portal/operator/`): the datacenter side through DatacenterService
 * and ClockService, behind the operator key (SPEC §6). Which actions a job offers comes
 * from the lifecycle (`allowedOperatorEvents`); refusals are the services' own errors.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { check, int, obj } from "../api/arm/schema.ts";
import {
  isOperatorKey,
  reasonBody,
  receiveBody,
  shipBackBody,
  type OperatorDeps,
} from "../api/operator/routes.ts";
import { parseDuration } from "../domain/duration.ts";
import { DomainError } from "../domain/errors.ts";
import { allowedEvents, awaitsResolution } from "../domain/job/lifecycle.ts";
import type { Job, JobKey } from "../domain/job/model.ts";
import { OPERATOR_VIEWS, type OperatorView } from "../service/datacenter-service.ts";
import { driveProgressJson } from "./format.ts";
import { jobKey, named } from "../api/routes/route.ts";
import { asFieldError, isRefusal, sendHtml, type PortalContext } from "./context.ts";
import type { Html } from "./html.ts";
import { cookies, form, queryOf, seeOther, setCookie, type Form } from "./http.ts";
import { errorPage, page } from "./layout.ts";
import {
  dashboardPage,
  jobsPage,
  loginPage,
  OPERATOR_HOME,
  operatorJobPage,
  operatorJobUrl,
  receivePage,
  VIEW_TITLES,
} from "./operator-views.ts";
import { OPERATOR_COOKIE } from "./sessions.ts";
import type { FieldError } from "./widgets.ts";

const JOB = "/jobs/:subscriptionId/:resourceGroupName/:jobName";

// The pages refuse bad input with the operator API's own shapes and messages.
const completeBody = obj({ bytesSucceeded: int(0) });

/** The non-blank fields of a form, a whole number becoming a number (as a JSON client sends it). */
function fields(f: Form, names: string[], numbers: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) {
    const v = (f[n] ?? "").trim();
    if (v === "") continue;
    out[n] = numbers.includes(n) && /^\d{1,15}$/.test(v) ? Number(v) : v;
  }
  return out;
}

const NOTICES: Record<string, string> = {
  received: "The package was received.",
  attached: "The drive was attached.",
  started: "The transfer started.",
  completed: "The drive was completed.",
  packaged: "The drives are packaged for return.",
  shipped: "The drives were shipped back.",
  faulted: "The job is marked as faulted.",
  resolved: "The fault was resolved.",
  "signed-out": "You are signed out.",
};

export function operatorRoutes(
  app: FastifyInstance,
  ctx: PortalContext,
  operator: OperatorDeps,
): void {
  const { datacenter, clock } = operator;
  const { assets, sessions } = ctx;

  const sessionOf = (req: FastifyRequest) => cookies(req)[OPERATOR_COOKIE];
  // Looked up once, by the hook below, for every request of these pages.
  const signedIn = (req: FastifyRequest) => req.operatorSignedIn === true;

  const render = (
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    title: string,
    body: Html,
  ) => {
    const q = queryOf(req);
    let notice = q.notice ? NOTICES[q.notice] : undefined;
    if (q.notice === "advanced") {
      notice =
        q.changed === undefined
          ? "The clock was advanced; the workers' timers fire what fell due."
          : `The clock was advanced; the timers changed ${Number(q.changed) || 0} job(s) and deleted ${Number(q.purged) || 0}.`;
    }
    return sendHtml(
      reply,
      status,
      page({ title, area: "operator", assets, body, signedIn: signedIn(req), notice }),
    );
  };

  // Everything but the sign-in page needs a session.
  app.addHook("onRequest", async (req, reply) => {
    req.operatorSignedIn = await sessions.operatorValid(sessionOf(req), operator.operatorKey);
    const path = req.url.split("?")[0]!.replace(/\/+$/, "");
    if (path === "/portal/operator/login" || req.operatorSignedIn) return;
    if (req.method === "GET" || req.method === "HEAD") {
      return seeOther(reply, `/portal/operator/login?next=${encodeURIComponent(req.url)}`);
    }
    return sendHtml(
      reply,
      401,
      errorPage({
        status: 401,
        code: "AuthenticationFailed",
        message: "Sign in with the operator key first.",
        area: "operator",
        assets,
      }),
    );
  });

  const safeNext = (next: string | undefined) =>
    next && /^\/portal\/operator\/[^/]?/.test(next) && !next.startsWith("//")
      ? next
      : OPERATOR_HOME;

  app.get("/login", named("Portal_OperatorLoginForm"), async (req, reply) => {
    const next = safeNext(queryOf(req).next);
    if (signedIn(req)) return seeOther(reply, next);
    return render(req, reply, 200, "Datacenter sign-in", loginPage(next));
  });

  app.post("/login", named("Portal_OperatorLogin"), async (req, reply) => {
    const f = form(req);
    const next = safeNext(f.next);
    if (!isOperatorKey(operator.operatorKey, (f.key ?? "").trim())) {
      const error: FieldError = {
        field: "key",
        code: "AuthenticationFailed",
        message: f.key ? "The operator key is not valid." : "Enter the operator key.",
      };
      return render(req, reply, 401, "Datacenter sign-in", loginPage(next, error));
    }
    await sessions.end(sessionOf(req));
    setCookie(reply, OPERATOR_COOKIE, await sessions.operatorSignIn(operator.operatorKey), {
      path: "/portal/operator",
      sameSite: "Strict",
    });
    return seeOther(reply, next);
  });

  app.post("/logout", named("Portal_OperatorLogout"), async (req, reply) => {
    await sessions.end(sessionOf(req));
    setCookie(reply, OPERATOR_COOKIE, "", {
      path: "/portal/operator",
      sameSite: "Strict",
      maxAgeSeconds: 0,
    });
    return seeOther(reply, "/portal/operator/login?notice=signed-out");
  });

  const dashboard = async (
    req: FastifyRequest,
    reply: FastifyReply,
    status = 200,
    extra: { receive?: Form; receiveError?: FieldError; clockError?: FieldError } = {},
  ) => {
    const inbound = await datacenter.list("inbound", 0, 51);
    const work = await datacenter.list("in-progress", 0, 201);
    const jobsOf = (rows: { job: Job }[]) => rows.map((r) => r.job);
    const working = jobsOf(work.slice(0, 200));
    return render(
      req,
      reply,
      status,
      "Datacenter",
      dashboardPage({
        inbound: jobsOf(inbound.slice(0, 50)),
        inboundMore: inbound.length > 50,
        working: working.filter((j) => !awaitsResolution(j)),
        faulted: working.filter(awaitsResolution),
        workingMore: work.length > 200,
        clock: clock.read(),
        receive: extra.receive ?? {},
        receiveError: extra.receiveError,
        clockError: extra.clockError,
      }),
    );
  };

  app.get("/", named("Portal_OperatorHome"), (req, reply) => dashboard(req, reply));

  app.get("/jobs", named("Portal_OperatorJobs"), async (req, reply) => {
    const q = queryOf(req);
    const view = (q.view ?? "all") as OperatorView;
    if (!Object.hasOwn(OPERATOR_VIEWS, view)) {
      throw new DomainError(
        "InvalidQueryParameterValue",
        `'view' must be one of ${Object.keys(OPERATOR_VIEWS).join(", ")}.`,
        { target: "view" },
      );
    }
    const after = q.after === undefined ? 0 : Number(q.after);
    if (!Number.isSafeInteger(after) || after < 0) {
      throw new DomainError(
        "InvalidQueryParameterValue",
        "'after' must be a non-negative integer from a previous page.",
        { target: "after" },
      );
    }
    const rows = await datacenter.list(view, after, 101);
    const pageRows = rows.slice(0, 100);
    return render(
      req,
      reply,
      200,
      VIEW_TITLES[view],
      jobsPage(
        view,
        pageRows.map((r) => r.job),
        rows.length > 100 ? pageRows[pageRows.length - 1]!.seq : undefined,
      ),
    );
  });

  app.get("/receive", named("Portal_OperatorReceiveForm"), async (req, reply) => {
    const q = queryOf(req);
    return render(
      req,
      reply,
      200,
      "Receive a package",
      receivePage({ trackingNumber: q.trackingNumber ?? "", driveIds: q.driveIds ?? "" }),
    );
  });

  app.post("/receive", named("Portal_OperatorReceive"), async (req, reply) => {
    const f = form(req);
    const driveIds = (f.driveIds ?? "")
      .split(/[\s,]+/)
      .map((d) => d.trim())
      .filter(Boolean);
    let job: Job;
    try {
      const b = check(
        receiveBody,
        { ...fields(f, ["trackingNumber", "carrierName"]), driveIds },
        "",
      ) as {
        trackingNumber: string;
        carrierName?: string;
        driveIds: string[];
      };
      job = await datacenter.receivePackage(b);
    } catch (e) {
      if (!isRefusal(e)) throw e;
      const error = asFieldError(e, (t) =>
        t === "driveIds" || t === "carrierName" || t === "trackingNumber" ? t : "trackingNumber",
      );
      return render(req, reply, error.status, "Receive a package", receivePage(f, error));
    }
    return seeOther(reply, `${operatorJobUrl(job)}?notice=received`);
  });

  const jobPage = async (
    req: FastifyRequest,
    reply: FastifyReply,
    status = 200,
    values: Form = {},
    error?: FieldError,
  ) => {
    const { job, history } = await datacenter.show(jobKey(req));
    return render(
      req,
      reply,
      status,
      `Job ${job.name}`,
      operatorJobPage({
        job,
        history,
        actions: allowedEvents(job, "operator"),
        values,
        error,
      }),
    );
  };

  app.get(JOB, named("Portal_OperatorJob"), (req, reply) => jobPage(req, reply));

  app.get(`${JOB}/progress`, named("Portal_OperatorJobProgress"), async (req, reply) => {
    try {
      const { job } = await datacenter.show(jobKey(req));
      return {
        state: job.state,
        percentComplete: job.percentComplete,
        drives: job.driveList.map(driveProgressJson),
      };
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      return reply.code(e.status).send({ error: { code: e.code, message: e.message } });
    }
  });

  /** A job action: run it, then back to the job page (or the page again with the refusal). */
  const action = (
    operationId: string,
    notice: string,
    run: (key: JobKey, f: Form, params: Record<string, string>) => Promise<unknown>,
    fieldOf: (
      target: string | undefined,
      params: Record<string, string>,
    ) => string | undefined = () => undefined,
  ) =>
    [
      named(operationId),
      async (req: FastifyRequest, reply: FastifyReply) => {
        const f = form(req);
        const params = req.params as Record<string, string>;
        try {
          await run(jobKey(req), f, params);
        } catch (e) {
          if (!isRefusal(e)) throw e;
          const error = asFieldError(e, (t) => fieldOf(t, params));
          return jobPage(req, reply, error.status, f, error);
        }
        return seeOther(reply, `${operatorJobUrl(jobKey(req))}?notice=${notice}`);
      },
    ] as const;

  app.post(
    `${JOB}/drives/:driveId/attach`,
    ...action(
      "Portal_OperatorAttach",
      "attached",
      (key, f, p) => datacenter.attachDrive(key, p.driveId!, (f[`path-${p.driveId}`] ?? "").trim()),
      (_t, p) => `path-${p.driveId}`,
    ),
  );
  app.post(
    `${JOB}/transfer/start`,
    ...action("Portal_OperatorStartTransfer", "started", (key) => datacenter.startTransfer(key)),
  );
  app.post(
    `${JOB}/drives/:driveId/complete`,
    ...action(
      "Portal_OperatorComplete",
      "completed",
      async (key, f, p) => {
        const outcome =
          f[`outcome-${p.driveId}`] === "CompletedMoreInfo" ? "CompletedMoreInfo" : "Completed";
        const b = check(
          completeBody,
          fields(
            { bytesSucceeded: f[`bytes-${p.driveId}`] ?? "" },
            ["bytesSucceeded"],
            ["bytesSucceeded"],
          ),
          "",
        ) as {
          bytesSucceeded?: number;
        };
        return datacenter.completeDrive(key, p.driveId!, outcome, b.bytesSucceeded);
      },
      (_t, p) => `bytes-${p.driveId}`,
    ),
  );
  app.post(
    `${JOB}/package`,
    ...action("Portal_OperatorPackage", "packaged", (key) => datacenter.package(key)),
  );
  app.post(
    `${JOB}/ship-back`,
    ...action(
      "Portal_OperatorShipBack",
      "shipped",
      (key, f) => {
        const b = check(
          shipBackBody,
          fields(f, ["carrierName", "trackingNumber", "shipDate", "driveCount"], ["driveCount"]),
          "",
        ) as {
          carrierName: string;
          trackingNumber: string;
          shipDate?: string;
          driveCount?: number;
        };
        return datacenter.shipBack(key, b);
      },
      (t) => (t === "trackingNumber" || t === "shipDate" || t === "driveCount" ? t : "carrierName"),
    ),
  );
  app.post(
    `${JOB}/fault`,
    ...action(
      "Portal_OperatorFault",
      "faulted",
      (key, f) =>
        datacenter.fault(
          key,
          (check(reasonBody, fields(f, ["reason"]), "") as { reason: string }).reason,
        ),
      () => "reason",
    ),
  );
  app.post(
    `${JOB}/resolve`,
    ...action(
      "Portal_OperatorResolve",
      "resolved",
      (key, f) =>
        datacenter.resolve(
          key,
          (check(reasonBody, fields(f, ["reason"]), "") as { reason: string }).reason,
        ),
      () => "reason",
    ),
  );

  app.post("/clock/advance", named("Portal_OperatorAdvanceClock"), async (req, reply) => {
    const by = (form(req).by ?? "").trim();
    try {
      const ms = parseDuration(by);
      if (ms === undefined) {
        throw new DomainError(
          "InvalidRequestContent",
          `'${by}' is not a duration; use ISO-8601 (P91D, PT12H) or 91d, 12h, 30m.`,
          { target: "by" },
        );
      }
      const r = await clock.advance(ms);
      return seeOther(
        reply,
        r.tick
          ? `${OPERATOR_HOME}?notice=advanced&changed=${r.tick.changed}&purged=${r.tick.purged}`
          : `${OPERATOR_HOME}?notice=advanced`,
      );
    } catch (e) {
      if (!isRefusal(e)) throw e;
      const clockError = asFieldError(e, () => "by");
      return dashboard(req, reply, clockError.status, { clockError });
    }
  });
}
