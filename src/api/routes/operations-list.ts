import { OPERATIONS } from "../arm/resources.ts";
import { PROVIDER, type RouteDef } from "./route.ts";

export const operationsList: RouteDef = {
  operationId: "Operations_List",
  method: "GET",
  url: `${PROVIDER}/operations`,
  resourceType: "operations",
  async handler() {
    return { value: OPERATIONS };
  },
};
