/**
 * The timers of SPEC §2.5 (and the autopilot's delays, SPEC §3) as stored deadlines: each
 * state has at most one, `dueAt` when `dueEvent` fires. A deadline fires at its stored
 * instant, not at sweep time.
 */
import { DAY_MS } from "../clock.ts";
import type { Job, TimerEvent } from "./model.ts";

export interface Timers {
  /** Creating expiry: after the last customer update (default 14 d). */
  creatingExpiryMs: number;
  /** Shipping alert: after entering Shipping with no package (default 14 d). */
  shippingAlertMs: number;
  /** Shipping close: after the alert (default 30 d). */
  shippingCloseMs: number;
  /** Retention: after entering Completed or Closed (default 90 d). */
  retentionMs: number;
  /** The simulated datacenter's delays; absent when the autopilot is off. */
  autopilot?: AutopilotDelays;
}

export interface AutopilotDelays {
  /** From Shipping to the package's arrival. */
  arrivalMs: number;
  /** Between the later steps (received → packaged → shipped back). */
  stepMs: number;
}

export const DEFAULT_TIMERS: Timers = Object.freeze({
  creatingExpiryMs: 14 * DAY_MS,
  shippingAlertMs: 14 * DAY_MS,
  shippingCloseMs: 30 * DAY_MS,
  retentionMs: 90 * DAY_MS,
});

const plus = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();

/** The stored deadline (SPEC §2.5) for a job in its current state. */
export function nextDeadline(job: Job, timers: Timers): { dueAt?: string; dueEvent?: TimerEvent } {
  const autopilot = timers.autopilot;
  switch (job.state) {
    case "Creating":
      return {
        dueAt: plus(job.lastCustomerUpdateAt, timers.creatingExpiryMs),
        dueEvent: "creatingExpired",
      };
    case "Shipping": {
      if (job.shippingAlertedAt) {
        return {
          dueAt: plus(job.shippingAlertedAt, timers.shippingCloseMs),
          dueEvent: "shippingClose",
        };
      }
      if (autopilot && autopilot.arrivalMs < timers.shippingAlertMs) {
        return {
          dueAt: plus(job.stateEnteredAt, autopilot.arrivalMs),
          dueEvent: "autopilotArrive",
        };
      }
      return { dueAt: plus(job.stateEnteredAt, timers.shippingAlertMs), dueEvent: "shippingAlert" };
    }
    case "Received":
      return autopilot
        ? { dueAt: plus(job.stateEnteredAt, autopilot.stepMs), dueEvent: "autopilotAdvance" }
        : {};
    case "Packaging":
      return autopilot
        ? { dueAt: plus(job.stateEnteredAt, autopilot.stepMs), dueEvent: "autopilotShipBack" }
        : {};
    case "Completed":
    case "Closed":
      return {
        dueAt: plus(job.stateEnteredAt, timers.retentionMs),
        dueEvent: "retentionExpired",
      };
    default:
      return {};
  }
}

/** The job with the deadline of its current state stored on it (or none). */
export function withDeadline(job: Job, timers: Timers): Job {
  const { dueAt, dueEvent } = nextDeadline(job, timers);
  const next: Job = { ...job };
  delete next.dueAt;
  delete next.dueEvent;
  if (dueAt && dueEvent) {
    next.dueAt = dueAt;
    next.dueEvent = dueEvent;
  }
  return next;
}

/** A brand-new job starts with its deadline set (14 d Creating expiry by default). */
export function initialDeadline(job: Job, timers: Timers): Job {
  return withDeadline(job, timers);
}

/** Whether `event` is the job's stored deadline and that deadline has come. */
export function isDue(job: Job, event: TimerEvent, now: Date): boolean {
  return (
    job.dueEvent === event && job.dueAt !== undefined && Date.parse(job.dueAt) <= now.getTime()
  );
}
