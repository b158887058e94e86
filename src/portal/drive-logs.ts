/**
 * A drive's error log, verbose log and backed-up manifest, opened from the job page
 * (ADR 0010). The job's fields carry bare blob URLs, as Azure's do, and a browser cannot
 * open them (the account needs a key); the portal reads the blob itself, under the same
 * authorisation as the job page, and streams it as a download. Only a blob the job's own
 * field names, in the job's own account and diagnostics container, is ever served.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { jobKey, named } from "../api/routes/route.ts";
import { storageAccountName } from "../domain/storage-accounts.ts";
import type { Drive, Job } from "../domain/job/model.ts";
import type { PortalContext } from "./context.ts";
import { PageError } from "./http.ts";

/** The URL segment of each file, the drive field that names it, and its words. */
export const DRIVE_FILES = {
  "error-log": { field: "errorLogUri", label: "error log" },
  "verbose-log": { field: "verboseLogUri", label: "verbose log" },
  manifest: { field: "manifestUri", label: "manifest backup" },
} as const satisfies Record<string, { field: keyof Drive; label: string }>;

export type DriveFile = keyof typeof DRIVE_FILES;

export function driveFileRoutes(app: FastifyInstance, ctx: PortalContext, jobRoute: string): void {
  app.get(`${jobRoute}/drives/:driveId/:file`, named("Portal_DriveFile"), async (req, reply) => {
    const { driveId, file } = req.params as { driveId: string; file: string };
    const kind = DRIVE_FILES[file as DriveFile] as (typeof DRIVE_FILES)[DriveFile] | undefined;
    if (!kind) {
      throw new PageError(
        404,
        "ResourceNotFound",
        `A drive has no '${file}'; its files are ${Object.keys(DRIVE_FILES).join(", ")}.`,
      );
    }
    const job = await ctx.jobs.get(jobKey(req));
    const drive = job.driveList.find((d) => d.driveId === driveId);
    if (!drive) {
      throw new PageError(404, "DriveNotFound", `Job '${job.name}' has no drive '${driveId}'.`);
    }
    const uri = drive[kind.field];
    if (!uri) {
      throw new PageError(
        404,
        "ResourceNotFound",
        `Drive '${driveId}' of job '${job.name}' has no ${kind.label} yet; it is written when the drive's copy ends.`,
      );
    }
    return serveJobBlob(ctx, reply, job, uri, kind.label, `of drive '${driveId}'`);
  });

  // An export job's list of the blobs that fit on no drive (issue 11 item 7).
  app.get(
    `${jobRoute}/incomplete-blob-list`,
    named("Portal_IncompleteBlobList"),
    async (req, reply) => {
      const job = await ctx.jobs.get(jobKey(req));
      if (!job.incompleteBlobListUri) {
        throw new PageError(
          404,
          "ResourceNotFound",
          `Job '${job.name}' has no incomplete blob list: every blob it names fit on its drives${job.jobType === "Export" ? "" : " (only export jobs have one)"}.`,
        );
      }
      return serveJobBlob(
        ctx,
        reply,
        job,
        job.incompleteBlobListUri,
        "incomplete blob list",
        `of job '${job.name}'`,
      );
    },
  );
}

/**
 * A blob the job's own field names, read from the job's own account and diagnostics
 * container and streamed as a download; anything else is refused.
 */
async function serveJobBlob(
  ctx: PortalContext,
  reply: FastifyReply,
  job: Job,
  uri: string,
  label: string,
  of: string,
): Promise<FastifyReply> {
  if (!ctx.blobs) {
    throw new PageError(
      404,
      "ResourceNotFound",
      `This server reads no storage; the ${label} is at ${uri}.`,
    );
  }
  const account = storageAccountName(job.storageAccountId);
  const container = await ctx.blobs.containerClient(account, job.diagnosticsPath);
  const base = new URL(container.url);
  base.search = "";
  const prefix = `${base.toString().replace(/\/$/, "")}/`;
  if (!uri.startsWith(prefix)) {
    // The job's record points elsewhere (an account reconfigured since): nothing to serve.
    throw new PageError(
      404,
      "ResourceNotFound",
      `The ${label} ${of} (${uri}) is not in container '${job.diagnosticsPath}' of storage account '${account}' any more.`,
    );
  }
  const blobName = decodeURIComponent(uri.slice(prefix.length));
  let download;
  try {
    download = await container.getBlobClient(blobName).download();
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) {
      throw new PageError(
        404,
        "BlobNotFound",
        `The ${label} ${of} was deleted from storage account '${account}' (${uri}).`,
      );
    }
    throw e;
  }
  const filename = blobName
    .split("/")
    .pop()!
    .replace(/[^\w.-]/g, "_");
  reply
    .type(download.contentType ?? "application/xml")
    .header("content-disposition", `attachment; filename="${filename}"`)
    .header("cache-control", "private, no-store");
  if (download.contentLength !== undefined) reply.header("content-length", download.contentLength);
  return reply.send(download.readableStreamBody);
}
