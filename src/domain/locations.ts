import type { LocationInfo } from "./locations-data.ts";
import { BUILTIN_LOCATIONS } from "./locations-data.ts";
import type { ShippingInformation } from "./job/model.ts";

export type { LocationInfo };

/** Azure compares regions ignoring case and whitespace: "West US" = "westus" = "West us". */
export function normaliseLocation(name: string): string {
  return name.replace(/\s+/g, "").toLowerCase();
}

/**
 * The shipping locations the service knows: the built-in Azure regions, overridden or
 * extended by configuration for a self-hosted datacenter.
 */
export class LocationCatalogue {
  private readonly byKey = new Map<string, LocationInfo>();

  constructor(
    locations: readonly LocationInfo[] = BUILTIN_LOCATIONS,
    overrides: readonly Partial<LocationInfo>[] = [],
  ) {
    for (const l of locations) this.byKey.set(l.name, l);
    for (const o of overrides) {
      if (!o.name) continue;
      const name = normaliseLocation(o.name);
      const base = this.byKey.get(name);
      const merged: LocationInfo = {
        recipientName: "drivebay Import/Export",
        streetAddress1: "",
        streetAddress2: "",
        city: "",
        stateOrProvince: "",
        postalCode: "",
        countryOrRegion: "",
        phone: "",
        additionalShippingInformation: "",
        supportedCarriers: [],
        alternateLocations: [name],
        displayName: o.displayName ?? o.name,
        ...base,
        ...o,
        name,
      };
      this.byKey.set(name, merged);
    }
    // A display name is accepted wherever a short name is.
    for (const l of [...this.byKey.values()]) this.byKey.set(normaliseLocation(l.displayName), l);
  }

  find(nameOrDisplayName: string): LocationInfo | undefined {
    return this.byKey.get(normaliseLocation(nameOrDisplayName));
  }

  list(): LocationInfo[] {
    const seen = new Set<string>();
    const out: LocationInfo[] = [];
    for (const l of this.byKey.values()) {
      if (seen.has(l.name)) continue;
      seen.add(l.name);
      out.push(l);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  shippingInformationFor(location: LocationInfo): ShippingInformation {
    return {
      recipientName: location.recipientName,
      streetAddress1: location.streetAddress1,
      streetAddress2: location.streetAddress2,
      city: location.city,
      stateOrProvince: location.stateOrProvince,
      postalCode: location.postalCode,
      countryOrRegion: location.countryOrRegion,
      phone: location.phone,
      additionalInformation: location.additionalShippingInformation,
    };
  }
}
