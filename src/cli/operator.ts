/**
 * `drivebay operator …`: the datacenter side (SPEC §3) through the operator API
 * (`/operator/v1/`, authenticated with the operator key, never with a customer token).
 * The server decides every rule; the CLI only builds requests and prints answers.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command, Option } from "commander";
import { DATACENTER_VIEWS } from "../domain/job/lifecycle.ts";
import { byteCount, commaList, driveSize, repeated } from "./args.ts";
import { CliFailure, requestJson, type JsonRequest } from "./client.ts";
import {
  addOptionGroup,
  checkedEndpoint,
  commonOptions,
  CONNECTION,
  setAction,
  type Action,
} from "./command.ts";
import {
  operatorJobDetails,
  operatorJobTable,
  type Io,
  type OperatorJob,
  type OutputFormat,
} from "./output.ts";

/** `drivebay serve`'s default data directory, where it keeps operator.key. */
const DEFAULT_DATA_DIR = ".drivebay";
const JOB_OPTIONS = "Job options:";
/** The operator's lists and, but for `all`, the states each shows (the lifecycle's own). */
const VIEWS = Object.keys(DATACENTER_VIEWS);
const VIEWS_HELP = Object.entries(DATACENTER_VIEWS)
  .map(([view, states]) => (view === "all" ? view : `${view} (${states.join(", ")})`))
  .join(", ")
  .replace(/, (?=[^,]*$)/, " or ");

interface OperatorOptions {
  endpoint: string;
  operatorKey?: string;
  dataDir: string;
  output: OutputFormat;
}

interface JobOptions {
  subscription: string;
  resourceGroup: string;
  name: string;
}

export interface OperatorCall<O> extends Action<O & OperatorOptions> {
  /** A request to `/operator/v1/<path>` with the operator key. */
  send(path: string, request?: JsonRequest): Promise<unknown>;
}

function addOperatorOptions(cmd: Command, output = true): void {
  addOptionGroup(cmd, CONNECTION, [
    commonOptions.endpoint(),
    new Option(
      "--operator-key <key>",
      "the operator key; without it, <data-dir>/operator.key is read",
    ).env("DRIVEBAY_OPERATOR_KEY"),
    new Option("--data-dir <dir>", "the local server's data directory, holding operator.key")
      .env("DRIVEBAY_DATA_DIR")
      .default(`./${DEFAULT_DATA_DIR}`),
    ...(output ? [commonOptions.output()] : []),
  ]);
}

/** The operator key and where it came from (named in authentication errors). */
export function operatorKeyOf(
  opts: Pick<OperatorOptions, "operatorKey" | "dataDir">,
  cmd: Command,
): { key: string; source: string } {
  if (opts.operatorKey !== undefined) {
    const fromEnv = cmd.getOptionValueSource("operatorKey") === "env";
    const source = fromEnv ? "DRIVEBAY_OPERATOR_KEY" : "--operator-key";
    if (opts.operatorKey.trim() === "") cmd.error(`error: ${source} is empty.`);
    return { key: opts.operatorKey.trim(), source };
  }
  const file = join(resolve(opts.dataDir), "operator.key");
  let key: string;
  try {
    key = readFileSync(file, "utf8").trim();
  } catch (e) {
    const why =
      (e as { code?: string }).code === "ENOENT" ? "does not exist" : (e as Error).message;
    throw new CliFailure(
      `no operator key: ${file} ${why}. Give the key with --operator-key or ` +
        `DRIVEBAY_OPERATOR_KEY, or point --data-dir (DRIVEBAY_DATA_DIR) at the server's data directory.`,
      2,
    );
  }
  if (key === "") throw new CliFailure(`no operator key: ${file} is empty.`, 2);
  return { key, source: file };
}

/** Requests to `/operator/v1/<path>` of `endpoint` with the operator key. */
export function operatorSender(
  endpoint: string,
  key: { key: string; source: string },
): (path: string, request?: JsonRequest) => Promise<unknown> {
  return async (path, request) => {
    try {
      return await requestJson({ endpoint, token: key.key }, `/operator/v1/${path}`, request);
    } catch (e) {
      if (e instanceof CliFailure && e.status === 401) {
        throw new CliFailure(`${e.message}\n(operator key from ${key.source})`, 1, 401);
      }
      throw e;
    }
  };
}

/**
 * An operator-API command: the connection options (plus `-n/-g/--subscription` when it
 * addresses a job) and an action with a `send` that carries the operator key.
 */
