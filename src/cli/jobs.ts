/**
 * `drivebay job …`: the customer commands, shaped like `az import-export`, all through the
 * official SDK (plus plain fetch for drivebay's history extension). The server decides
 * every rule; the CLI only builds requests and prints answers.
 */
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import type {
  DeliveryPackageInformation,
  DriveBitLockerKey,
  DriveStatus,
  JobDetails,
  JobResponse,
  PutJobParameters,
  ReturnAddress,
  ReturnShipping,
  UpdateJobParameters,
} from "@azure/arm-storageimportexport";
import {
  boolean,
  DELIVERY_PACKAGE,
  DRIVE,
  jobState,
  keyValues,
  positiveInt,
  repeated,
  repeatedKeyValues,
  RETURN_ADDRESS,
  RETURN_SHIPPING,
  tags,
} from "./args.ts";
import { cancelledJobNote } from "../domain/job/cancel.ts";
import { getJson, jobFacts, jobPath, storageAccountId, type Connection } from "./client.ts";
import { clientCommand } from "./job-command.ts";
import {
  EXPORT_GROUP,
  exportDrivesTable,
  keysOf,
  operatorReachOptions,
  readableDrives,
  registerIncompleteBlobs,
  type OperatorReach,
} from "./export-info.ts";
import { registerVerifyImport } from "./verify-import.ts";
import { registerWatchCommands } from "./watch.ts";
import {
  historyTable,
  jobDetails,
  jobTable,
  keysTable,
  type HistoryEntry,
  type Io,
} from "./output.ts";

const JOB_TYPE_CHOICES = ["Import", "Export"];
const LOG_LEVEL_CHOICES = ["Error", "Verbose"];

/** Option builders shared by create and update, so each is defined once. */
const shippingOptions = {
  returnAddress: () =>
    new Option(
      "--return-address <key=value,...>",
      `where drives are shipped back (${RETURN_ADDRESS.keys.join(", ")}; \\, for a literal comma)`,
    ).argParser(keyValues<ReturnAddress>(RETURN_ADDRESS)),
  returnShipping: () =>
    new Option(
      "--return-shipping <key=value,...>",
      `carrier for the return (${RETURN_SHIPPING.keys.join(", ")})`,
    ).argParser(keyValues<ReturnShipping>(RETURN_SHIPPING)),
  deliveryPackage: () =>
    new Option(
      "--delivery-package <key=value,...>",
      `the package sent to the datacenter (${DELIVERY_PACKAGE.keys.join(", ")})`,
    ).argParser(keyValues<DeliveryPackageInformation>(DELIVERY_PACKAGE)),
  logLevel: () => new Option("--log-level <level>", "drive log detail").choices(LOG_LEVEL_CHOICES),
  tags: () =>
    new Option(
      "--tags <key=value...>",
      "resource tags (repeatable or space-separated; --tags '' for none)",
    ).argParser(tags),
};

interface CreateOptions {
  location?: string;
  storageAccount?: string;
  type?: string;
  drive?: DriveStatus[];
  returnAddress?: ReturnAddress;
  returnShipping?: ReturnShipping;
  deliveryPackage?: DeliveryPackageInformation;
  exportBlobPath?: string[];
  exportPrefix?: string[];
  exportBlobListPath?: string;
  diagnosticsPath?: string;
  logLevel?: string;
  backupDriveManifest?: boolean;
  tags?: Record<string, string>;
  body?: string;
}

