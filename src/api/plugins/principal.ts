/**
 * Who made an ARM request, for systemData: the caller token auth verified, or (development
 * auth) the unverified claims of a JWT, else the developer.
 */
import type { FastifyRequest } from "fastify";
import { developmentCaller, type Caller } from "../../auth/access.ts";
import type { Principal } from "../../service/job-service.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The caller the request was authenticated as (set before any handler runs). */
    caller: Caller | undefined;
  }
}

/** The one way every surface (ARM routes, portal pages) learns who acts. */
export function principalOf(req: FastifyRequest): Principal {
  return req.caller?.principal ?? developmentCaller(req.headers.authorization).principal;
}
