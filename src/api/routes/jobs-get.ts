import { jobResponse } from "../arm/resources.ts";
import { JOB, jobKey, type RouteDef } from "./route.ts";

export const jobsGet: RouteDef = {
  operationId: "Jobs_Get",
  method: "GET",
  url: JOB,
  resourceType: "jobs",
  async handler(req, _reply, deps) {
    return jobResponse(await deps.jobs.get(jobKey(req)), { withDrives: true });
  },
};
