import { DomainError } from "../../domain/errors.ts";
import { locationResponse } from "../arm/resources.ts";
import { PROVIDER, params, type RouteDef } from "./route.ts";

export const locationsGet: RouteDef = {
  operationId: "Locations_Get",
  method: "GET",
  url: `${PROVIDER}/locations/:locationName`,
  resourceType: "locations",
  async handler(req, _reply, deps) {
    const name = params(req).locationName!;
    const location = deps.locations.find(name);
    if (!location) {
      throw new DomainError(
        "LocationNotFound",
        `The location '${name}' is not a Microsoft.ImportExport location. Use Locations_List to see the available locations.`,
        { target: "locationName" },
      );
    }
    return locationResponse(location);
  },
};
