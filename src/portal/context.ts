/** What every portal route gets: the use cases, the assets, the sign-in sessions; and rendering. */
import type { FastifyReply } from "fastify";
import type { ContainerClient } from "@azure/storage-blob";
import { DomainError, isDomainError } from "../domain/errors.ts";
import type { LocationCatalogue } from "../domain/locations.ts";
import type { JobService } from "../service/job-service.ts";
import type { OperatorDeps } from "../api/operator/routes.ts";
import type { Access } from "../auth/access.ts";
import type { Html } from "./html.ts";
import { PageError } from "./http.ts";
import type { Assets } from "./layout.ts";
import type { SessionStore } from "../store/ports.ts";
import type { PortalSessions } from "./sessions.ts";
import type { FieldError } from "./widgets.ts";

export interface PortalDeps {
  jobs: JobService;
  locations: LocationCatalogue;
  /** ARM auth; under token auth the customer pages need a signed-in caller. */
  access?: Access;
  /** The datacenter side; absent means no operator pages. */
  operator?: OperatorDeps;
  /** Where drive logs are read from (the storage registry); absent means log links are plain URIs. */
  blobs?: LogStorage;
  /** Where sign-in sessions are kept (the store, shared by every node). */
  sessionStore: SessionStore;
}

/** The storage accounts, as far as the portal reads them: a container of an account. */
export interface LogStorage {
  containerClient(accountName: string, container: string): Promise<ContainerClient>;
}

export interface PortalContext extends PortalDeps {
  assets: Assets;
  /** Operators signed in with the key; customers signed in with an access token (token auth). */
  sessions: PortalSessions;
}

export function sendHtml(reply: FastifyReply, status: number, body: Html): FastifyReply {
  return reply.code(status).type("text/html; charset=utf-8").send(body.value);
}

/** A refusal the page shows next to the form (the API's code and message); others are rethrown. */
export function asFieldError(
  e: unknown,
  fieldOf: (target: string | undefined) => string | undefined = () => undefined,
): FieldError & { status: number } {
  if (isDomainError(e)) {
    return { status: e.status, code: e.code, message: e.message, field: fieldOf(e.target) };
  }
  if (e instanceof PageError) return { status: e.status, code: e.code, message: e.message };
  throw e;
}

export function isRefusal(e: unknown): e is DomainError | PageError {
  return isDomainError(e) || e instanceof PageError;
}
