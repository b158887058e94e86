import { parsePutJob } from "../arm/job-bodies.ts";
import { jobResponse } from "../arm/resources.ts";
import { checkKey } from "../../service/job-service.ts";
import { JOB, jobKey, type RouteDef } from "./route.ts";
import { callerOf } from "../plugins/principal.ts";

export const jobsCreate: RouteDef = {
  operationId: "Jobs_Create",
  method: "PUT",
  url: JOB,
  resourceType: "jobs",
  async handler(req, reply, deps) {
    const key = jobKey(req);
    checkKey(key);
    const input = parsePutJob(req.body);
    const { job, created } = await deps.jobs.createOrReplace(key, input, callerOf(req));
    reply.code(created ? 201 : 200);
    return jobResponse(job, { withDrives: true });
  },
};