export function operatorCommand<O>(
  parent: Command,
  io: Io,
  spec: { name: string; description: string; job?: boolean; output?: boolean },
  handler: (call: OperatorCall<O>) => Promise<void>,
): Command {
  const cmd = parent.command(spec.name).description(spec.description);
  if (spec.job) {
    cmd.requiredOption("-n, --name <name>", "job name");
    addOptionGroup(cmd, JOB_OPTIONS, [commonOptions.subscription(), commonOptions.resourceGroup()]);
  }
  addOperatorOptions(cmd, spec.output !== false);
  return setAction<O & OperatorOptions>(cmd, io, async (action) => {
    const endpoint = checkedEndpoint(action.opts.endpoint, action.cmd);
    const send = operatorSender(endpoint, operatorKeyOf(action.opts, action.cmd));
    await handler({ ...action, send });
  });
}

function jobPath(o: JobOptions): string {
  const e = encodeURIComponent;
  return `jobs/${e(o.subscription)}/${e(o.resourceGroup)}/${e(o.name)}`;
}

/** A job action: POST `<job>/<path>` with a body built from the options; prints the job. */
function jobAction<O>(
  operator: Command,
  io: Io,
  spec: { name: string; description: string },
  request: (opts: O & JobOptions) => { path: string; body?: unknown },
): Command {
  return operatorCommand<O & JobOptions>(
    operator,
    io,
    { ...spec, job: true },
    async ({ opts, send, print }) => {
      const r = request(opts);
      const job = (await send(`${jobPath(opts)}/${r.path}`, {
        method: "POST",
        body: r.body ?? {},
      })) as OperatorJob;
      print(job, () => operatorJobDetails(job));
    },
  );
}

async function listJobs(call: OperatorCall<unknown>, view: string): Promise<OperatorJob[]> {
  const jobs: OperatorJob[] = [];
  let after: number | undefined;
  for (;;) {
    const page = (await call.send("jobs", { query: { view, after } })) as {
      value: OperatorJob[];
      nextAfter?: number;
    };
    jobs.push(...page.value);
    // A page token that does not move on would loop forever: stop there.
    if (page.nextAfter === undefined || page.nextAfter === after) return jobs;
    after = page.nextAfter;
  }
}

function registerLists(operator: Command, io: Io): void {
  const list = (name: string, description: string, viewOf: (o: { view?: string }) => string) =>
    operatorCommand<{ view?: string }>(operator, io, { name, description }, async (call) => {
      const jobs = await listJobs(call, viewOf(call.opts));
      call.print(jobs, () => operatorJobTable(jobs));
    });
  list("inbound", "list the jobs whose package is on its way (Shipping)", () => "inbound");
  list("jobs", "list jobs of every subscription, all pages", (o) => o.view ?? "all").addOption(
    new Option("--view <view>", VIEWS_HELP).choices(VIEWS).default("all"),
  );
  operatorCommand<JobOptions>(
    operator,
    io,
    {
      name: "show",
      description: "show a job: drives, extra drives, allowed actions, history",
      job: true,
    },
    async ({ opts, send, print }) => {
      const job = (await send(jobPath(opts))) as OperatorJob;
      print(job, () => operatorJobDetails(job));
    },
  );
}

interface ReceiveOptions {
  trackingNumber: string;
  carrier?: string;
  drive?: string[];
  drives?: string[];
}

function registerReceive(operator: Command, io: Io): void {
  operatorCommand<ReceiveOptions>(
    operator,
    io,
    {
      name: "receive",
      description:
        "receive a package by tracking number: its drives → Received, the job's others → NeverReceived",
    },
    async ({ opts, cmd, send, print }) => {
      const driveIds = [...(opts.drive ?? []), ...(opts.drives ?? [])];
      if (driveIds.length === 0) {
        cmd.error("error: name the drives in the package with --drive <id> or --drives <id,id>.");
      }
      const job = (await send("packages/receive", {
        method: "POST",
        body: { trackingNumber: opts.trackingNumber, carrierName: opts.carrier, driveIds },
      })) as OperatorJob;
      print(job, () => operatorJobDetails(job));
    },
  )
    .requiredOption("--tracking-number <tn>", "the package's tracking number")
    .option("--carrier <name>", "the carrier; refused if it is not the one the customer gave")
    .option("--drive <id>", "a drive found in the package (repeatable)", repeated)
    .option("--drives <id,id,...>", "drives found in the package, comma-separated", commaList)
    .addHelpText(
      "after",
      `
Drives that are not the job's are recorded as extra drives.
Example: drivebay operator receive --tracking-number 1Z999 --carrier FedEx --drives 9CA995BB,9CA995BC`,
    );
}

