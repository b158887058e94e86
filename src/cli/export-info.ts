/**
 * What a customer wants of an export job besides its fields (issue 11, item 7): the drives
 * with their BitLocker keys on request (BitLockerKeys_List), where each exported drive can
 * be read (in the emulator, its folder in the server's dock), and the list of blobs that fit
 * on no drive (the XML at incompleteBlobListUri, read from the job's storage account).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import type { JobResponse, StorageImportExport } from "@azure/arm-storageimportexport";
import { accountService, blobFailure, isNotFound, serviceFromConnectionString } from "./blobs.ts";
import { CliFailure } from "./client.ts";
import { checkedEndpoint } from "./command.ts";
import { serverDock } from "./dock.ts";
import { clientCommand, type Call } from "./job-command.ts";
import { operatorKeyOf, operatorSender } from "./operator.ts";
import { table, text, type Io } from "./output.ts";

/** The options that reach the operator API (the dock, an account's connection string). */
export interface OperatorReach {
  operatorKey?: string;
  dataDir: string;
}

const EXPORT_GROUP = "Export jobs:";

export function operatorReachOptions(): Option[] {
  return [
    new Option(
      "--operator-key <key>",
      "the operator key, to ask the server for its dock or an account's connection string; without it, <data-dir>/operator.key is read",
    ).env("DRIVEBAY_OPERATOR_KEY"),
    new Option("--data-dir <dir>", "the local server's data directory, holding operator.key")
      .env("DRIVEBAY_DATA_DIR")
      .default("./.drivebay"),
  ];
}

/** BitLockerKeys_List as driveId (lower case) → key. */
export async function keysOf(
  client: StorageImportExport,
  name: string,
  group: string,
): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for await (const k of client.bitLockerKeys.list(name, group)) {
    if (k.driveId && k.bitLockerKey) keys.set(k.driveId.toLowerCase(), k.bitLockerKey);
  }
  return keys;
}

/**
 * Where each exported drive can be read from here: its folder in the server's dock, when
 * the dock is this machine's and the folder exists. `note` says why not otherwise.
 */
export async function readableDrives(
  job: JobResponse,
  endpoint: string,
  reach: OperatorReach,
  cmd: Command,
): Promise<{ paths: Map<string, string>; note?: string }> {
  const paths = new Map<string, string>();
  let key: { key: string; source: string };
  try {
    key = operatorKeyOf(reach, cmd);
  } catch (e) {
    if (!(e instanceof CliFailure)) throw e;
    return {
      paths,
      note:
        "where the drives can be read is asked of the operator API: give --operator-key or " +
        "DRIVEBAY_OPERATOR_KEY (drivebay serve prints it), or --data-dir <the server's data directory>",
    };
  }
  const dock = await serverDock(endpoint, key);
  if (!dock.found) return { paths, note: dock.why };
  for (const d of job.properties?.driveList ?? []) {
    const folder = d.driveId ? join(dock.path, d.driveId) : undefined;
    if (folder && existsSync(folder)) paths.set(d.driveId!, folder);
  }
  return { paths };
}

export function exportDrivesTable(
  job: JobResponse,
  keys: Map<string, string> | undefined,
  readAt: Map<string, string>,
): string {
  const drives = job.properties?.driveList ?? [];
  if (drives.length === 0)
    return "no export drives yet (they are recorded when the package arrives)\n";
  return table(
    ["DRIVE ID", "STATE", "COPY STATUS", "PERCENT", "BYTES", "BITLOCKER KEY", "READ AT"],
    drives.map((d) => [
      text(d.driveId),
      text(d.state),
      text(d.copyStatus),
      text(d.percentComplete),
      text(d.bytesSucceeded),
      keys ? (keys.get(d.driveId?.toLowerCase() ?? "") ?? "-") : "(--show-keys)",
      readAt.get(d.driveId ?? "") ?? "-",
    ]),
  );
}

// ---------------------------------------------------------------------------------------
// job incomplete-blobs

