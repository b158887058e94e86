/**
 * `drivebay drive …`: the customer's drive tools. `prepare` is the WAImportExport PrepImport
 * role (SPEC §4.2; src/transfer/prepare.ts) and can add the prepared drive to a job;
 * `verify` checks a drive folder against its manifest (SPEC §4.6).
 */
import { generateBitLockerKey } from "../domain/export/bitlocker.ts";
import { humanBytes, humanRate } from "./units.ts";
import { readdirSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { performance } from "node:perf_hooks";
import { Command, Option } from "commander";
import type { DriveStatus, JobResponse } from "@azure/arm-storageimportexport";
// The transfer modules (and the XML parser they bring) load when a command runs, not for --help.
import type { DatasetError } from "../transfer/dataset.ts";
import type {
  DriveListEntry,
  PrepareError,
  PrepareProgress,
  PrepareResult,
} from "../transfer/prepare.ts";
import type { VerifyProgress, VerifyResult } from "../transfer/verify.ts";
import { FIELD_WINDOWS, updatableFields } from "../domain/job/lifecycle.ts";
import {
  armClient,
  CliFailure,
  failureOf,
  jobFacts,
  DEFAULT_RESOURCE_GROUP,
  storageAccountId,
  type Connection,
} from "./client.ts";
import {
  addOptionGroup,
  checkedEndpoint,
  commonOptions,
  CONNECTION,
  setAction,
} from "./command.ts";
import { serverDock } from "./dock.ts";
import { connectionOf, findResourceGroup, getJobOrGone, JobNotFound } from "./job-command.ts";
import { operatorKeyOf } from "./operator.ts";
import { processIo, table, type Io, type OutputFormat } from "./output.ts";
import { registerPreviewExport } from "./preview-export.ts";

const DEFAULT_DATA_DIR = ".drivebay";
const JOB_GROUP = "Add the drive to a job, or create the job with it (optional):";

// ---------------------------------------------------------------------------------------
// Progress on stderr: a bar redrawn in place on a terminal, a plain line now and then otherwise.

interface Meter {
  update(bytes: number, bytesTotal: number, items: string): void;
  done(): void;
}

function meter(io: Io, verb: string): Meter {
  const tty = io === processIo && process.stderr.isTTY === true;
  const started = performance.now();
  // A terminal shows the bar at once; a log gets its first line after the first interval.
  let last = tty ? -Infinity : started;
  let drawn = false;
  return {
    update(bytes, bytesTotal, items) {
      const now = performance.now();
      if (now - last < (tty ? 100 : 10_000)) return;
      last = now;
      const rate = humanRate(bytes, now - started);
      const pct = bytesTotal > 0 ? Math.floor((bytes * 100) / bytesTotal) : 100;
      const status =
        `${pct}% ${humanBytes(bytes)}/${humanBytes(bytesTotal)}, ${items}` +
        (rate ? `, ${rate}` : "");
      if (tty) {
        const width = 30;
        const fill = Math.round((width * pct) / 100);
        io.err(`\r${verb} [${"#".repeat(fill)}${".".repeat(width - fill)}] ${status}\x1b[K`);
        drawn = true;
      } else {
        io.err(`${verb}: ${status}\n`);
      }
    },
    done() {
      if (drawn) io.err("\r\x1b[K");
    },
  };
}

/** SIGINT stops the work cleanly (prepare resumes from its journal). */
function interruptible(io: Io): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  if (io !== processIo) return { signal: controller.signal, release: () => {} };
  const onSignal = () => controller.abort();
  process.once("SIGINT", onSignal);
  return { signal: controller.signal, release: () => process.off("SIGINT", onSignal) };
}

// ---------------------------------------------------------------------------------------
// prepare

interface PrepareFlags {
  dataset: string;
  drive?: string;
  dock?: boolean;
  dataDir: string;
  operatorKey?: string;
  driveId: string;
  sessionId?: string;
  journal?: string;
  job?: string;
  bitlockerKey?: string;
  location?: string;
  storageAccount?: string;
  endpoint: string;
  subscription: string;
  /** Absent: the group holding --job, found by its name (a new job: "default"). */
  resourceGroup?: string;
  apiVersion?: string;
  token: string;
  output: OutputFormat;
}

/** A BitLocker recovery password: 8 groups of 6 digits, each group a multiple of 11. */
export { generateBitLockerKey };

