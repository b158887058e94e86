/**
 * `drivebay drive preview-export` (the WAImportExport `PreviewExport` role, SPEC §4.5): a
 * blob list (an XML file, paths and prefixes, a list blob in the account, or an export
 * job's) and a drive size → the drives needed, blobs and space per drive, paths that
 * match nothing, duplicates, blobs that cannot be exported. 1 GB = 10^9 bytes.
 */
import { readFile } from "node:fs/promises";
import type { BlobServiceClient } from "@azure/storage-blob";
import { Command, Option } from "commander";
import { formatDecimalSize } from "../domain/export/sizes.ts";
import type { BlobListEntry } from "../transfer/export/blob-list.ts";
import type { ExportPreview } from "../transfer/export/preview.ts";
import { driveSize, repeated } from "./args.ts";
import { armClient, CliFailure, failureOf } from "./client.ts";
import { addOptionGroup, commonOptions, CONNECTION, setAction } from "./command.ts";
import { connectionOf, findResourceGroup } from "./job-command.ts";
import { table, type Io, type OutputFormat } from "./output.ts";

interface PreviewFlags {
  driveSize: number;
  blobList?: string;
  blobPath?: string[];
  blobPathPrefix?: string[];
  blobListBlob?: string;
  job?: string;
  connectionString?: string;
  endpoint: string;
  subscription: string;
  /** Absent: the group holding --job, found by its name in the subscription. */
  resourceGroup?: string;
  token: string;
  output: OutputFormat;
}

function report(p: ExportPreview): string {
  const lines = [
    `drive size: ${formatDecimalSize(p.driveSizeBytes)} (${p.driveSizeBytes} bytes)`,
    `blob list: ${p.entries} path(s) or prefix(es); ${p.blobs} blob(s) to export, ${formatDecimalSize(p.bytes)}`,
    `drives needed: ${p.drivesNeeded}`,
    "",
  ];
  let out = lines.join("\n");
  if (p.drives.length > 0) {
    out += table(
      ["DRIVE", "BLOBS", "DATA", "SPACE USED"],
      p.drives.map((d) => [
        String(d.drive),
        String(d.blobs),
        formatDecimalSize(d.dataBytes),
        formatDecimalSize(d.usedBytes),
      ]),
    );
  }
  const section = (title: string, items: string[]) =>
    items.length ? `\n${title}:\n${items.map((i) => `  ${i}\n`).join("")}` : "";
  out += section("paths and prefixes that match nothing", p.unmatched);
  out += section("duplicate paths and prefixes (used once)", p.duplicateEntries);
  if (p.duplicateBlobs > 0) {
    out += `\n${p.duplicateBlobs} blob match(es) named again by a later path or prefix (exported once)\n`;
  }
  out += section(
    "blobs that cannot be exported",
    p.notExportable.map((n) => `${n.blob}: ${n.reason}`),
  );
  out += section("blobs larger than one drive (they go to the incomplete blob list)", p.tooLarge);
  return out;
}