interface IncompleteOptions extends OperatorReach {
  connectionString?: string;
  raw?: boolean;
}

/** `<BlobPath Snapshot="…">container/name</BlobPath>` entries → `/container/name[?snapshot=…]`. */
export function blobPathsOf(xml: string): string[] {
  const unescape = (s: string) =>
    s
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, "&");
  const out: string[] = [];
  for (const m of xml.matchAll(/<BlobPath(?:\s+Snapshot="([^"]*)")?\s*>([^<]*)<\/BlobPath>/g)) {
    const path = `/${unescape(m[2]!).replace(/^\/+/, "")}`;
    out.push(m[1] ? `${path}?snapshot=${unescape(m[1])}` : path);
  }
  return out;
}

/** The account name and `container/blob` of a blob URL of that account (path-style or not). */
function blobOfUri(uri: string, account: string): { container: string; blob: string } {
  const parts = new URL(uri).pathname
    .split("/")
    .filter((p) => p !== "")
    .map(decodeURIComponent);
  // Azurite is path-style: /<account>/<container>/<blob>.
  if (parts[0] === account && parts.length > 2) parts.shift();
  return { container: parts[0] ?? "", blob: parts.slice(1).join("/") };
}

export function registerIncompleteBlobs(job: Command, io: Io): void {
  const cmd = clientCommand<IncompleteOptions>(
    job,
    io,
    {
      name: "incomplete-blobs",
      description:
        "print the blobs of an export job that fit on no drive (the list at incompleteBlobListUri)",
      group: "find",
    },
    async (call: Call<IncompleteOptions>) => {
      const { opts, conn, client, cmd, io, print } = call;
      const found = await client.jobs.get(opts.name, conn.resourceGroup);
      const p = found.properties ?? {};
      if (p.jobType !== "Export") {
        throw new CliFailure(`error: job ${opts.name} is an ${p.jobType} job, not an export.`, 1);
      }
      const uri = p.incompleteBlobListUri;
      if (!uri) {
        io.err(
          `job ${found.name} (${p.state}) has no incomplete blob list: every blob it exported so far fit on its drives\n`,
        );
        print([], () => "");
        return;
      }
      const account = /\/storageAccounts\/([^/]+)$/i.exec(p.storageAccountId ?? "")?.[1] ?? "";
      const service = opts.connectionString
        ? await serviceFromConnectionString(opts.connectionString)
        : await accountService(
            operatorSender(checkedEndpoint(opts.endpoint, cmd), operatorKeyOf(opts, cmd)),
            account,
          );
      const { container, blob } = blobOfUri(uri, account);
      let xml: string;
      try {
        xml = (
          await service.getContainerClient(container).getBlobClient(blob).downloadToBuffer()
        ).toString("utf8");
      } catch (e) {
        if (isNotFound(e)) {
          throw new CliFailure(
            `error: the incomplete blob list ${uri} is not in the account.`,
            1,
            404,
          );
        }
        throw blobFailure(e, `reading ${uri}`);
      }
      if (opts.raw) {
        io.out(xml);
        return;
      }
      const paths = blobPathsOf(xml);
      io.err(`${paths.length} blob(s) of job ${found.name} fit on no drive (${uri}):\n`);
      print(paths, () => paths.map((x) => `${x}\n`).join(""));
    },
  );
  cmd
    .option("--raw", "print the XML as stored (give it to a new export job as blobListBlobPath)")
    .addOption(
      new Option(
        "--connection-string <cs>",
        "the storage account's connection string (default: asked of the operator API)",
      ).env("AZURE_STORAGE_CONNECTION_STRING"),
    );
  for (const o of operatorReachOptions()) cmd.addOption(o);
  cmd.addHelpText(
    "after",
    `
The list is an XML BlobList in the job's storage account; a new export job takes it as
its blob list (drivebay job create … --export-blob-list-path <container/blob>).`,
  );
}

export { EXPORT_GROUP };