function datasetFailure(e: DatasetError): CliFailure {
  return new CliFailure(`error: ${e.message}\nNothing was copied.`, 2);
}

function prepareFailure(e: PrepareError): CliFailure {
  const usage =
    e.code === "InvalidArgument" || e.code === "JournalMismatch" || e.code === "DriveNotEmpty";
  return new CliFailure(`error: ${e.message}`, usage ? 2 : 1);
}

/** The job's drive list with this drive added (or replaced), keys included, as Jobs_Update wants it. */
async function driveListWith(
  conn: Connection,
  job: string,
  entry: DriveListEntry,
  bitLockerKey: string | undefined,
): Promise<{ driveList: DriveStatus[]; bitLockerKey: string }> {
  const client = armClient(conn);
  const found = await client.jobs.get(job, conn.resourceGroup);
  checkCreating(found, job);
  // Jobs_Get never returns keys: BitLockerKeys_List has them, and the PATCH needs them all.
  const keys = new Map<string, string>();
  for await (const k of client.bitLockerKeys.list(job, conn.resourceGroup)) {
    if (k.driveId && k.bitLockerKey) keys.set(k.driveId.toLowerCase(), k.bitLockerKey);
  }
  const same = (d: { driveId?: string }) =>
    d.driveId?.toLowerCase() === entry.driveId.toLowerCase();
  const key = bitLockerKey ?? keys.get(entry.driveId.toLowerCase()) ?? generateBitLockerKey();
  const driveList: DriveStatus[] = (found.properties?.driveList ?? [])
    .filter((d) => !same(d))
    .map((d) => ({
      driveId: d.driveId,
      bitLockerKey: keys.get(d.driveId?.toLowerCase() ?? ""),
      manifestFile: d.manifestFile,
      manifestHash: d.manifestHash,
      driveHeaderHash: d.driveHeaderHash,
    }));
  driveList.push({ ...entry, bitLockerKey: key });
  return { driveList, bitLockerKey: key };
}

/**
 * Without -g, the resource group holding `job`, found by its name in the subscription as the
 * other single-job commands find it (several: a usage error naming them); a job that is
 * nowhere goes to the default group when it is to be created. Sets `conn.resourceGroup`.
 */
async function jobGroup(
  conn: Connection,
  job: string,
): Promise<{ absent: boolean; scope: string }> {
  if (conn.resourceGroup !== "") {
    return { absent: false, scope: `resource group ${conn.resourceGroup}` };
  }
  try {
    conn.resourceGroup = await findResourceGroup(armClient(conn), conn, job);
    return { absent: false, scope: `resource group ${conn.resourceGroup}` };
  } catch (e) {
    if (e instanceof JobNotFound) {
      conn.resourceGroup = DEFAULT_RESOURCE_GROUP;
      return { absent: true, scope: `any resource group of subscription ${conn.subscription}` };
    }
    if (e instanceof CliFailure) {
      throw new CliFailure(`${e.message} Nothing was copied.`, e.exitCode);
    }
    throw failureOf(e, conn.endpoint);
  }
}

/** The job, or undefined when there is none (404); any other failure is the CLI's failure. */
async function findJob(conn: Connection, name: string): Promise<JobResponse | undefined> {
  try {
    return await getJobOrGone(armClient(conn), name, conn.resourceGroup);
  } catch (e) {
    throw failureOf(e, conn.endpoint);
  }
}

function checkCreating(job: JobResponse, name: string): void {
  if (job.properties?.jobType !== undefined && job.properties.jobType !== "Import") {
    throw new CliFailure(
      `error: job ${name} is an ${job.properties.jobType} job; drives are prepared for Import jobs`,
      1,
    );
  }
  // The lifecycle's own field window for driveList (SPEC §2.2).
  if (!updatableFields(jobFacts(job)).includes("driveList")) {
    throw new CliFailure(
      `error: job ${name} is '${job.properties?.state}'; drives can be added only while it is ${FIELD_WINDOWS.driveList.join(" or ")}`,
      1,
    );
  }
}

