import { JOB, jobKey, type RouteDef } from "./route.ts";

export const bitLockerKeysList: RouteDef = {
  operationId: "BitLockerKeys_List",
  method: "POST",
  url: `${JOB}/listBitLockerKeys`,
  resourceType: "jobs",
  async handler(req, _reply, deps) {
    return { value: await deps.jobs.bitLockerKeys(jobKey(req)) };
  },
};
