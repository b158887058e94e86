/**
 * The customer pages. Each handler calls the same use case as the ARM route it mirrors
 * (JobService), with the same body parsers, and asks the lifecycle (`allowedEvents`,
 * `check`) what may be shown; nothing here decides a rule.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { parsePutJob, parseUpdateJob } from "../api/arm/job-bodies.ts";
import { DomainError, isDomainError } from "../domain/errors.ts";
import { allowedEvents, check } from "../domain/job/lifecycle.ts";
import { JOB_STATES, JOB_TYPES } from "../domain/job/model.ts";
import type { Job, JobKey, JobState, JobType } from "../domain/job/model.ts";
import { checkResourceGroupName, checkSubscriptionId } from "../domain/job/rules.ts";
import { checkKey } from "../service/job-service.ts";
import { callerOf, principalOf } from "../api/plugins/principal.ts";
import { jobKey, named } from "../api/routes/route.ts";
import { allows, armAction, authorize } from "../auth/access.ts";
import type { Claims } from "../auth/tokens.ts";
import { CUSTOMER_COOKIE } from "./sessions.ts";
import { asFieldError, isRefusal, sendHtml, type PortalContext } from "./context.ts";
import {
  bitLockerKeysPage,
  cancelPage,
  defaultOrder,
  deletePage,
  oldestFirst,
  jobListPage,
  jobPage,
  jobUrl,
  listUrl,
  MAX_SCOPES,
  notFoundBody,
  progressJson,
  scopePage,
  shipPage,
  shipValues,
  signinPage,
  SORT_KEYS,
  wizardPage,
  wizardTypePage,
  type Grants,
  type Scope,
  type SortKey,
} from "./customer-views.ts";
import {
  driveRows,
  fieldOfTarget,
  MAX_DRIVE_ROWS,
  PreparedJsonError,
  putBodyOf,
  shipBodyOf,
  withPreparedDrives,
} from "./forms.ts";
import { html } from "./html.ts";
import { cookies, form, PageError, queryOf, seeOther, setCookie } from "./http.ts";
import { errorPage, page } from "./layout.ts";
import { driveFileRoutes } from "./drive-logs.ts";

const SCOPE_COOKIE = "drivebay_scope";
const JOB_ROUTE = "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/jobs/:jobName";

type Params = Record<string, string>;

function scopeOf(req: FastifyRequest): Scope {
  const p = req.params as Params;
  return { subscriptionId: p.subscriptionId!, resourceGroup: p.resourceGroupName };
}

function rememberedScope(req: FastifyRequest): Scope | undefined {
  const raw = cookies(req)[SCOPE_COOKIE];
  if (!raw) return undefined;
  const [subscriptionId, resourceGroup] = raw.split("|");
  if (!subscriptionId) return undefined;
  try {
    checkSubscriptionId(subscriptionId);
    if (resourceGroup) checkResourceGroupName(resourceGroup);
  } catch {
    return undefined;
  }
  return { subscriptionId, resourceGroup: resourceGroup || undefined };
}

function remember(reply: FastifyReply, scope: Scope): void {
  setCookie(reply, SCOPE_COOKIE, `${scope.subscriptionId}|${scope.resourceGroup ?? ""}`, {
    path: "/portal",
    sameSite: "Lax",
    maxAgeSeconds: 365 * 24 * 3600,
  });
}

/** The short message a Post/Redirect/Get lands with (fixed texts; only the job name is data). */
function noticeOf(req: FastifyRequest): string | undefined {
  const q = queryOf(req);
  switch (q.notice) {
    case "signed-out":
      return "You are signed out.";
    case "created":
      return "The job was created. Next: prepare and ship your drives, then mark the job as shipped.";
    case "shipped":
      return "The job is marked as shipped. Its state is now Shipping.";
    case "cancelled":
      return "The job was cancelled.";
    case "deleted":
      // Only a job name is shown (a link cannot put other words in the portal's mouth).
      return q.job && /^[A-Za-z][A-Za-z0-9-]{1,63}$/.test(q.job)
        ? `Job '${q.job}' was deleted.`
        : "The job was deleted.";
    default:
      return undefined;
  }
}

