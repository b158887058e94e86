/**
 * What a cancel does (SPEC §2.3), in the customer's words: before it is sent, for the
 * state the job is in (the portal's confirmation), and after, for the cancelled job as it
 * now is (the CLI) — so each surface says only what is true of the job in front of it.
 */
import { CANCELLABLE_STATES, hasEnded, type JobFacts } from "./lifecycle.ts";
import type { Job, JobState } from "./model.ts";

/** What cancelling does in each state where it is possible. */
export const CANCEL_EFFECT: Readonly<Partial<Record<JobState, string>>> = {
  Creating:
    "No drives have been shipped yet, so the job ends 'Completed' at once. There is nothing to return.",
  Shipping:
    "Your package is on its way. When it arrives at the datacenter no data is copied: the drives are packaged and shipped back to you, and the job ends 'Completed'. If the package never arrives before the shipping deadline, the job ends 'Completed' with nothing to return.",
  Received:
    "The datacenter has your drives. No copy starts: the drives are packaged and shipped back to you, and the job ends 'Completed'.",
  Transferring:
    "Data is being copied. Drives that have not started yet are skipped; drives being copied stop at the next blob boundary. Blobs already written stay in your storage account and are listed in the drive logs. Then the drives are shipped back and the job ends 'Completed'.",
};

/** What cancelling a job in `state` does, where it is possible. */
export function cancelEffect(state: JobState): string | undefined {
  return CANCELLABLE_STATES.includes(state) ? CANCEL_EFFECT[state] : undefined;
}

/**
 * What is true of a cancelled job now. `bestEffort`: its drives are in the datacenter's
 * hands, which stops what it still can.
 */
export function cancelledJobNote(job: JobFacts & Partial<Pick<Job, "returnPackage">>): {
  bestEffort: boolean;
  text: string;
} {
  if (!hasEnded(job)) {
    const text =
      job.state === "Packaging"
        ? "The drives are packaged for return; the job ends 'Completed' once they are shipped back."
        : job.state === "Faulted"
          ? "The job is faulted; once the datacenter resolves the fault, the drives are shipped back and the job ends 'Completed'."
          : (cancelEffect(job.state) ?? "");
    return { bestEffort: true, text };
  }
  if (job.returnPackage) {
    return {
      bestEffort: false,
      text: `The job has ended '${job.state}'; its drives were shipped back.`,
    };
  }
  if (job.driveList.every((d) => d.state === "Specified")) {
    return {
      bestEffort: false,
      text: `No drive had been shipped, so the job ended '${job.state}' at once. There is nothing to return.`,
    };
  }
  return {
    bestEffort: false,
    text: `The job has ended '${job.state}': its package never arrived, so there is nothing to return.`,
  };
}
