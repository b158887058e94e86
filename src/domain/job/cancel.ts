/** What a cancel does (SPEC §2.3), in the customer's words. */
import { CANCELLABLE_STATES } from "./lifecycle.ts";
import type { JobState } from "./model.ts";

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