function registerDriveActions(operator: Command, io: Io): void {
  jobAction<{ drive: string; path: string; capacity?: number }>(
    operator,
    io,
    { name: "attach", description: "attach a received drive's contents (a mounted directory)" },
    (o) => ({
      path: `drives/${encodeURIComponent(o.drive)}/attach`,
      // The server needs an absolute path; a relative one is taken from here.
      body: {
        path: resolve(o.path),
        ...(o.capacity !== undefined ? { capacityBytes: o.capacity } : {}),
      },
    }),
  )
    .requiredOption("--drive <id>", "the drive id")
    .requiredOption(
      "--path <dir>",
      "the directory holding the drive's contents, on the server's machine (relative: from the current directory)",
    )
    .option(
      "--capacity <size>",
      "export drives: what the drive holds, e.g. 500GB or 2TB (default: the folder's free space)",
      driveSize,
    );

  jobAction(
    operator,
    io,
    { name: "transfer-start", description: "start copying the attached drives" },
    () => ({ path: "transfer/start" }),
  );

  jobAction<{ drive: string; outcome: string; bytes?: number }>(
    operator,
    io,
    {
      name: "complete",
      description: "mark a drive's copy finished (the last one moves the job to Packaging)",
    },
    (o) => ({
      path: `drives/${encodeURIComponent(o.drive)}/complete`,
      body: { outcome: o.outcome, bytesSucceeded: o.bytes },
    }),
  )
    .requiredOption("--drive <id>", "the drive id")
    .addOption(
      new Option("--outcome <outcome>", "how the copy ended")
        .choices(["Completed", "CompletedMoreInfo"])
        .makeOptionMandatory(),
    )
    .option("--bytes <n>", "bytes copied", byteCount);
}

function registerJobActions(operator: Command, io: Io): void {
  jobAction(
    operator,
    io,
    { name: "package", description: "package the drives for return (job → Packaging)" },
    () => ({ path: "package" }),
  );

  jobAction<{ carrier: string; trackingNumber: string; shipDate?: string }>(
    operator,
    io,
    {
      name: "ship-back",
      description: "ship the drives back: sets returnPackage, job → Completed or Closed",
    },
    (o) => ({
      path: "ship-back",
      body: { carrierName: o.carrier, trackingNumber: o.trackingNumber, shipDate: o.shipDate },
    }),
  )
    .requiredOption("--carrier <name>", "the return carrier")
    .requiredOption("--tracking-number <tn>", "the return package's tracking number")
    .option("--ship-date <date>", "when it was shipped, e.g. 2024-02-01 (default: today)");

  jobAction<{ reason: string }>(
    operator,
    io,
    { name: "fault", description: "move a job to Faulted" },
    (o) => ({ path: "fault", body: { reason: o.reason } }),
  ).requiredOption("--reason <text>", "why (kept in the job's history)");

  jobAction<{ reason: string }>(
    operator,
    io,
    { name: "resolve", description: "move a Faulted job back to where it was" },
    (o) => ({ path: "resolve", body: { reason: o.reason } }),
  ).requiredOption("--reason <text>", "how it was resolved (kept in the job's history)");
}

export function registerOperatorCommands(program: Command, io: Io): void {
  const operator = program
    .command("operator")
    .description("the datacenter side: receive packages, attach drives, ship drives back")
    .addHelpText(
      "after",
      `
Authentication: the operator key, from --operator-key, DRIVEBAY_OPERATOR_KEY, or the
operator.key file that \`drivebay serve\` keeps in its data directory (--data-dir,
DRIVEBAY_DATA_DIR, default ./${DEFAULT_DATA_DIR}).

A job's way through the datacenter:
  drivebay operator inbound
  drivebay operator receive --tracking-number 1Z999 --drives 9CA995BB,9CA995BC
  drivebay operator attach -n myjob --drive 9CA995BB --path /mnt/9CA995BB
  drivebay operator transfer-start -n myjob
  drivebay operator complete -n myjob --drive 9CA995BB --outcome Completed
  drivebay operator ship-back -n myjob --carrier FedEx --tracking-number 1Z888`,
    );
  registerLists(operator, io);
  registerReceive(operator, io);
  registerDriveActions(operator, io);
  registerJobActions(operator, io);
}
