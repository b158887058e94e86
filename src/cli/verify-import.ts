/**
 * `drivebay job verify-import`: what AzCopy users check by hand after an import. Every
 * source file the dataset names (the CSV the drive was prepared with, or a folder and the
 * container/prefix it went to) is compared with its blob in the job's storage account:
 * length first, then the MD5 of the blob's bytes (read back, not its Content-MD5 property,
 * which anyone with the key can set) against the MD5 of the file.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Command, Option } from "commander";
import type { BlobServiceClient } from "@azure/storage-blob";
import {
  accountService,
  blobFailure,
  isNotFound,
  md5OfFile,
  md5OfStream,
  serviceFromConnectionString,
  splitBlobPath,
} from "./blobs.ts";
import { positiveInt } from "./args.ts";
import { checkedEndpoint } from "./command.ts";
import { CliFailure } from "./client.ts";
import { clientCommand } from "./job-command.ts";
import { operatorKeyOf, operatorSender } from "./operator.ts";
import { table, type Io } from "./output.ts";
import { humanBytes } from "./units.ts";

interface VerifyImportOptions {
  source: string;
  destination?: string;
  connectionString?: string;
  operatorKey?: string;
  dataDir: string;
  parallel: number;
}

export interface FileCheck {
  source: string;
  blob: string;
  status: "match" | "missing" | "differ";
  /** For `differ`: what differs. */
  detail?: string;
}

export interface VerifyImportResult {
  job: string;
  storageAccount: string;
  checked: number;
  match: number;
  missing: FileCheck[];
  differ: FileCheck[];
  bytes: number;
}