function summary(r: PrepareResult, ms: number): string {
  const rate = humanRate(r.copiedBytes, ms);
  const resumed = r.resumedFiles > 0 ? `, ${r.resumedFiles} already on the drive` : "";
  return (
    `prepared ${r.files} file(s), ${humanBytes(r.bytes)} (${r.copiedFiles} copied${resumed}) in ` +
    `${(ms / 1000).toFixed(1)} s` +
    (rate ? `, ${rate}` : r.copiedBytes > 0 ? "" : ", nothing left to copy") +
    "\n" +
    `manifest: ${r.manifestPath} (${r.driveFiles} blob(s) on the drive)\n` +
    `journal:  ${r.journalPath}\n`
  );
}

/**
 * The dock of the server at --endpoint, as a folder of this machine: the operator API names
 * it (`GET /operator/v1/dock`), and the id in its `.drivebay-dock` file must be the one the
 * server gave, so the drive lands where that server looks for it. Anything else is refused
 * before a byte is copied, with what to do instead.
 */
async function dockFolder(opts: PrepareFlags, cmd: Command): Promise<string> {
  const endpoint = checkedEndpoint(opts.endpoint, cmd);
  const instead = `or prepare into a folder with --drive <dir> and put it in the server's dock as <dock>/${opts.driveId}/.`;
  let key: { key: string; source: string };
  try {
    key = operatorKeyOf(opts, cmd);
  } catch (e) {
    if (!(e instanceof CliFailure)) throw e;
    throw new CliFailure(
      `error: --dock asks the server at ${endpoint} where its dock is (through the operator ` +
        `API), which needs the operator key: give --operator-key or DRIVEBAY_OPERATOR_KEY ` +
        `(drivebay serve prints it), or --data-dir <the server's data directory>; ${instead}\n` +
        `(${e.message})`,
      2,
    );
  }
  const dock = await serverDock(endpoint, key);
  if (dock.found) return dock.path;
  if (dock.failure) {
    throw new CliFailure(
      `${dock.why}\n--dock could not ask the server at ${endpoint} where its dock is; start it, ` +
        `give --endpoint, ${instead} Nothing was copied.`,
      dock.failure.exitCode,
    );
  }
  throw new CliFailure(
    `error: ${dock.why}. Run this command on the server's machine, ${instead} Nothing was copied.`,
    1,
  );
}

