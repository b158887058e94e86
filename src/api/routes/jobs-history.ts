import { JOB, jobKey, type RouteDef } from "./route.ts";

/** drivebay extension: the job's transitions (time, actor, from, to, reason). */
export const jobsHistory: RouteDef = {
  operationId: "Jobs_History",
  method: "GET",
  url: `${JOB}/history`,
  resourceType: "jobs",
  async handler(req, _reply, deps) {
    return { value: await deps.jobs.history(jobKey(req)) };
  },
};