function intParam(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d{1,15}$/.test(raw)) {
    throw new PageError(
      400,
      "InvalidQueryParameterValue",
      `'${name}' must be a non-negative integer from a link of the previous page.`,
    );
  }
  return Number(raw);
}

function oneOf<T extends string>(
  raw: string | undefined,
  values: readonly T[],
  name: string,
): T | undefined {
  if (raw === undefined || raw === "") return undefined;
  const match = values.find((v) => v.toLowerCase() === raw.toLowerCase());
  if (match === undefined) {
    throw new PageError(
      400,
      "InvalidQueryParameterValue",
      `'${raw}' is not a valid value for '${name}'. Allowed values: ${values.join(", ")}.`,
    );
  }
  return match;
}

const COMPARE: Record<Exclude<SortKey, "created">, (a: Job, b: Job) => number> = {
  name: (a, b) => a.name.localeCompare(b.name),
  state: (a, b) => JOB_STATES.indexOf(a.state) - JOB_STATES.indexOf(b.state),
  type: (a, b) => a.jobType.localeCompare(b.jobType),
  location: (a, b) => a.location.localeCompare(b.location),
};

const JOBS = "Microsoft.ImportExport/jobs";

type Render = (
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  title: string,
  body: Parameters<typeof page>[0]["body"],
  crumbs?: { href: string; label: string }[],
) => FastifyReply;

/**
 * Token auth: every customer page needs a caller signed in with an access token (the API's
 * own check), and shows only the subscriptions granted to them (403 AuthorizationFailed).
 */
function signInRoutes(app: FastifyInstance, ctx: PortalContext, render: Render): void {
  const access = ctx.access!;
  const sessionOf = (req: FastifyRequest) => cookies(req)[CUSTOMER_COOKIE];

  app.addHook("onRequest", async (req, reply) => {
    const path = req.url.split("?")[0]!.replace(/\/+$/, "");
    if (/^\/portal\/(operator|static)(\/|$)/.test(path) || path === "/portal/signin") return;
    const caller = await ctx.sessions.customer(sessionOf(req), access);
    if (!caller) {
      if (req.method === "GET" || req.method === "HEAD") {
        return seeOther(reply, `/portal/signin?next=${encodeURIComponent(req.url)}`);
      }
      throw new PageError(401, "AuthenticationFailed", "Sign in with an access token first.");
    }
    req.caller = caller;
    const subscriptionId = (req.params as Record<string, string>).subscriptionId;
    if (subscriptionId !== undefined) {
      // Page views read; form posts write (create, ship, cancel, delete).
      authorize(caller, subscriptionId, armAction(JOBS, req.method === "POST" ? "PUT" : "GET"));
    }
  });

  const safeNext = (next: string | undefined) =>
    next && /^\/portal\/[^/]?/.test(next) && !next.startsWith("/portal/operator")
      ? next
      : "/portal/jobs";

  app.get("/signin", named("Portal_SignInForm"), async (req, reply) => {
    const next = safeNext(queryOf(req).next);
    if (await ctx.sessions.customer(sessionOf(req), access)) return seeOther(reply, next);
    return render(req, reply, 200, "Sign in", signinPage(next));
  });

  app.post("/signin", named("Portal_SignIn"), async (req, reply) => {
    const f = form(req);
    const next = safeNext(f.next);
    const token = (f.token ?? "").trim();
    let claims: Claims;
    try {
      if (!token) throw new PageError(401, "AuthenticationFailed", "Paste an access token.");
      claims = await access.verifiedClaims(`Bearer ${token}`);
    } catch (e) {
      if (!isRefusal(e)) throw e;
      const error = { ...asFieldError(e), field: "token" };
      return render(req, reply, 401, "Sign in", signinPage(next, error));
    }
    await ctx.sessions.end(sessionOf(req));
    const id = await ctx.sessions.customerSignIn(claims, access.callerOf(claims));
    setCookie(reply, CUSTOMER_COOKIE, id, {
      path: "/portal",
      sameSite: "Strict",
    });
    return seeOther(reply, next);
  });

  app.post("/signout", named("Portal_SignOut"), async (req, reply) => {
    await ctx.sessions.end(sessionOf(req));
    setCookie(reply, CUSTOMER_COOKIE, "", {
      path: "/portal",
      sameSite: "Strict",
      maxAgeSeconds: 0,
    });
    return seeOther(reply, "/portal/signin?notice=signed-out");
  });
}

