import { DomainError } from "../../domain/errors.ts";

export const API_VERSIONS = ["2021-01-01", "2020-08-01", "2016-11-01"] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];

const WELL_FORMED = /^\d{4}-\d{2}-\d{2}(-preview)?$/;

/** ARM's front-door checks on `api-version` (reference/arm-rpc.md §3). */
export function checkApiVersion(value: unknown, resourceType: string): ApiVersion {
  if (value === undefined || value === "") {
    throw new DomainError(
      "MissingApiVersionParameter",
      "The api-version query parameter (?api-version=) is required for all requests.",
      { target: "api-version" },
    );
  }
  const v = Array.isArray(value) ? value[0] : value;
  if (typeof v !== "string" || !WELL_FORMED.test(v)) {
    throw new DomainError(
      "InvalidApiVersionParameter",
      `The api-version '${String(v)}' is invalid. The supported versions are '${API_VERSIONS.join(",")}'.`,
      { target: "api-version" },
    );
  }
  if (!(API_VERSIONS as readonly string[]).includes(v)) {
    throw new DomainError(
      "NoRegisteredProviderFound",
      `No registered resource provider found for API version '${v}' and type '${resourceType}'. ` +
        `The supported api-versions are '${API_VERSIONS.join(", ")}'.`,
      { target: "api-version" },
    );
  }
  return v as ApiVersion;
}