export function registerPreviewExport(drive: Command, io: Io): void {
  const cmd = drive
    .command("preview-export")
    .description(
      "how many drives of a size an export needs, and what goes on each (WAImportExport PreviewExport)",
    )
    .requiredOption(
      "--drive-size <size>",
      "the size of each drive: 500GB, 2TB, … (1 GB = 10^9 bytes) or bytes",
      driveSize,
    )
    .option("--blob-list <file>", "an XML BlobList file (<BlobPath>, <BlobPathPrefix>)")
    .option("--blob-path <path>", "a blob to export, /container/name (repeatable)", repeated)
    .option(
      "--blob-path-prefix <prefix>",
      "a prefix to export: / the account, /c/ a container, /c containers starting with c, /c/p (repeatable)",
      repeated,
    )
    .option("--blob-list-blob <path>", "an XML BlobList blob in the account, container/name")
    .option("--job <name>", "the blob list of this export job")
    .addOption(
      new Option(
        "--connection-string <cs>",
        "the storage account's connection string (drivebay storage show <account> -o json)",
      ).env("AZURE_STORAGE_CONNECTION_STRING"),
    );
  addOptionGroup(cmd, CONNECTION, [
    commonOptions.endpoint(),
    commonOptions.subscription(),
    new Option(
      "-g, --resource-group <name>",
      "the --job's resource group (default: the one holding it, found in the subscription)",
    ).env("DRIVEBAY_RESOURCE_GROUP"),
    new Option("--token <token>", "bearer token to send").env("DRIVEBAY_TOKEN").default("dev"),
  ]);
  cmd.addOption(commonOptions.output());
  cmd.addHelpText(
    "after",
    `
Give the blob list one way: --blob-list, --blob-path/--blob-path-prefix, --blob-list-blob
or --job. Blobs are read from the account of --connection-string. Drives are filled in
listing order; every file, its .metadata and .properties files (in 4 KiB clusters) and the
drive's manifest count against the drive size.

Examples:
  drivebay drive preview-export --drive-size 500GB --blob-path-prefix /music/ \\
    --connection-string "$(drivebay storage show mydata -o json | jq -r .connectionString)"
  drivebay drive preview-export --drive-size 2TB --job myexport -g mygroup`,
  );
  setAction<PreviewFlags>(cmd, io, async ({ opts, cmd, print }) => {
    // Loaded when the command runs: they bring the Blob SDK, which `--help` needs none of.
    const { BlobListError, entriesOfBlobList, parseBlobListXml, readBlobListBlob } =
      await import("../transfer/export/blob-list.ts");
    const { previewExport } = await import("../transfer/export/preview.ts");
    // The same (ES module) copy of the SDK as blob-list.ts, whose errors it tells apart.
    const { BlobServiceClient } = await import("@azure/storage-blob");
    const usage = (message: string): never => cmd.error(message);
    const sources = [
      opts.blobList !== undefined,
      (opts.blobPath?.length ?? 0) + (opts.blobPathPrefix?.length ?? 0) > 0,
      opts.blobListBlob !== undefined,
      opts.job !== undefined,
    ].filter(Boolean).length;
    if (sources !== 1) {
      usage(
        "error: give the blob list one way: --blob-list <file>, --blob-path/--blob-path-prefix, --blob-list-blob <container/name> or --job <name>.",
      );
    }
    if (!opts.connectionString) {
      return usage(
        "error: give --connection-string (or AZURE_STORAGE_CONNECTION_STRING): the account the blobs are in. `drivebay storage show <account> -o json` prints it.",
      );
    }
    let service: BlobServiceClient;
    try {
      service = BlobServiceClient.fromConnectionString(opts.connectionString);
    } catch (e) {
      return usage(`error: --connection-string: ${(e as Error).message}`);
    }
    let entries: BlobListEntry[];
    try {
      if (opts.blobList !== undefined) {
        const xml = await readFile(opts.blobList, "utf8").catch((e: Error) => {
          throw new CliFailure(`error: cannot read ${opts.blobList}: ${e.message}`, 1);
        });
        entries = parseBlobListXml(xml);
      } else if (opts.blobListBlob !== undefined) {
        entries = await readBlobListBlob(service, opts.blobListBlob);
      } else if (opts.job !== undefined) {
        entries = await jobEntries(service, opts, cmd);
      } else {
        entries = entriesOfBlobList({
          blobPath: opts.blobPath ?? [],
          blobPathPrefix: opts.blobPathPrefix ?? [],
        });
        for (const e of entries) {
          if (!e.path.startsWith("/")) {
            usage(`error: '${e.path}' must start with '/' and the container name.`);
          }
        }
      }
      const preview = await previewExport(service, entries, opts.driveSize);
      print(preview, () => report(preview));
    } catch (e) {
      if (e instanceof BlobListError) throw new CliFailure(`error: ${e.status}: ${e.message}`, 1);
      throw e;
    }
  });
}

async function jobEntries(
  service: BlobServiceClient,
  opts: PreviewFlags,
  cmd: Command,
): Promise<BlobListEntry[]> {
  const conn = connectionOf(opts, cmd);
  let exp;
  try {
    const client = armClient(conn);
    // As the other single-job commands: without -g, the job is found by its name.
    if (conn.resourceGroup === "") {
      conn.resourceGroup = await findResourceGroup(client, conn, opts.job!);
    }
    const job = await client.jobs.get(opts.job!, conn.resourceGroup);
    if (job.properties?.jobType !== "Export") {
      throw new CliFailure(`error: job ${opts.job} is not an export job`, 1);
    }
    exp = job.properties.export ?? {};
  } catch (e) {
    throw failureOf(e, conn.endpoint);
  }
  const { entriesOfBlobList, readBlobListBlob } = await import("../transfer/export/blob-list.ts");
  if (exp.blobListBlobPath) return readBlobListBlob(service, exp.blobListBlobPath);
  return entriesOfBlobList({ blobPath: exp.blobPath, blobPathPrefix: exp.blobPathPrefix });
}
