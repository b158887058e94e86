/** Create-time validation (SPEC §1.3), name rules and tag limits (SPEC §1.2). */
import { DomainError } from "../errors.ts";
import type { Drive, ExportSpec, JobType } from "./model.ts";

const JOB_NAME = /^[A-Za-z][A-Za-z0-9-]{1,63}$/;
const RESOURCE_GROUP = /^[-\p{L}\p{N}_.()]{1,90}$/u;
const SUBSCRIPTION = /^[A-Za-z0-9-]{1,64}$/;

export function checkJobName(name: string): void {
  if (!JOB_NAME.test(name)) {
    throw new DomainError(
      "InvalidResourceName",
      `The job name '${name}' is invalid. A job name has 2 to 64 characters, letters, digits and hyphens only, and starts with a letter.`,
      { target: "jobName" },
    );
  }
}

export function checkResourceGroupName(name: string): void {
  if (!RESOURCE_GROUP.test(name) || name.endsWith(".")) {
    throw new DomainError(
      "InvalidResourceGroupName",
      `The resource group name '${name}' is invalid. It has 1 to 90 characters: letters, digits, '_', '-', '.', '(' and ')', and does not end with '.'.`,
      { target: "resourceGroupName" },
    );
  }
}

export function checkSubscriptionId(id: string): void {
  if (!SUBSCRIPTION.test(id)) {
    throw new DomainError(
      "InvalidSubscriptionId",
      `The provided subscription identifier '${id}' is malformed or invalid.`,
      { target: "subscriptionId" },
    );
  }
}

export const MAX_TAGS = 50;
const TAG_NAME_FORBIDDEN = /[<>%&\\?/]/;

export function checkTags(tags: Record<string, string>): void {
  const names = Object.keys(tags);
  if (names.length > MAX_TAGS) {
    throw new DomainError(
      "TooManyTags",
      `A job can have at most ${MAX_TAGS} tags; the request has ${names.length}.`,
      {
        target: "tags",
      },
    );
  }
  for (const [name, value] of Object.entries(tags)) {
    if (name.length === 0 || name.length > 512 || TAG_NAME_FORBIDDEN.test(name)) {
      throw new DomainError(
        "InvalidTagName",
        `The tag name '${name.slice(0, 64)}${name.length > 64 ? "…" : ""}' is invalid: a tag name has 1 to 512 characters and none of < > % & \\ ? /.`,
        { target: `tags.${name.slice(0, 64)}` },
      );
    }
    if (value.length > 256) {
      throw new DomainError(
        "InvalidTagValue",
        `The value of tag '${name}' has ${value.length} characters; at most 256 are allowed.`,
        { target: `tags.${name}` },
      );
    }
  }
}

export const MAX_DRIVES = 10;
const DRIVE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Import drives: 1–10, unique driveId, bitLockerKey and manifestFile on each. */
export function checkImportDrives(drives: readonly Omit<Drive, "state">[] | undefined): void {
  if (!drives || drives.length === 0) {
    throw new DomainError(
      "InvalidDriveList",
      `An import job needs 1 to ${MAX_DRIVES} drives in 'properties.driveList'.`,
      { target: "properties.driveList" },
    );
  }
  if (drives.length > MAX_DRIVES) {
    throw new DomainError(
      "InvalidDriveList",
      `A job can have at most ${MAX_DRIVES} drives; the request has ${drives.length}. Split the drives over several jobs.`,
      { target: "properties.driveList" },
    );
  }
  const seen = new Set<string>();
  drives.forEach((d, i) => {
    const at = `properties.driveList[${i}]`;
    for (const field of ["driveId", "bitLockerKey", "manifestFile"] as const) {
      if (!d[field]) {
        throw new DomainError(
          "MissingRequiredProperty",
          `'${at}.${field}' is required for each drive of an import job.`,
          {
            target: `${at}.${field}`,
          },
        );
      }
    }
    if (!DRIVE_ID.test(d.driveId)) {
      throw new DomainError(
        "InvalidDriveList",
        `The driveId '${d.driveId}' is invalid: use the drive's hardware serial number without spaces (letters, digits, '-' and '_').`,
        { target: `${at}.driveId` },
      );
    }
    const key = d.driveId.toLowerCase();
    if (seen.has(key)) {
      throw new DomainError(
        "DuplicateDriveId",
        `The drive '${d.driveId}' appears more than once in the drive list.`,
        {
          target: `${at}.driveId`,
        },
      );
    }
    seen.add(key);
  });
}

const CONTAINER = /^(\$root|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/;

function checkBlobPath(path: string, target: string, prefix: boolean): void {
  if (!path.startsWith("/")) {
    throw new DomainError(
      "InvalidExportDefinition",
      `'${path}' is not a valid blob ${prefix ? "path prefix" : "path"}: it must start with '/' followed by the container name, as in '/mycontainer/${prefix ? "prefix" : "path/to/blob"}'.`,
      { target },
    );
  }
  if (prefix && path === "/") return;
  const [container, ...rest] = path.slice(1).split("/");
  if (!container || !CONTAINER.test(container) || (!prefix && rest.join("/").length === 0)) {
    throw new DomainError(
      "InvalidExportDefinition",
      `'${path}' is not a valid blob ${prefix ? "path prefix" : "path"}: it must be '/<container>/${prefix ? "<prefix>" : "<blob name>"}' with a valid container name (3–63 lower-case letters, digits and hyphens, or $root).`,
      { target },
    );
  }
}

export function checkJobShape(
  jobType: JobType,
  drives: readonly Omit<Drive, "state">[] | undefined,
  exp: ExportSpec | undefined,
): void {
  if (jobType === "Import") {
    if (exp) {
      throw new DomainError(
        "InvalidExportDefinition",
        "'properties.export' is for export jobs only; remove it from an import job.",
        {
          target: "properties.export",
        },
      );
    }
    checkImportDrives(drives);
    return;
  }
  if (drives && drives.length > 0) {
    throw new DomainError(
      "InvalidDriveList",
      "An export job is created without drives: the datacenter records the drives it writes. Remove 'properties.driveList'.",
      { target: "properties.driveList" },
    );
  }
  const paths = exp?.blobList?.blobPath ?? [];
  const prefixes = exp?.blobList?.blobPathPrefix ?? [];
  const listBlob = exp?.blobListBlobPath;
  if (paths.length === 0 && prefixes.length === 0 && !listBlob) {
    throw new DomainError(
      "InvalidExportDefinition",
      "An export job needs 'properties.export' with 'blobList.blobPath', 'blobList.blobPathPrefix' or 'blobListBlobPath'.",
      { target: "properties.export" },
    );
  }
  if ((paths.length > 0 || prefixes.length > 0) && listBlob) {
    throw new DomainError(
      "InvalidExportDefinition",
      "Give either 'export.blobList' or 'export.blobListBlobPath', not both.",
      { target: "properties.export" },
    );
  }
  paths.forEach((p, i) => checkBlobPath(p, `properties.export.blobList.blobPath[${i}]`, false));
  prefixes.forEach((p, i) =>
    checkBlobPath(p, `properties.export.blobList.blobPathPrefix[${i}]`, true),
  );
  if (listBlob !== undefined) {
    const normalised = listBlob.startsWith("/") ? listBlob : `/${listBlob}`;
    checkBlobPath(normalised, "properties.export.blobListBlobPath", false);
  }
}
