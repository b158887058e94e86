/**
 * load → decide → persist with compare-and-set → effects, shared by every use case that
 * moves a job. A lost race reloads the job and decides again (one retry loop for all); a
 * refusal is thrown. What a decision asks for besides the write (a purge instead, a drive
 * to copy or to stop) is carried out here, once the write has committed.
 */
import type { Clock } from "../domain/clock.ts";
import { DomainError } from "../domain/errors.ts";
import {
  decide,
  purgeOf,
  type Decision,
  type Effect,
  type JobEvent,
  type Timers,
} from "../domain/job/lifecycle.ts";
import type { Actor, Job, JobKey } from "../domain/job/model.ts";
import type { JobStore } from "../store/ports.ts";

const MAX_ATTEMPTS = 20;

/** Carries out the effects of a stored decision about `job` (the transfer runner's part). */
export type EffectSink = (job: Job, effects: readonly Effect[]) => void;

/** What applying an event needs: the store's reads and compare-and-set writes of a job. */
export interface ApplyCore {
  store: Pick<JobStore, "get" | "update" | "purge">;
  clock: Clock;
  timers: Timers;
  /** Where drive effects go (start or stop copying); absent when nothing copies drives. */
  effects?: EffectSink;
}

export interface ApplyDeps extends ApplyCore {
  store: JobStore;
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

/** What an attempt returns when another writer changed the job first. */
export const LOST_RACE: unique symbol = Symbol("lost race");

/** Runs `attempt` again while it loses races, at most MAX_ATTEMPTS times (then 409). */
export async function retrying<T>(
  key: JobKey,
  attempt: () => Promise<T | typeof LOST_RACE>,
): Promise<T> {
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    const r = await attempt();
    if (r !== LOST_RACE) return r;
  }
  throw conflict(key);
}

/**
 * Stores a decision about `job` (as it was read): the write, or the purge it asks for,
 * compare-and-set on the job's version; then hands its effects to the sink. False when
 * another writer changed the job first.
 */
export async function commit(
  deps: Pick<ApplyCore, "store" | "effects">,
  job: Job,
  decision: Decision,
): Promise<boolean> {
  if (!decision.changed) return true;
  const stored = purgeOf(decision)
    ? await deps.store.purge(job.uid, job.version)
    : await deps.store.update(decision.job, decision.history);
  if (stored && decision.effects.length > 0) deps.effects?.(decision.job, decision.effects);
  return stored;
}

/**
 * Applies the event that `eventFor` builds from the current job (it may check the job
 * and throw). Returns "absent" when there is no such job.
 */
export async function applyEvent(
  deps: ApplyCore,
  key: JobKey,
  eventFor: (job: Job) => JobEvent,
  actor: Actor,
  principal?: { id: string; type: string },
): Promise<Applied> {
  return retrying(key, async (): Promise<Applied | typeof LOST_RACE> => {
    const job = await deps.store.get(key);
    if (!job) return { kind: "absent" };
    const decision = decide(job, eventFor(job), {
      now: deps.clock.now(),
      actor,
      timers: deps.timers,
      principal,
    });
    if (!decision.changed) return { kind: "unchanged", job };
    if (!(await commit(deps, job, decision))) return LOST_RACE;
    if (purgeOf(decision)) return { kind: "purged", job };
    return { kind: "changed", job: { ...decision.job, version: job.version + 1 } };
  });
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
