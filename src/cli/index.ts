/**
 * The `drivebay` command line. `run(argv)` parses and runs one command and resolves with the
 * exit code: 0 success, 1 the command failed (API error, unreachable server), 2 usage or
 * configuration error. Tests call it in-process; bin/drivebay.js calls it for real.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { CliFailure } from "./client.ts";
import { registerClockCommands } from "./clock.ts";
import { registerDriveCommands } from "./drive.ts";
import { registerJobCommands } from "./jobs.ts";
import { registerOperatorCommands } from "./operator.ts";
import { processIo, type Io } from "./output.ts";
import { processSignals, serve, type ServeFlags, type StopSignal } from "./serve.ts";
import { registerStorageCommands } from "./storage.ts";

export interface RunOptions {
  io?: Io;
  /** What stops `serve` (default: SIGINT/SIGTERM of this process). */
  stopSignal?: (io: Io) => StopSignal;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function registerServe(program: Command, io: Io, stopSignal: (io: Io) => StopSignal): void {
  program
    .command("serve")
    .description("run the drivebay service (Microsoft.ImportExport API)")
    .addOption(
      new Option("--port <n>", "TCP port; 0 picks a free one (default: 8080)").env("DRIVEBAY_PORT"),
    )
    .addOption(
      new Option("--host <host>", "address to listen on (default: 127.0.0.1)").env("DRIVEBAY_HOST"),
    )
    .addOption(
      new Option("--data-dir <dir>", "where the database lives (default: ./.drivebay)").env(
        "DRIVEBAY_DATA_DIR",
      ),
    )
    .addOption(
      new Option("--profile <profile>", "emulator or service (default: emulator)").env(
        "DRIVEBAY_PROFILE",
      ),
    )
    .addOption(
      new Option(
        "--blob-port <n>",
        "the embedded Azurite's port; a busy one moves on to the next free one (default: 10000)",
      ).env("DRIVEBAY_BLOB_PORT"),
    )
    .addOption(
      new Option(
        "--store <url>",
        "keep jobs in PostgreSQL (postgres://user:password@host:5432/db; default: SQLite in the data dir)",
      ).env("DRIVEBAY_STORE"),
    )
    .addOption(
      new Option(
        "--role <role>",
        "all (one process does everything), api (ARM API, operator API, portal) or worker (transfers, timers, autopilot); api and worker need a PostgreSQL --store (default: all)",
      ).env("DRIVEBAY_ROLE"),
    )
    .addOption(new Option("--config <file>", "JSON config file").env("DRIVEBAY_CONFIG"))
    .option(
      "--log-level <level>",
      "request log level: fatal, error, warn, info, debug, trace, silent",
    )
    .addHelpText(
      "after",
      `
Precedence: flags > environment (DRIVEBAY_*) > config file > defaults.
The endpoint and an SDK snippet are printed on stderr; JSON request logs go to stdout.`,
    )
    .action(async (flags: ServeFlags) => serve(flags, io, stopSignal(io)));
}

export function buildProgram(options: RunOptions = {}): Command {
  const io = options.io ?? processIo;
  const program = new Command("drivebay")
    .description("Azure Import/Export (Microsoft.ImportExport) service and client")
    .version(version())
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError("(add --help for usage)");
  // Subcommands created with .command() inherit exitOverride and the output configuration.
  registerServe(program, io, options.stopSignal ?? processSignals);
  registerJobCommands(program, io);
  registerOperatorCommands(program, io);
  registerClockCommands(program, io);
  registerStorageCommands(program, io);
  registerDriveCommands(program, io);
  program.addHelpText(
    "after",
    `
Exit codes: 0 success, 1 the request failed (API error or server unreachable), 2 usage error.`,
  );
  return program;
}

export async function run(argv: readonly string[], options: RunOptions = {}): Promise<number> {
  const io = options.io ?? processIo;
  try {
    await buildProgram(options).parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    // Commander already printed its message (or the help / version it was asked for).
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof CliFailure) {
      io.err(`${e.message}\n`);
      return e.exitCode;
    }
    io.err(`drivebay: unexpected error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
