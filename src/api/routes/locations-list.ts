import { locationResponse } from "../arm/resources.ts";
import { PROVIDER, type RouteDef } from "./route.ts";

export const locationsList: RouteDef = {
  operationId: "Locations_List",
  method: "GET",
  url: `${PROVIDER}/locations`,
  resourceType: "locations",
  async handler(_req, _reply, deps) {
    return { value: deps.locations.list().map(locationResponse) };
  },
};
