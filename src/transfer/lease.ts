/** A write fenced by the runner's lease found the drive claimed by another runner. */
export class LeaseLostError extends Error {
  constructor(jobName: string, driveId: string) {
    super(
      `drive '${driveId}' of job '${jobName}' is held by another transfer runner now (this runner's lease ran out); this runner stops copying it`,
    );
    this.name = "LeaseLostError";
  }
}
