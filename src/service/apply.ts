/**
 * load → decide → persist with compare-and-set, shared by every use case that moves an
 * existing job. A lost race reloads the job and decides again; a refusal is thrown.
 */
import type { Clock } from "../domain/clock.ts";
import { DomainError } from "../domain/errors.ts";
import { decide, type JobEvent, type Timers } from "../domain/job/lifecycle.ts";
import type { Actor, Job, JobKey } from "../domain/job/model.ts";
import type { JobStore } from "../store/ports.ts";

const MAX_ATTEMPTS = 20;

export interface ApplyDeps {
  store: JobStore;
  clock: Clock;
  timers: Timers;
}

export type Applied =
  { kind: "changed" | "unchanged"; job: Job } | { kind: "purged"; job: Job } | { kind: "absent" };

export function notFound(key: JobKey): DomainError {
  return new DomainError(
    "ResourceNotFound",
    `The Resource 'Microsoft.ImportExport/jobs/${key.name}' under resource group '${key.resourceGroup}' was not found.`,
  );
}

export function conflict(key: JobKey): DomainError {
  return new DomainError(
    "ConcurrentUpdateConflict",
    `Job '${key.name}' is being changed by other requests at the same time; retry the request.`,
  );
}

/**
 * Applies the event that `eventFor` builds from the current job (it may check the job
 * and throw). Returns "absent" when there is no such job.
 */
export async function applyEvent(
  deps: ApplyDeps,
  key: JobKey,
  eventFor: (job: Job) => JobEvent,
  actor: Actor,
  principal?: { id: string; type: string },
): Promise<Applied> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const job = await deps.store.get(key);
    if (!job) return { kind: "absent" };
    const decision = decide(job, eventFor(job), {
      now: deps.clock.now(),
      actor,
      timers: deps.timers,
      principal,
    });
    if (decision.kind === "unchanged") return { kind: "unchanged", job };
    if (decision.kind === "purged") {
      if (await deps.store.purge(job.uid, job.version)) return { kind: "purged", job };
      continue;
    }
    if (await deps.store.update(decision.job, decision.history)) {
      return { kind: "changed", job: { ...decision.job, version: job.version + 1 } };
    }
  }
  throw conflict(key);
}

/** applyEvent for an existing job: 404 when it is missing. */
export async function applyToExisting(
  deps: ApplyDeps,
  key: JobKey,
  eventFor: (job: Job) => JobEvent,
  actor: Actor,
  principal?: { id: string; type: string },
): Promise<Job> {
  const r = await applyEvent(deps, key, eventFor, actor, principal);
  if (r.kind === "absent") throw notFound(key);
  return r.job;
}
