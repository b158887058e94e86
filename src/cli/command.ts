/**
 * What every client command (`job …`, `operator …`, `clock …`) shares: the common options,
 * the endpoint check, and an action wrapper that hands the handler a `print` for
 * `--output table|json`.
 */
import { Command, Option } from "commander";
import { DEFAULT_ENDPOINT, DEFAULT_RESOURCE_GROUP, DEFAULT_SUBSCRIPTION } from "./client.ts";
import { json, type Io, type OutputFormat } from "./output.ts";

export const CONNECTION = "Connection options:";

export const commonOptions = {
  endpoint: () =>
    new Option("--endpoint <url>", "drivebay API endpoint")
      .env("DRIVEBAY_ENDPOINT")
      .default(DEFAULT_ENDPOINT),
  subscription: () =>
    new Option("--subscription <id>", "subscription id")
      .env("DRIVEBAY_SUBSCRIPTION")
      .default(DEFAULT_SUBSCRIPTION),
  resourceGroup: () =>
    new Option("-g, --resource-group <name>", "resource group")
      .env("DRIVEBAY_RESOURCE_GROUP")
      .default(DEFAULT_RESOURCE_GROUP),
  output: () =>
    new Option("-o, --output <format>", "output format")
      .choices(["table", "json"])
      .default("table"),
};

/** Adds options under one help group. */
export function addOptionGroup(cmd: Command, group: string, options: readonly Option[]): void {
  for (const o of options) cmd.addOption(o.helpGroup(group));
}

/** `--endpoint` as given, checked to be an http(s) URL, without trailing slashes. */
export function checkedEndpoint(endpoint: string, cmd: Command): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    cmd.error(`error: --endpoint '${endpoint}' is not a URL (example: ${DEFAULT_ENDPOINT}).`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    cmd.error(`error: --endpoint '${endpoint}' must be an http:// or https:// URL.`);
  }
  return endpoint.replace(/\/+$/, "");
}

export interface Action<O> {
  opts: O;
  io: Io;
  cmd: Command;
  /** Prints a result: JSON as given, or the table rendering. */
  print(value: unknown, table: () => string): void;
}

/** Sets `cmd`'s action: parsed options plus a printer for its `--output`. */
export function setAction<O extends { output: OutputFormat }>(
  cmd: Command,
  io: Io,
  handler: (action: Action<O>) => Promise<void>,
): Command {
  // Commander passes the arguments, then the options, then the command itself.
  return cmd.action(async (...args: unknown[]) => {
    const self = args[args.length - 1] as Command;
    const opts = self.opts<O>();
    const print = (value: unknown, table: () => string) =>
      io.out(opts.output === "json" ? json(value) : table());
    await handler({ opts, io, cmd: self, print });
  });
}
