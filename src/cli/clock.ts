/**
 * `drivebay clock …`: the service clock (SPEC §3 clock control). `advance` moves it forward
 * so the 14/30/90-day rules can be tried in seconds; the server refuses it outside the
 * emulator profile (403 ClockControlDisabled).
 */
import { Command, InvalidArgumentError } from "commander";
import { parseDuration } from "../domain/duration.ts";
import { operatorCommand } from "./operator.ts";
import { clockTable, type ClockReading, type Io } from "./output.ts";

/** Checks a duration here (a usage error) and sends it as written. */
function duration(text: string): string {
  if (parseDuration(text) === undefined) {
    throw new InvalidArgumentError(
      `'${text}' is not a duration; use 91d, 12h, 30m, 45s or ISO-8601 (P91D, PT12H).`,
    );
  }
  return text.trim();
}

export function registerClockCommands(program: Command, io: Io): void {
  const clock = program
    .command("clock")
    .description("the service clock: show it, or advance it (emulator profile only)")
    .addHelpText(
      "after",
      `
The clock commands use the operator API and its key (see drivebay operator --help).`,
    );

  operatorCommand(
    clock,
    io,
    { name: "show", description: "show the service time and its offset from real time" },
    async ({ send, print }) => {
      const reading = (await send("clock")) as ClockReading;
      print(reading, () => clockTable(reading));
    },
  );

  operatorCommand(
    clock,
    io,
    {
      name: "advance",
      description: "move the service clock forward and run the deadlines that fall due",
    },
    async ({ cmd, send, print }) => {
      const by = cmd.processedArgs[0] as string;
      const reading = (await send("clock/advance", {
        method: "POST",
        body: { by },
      })) as ClockReading;
      print(reading, () => clockTable(reading));
    },
  )
    .argument("<duration>", "how far: 91d, 12h, 30m, 45s or ISO-8601 (P91D, PT12H)", duration)
    .addHelpText(
      "after",
      `
Example: a job left in Shipping gets its shipping alert (drives NeverReceived) after 14 days:
  drivebay clock advance 15d`,
    );
}