function registerPrepare(drive: Command, io: Io): void {
  const cmd = drive
    .command("prepare")
    .description(
      "copy a dataset onto a drive folder and write its manifest (WAImportExport PrepImport)",
    )
    .requiredOption("--dataset <csv>", "the dataset CSV (BasePath,DstBlobPathOrPrefix,BlobType,…)")
    .option("--drive <dir>", "the drive's root folder (a mounted drive)")
    .option(
      "--dock",
      "prepare into the dock of the server at --endpoint, <dock>/<drive-id>/ (asked of its operator API)",
    )
    .addOption(
      new Option(
        "--operator-key <key>",
        "with --dock: the operator key; without it, <data-dir>/operator.key is read",
      ).env("DRIVEBAY_OPERATOR_KEY"),
    )
    .addOption(
      new Option(
        "--data-dir <dir>",
        "with --dock: the server's data directory, holding operator.key",
      )
        .env("DRIVEBAY_DATA_DIR")
        .default(`./${DEFAULT_DATA_DIR}`),
    )
    .requiredOption("--drive-id <id>", "the drive's serial number")
    .option(
      "--session-id <id>",
      "copy session: a new id adds data to a prepared drive (default: session-1)",
    )
    .option(
      "--journal <file>",
      "the journal (default: <drive>/../<drive-id>.jrn; never on the drive)",
    );
  addOptionGroup(cmd, JOB_GROUP, [
    new Option("--job <name>", "add the drive to this import job (it must be Creating)"),
    new Option("--bitlocker-key <key>", "the drive's BitLocker key (default: generated)"),
    new Option(
      "-l, --location <location>",
      "with --storage-account: create the --job with this drive if it does not exist yet",
    ),
    new Option(
      "--storage-account <id-or-name>",
      "the new job's storage account: an ARM id, or a bare name (in --subscription/--resource-group)",
    ),
  ]);
  addOptionGroup(cmd, CONNECTION, [
    commonOptions.endpoint(),
    commonOptions.subscription(),
    new Option(
      "-g, --resource-group <name>",
      `the --job's resource group (default: the one holding it, found in the subscription; a new job: '${DEFAULT_RESOURCE_GROUP}')`,
    ).env("DRIVEBAY_RESOURCE_GROUP"),
    new Option("--api-version <version>", "api-version to send (default: the SDK's, 2021-01-01)"),
    new Option("--token <token>", "bearer token to send").env("DRIVEBAY_TOKEN").default("dev"),
  ]);
  cmd.addOption(commonOptions.output());
  cmd.addHelpText(
    "after",
    `
The dataset's rows are all checked before anything is copied; every bad row is reported
with its line number (exit 2). An interrupted preparation (Ctrl-C, a crash) resumes when
the same command is run again with the same journal. The driveList entry is printed on
stdout (--output json for scripts); progress and a summary go to stderr.

With --job the drive is added to that job, which must be Creating; with --location and
--storage-account as well, a job that does not exist yet is created with this drive
(they are not used when the job exists).

Examples:
  drivebay drive prepare --dataset dataset.csv --drive /mnt/usb1 --drive-id WD-WCC4N1234567 \\
    --job myjob -g mygroup
  drivebay drive prepare --dataset dataset.csv --dock --drive-id WD-WCC4N1234567 \\
    --job newjob -g mygroup -l westus --storage-account mydata`,
  );
  setAction<PrepareFlags>(cmd, io, async ({ opts, cmd, print }) => {
    if ((opts.drive === undefined) === (opts.dock !== true)) {
      cmd.error("error: give exactly one of --drive <dir> and --dock.");
    }
    const creation = opts.location ?? opts.storageAccount;
    if (creation !== undefined && (opts.location === undefined || !opts.storageAccount)) {
      cmd.error("error: --location and --storage-account go together (to create the --job).");
    }
    if (opts.job === undefined && (opts.bitlockerKey !== undefined || creation !== undefined)) {
      cmd.error("error: --bitlocker-key, --location and --storage-account go with --job.");
    }
    const driveDir = opts.drive ?? join(await dockFolder(opts, cmd), opts.driveId);
    let conn: Connection | undefined;
    if (opts.job !== undefined) {
      conn = connectionOf(opts, cmd);
      const where = await jobGroup(conn, opts.job);
      // Before copying for hours: the job must take drives, or be one that can be created.
      const found = where.absent ? undefined : await findJob(conn, opts.job);
      if (found) checkCreating(found, opts.job);
      else if (creation === undefined) {
        throw new CliFailure(
          `error: there is no job ${opts.job} in ${where.scope}. Create it ` +
            `first (drivebay job create), or give --location and --storage-account to create it ` +
            `with this drive. Nothing was copied.`,
          1,
        );
      }
    }

    const progress = meter(io, "prepare");
    const stop = interruptible(io);
    const started = performance.now();
    const { prepareDrive, PrepareError } = await import("../transfer/prepare.ts");
    const { DatasetError } = await import("../transfer/dataset.ts");
    let result: PrepareResult;
    try {
      result = await prepareDrive({
        datasetCsv: opts.dataset,
        driveDir,
        driveId: opts.driveId,
        ...(opts.sessionId !== undefined ? { sessionId: opts.sessionId } : {}),
        ...(opts.journal !== undefined ? { journal: opts.journal } : {}),
        signal: stop.signal,
        onProgress: (p: PrepareProgress) =>
          progress.update(p.bytes, p.bytesTotal, `${p.files}/${p.filesTotal} files`),
      });
    } catch (e) {
      if (e instanceof DatasetError) throw datasetFailure(e);
      if (e instanceof PrepareError) throw prepareFailure(e);
      throw e;
    } finally {
      progress.done();
      stop.release();
    }
    for (const w of result.warnings) io.err(`warning: ${w}\n`);
    io.err(summary(result, performance.now() - started));

    let entry: DriveListEntry & { bitLockerKey?: string } = result.driveListEntry;
    if (conn && opts.job !== undefined) {
      try {
        // Created only if it still does not exist: a job made meanwhile is added to.
        if (opts.location && opts.storageAccount && !(await findJob(conn, opts.job))) {
          const bitLockerKey = opts.bitlockerKey ?? generateBitLockerKey();
          await armClient(conn).jobs.create(opts.job, conn.resourceGroup, {
            location: opts.location,
            properties: {
              jobType: "Import",
              storageAccountId: storageAccountId(opts.storageAccount, conn),
              driveList: [{ ...result.driveListEntry, bitLockerKey }],
            },
          });
          entry = { ...entry, bitLockerKey };
          io.err(
            `created job ${opts.job} in resource group ${conn.resourceGroup} with drive ${entry.driveId}\n`,
          );
        } else {
          const { driveList, bitLockerKey } = await driveListWith(
            conn,
            opts.job,
            result.driveListEntry,
            opts.bitlockerKey,
          );
          await armClient(conn).jobs.update(opts.job, conn.resourceGroup, { driveList });
          entry = { ...entry, bitLockerKey };
          io.err(
            `added drive ${entry.driveId} to job ${opts.job} (${driveList.length} drive(s))\n`,
          );
        }
      } catch (e) {
        throw failureOf(e, conn.endpoint);
      }
    }
    print(entry, () =>
      table(
        ["FIELD", "VALUE"],
        Object.entries(entry).map(([k, v]) => [k, v === "" ? "-" : String(v)]),
      ),
    );
  });
}

