import { JOB, jobKey, type RouteDef } from "./route.ts";
import { principalOf } from "../plugins/principal.ts";

export const jobsDelete: RouteDef = {
  operationId: "Jobs_Delete",
  method: "DELETE",
  url: JOB,
  resourceType: "jobs",
  async handler(req, reply, deps) {
    const outcome = await deps.jobs.delete(jobKey(req), principalOf(req));
    // 200 with an empty body (the official SDKs accept nothing else); 204 when there was no job (ARM contract).
    reply.code(outcome === "deleted" ? 200 : 204);
    return reply.send();
  },
};
