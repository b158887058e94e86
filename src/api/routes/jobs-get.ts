import { jobResponse } from "../arm/resources.ts";
import { JOB, jobKey, type RouteDef } from "./route.ts";

export const jobsGet: RouteDef = {
  operationId: "Jobs_Get",
  method: "GET",
  url: JOB,
  resourceType: "jobs",
  async handler(req, reply, deps) {
    const job = await deps.jobs.get(jobKey(req));
    reply.type("application/json; charset=utf-8");
    return deps.responses.get(job.uid, job.version, () => jobResponse(job, { withDrives: true }));
  },
};