export function customerRoutes(app: FastifyInstance, ctx: PortalContext): void {
  const { jobs, assets } = ctx;

  const render: Render = (req, reply, status, title, body, crumbs) =>
    sendHtml(
      reply,
      status,
      page({
        title,
        area: "customer",
        assets,
        body,
        crumbs,
        notice: noticeOf(req),
        signedIn: req.caller !== undefined,
      }),
    );

  const crumbsFor = (scope: Scope) => [
    {
      href: listUrl(scope),
      label: scope.resourceGroup ? `Jobs in ${scope.resourceGroup}` : "Jobs",
    },
  ];

  /** A refused action on a job: the API's code and message, with the right status. */
  const refused = (reply: FastifyReply, job: JobKey, e: DomainError | PageError, title: string) =>
    sendHtml(
      reply,
      e.status,
      errorPage({
        status: e.status,
        code: e.code,
        message: e.message,
        title,
        assets,
        help: html`<p><a href="${jobUrl(job)}">Back to job ${job.name}</a></p>`,
      }),
    );

  /** The job, or the 'not found' page when it does not exist (or was deleted). */
  const load = async (req: FastifyRequest, reply: FastifyReply): Promise<Job | undefined> => {
    const key = jobKey(req);
    try {
      return await jobs.get(key);
    } catch (e) {
      if (isDomainError(e) && e.code === "ResourceNotFound") {
        sendHtml(
          reply,
          404,
          errorPage({
            status: 404,
            code: e.code,
            message: e.message,
            title: "Job not found",
            assets,
            help: notFoundBody(key),
          }),
        );
        return undefined;
      }
      throw e;
    }
  };

  if (ctx.access?.tokenMode) signInRoutes(app, ctx, render);

  /** The emulator's dock folder (its simulated datacenter writes export drives there). */
  const emulatorDock = () =>
    ctx.operator?.clock.read().controllable && ctx.operator.dock?.local
      ? ctx.operator.dock.path
      : undefined;

  app.get("/", named("Portal_Home"), async (_req, reply) => seeOther(reply, "/portal/jobs"));

  // A caller is set on the request only under token auth (development auth has none).
  const grantsOf = (req: FastifyRequest): Grants => {
    const caller = req.caller;
    if (!caller) return undefined;
    return caller.subscriptions === "*" ? "*" : [...caller.subscriptions].sort();
  };
  const allowed = (req: FastifyRequest, scope: Scope) =>
    !req.caller || allows(req.caller, scope.subscriptionId);

  /** The pairs that hold jobs, never beyond the caller's grants (token auth). */
  const scopesOf = (req: FastifyRequest) => {
    const grants = grantsOf(req);
    return jobs.scopes(grants === undefined || grants === "*" ? undefined : grants, MAX_SCOPES);
  };

  app.get("/jobs", named("Portal_Home"), async (req, reply) => {
    const scope = rememberedScope(req);
    if (scope && allowed(req, scope) && queryOf(req).choose === undefined) {
      return seeOther(reply, listUrl(scope));
    }
    const shown = scope && allowed(req, scope) ? scope : undefined;
    return render(
      req,
      reply,
      200,
      "Jobs",
      scopePage(shown, undefined, grantsOf(req), await scopesOf(req)),
    );
  });

  app.post("/scope", named("Portal_Scope"), async (req, reply) => {
    const f = form(req);
    const scope: Scope = {
      subscriptionId: (f.subscriptionId ?? "").trim(),
      resourceGroup: (f.resourceGroup ?? "").trim() || undefined,
    };
    try {
      checkSubscriptionId(scope.subscriptionId);
      if (scope.resourceGroup) checkResourceGroupName(scope.resourceGroup);
      if (req.caller) authorize(req.caller, scope.subscriptionId, armAction(JOBS, "GET"));
    } catch (e) {
      const error = asFieldError(e, (t) =>
        t === "resourceGroupName" ? "resourceGroup" : "subscriptionId",
      );
      return render(
        req,
        reply,
        error.status,
        "Jobs",
        scopePage(scope, error, grantsOf(req), await scopesOf(req)),
      );
    }
    remember(reply, scope);
    return seeOther(reply, listUrl(scope));
  });

  const list = async (req: FastifyRequest, reply: FastifyReply) => {
    const scope = scopeOf(req);
    const q = queryOf(req);
    const state = oneOf<JobState>(q.state, JOB_STATES, "state");
    const jobType = oneOf<JobType>(q.type, JOB_TYPES, "type");
    const top = oneOf(q.top, ["25", "50", "100"] as const, "top") ?? "50";
    const sort = oneOf<SortKey>(q.sort, SORT_KEYS, "sort") ?? "created";
    const order = oneOf(q.order, ["asc", "desc"] as const, "order") ?? defaultOrder(sort);
    const after = intParam(q.after, "after");
    const trail = (q.trail ?? "")
      .split(".")
      .filter(Boolean)
      .slice(-50)
      .map((t) => intParam(t, "trail")!);
    const result = await jobs.list({
      subscriptionId: scope.subscriptionId,
      resourceGroup: scope.resourceGroup,
      state,
      jobType,
      afterSeq: after,
      // Pages follow the store's keyset: newest first, unless "created, ascending" is asked
      // for; sorting by another column orders the page shown.
      newestFirst: !oldestFirst(sort, order),
      top: Number(top),
    });
    const rows = result.jobs.slice();
    if (sort !== "created") {
      const cmp = COMPARE[sort];
      rows.sort((a, b) => (order === "asc" ? cmp(a, b) : cmp(b, a)));
    }
    remember(reply, scope);
    return render(
      req,
      reply,
      200,
      scope.resourceGroup ? `Jobs in ${scope.resourceGroup}` : "Jobs",
      jobListPage({
        scope,
        grants: grantsOf(req),
        jobs: rows,
        state,
        jobType,
        top: Number(top),
        sort,
        order,
        after,
        trail,
        next: result.lastSeq,
      }),
    );
  };

  app.get("/subscriptions/:subscriptionId/jobs", named("Portal_JobListBySubscription"), list);
  app.get(
    "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/jobs",
    named("Portal_JobList"),
    list,
  );

  // The create wizard: step 1 picks the type, step 2 is the form.
  const WIZARD = "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/create-job";
  const wizardScope = (req: FastifyRequest) => {
    const s = scopeOf(req) as Required<Scope>;
    checkSubscriptionId(s.subscriptionId);
    checkResourceGroupName(s.resourceGroup);
    return s;
  };

  app.get(WIZARD, named("Portal_CreateJobForm"), async (req, reply) => {
    const scope = wizardScope(req);
    const jobType = oneOf<JobType>(queryOf(req).type, JOB_TYPES, "type");
    const crumbs = crumbsFor(scope);
    if (!jobType) return render(req, reply, 200, "Create a job", wizardTypePage(scope), crumbs);
    return render(
      req,
      reply,
      200,
      `Create ${jobType.toLowerCase()} job`,
      wizardPage({ scope, jobType, values: {}, locations: ctx.locations.list() }),
      crumbs,
    );
  });

  app.post(WIZARD, named("Portal_CreateJob"), async (req, reply) => {
    const scope = wizardScope(req);
    const jobType = oneOf<JobType>(queryOf(req).type, JOB_TYPES, "type") ?? "Import";
    let values = form(req);
    const title = `Create ${jobType.toLowerCase()} job`;
    const crumbs = crumbsFor(scope);
    const view = { scope, jobType, locations: ctx.locations.list() };
    // Drives pasted as `drive prepare --output json` (or read from its file): into the rows.
    const fill = values.action === "fill-drives";
    if (jobType === "Import" && (fill || (values.preparedJson ?? "").trim() !== "")) {
      try {
        values = withPreparedDrives(values);
      } catch (e) {
        if (!(e instanceof PreparedJsonError)) throw e;
        const error = { status: e.status, code: e.code, message: e.message, field: e.field };
        return render(req, reply, e.status, title, wizardPage({ ...view, values, error }), crumbs);
      }
      if (fill) return render(req, reply, 200, title, wizardPage({ ...view, values }), crumbs);
    }
    if (values.action === "add-drive") {
      const more = {
        ...values,
        driveRows: String(Math.min(MAX_DRIVE_ROWS, driveRows(values) + 1)),
      };
      return render(req, reply, 200, title, wizardPage({ ...view, values: more }), crumbs);
    }
    // The same steps as Jobs_Create: the names, the body, then the service.
    const key: JobKey = { ...scope, name: (values.name ?? "").trim() };
    let driveRowOf: number[] = [];
    try {
      checkKey(key);
      const put = putBodyOf(values, jobType, scope);
      driveRowOf = put.driveRowOf;
      const input = parsePutJob(put.body);
      // The wizard creates; it never silently replaces a job (a PUT would). A taken name
      // is told before anything else about the form, and also when a create won a race.
      const taken = (existing: Job | undefined) =>
        new PageError(
          409,
          "JobAlreadyExists",
          `A job named '${existing?.name ?? key.name}' already exists in resource group '${existing?.resourceGroup ?? key.resourceGroup}'. Choose another name.`,
        );
      const lookup = () => jobs.get(key).catch(() => undefined);
      const existing = await lookup();
      if (existing) throw taken(existing);
      const job = await jobs.createNew(key, input, callerOf(req));
      if (!job) throw taken(await lookup());
      return seeOther(reply, `${jobUrl(job)}?notice=created`);
    } catch (e) {
      if (!isRefusal(e)) throw e;
      const error = asFieldError(e, (t) => fieldOfTarget(t, driveRowOf));
      if (e instanceof PageError) error.field = "name";
      return render(
        req,
        reply,
        error.status,
        title,
        wizardPage({ ...view, values, error }),
        crumbs,
      );
    }
  });

  app.get(JOB_ROUTE, named("Portal_Job"), async (req, reply) => {
    const job = await load(req, reply);
    if (!job) return reply;
    const history = await jobs.history(jobKey(req));
    return render(
      req,
      reply,
      200,
      `Job ${job.name}`,
      jobPage({ job, history, events: allowedEvents(job, "customer"), dock: emulatorDock() }),
      crumbsFor(job),
    );
  });

  // The keys only on request (BitLockerKeys_List, with its own permission under token auth).
  app.get(`${JOB_ROUTE}/bitlocker-keys`, named("Portal_BitLockerKeys"), async (req, reply) => {
    const job = await load(req, reply);
    if (!job) return reply;
    if (req.caller) authorize(req.caller, job.subscriptionId, armAction(JOBS, "POST"));
    const keys = await jobs.bitLockerKeys(jobKey(req));
    reply.header("cache-control", "private, no-store");
    return render(
      req,
      reply,
      200,
      `BitLocker keys of ${job.name}`,
      bitLockerKeysPage(job, keys),
      crumbsFor(job),
    );
  });

  driveFileRoutes(app, ctx, JOB_ROUTE);

  app.get(`${JOB_ROUTE}/progress`, named("Portal_JobProgress"), async (req, reply) => {
    try {
      return progressJson(await jobs.get(jobKey(req)));
    } catch (e) {
      if (!isDomainError(e)) throw e;
      return reply.code(e.status).send({ error: { code: e.code, message: e.message } });
    }
  });

  /** GET of a confirm page: shown when the lifecycle allows the event, else its refusal. */
  const confirmPage =
    (
      event: "markShipping" | "cancel" | "delete",
      title: string,
      body: (job: Job) => Parameters<typeof page>[0]["body"],
    ) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      const job = await load(req, reply);
      if (!job) return reply;
      if (!allowedEvents(job, "customer").includes(event)) {
        const refusal = check(job, event);
        if (refusal) return refused(reply, job, refusal, title);
        // Allowed by the table but nothing to do (a repeated cancel): back to the job.
        return seeOther(reply, jobUrl(job));
      }
      return render(req, reply, 200, title, body(job), crumbsFor(job));
    };

  app.get(
    `${JOB_ROUTE}/ship`,
    named("Portal_ShipForm"),
    confirmPage("markShipping", "Mark as shipped", (job) => shipPage(job, shipValues(job))),
  );
  app.get(
    `${JOB_ROUTE}/cancel`,
    named("Portal_CancelConfirm"),
    confirmPage("cancel", "Cancel job", cancelPage),
  );
  app.get(
    `${JOB_ROUTE}/delete`,
    named("Portal_DeleteConfirm"),
    confirmPage("delete", "Delete job", deletePage),
  );

  app.post(`${JOB_ROUTE}/ship`, named("Portal_Ship"), async (req, reply) => {
    const job = await load(req, reply);
    if (!job) return reply;
    const values = form(req);
    try {
      const { tags, changes } = parseUpdateJob(shipBodyOf(values));
      await jobs.update(jobKey(req), tags, changes, principalOf(req));
    } catch (e) {
      if (!isRefusal(e)) throw e;
      const error = asFieldError(e, (t) => fieldOfTarget(t));
      return render(
        req,
        reply,
        error.status,
        "Mark as shipped",
        shipPage(job, values, error),
        crumbsFor(job),
      );
    }
    return seeOther(reply, `${jobUrl(job)}?notice=shipped`);
  });

  app.post(`${JOB_ROUTE}/cancel`, named("Portal_Cancel"), async (req, reply) => {
    const key = jobKey(req);
    const job = await load(req, reply);
    if (!job) return reply;
    try {
      // Exactly what a client sends: PATCH { properties: { cancelRequested: true } }.
      const { tags, changes } = parseUpdateJob({ properties: { cancelRequested: true } });
      await jobs.update(key, tags, changes, principalOf(req));
    } catch (e) {
      if (!isRefusal(e)) throw e;
      return refused(reply, job, e, "The job could not be cancelled");
    }
    return seeOther(reply, `${jobUrl(job)}?notice=cancelled`);
  });

  app.post(`${JOB_ROUTE}/delete`, named("Portal_Delete"), async (req, reply) => {
    const key = jobKey(req);
    const job = await load(req, reply);
    if (!job) return reply;
    try {
      const outcome = await jobs.delete(key, principalOf(req));
      if (outcome === "absent") return load(req, reply).then(() => reply);
    } catch (e) {
      if (!isRefusal(e)) throw e;
      return refused(reply, job, e, "The job could not be deleted");
    }
    const back = listUrl({ subscriptionId: job.subscriptionId, resourceGroup: job.resourceGroup });
    return seeOther(reply, `${back}?notice=deleted&job=${encodeURIComponent(job.name)}`);
  });
}
