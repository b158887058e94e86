/**
 * What every `job …` command shares: `-n/--name`, the connection options, an action that
 * turns SDK errors into CliFailures, and the resource group found by the job's name when
 * `-g` is not given (as `az` users expect: a job name is usually unique in a subscription).
 */
import { Command, Option } from "commander";
import type { JobResponse, StorageImportExport } from "@azure/arm-storageimportexport";
import { armClient, CliFailure, failureOf, type Connection } from "./client.ts";
import {
  addOptionGroup,
  checkedEndpoint,
  commonOptions,
  CONNECTION,
  setAction,
  type Action,
} from "./command.ts";
import { resourceGroupOf, type Io, type OutputFormat } from "./output.ts";

export interface CommonOptions {
  endpoint: string;
  subscription: string;
  /** Absent on the commands that find the group by the job's name. */
  resourceGroup?: string;
  output: OutputFormat;
  apiVersion?: string;
  token: string;
  name: string;
}

export interface Call<O> extends Action<O & CommonOptions> {
  /** The connection; its resourceGroup is the one given or found ("" for a subscription-wide list). */
  conn: Connection;
  client: StorageImportExport;
}

/**
 * How a command treats `-g`: `default` uses the default group ("default") when none is
 * given; `find` looks the job up by name in the whole subscription; `subscription` (lists)
 * covers the whole subscription.
 */
export type GroupMode = "default" | "find" | "subscription";

export interface CommandSpec {
  name: string;
  description: string;
  named?: boolean;
  group?: GroupMode;
  /** With `group: "find"`: what to do instead of failing when no resource group holds the job. */
  onAbsent?: (call: Call<unknown>) => void;
  /** Usage checks that come before any request (a usage error is not hidden by a lookup). */
  precheck?: (opts: CommonOptions & Record<string, unknown>, cmd: Command) => void;
}

function groupOption(mode: GroupMode): Option {
  if (mode === "default") return commonOptions.resourceGroup();
  return new Option(
    "-g, --resource-group <name>",
    mode === "find"
      ? "resource group (default: the one holding the job, found in the subscription)"
      : "resource group (default: every resource group of the subscription)",
  ).env("DRIVEBAY_RESOURCE_GROUP");
}

export function addConnectionOptions(cmd: Command, mode: GroupMode = "default"): void {
  addOptionGroup(cmd, CONNECTION, [
    commonOptions.endpoint(),
    commonOptions.subscription(),
    groupOption(mode),
    commonOptions.output(),
    new Option("--api-version <version>", "api-version to send (default: the SDK's, 2021-01-01)"),
    new Option("--token <token>", "bearer token to send").env("DRIVEBAY_TOKEN").default("dev"),
  ]);
}

/** The options a command that calls the ARM API was given, as the client's Connection. */
export type ConnectionOptions = Pick<
  CommonOptions,
  "endpoint" | "subscription" | "resourceGroup" | "apiVersion" | "token"
>;

/** The connection of a command's options (an endpoint that is no URL is a usage error). */
export function connectionOf(opts: ConnectionOptions, cmd: Command): Connection {
  return {
    endpoint: checkedEndpoint(opts.endpoint, cmd),
    subscription: opts.subscription,
    resourceGroup: opts.resourceGroup ?? "",
    apiVersion: opts.apiVersion,
    token: opts.token,
  };
}

/** No resource group of the subscription holds a job of that name. */
export class JobNotFound extends CliFailure {}

/**
 * The resource group holding job `name` in the connection's subscription (names compare
 * without regard to case, as ARM's do). None: JobNotFound; several: a usage error naming them.
 */
export async function findResourceGroup(
  client: StorageImportExport,
  conn: Connection,
  name: string,
): Promise<string> {
  const groups = new Set<string>();
  const lower = name.toLowerCase();
  for await (const job of client.jobs.listBySubscription()) {
    const group = job.name?.toLowerCase() === lower ? resourceGroupOf(job.id) : undefined;
    if (group !== undefined) groups.add(group);
  }
  const found = [...groups].sort();
  if (found.length === 0) {
    throw new JobNotFound(
      `error 404 ResourceNotFound: there is no job '${name}' in any resource group of ` +
        `subscription ${conn.subscription}. Check the name (drivebay job list shows the ` +
        `subscription's jobs) and --subscription.`,
      1,
      404,
    );
  }
  if (found.length > 1) {
    throw new CliFailure(
      `error: there are jobs named '${name}' in ${found.length} resource groups of subscription ` +
        `${conn.subscription}: ${found.join(", ")}. Name one with -g <resource group>.`,
      2,
    );
  }
  return found[0]!;
}

/**
 * A `job` subcommand: `-n/--name` (unless `named` is false), the connection options, and an
 * action that turns SDK errors into CliFailures.
 */
export function clientCommand<O>(
  parent: Command,
  io: Io,
  spec: CommandSpec,
  handler: (call: Call<O>) => Promise<void>,
): Command {
  const cmd = parent.command(spec.name).description(spec.description);
  if (spec.named !== false) cmd.requiredOption("-n, --name <name>", "job name");
  const mode = spec.group ?? "default";
  addConnectionOptions(cmd, mode);
  return setAction<O & CommonOptions>(cmd, io, async (action) => {
    const conn = connectionOf(action.opts, action.cmd);
    spec.precheck?.(action.opts as CommonOptions & Record<string, unknown>, action.cmd);
    const client = armClient(conn);
    try {
      if (mode === "find" && conn.resourceGroup === "") {
        try {
          conn.resourceGroup = await findResourceGroup(client, conn, action.opts.name);
        } catch (e) {
          if (e instanceof JobNotFound && spec.onAbsent) {
            spec.onAbsent({ ...action, conn, client } as Call<unknown>);
            return;
          }
          throw e;
        }
      }
      await handler({ ...action, conn, client });
    } catch (e) {
      throw failureOf(e, conn.endpoint);
    }
  });
}

/** Jobs_Get of job `name` in `resourceGroup`, or undefined when there is none (404). */
export async function getJobOrGone(
  client: StorageImportExport,
  name: string,
  resourceGroup: string,
): Promise<JobResponse | undefined> {
  try {
    return await client.jobs.get(name, resourceGroup);
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return undefined;
    throw e;
  }
}