// ---------------------------------------------------------------------------------------
// verify

interface VerifyFlags {
  drive: string;
  manifest?: string;
  manifestHash?: string;
  output: OutputFormat;
}

/** `--manifest`: a path relative to the drive root (`\X.manifest`), or a file inside the drive. */
function manifestFileOf(driveDir: string, manifest: string | undefined, cmd: Command): string {
  if (manifest !== undefined) {
    const local = relative(driveDir, resolve(manifest));
    if (!local.startsWith("..") && !local.startsWith(sep) && local !== "") {
      return `\\${local.split(sep).join("\\")}`;
    }
    return manifest;
  }
  let names: string[];
  try {
    names = readdirSync(driveDir).filter((n) => n.toLowerCase().endsWith(".manifest"));
  } catch (e) {
    throw new CliFailure(
      `error: cannot read the drive folder ${driveDir}: ${(e as Error).message}`,
      1,
    );
  }
  if (names.length === 1) return `\\${names[0]}`;
  if (names.length === 0) {
    throw new CliFailure(
      `error: no *.manifest file at the root of ${driveDir}; give the manifest with --manifest`,
      1,
    );
  }
  cmd.error(
    `error: ${driveDir} holds several manifests (${names.join(", ")}); choose one with --manifest.`,
  );
}

function verifyTable(r: VerifyResult): string {
  if (r.ok) {
    return `ok: ${r.blobs} blob(s), ${humanBytes(r.bytes)} verified; manifestHash ${r.manifestHash}\n`;
  }
  return table(
    ["STATUS", "FILE", "MESSAGE"],
    r.problems.map((p) => [p.status, p.filePath, p.message]),
  );
}

function registerVerify(drive: Command, io: Io): void {
  const cmd = drive
    .command("verify")
    .description("check a drive folder against its manifest (sizes and MD5s)")
    .requiredOption("--drive <dir>", "the drive's root folder")
    .option(
      "--manifest <file>",
      "the manifest, relative to the drive root as in the job (\\<drive-id>.manifest); default: the only *.manifest at the root",
    )
    .option(
      "--manifest-hash <hash>",
      "the job's manifestHash for the drive: the manifest must match it (32 hex digits MD5, 64 SHA-256), as the import checks it",
    )
    .addOption(commonOptions.output())
    .addHelpText(
      "after",
      "\nExit codes: 0 the drive matches its manifest, 1 problems were found (listed).",
    );
  setAction<VerifyFlags>(cmd, io, async ({ opts, cmd, print }) => {
    const driveDir = resolve(opts.drive);
    const manifestFile = manifestFileOf(driveDir, opts.manifest, cmd);
    const progress = meter(io, "verify");
    const { verifyDrive } = await import("../transfer/verify.ts");
    let result: VerifyResult;
    try {
      result = await verifyDrive(driveDir, manifestFile, {
        manifestHash: opts.manifestHash,
        onProgress: (p: VerifyProgress) =>
          progress.update(p.bytes, p.bytesTotal, `${p.blobs}/${p.blobsTotal} blobs`),
      });
    } finally {
      progress.done();
    }
    const { manifest: _manifest, ...shown } = result;
    print({ manifestFile, ...shown }, () => verifyTable(result));
    if (!result.ok) {
      throw new CliFailure(`drive verify: ${result.problems.length} problem(s) found`, 1);
    }
  });
}

export function registerDriveCommands(program: Command, io: Io): void {
  const drive = program
    .command("drive")
    .description("prepare import drives and verify drives against their manifests");
  registerPrepare(drive, io);
  registerVerify(drive, io);
  registerPreviewExport(drive, io);
}
