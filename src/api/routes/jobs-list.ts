import type { FastifyRequest } from "fastify";
import { parseFilter, parseTop } from "../arm/paging.ts";
import { jobResponse } from "../arm/resources.ts";
import {
  JOBS_BY_RESOURCE_GROUP,
  JOBS_BY_SUBSCRIPTION,
  params,
  query,
  type ApiDeps,
  type RouteDef,
} from "./route.ts";

/** Both job lists: keyset pages of at most $top jobs, without driveList. */
async function listJobs(req: FastifyRequest, deps: ApiDeps, byResourceGroup: boolean) {
  const p = params(req);
  const q = query(req);
  const top = parseTop(q.$top);
  const filter = parseFilter(q.$filter);
  const subscriptionId = p.subscriptionId!;
  const resourceGroup = byResourceGroup ? p.resourceGroupName : undefined;
  const scope = JSON.stringify([
    subscriptionId.toLowerCase(),
    resourceGroup?.toLowerCase() ?? null,
    filter.state ?? null,
    filter.jobType ?? null,
  ]);
  const rawToken = q.$skipToken ?? q.$skiptoken;
  const afterSeq = rawToken === undefined ? undefined : deps.tokens.read(rawToken, scope);
  const page = await deps.jobs.list({ subscriptionId, resourceGroup, ...filter, afterSeq, top });
  const body: { value: unknown[]; nextLink?: string } = {
    value: page.jobs.map((j) => jobResponse(j, { withDrives: false })),
  };
  if (page.lastSeq !== undefined) {
    const url = new URL(req.url, `${req.protocol}://${req.headers.host ?? "localhost"}`);
    const next = new URLSearchParams();
    next.set("api-version", String(q["api-version"]));
    next.set("$top", String(top));
    if (q.$filter !== undefined) next.set("$filter", String(q.$filter));
    next.set("$skipToken", deps.tokens.issue(page.lastSeq, scope));
    body.nextLink = `${url.origin}${url.pathname}?${next.toString()}`;
  }
  return body;
}

export const jobsListBySubscription: RouteDef = {
  operationId: "Jobs_ListBySubscription",
  method: "GET",
  url: JOBS_BY_SUBSCRIPTION,
  resourceType: "jobs",
  handler: (req, _reply, deps) => listJobs(req, deps, false),
};

export const jobsListByResourceGroup: RouteDef = {
  operationId: "Jobs_ListByResourceGroup",
  method: "GET",
  url: JOBS_BY_RESOURCE_GROUP,
  resourceType: "jobs",
  handler: (req, _reply, deps) => listJobs(req, deps, true),
};
