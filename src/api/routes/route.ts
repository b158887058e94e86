import type { FastifyReply, FastifyRequest } from "fastify";
import type { JobKey } from "../../domain/job/model.ts";
import type { LocationCatalogue } from "../../domain/locations.ts";
import type { JobService } from "../../service/job-service.ts";
import type { PageTokens } from "../arm/paging.ts";
import type { ResponseCache } from "../arm/response-cache.ts";

export interface ApiDeps {
  jobs: JobService;
  locations: LocationCatalogue;
  tokens: PageTokens;
  responses: ResponseCache;
}

export interface RouteDef {
  operationId: string;
  method: "GET" | "PUT" | "PATCH" | "DELETE" | "POST";
  url: string;
  /** For api-version errors: the ARM resource type the path addresses. */
  resourceType: string;
  handler(req: FastifyRequest, reply: FastifyReply, deps: ApiDeps): Promise<unknown>;
}

export const PROVIDER = "/providers/Microsoft.ImportExport";
export const JOBS_BY_SUBSCRIPTION = `/subscriptions/:subscriptionId${PROVIDER}/jobs`;
export const JOBS_BY_RESOURCE_GROUP = `/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName${PROVIDER}/jobs`;
export const JOB = `${JOBS_BY_RESOURCE_GROUP}/:jobName`;

type Params = Record<string, string>;

/** The job a request's path names (`:subscriptionId`, `:resourceGroupName`, `:jobName`), on every surface. */
export function jobKey(req: FastifyRequest): JobKey {
  const p = req.params as Params;
  return {
    subscriptionId: p.subscriptionId!,
    resourceGroup: p.resourceGroupName!,
    name: p.jobName!,
  };
}

export function params(req: FastifyRequest): Params {
  return req.params as Params;
}

export function query(req: FastifyRequest): Record<string, unknown> {
  return req.query as Record<string, unknown>;
}

/** Route options naming the operation (an operationId, or a page's name) for logs and metrics. */
export const named = (operationId: string) => ({ config: { operationId } });

declare module "fastify" {
  interface FastifyContextConfig {
    /** The operation a route serves (named()), for logs and metrics. */
    operationId?: string;
  }
}