/** The dataset to check: the CSV as given, or a one-row CSV for a folder and its destination. */
function datasetOf(opts: VerifyImportOptions, cmd: Command): { csv: string; cleanup(): void } {
  const source = resolve(opts.source);
  let isDir: boolean;
  try {
    isDir = statSync(source).isDirectory();
  } catch (e) {
    cmd.error(`error: --source ${opts.source}: ${(e as Error).message}`);
  }
  if (!isDir) {
    if (opts.destination !== undefined) {
      cmd.error("error: --destination goes with a --source folder; a dataset CSV names its own.");
    }
    return { csv: source, cleanup: () => {} };
  }
  if (opts.destination === undefined) {
    cmd.error(
      "error: a --source folder needs --destination <container>[/prefix/]: where it was imported " +
        "(the DstBlobPathOrPrefix of its dataset row).",
    );
  }
  const dest = opts.destination.replace(/^\/+/, "");
  const dir = mkdtempSync(join(tmpdir(), "drivebay-verify-import-"));
  const quote = (v: string) => `"${v.replace(/"/g, '""')}"`;
  const csv = join(dir, "dataset.csv");
  writeFileSync(
    csv,
    `BasePath,DstBlobPathOrPrefix\r\n${quote(`${source}/`)},${quote(dest.replace(/\/?$/, "/"))}\r\n`,
  );
  return { csv, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

async function checkOne(
  service: BlobServiceClient,
  source: string,
  size: number,
  blobPath: string,
): Promise<FileCheck> {
  const { container, blob } = splitBlobPath(blobPath);
  const client = service.getContainerClient(container).getBlobClient(blob);
  let length: number;
  try {
    length = (await client.getProperties()).contentLength ?? 0;
  } catch (e) {
    if (isNotFound(e)) return { source, blob: blobPath, status: "missing" };
    throw blobFailure(e, `reading ${blobPath}`);
  }
  if (length !== size) {
    return {
      source,
      blob: blobPath,
      status: "differ",
      detail: `length: the blob has ${length} bytes, the file ${size}`,
    };
  }
  const [file, stored] = await Promise.all([
    md5OfFile(source),
    client.download().then(
      (r) => md5OfStream(r.readableStreamBody as AsyncIterable<Buffer>),
      (e: unknown) => {
        if (isNotFound(e)) return undefined;
        throw blobFailure(e, `reading ${blobPath}`);
      },
    ),
  ]);
  if (!stored) return { source, blob: blobPath, status: "missing" };
  if (file.md5 !== stored.md5 || file.length !== stored.length) {
    return {
      source,
      blob: blobPath,
      status: "differ",
      detail: `MD5: the blob's bytes have ${stored.md5}, the file ${file.md5}`,
    };
  }
  return { source, blob: blobPath, status: "match" };
}

function summaryText(r: VerifyImportResult): string {
  const lines = [
    `checked ${r.checked} file(s), ${humanBytes(r.bytes)}, against account ${r.storageAccount} (job ${r.job}):`,
    `  ${r.match} match (length and MD5)`,
    `  ${r.missing.length} missing`,
    `  ${r.differ.length} differ`,
  ];
  let out = `${lines.join("\n")}\n`;
  const problems = [...r.missing, ...r.differ];
  if (problems.length > 0) {
    out +=
      "\n" +
      table(
        ["STATUS", "BLOB", "SOURCE", "WHAT"],
        problems.map((p) => [p.status.toUpperCase(), p.blob, p.source, p.detail ?? "-"]),
      );
  }
  return out;
}

export function registerVerifyImport(job: Command, io: Io): void {
  clientCommand<VerifyImportOptions>(
    job,
    io,
    {
      name: "verify-import",
      description:
        "compare the source files of an import with their blobs (length and MD5 of the bytes)",
      group: "find",
      // A bad --source is said before the job is looked up.
      precheck: (opts, cmd) => datasetOf(opts as unknown as VerifyImportOptions, cmd).cleanup(),
    },
    async ({ opts, conn, client, cmd, io, print }) => {
      // The source first: a usage error is said before any request.
      const dataset = datasetOf(opts, cmd);
      let files: { source: string; size: number; blobPath: string }[];
      try {
        const { loadDataset, DatasetError } = await import("../transfer/dataset.ts");
        try {
          files = (await loadDataset(dataset.csv)).files;
        } catch (e) {
          if (e instanceof DatasetError) throw new CliFailure(`error: ${e.message}`, 2);
          throw e;
        }
      } finally {
        dataset.cleanup();
      }

      const found = await client.jobs.get(opts.name, conn.resourceGroup);
      const p = found.properties ?? {};
      if (p.jobType !== "Import") {
        throw new CliFailure(`error: job ${opts.name} is an ${p.jobType} job, not an import.`, 1);
      }
      const account = /\/storageAccounts\/([^/]+)$/i.exec(p.storageAccountId ?? "")?.[1];
      if (!account) {
        throw new CliFailure(`error: job ${opts.name} names no storage account.`, 1);
      }
      const service = opts.connectionString
        ? await serviceFromConnectionString(opts.connectionString)
        : await accountService(
            operatorSender(
              checkedEndpoint(opts.endpoint, cmd),
              operatorKeyOf({ operatorKey: opts.operatorKey, dataDir: opts.dataDir }, cmd),
            ),
            account,
          );

      const checks: FileCheck[] = new Array(files.length);
      let next = 0;
      const worker = async () => {
        while (next < files.length) {
          const i = next++;
          const f = files[i]!;
          checks[i] = await checkOne(service, f.source, f.size, f.blobPath);
        }
      };
      await Promise.all(Array.from({ length: Math.min(opts.parallel, files.length) }, worker));

      const result: VerifyImportResult = {
        job: found.name ?? opts.name,
        storageAccount: account,
        checked: checks.length,
        match: checks.filter((c) => c.status === "match").length,
        missing: checks.filter((c) => c.status === "missing"),
        differ: checks.filter((c) => c.status === "differ"),
        bytes: files.reduce((n, f) => n + f.size, 0),
      };
      print(result, () => summaryText(result));
      const bad = result.missing.length + result.differ.length;
      if (bad > 0) {
        throw new CliFailure(
          `verify-import: ${bad} of ${result.checked} file(s) are not in the account as they are at the source`,
          1,
        );
      }
      if (result.checked === 0) io.err("warning: the source names no files; nothing was checked\n");
    },
  )
    .requiredOption(
      "--source <dataset.csv|folder>",
      "the dataset CSV the drive was prepared with, or a folder (with --destination)",
    )
    .option(
      "--destination <container[/prefix/]>",
      "with a --source folder: where its files were imported (the dataset's DstBlobPathOrPrefix)",
    )
    .addOption(
      new Option(
        "--connection-string <cs>",
        "the storage account's connection string (default: asked of the operator API, as drivebay storage show does)",
      ).env("AZURE_STORAGE_CONNECTION_STRING"),
    )
    .addOption(
      new Option(
        "--operator-key <key>",
        "the operator key, to ask for the account's connection string; without it, <data-dir>/operator.key is read",
      ).env("DRIVEBAY_OPERATOR_KEY"),
    )
    .addOption(
      new Option("--data-dir <dir>", "the local server's data directory, holding operator.key")
        .env("DRIVEBAY_DATA_DIR")
        .default("./.drivebay"),
    )
    .addOption(
      new Option("--parallel <n>", "files checked at once").argParser(positiveInt).default(8),
    )
    .addHelpText(
      "after",
      `
Every file the source names is checked: the blob must exist with the file's length, and
the MD5 of its bytes (read back from the account) must be the file's. A blob renamed by
the 'rename' disposition (name (2).ext) counts as a difference of the original name.

Exit codes: 0 every file matches; 1 a file is missing or differs (listed), or a request
failed; 2 usage error (a bad --source or dataset).

Examples:
  drivebay job verify-import -n myjob --source dataset.csv
  drivebay job verify-import -n myjob --source ./photos --destination photos/2026/`,
    );
}
