/**
 * Who made a request, for systemData and the checks of linked resources: the caller token
 * auth verified, or (development auth only) the unverified claims of a JWT, else the
 * developer. Under token auth a request without a verified caller never gets a name from
 * its unverified token: it is refused.
 */
import type { FastifyRequest } from "fastify";
import { developmentCaller, type Caller } from "../../auth/access.ts";
import { DomainError } from "../../domain/errors.ts";
import type { Principal } from "../../service/job-service.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The caller the request was authenticated as (set before any handler runs). */
    caller: Caller | undefined;
    /** True when the server runs development auth (any token names the caller). */
    developmentAuth: boolean;
  }
}

/** The one way every surface (ARM routes, portal pages) learns who acts. */
export function callerOf(req: FastifyRequest): Caller {
  if (req.caller) return req.caller;
  if (req.developmentAuth) return developmentCaller(req.headers.authorization);
  throw new DomainError(
    "AuthenticationFailed",
    "The request was not authenticated: send 'Authorization: Bearer <access token>' issued for this service.",
  );
}

export function principalOf(req: FastifyRequest): Principal {
  return callerOf(req).principal;
}
