import { parseUpdateJob } from "../arm/job-bodies.ts";
import { jobResponse } from "../arm/resources.ts";
import { checkKey } from "../../service/job-service.ts";
import { JOB, jobKey, type RouteDef } from "./route.ts";
import { principalOf } from "../plugins/principal.ts";

export const jobsUpdate: RouteDef = {
  operationId: "Jobs_Update",
  method: "PATCH",
  url: JOB,
  resourceType: "jobs",
  async handler(req, _reply, deps) {
    const key = jobKey(req);
    checkKey(key);
    const { tags, changes } = parseUpdateJob(req.body);
    const job = await deps.jobs.update(key, tags, changes, principalOf(req));
    return jobResponse(job, { withDrives: true });
  },
};
