/**
 * What a job's history entry means, in words: the lifecycle records internal names (the
 * event `completeDrive`, the actor `engine`, the deadline `autopilotAdvance`) and the portal's
 * pages and the CLI's tables show these words instead (pure data beside the lifecycle it
 * names, so both outer layers share it). Every event and actor the lifecycle can record has words here
 * (test/unit/history-words.test.ts checks it against the lifecycle's own lists).
 */
import type { EventType } from "./lifecycle.ts";
import type { Actor, TimerEvent } from "./model.ts";

/** The events a history entry can name: the lifecycle's events and the job's creation. */
export type HistoryEvent = EventType | "create";

/** What happened, as a short sentence without a full stop. */
export const EVENT_WORDS: Readonly<Record<HistoryEvent, string>> = {
  create: "Job created",
  update: "Job details updated",
  replace: "Job definition replaced",
  markShipping: "Drives shipped to the datacenter",
  cancel: "Cancellation requested",
  delete: "Job deleted",
  creatingExpired: "Job expired before it was shipped",
  shippingAlert: "Reminder: the drives have not arrived yet",
  shippingClose: "Job closed: the drives never arrived",
  retentionExpired: "Job record removed after its retention period",
  autopilotArrive: "Package received at the datacenter",
  autopilotAdvance: "Drives moved on to the next step in the datacenter",
  autopilotShipBack: "Drives shipped back",
  receivePackage: "Package received at the datacenter",
  attachDrive: "Drive connected for copying",
  startTransfer: "Data copy started",
  completeDrive: "A drive's data copy finished",
  package: "Drives packaged for return",
  shipBack: "Drives shipped back",
  fault: "Job stopped by a problem in the datacenter",
  resolve: "Problem resolved; the job continues",
  reportProgress: "Copy progress reported",
};

/** When a deadline (the job's `dueEvent`) fires, in words: "what happens then". */
export const DEADLINE_WORDS: Readonly<Record<TimerEvent, string>> = {
  creatingExpired: "the job expires unless it is shipped",
  shippingAlert: "a reminder if the drives have not arrived",
  shippingClose: "the job closes if the drives have not arrived",
  retentionExpired: "the job record is removed",
  autopilotArrive: "the simulated datacenter receives the package",
  autopilotAdvance: "the simulated datacenter moves the drives on",
  autopilotShipBack: "the simulated datacenter ships the drives back",
};

/** Who did it, for the customer ("You") and for the operator pages. */
export const ACTOR_WORDS: Readonly<Record<Actor, { customer: string; operator: string }>> = {
  customer: { customer: "You", operator: "Customer" },
  operator: { customer: "Datacenter", operator: "Operator" },
  autopilot: { customer: "Datacenter (simulated)", operator: "Autopilot (simulated datacenter)" },
  timer: { customer: "Service (scheduled)", operator: "Service timer" },
  engine: { customer: "Datacenter (copy)", operator: "Transfer runner" },
};

export function eventWords(event: string): string {
  return (EVENT_WORDS as Record<string, string>)[event] ?? event;
}

export function deadlineWords(event: string): string {
  return (DEADLINE_WORDS as Record<string, string>)[event] ?? event;
}

export function actorWords(actor: string, audience: "customer" | "operator"): string {
  return (
    (ACTOR_WORDS as Record<string, { customer: string; operator: string }>)[actor]?.[audience] ??
    actor
  );
}