/** A --body file: a PutJobParameters in the SDK's or the wire's export shape. */
function readBody(file: string, cmd: Command): PutJobParameters {
  let body: unknown;
  try {
    body = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    cmd.error(`error: --body '${file}': ${(e as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    cmd.error(`error: --body '${file}' must hold a JSON object (a PutJobParameters body).`);
  }
  const put = structuredClone(body) as PutJobParameters;
  const wireExport = put.properties?.export as { blobList?: object } | undefined;
  if (wireExport?.blobList) {
    const { blobList, ...rest } = wireExport;
    put.properties!.export = { ...rest, ...blobList };
  }
  return put;
}

function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function createBody(o: CreateOptions, conn: Connection, cmd: Command): PutJobParameters {
  const base = o.body ? readBody(o.body, cmd) : {};
  const exportFlags = defined({
    blobPath: o.exportBlobPath,
    blobPathPrefix: o.exportPrefix,
    blobListBlobPath: o.exportBlobListPath,
  });
  const hasExport = Object.keys(exportFlags).length > 0;
  const properties: JobDetails = {
    ...base.properties,
    ...defined({
      storageAccountId: o.storageAccount && storageAccountId(o.storageAccount, conn),
      jobType: o.type ?? (hasExport && !base.properties?.jobType ? "Export" : undefined),
      driveList: o.drive,
      returnAddress: o.returnAddress,
      returnShipping: o.returnShipping,
      deliveryPackage: o.deliveryPackage,
      export: hasExport ? { ...base.properties?.export, ...exportFlags } : undefined,
      diagnosticsPath: o.diagnosticsPath,
      logLevel: o.logLevel,
      backupDriveManifest: o.backupDriveManifest,
    }),
  };
  const put: PutJobParameters = {
    ...base,
    ...defined({ location: o.location, tags: o.tags }),
    properties,
  };
  if (!put.location) cmd.error("error: --location is required (or give it in --body).");
  if (!properties.storageAccountId) {
    cmd.error(
      "error: --storage-account is required (or give properties.storageAccountId in --body).",
    );
  }
  return put;
}

function registerCreate(job: Command, io: Io): void {
  clientCommand<CreateOptions>(
    job,
    io,
    { name: "create", description: "create an import or export job (Jobs_Create)" },
    async ({ opts, conn, client, cmd, print }) => {
      const body = createBody(opts, conn, cmd);
      const created = await client.jobs.create(opts.name, conn.resourceGroup, body);
      print(created, () => jobDetails(created));
    },
  )
    .option("-l, --location <location>", "Azure location to ship to, e.g. westus")
    .option(
      "--storage-account <id-or-name>",
      "storage account ARM id, or a bare account name (expanded in --subscription/--resource-group)",
    )
    .addOption(
      new Option(
        "--type <type>",
        "job type (default: Export if an --export-* option is given, else Import)",
      ).choices(JOB_TYPE_CHOICES),
    )
    .option(
      `--drive <key=value,...>`,
      `an import drive, repeatable (${DRIVE.keys.join(", ")})`,
      repeatedKeyValues<DriveStatus>(DRIVE),
    )
    .addOption(shippingOptions.returnAddress())
    .addOption(shippingOptions.returnShipping())
    .addOption(shippingOptions.deliveryPackage())
    .option(
      "--export-blob-path <path>",
      "export: a blob to export, e.g. /container/blob (repeatable)",
      repeated,
    )
    .option(
      "--export-prefix <prefix>",
      "export: a blob path prefix, e.g. /container/ (repeatable)",
      repeated,
    )
    .option("--export-blob-list-path <path>", "export: a blob holding the list of blobs to export")
    .option("--diagnostics-path <container>", "container for drive logs (default: waimportexport)")
    .addOption(shippingOptions.logLevel())
    .option("--backup-drive-manifest", "copy the drive manifests to the storage account")
    .addOption(shippingOptions.tags())
    .option(
      "--body <file.json>",
      "a full PutJobParameters JSON body; the other options override its fields",
    )
    .addHelpText(
      "after",
      `
Example:
  drivebay job create -n myjob -l westus --storage-account mystorage \\
    --drive driveId=9CA995BB,bitLockerKey=238810-662376-448998-450120-652806-203390-606320-483076,manifestFile=\\\\DriveManifest.xml,manifestHash=109B21108597EF36D5785F08303F3638 \\
    --return-address 'recipientName=Jane Doe,streetAddress1=1 Main St,city=Redmond,postalCode=98052,countryOrRegion=USA,phone=4250000000,email=jane@example.com' \\
    --return-shipping carrierName=FedEx,carrierAccountNumber=123456789`,
    );
}

function registerShow(job: Command, io: Io): void {
  const cmd = clientCommand<{ showKeys?: boolean } & OperatorReach>(
    job,
    io,
    { name: "show", description: "show a job (Jobs_Get)", group: "find" },
    async ({ opts, conn, client, cmd, print }) => {
      const found = await client.jobs.get(opts.name, conn.resourceGroup);
      const keys = opts.showKeys
        ? await keysOf(client, found.name ?? opts.name, conn.resourceGroup)
        : undefined;
      const isExport = found.properties?.jobType === "Export";
      if (opts.output === "json") {
        // With --show-keys, each drive carries its key, as in a create body.
        const shown = structuredClone(found);
        for (const d of shown.properties?.driveList ?? []) {
          const key = keys?.get(d.driveId?.toLowerCase() ?? "");
          if (key) d.bitLockerKey = key;
        }
        print(shown, () => "");
        return;
      }
      let out = jobDetails(found);
      if (isExport) {
        const { paths, note } = await readableDrives(found, conn.endpoint, opts, cmd);
        out += `\nExport drives:\n${exportDrivesTable(found, keys, paths)}`;
        if (note && (found.properties?.driveList ?? []).length > 0) {
          out += `READ AT: ${note}\n`;
        }
        const uri = found.properties?.incompleteBlobListUri;
        if (uri) {
          out +=
            `\nSome blobs fit on no drive; they are listed in ${uri}\n` +
            `(drivebay job incomplete-blobs -n ${found.name} -g ${conn.resourceGroup} prints them).\n`;
        }
      } else if (keys) {
        out += `\n${keysTable([...keys].map(([driveId, bitLockerKey]) => ({ driveId, bitLockerKey })))}`;
      }
      print(found, () => out);
    },
  );
  cmd.addOption(
    new Option(
      "--show-keys",
      "also show the drives' BitLocker keys (BitLockerKeys_List)",
    ).helpGroup(EXPORT_GROUP),
  );
  for (const o of operatorReachOptions()) cmd.addOption(o.helpGroup(EXPORT_GROUP));
  cmd.addHelpText(
    "after",
    `
For an export job the drives are listed with where each can be read from here (its folder
in the dock of the server at --endpoint, asked of the operator API with the operator key),
and the incomplete blob list, if some blobs fit on no drive.`,
  );
}

interface ListOptions {
  allResourceGroups?: boolean;
  state?: string;
  type?: string;
  top?: number;
}

/** OData `$filter` for the list operations: "state eq 'X' and jobType eq 'Y'". */
function listFilter(o: ListOptions): string | undefined {
  const quote = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const clauses = [
    o.state !== undefined ? `state eq ${quote(o.state)}` : undefined,
    o.type !== undefined ? `jobType eq ${quote(o.type)}` : undefined,
  ].filter((c) => c !== undefined);
  return clauses.length > 0 ? clauses.join(" and ") : undefined;
}

/** The service returns at most 100 jobs per page. */
const MAX_PAGE = 100;

function registerList(job: Command, io: Io): void {
  clientCommand<ListOptions>(
    job,
    io,
    {
      name: "list",
      description: "list jobs (Jobs_ListByResourceGroup / Jobs_ListBySubscription)",
      named: false,
      group: "subscription",
    },
    async ({ opts, conn, client, print }) => {
      const options = defined({
        filter: listFilter(opts),
        top: opts.top !== undefined ? Math.min(opts.top, MAX_PAGE) : undefined,
      });
      const pages =
        opts.allResourceGroups || conn.resourceGroup === ""
          ? client.jobs.listBySubscription(options)
          : client.jobs.listByResourceGroup(conn.resourceGroup, options);
      const jobs: JobResponse[] = [];
      for await (const j of pages) {
        if (opts.top !== undefined && jobs.length >= opts.top) break;
        jobs.push(j);
      }
      print(jobs, () => jobTable(jobs));
    },
  )
    .option(
      "--all-resource-groups",
      "list the jobs of every resource group of the subscription (the default without -g)",
    )
    .option(
      "--state <state>",
      "only jobs in this state (Creating, Shipping, Received, …)",
      jobState,
    )
    .addOption(new Option("--type <type>", "only jobs of this type").choices(JOB_TYPE_CHOICES))
    .option("--top <n>", "at most n jobs", positiveInt)
    .addHelpText(
      "after",
      `
Paging: without --top every page is fetched and all matching jobs are printed; with
--top n at most n jobs are printed (pages of up to ${MAX_PAGE} are fetched until n are in hand).
The list operations do not return drives, so the DRIVES column shows '-'; use 'job show'.`,
    );
}

interface UpdateOptions {
  state?: string;
  deliveryPackage?: DeliveryPackageInformation;
  returnAddress?: ReturnAddress;
  returnShipping?: ReturnShipping;
  logLevel?: string;
  backupDriveManifest?: boolean;
  tags?: Record<string, string>;
}

function updateBody(opts: UpdateOptions): UpdateJobParameters {
  return defined({
    state: opts.state,
    deliveryPackage: opts.deliveryPackage,
    returnAddress: opts.returnAddress,
    returnShipping: opts.returnShipping,
    logLevel: opts.logLevel,
    backupDriveManifest: opts.backupDriveManifest,
    tags: opts.tags,
  });
}

function registerUpdate(job: Command, io: Io): void {
  clientCommand<UpdateOptions>(
    job,
    io,
    {
      name: "update",
      description: "change a job (Jobs_Update); only the given fields are sent",
      group: "find",
      precheck: (opts, cmd) => {
        if (Object.keys(updateBody(opts as UpdateOptions)).length === 0) {
          cmd.error(
            "error: nothing to update; give at least one of --state, --delivery-package, " +
              "--return-address, --return-shipping, --log-level, --backup-drive-manifest, --tags.",
          );
        }
      },
    },
    async ({ opts, conn, client, print }) => {
      const body = updateBody(opts);
      const updated = await client.jobs.update(opts.name, conn.resourceGroup, body);
      print(updated, () => jobDetails(updated));
    },
  )
    .option(
      "--state <state>",
      "Shipping: the drives are on their way (needs the shipping details)",
      jobState,
    )
    .addOption(shippingOptions.deliveryPackage())
    .addOption(shippingOptions.returnAddress())
    .addOption(shippingOptions.returnShipping())
    .addOption(shippingOptions.logLevel())
    .option("--backup-drive-manifest <true|false>", "copy the drive manifests", boolean)
    .addOption(shippingOptions.tags())
    .addHelpText(
      "after",
      `
--tags replaces the whole tag set. Example, after shipping the drives:
  drivebay job update -n myjob --state Shipping \\
    --delivery-package carrierName=FedEx,trackingNumber=123456789,driveCount=1,shipDate=2024-01-15`,
    );
}

function registerCancel(job: Command, io: Io): void {
  clientCommand(
    job,
    io,
    {
      name: "cancel",
      description: "request cancellation of a job (Jobs_Update cancelRequested)",
      group: "find",
    },
    async ({ opts, conn, client, io, print }) => {
      const updated = await client.jobs.update(opts.name, conn.resourceGroup, {
        cancelRequested: true,
      });
      const p = updated.properties ?? {};
      print(
        updated,
        () => `job ${updated.name}: state ${p.state}, cancelRequested ${p.cancelRequested}\n`,
      );
      // Only what is true of this job now: a job cancelled in Creating has simply ended.
      const note = cancelledJobNote(jobFacts(updated));
      io.err(note.bestEffort ? `Cancelling is best effort: ${note.text}\n` : `${note.text}\n`);
    },
  );
}

function registerDelete(job: Command, io: Io): void {
  clientCommand(
    job,
    io,
    {
      name: "delete",
      description: "delete a job (Jobs_Delete)",
      group: "find",
      onAbsent: ({ opts, conn, io, print }) => {
        io.err(
          `job ${opts.name} does not exist; nothing to delete (no resource group of ` +
            `subscription ${conn.subscription} holds it)\n`,
        );
        print({ name: opts.name, deleted: false }, () => "");
      },
    },
    async ({ opts, conn, client, io, print }) => {
      let deleted = true;
      try {
        await client.jobs.delete(opts.name, conn.resourceGroup);
      } catch (e) {
        // ARM answers 204 when there was no such job; the SDK reports that as an error.
        if ((e as { statusCode?: number }).statusCode !== 204) throw e;
        deleted = false;
        io.err(`job ${opts.name} does not exist; nothing to delete\n`);
      }
      print({ name: opts.name, deleted }, () => (deleted ? "deleted\n" : ""));
    },
  ).addHelpText(
    "after",
    "\nA job that does not exist is not an error (exit 0), as with ARM's DELETE.",
  );
}

function registerKeys(job: Command, io: Io): void {
  clientCommand(
    job,
    io,
    {
      name: "keys",
      description: "list the BitLocker keys of a job's drives (BitLockerKeys_List)",
      group: "find",
    },
    async ({ opts, conn, client, print }) => {
      const keys: DriveBitLockerKey[] = [];
      for await (const k of client.bitLockerKeys.list(opts.name, conn.resourceGroup)) keys.push(k);
      print(keys, () => keysTable(keys));
    },
  );
}

function registerHistory(job: Command, io: Io): void {
  clientCommand(
    job,
    io,
    {
      name: "history",
      description: "show a job's state transitions (drivebay extension)",
      group: "find",
    },
    async ({ opts, conn, print }) => {
      const body = (await getJson(conn, `${jobPath(conn, opts.name)}/history`)) as {
        value?: HistoryEntry[];
      };
      const entries = body.value ?? [];
      print(entries, () => historyTable(entries, "customer"));
    },
  );
}

export function registerJobCommands(program: Command, io: Io): void {
  const job = program
    .command("job")
    .description("manage import/export jobs (like `az import-export`)");
  for (const register of [
    registerCreate,
    registerShow,
    registerList,
    registerUpdate,
    registerCancel,
    registerDelete,
    registerKeys,
    registerHistory,
    registerWatchCommands,
    registerVerifyImport,
    registerIncompleteBlobs,
  ]) {
    register(job, io);
  }
}
