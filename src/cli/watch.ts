/**
 * `drivebay job wait` and `drivebay job watch`: Jobs_Get polled at an interval. `wait` ends
 * when the job reaches a state (like `az … wait`), or says why it never will; `watch` shows
 * the job and its drives as they move, redrawn in place on a terminal, a line per change
 * otherwise. Which states can still come is the lifecycle table's answer, not a list here.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import type { DriveStatus, JobResponse } from "@azure/arm-storageimportexport";
import { jobState } from "./args.ts";
import { CliFailure } from "./client.ts";
import { clientCommand, getJobOrGone } from "./job-command.ts";
import { processIo, type Io } from "./output.ts";
import { humanBytes, humanDuration, humanRate } from "./units.ts";
import { parseDuration } from "../domain/duration.ts";
import { ENDED_STATES, reachableStates } from "../domain/job/lifecycle.ts";
import { isBeingCopied } from "../domain/job/drive-lifecycle.ts";
import { type Drive, type JobState } from "../domain/job/model.ts";

// ---------------------------------------------------------------------------------------
// Options.

function durationArg(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    throw new InvalidArgumentError(
      `'${text}' is not a duration; use e.g. 30s, 10m, 2h or ISO-8601 (PT10M).`,
    );
  }
  return ms;
}

const intervalOption = () =>
  new Option("--interval <duration>", "how often to ask the server (e.g. 1s, 500ms)")
    .argParser(durationArg)
    .default(2000, "2s");

// ---------------------------------------------------------------------------------------
// wait

interface WaitOptions {
  forState: JobState;
  timeout?: number;
  interval: number;
}

function stateOf(job: JobResponse): JobState {
  return job.properties?.state as JobState;
}

function registerWait(job: Command, io: Io): void {
  clientCommand<WaitOptions>(
    job,
    io,
    {
      name: "wait",
      description: "wait until a job reaches a state (Jobs_Get, polled), like `az … wait`",
      group: "find",
    },
    async (call) => {
      const { opts, conn, io, print } = call;
      const want = opts.forState;
      const started = Date.now();
      let first = true;
      for (;;) {
        const found = await getJobOrGone(call.client, opts.name, call.conn.resourceGroup);
        if (!found) {
          throw new CliFailure(
            first
              ? `error: there is no job '${opts.name}' in resource group ${conn.resourceGroup}.`
              : `error: job ${opts.name} was deleted while waiting for '${want}'.`,
            1,
            404,
          );
        }
        const state = stateOf(found);
        if (state === want) {
          print(found, () => `job ${found.name} is ${state}\n`);
          return;
        }
        const reachable = reachableStates(state);
        if (!reachable.has(want)) {
          throw new CliFailure(
            `error: job ${found.name} is '${state}' and can no longer become '${want}' ` +
              `(from '${state}' it can become ${[...reachable].join(", ")}).`,
            1,
          );
        }
        const waited = Date.now() - started;
        if (opts.timeout !== undefined && waited >= opts.timeout) {
          throw new CliFailure(
            `error: timed out after ${humanDuration(waited)}: job ${found.name} is still ` +
              `'${state}', not '${want}'. Wait longer with --timeout, or see where it stands ` +
              `with drivebay job show -n ${opts.name} -g ${conn.resourceGroup}.`,
            1,
          );
        }
        if (first) {
          io.err(`waiting for job ${found.name} (now '${state}') to become '${want}'…\n`);
          first = false;
        }
        const left = opts.timeout === undefined ? Infinity : opts.timeout - waited;
        await sleep(Math.min(opts.interval, Math.max(left, 0)));
      }
    },
  )
    .addOption(
      new Option("--for-state <state>", "the state to wait for (any case: completed, Shipping, …)")
        .argParser(jobState)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        "--timeout <duration>",
        "give up after this long (e.g. 30m); default: never",
      ).argParser(durationArg),
    )
    .addOption(intervalOption())
    .addHelpText(
      "after",
      `
Exit codes: 0 the job is in the state; 1 the time ran out, the job was deleted, or it is in
a state from which the wanted one can no longer come (e.g. waiting for Shipping after the
job Completed); 2 usage error.

Example: drivebay job wait -n myjob --for-state Completed --timeout 2h`,
    );
}

// ---------------------------------------------------------------------------------------
// watch

interface Sample {
  bytes: number;
  at: number;
}

/** What is shown of a drive, and what changed between two polls. */
interface DriveView {
  id: string;
  /** The line without rate and ETA: a new one of these is a change. */
  key: string;
  line: string;
}

function pct(value: number | undefined): string {
  return value === undefined ? "-" : `${value}%`;
}

/** Rate and ETA from the first poll that saw this drive's bytes to now. */
function rateAndEta(d: DriveStatus, first: Sample | undefined, now: number): string {
  const bytes = d.bytesSucceeded ?? 0;
  if (!first || !isBeingCopied({ state: d.state } as Drive)) return "";
  const moved = bytes - first.bytes;
  const rate = humanRate(moved, now - first.at);
  if (!rate) return "";
  const p = d.percentComplete ?? 0;
  let eta = "";
  if (p > 0 && p < 100) {
    const remaining = (bytes * (100 - p)) / p;
    eta = `, ETA ${humanDuration((remaining * (now - first.at)) / moved)}`;
  }
  return `, ${rate}${eta}`;
}

export function driveViews(
  job: JobResponse,
  firsts: Map<string, Sample>,
  now: number,
): DriveView[] {
  return (job.properties?.driveList ?? []).map((d) => {
    const id = d.driveId ?? "-";
    const bytes = d.bytesSucceeded;
    if (bytes !== undefined && !firsts.has(id)) firsts.set(id, { bytes, at: now });
    const key =
      `  drive ${id}: ${d.state ?? "-"}` +
      (d.copyStatus ? ` (${d.copyStatus})` : "") +
      `, ${pct(d.percentComplete)}` +
      (bytes !== undefined ? `, ${humanBytes(bytes)}` : "");
    return { id, key, line: key + rateAndEta(d, firsts.get(id), now) };
  });
}

function jobLine(job: JobResponse): string {
  const p = job.properties ?? {};
  return (
    `job ${job.name}: ${p.state}, ${pct(p.percentComplete)}` +
    (p.cancelRequested ? " (cancel requested)" : "")
  );
}

function clock(): string {
  return new Date().toISOString().slice(11, 19);
}

function registerWatch(job: Command, io: Io): void {
  clientCommand<{ interval: number }>(
    job,
    io,
    {
      name: "watch",
      description: "follow a job and its drives until it ends (state, percent, bytes, rate, ETA)",
      group: "find",
    },
    async (call) => {
      const { opts, io } = call;
      const tty = io === processIo && process.stdout.isTTY === true;
      const firsts = new Map<string, Sample>();
      let drawnLines = 0;
      let lastJob = "";
      const lastDrives = new Map<string, string>();
      let seen = false;
      for (;;) {
        const found = await getJobOrGone(call.client, opts.name, call.conn.resourceGroup);
        if (!found) {
          throw new CliFailure(
            seen
              ? `job ${opts.name} was deleted.`
              : `error: there is no job '${opts.name}' in resource group ${call.conn.resourceGroup}.`,
            1,
            404,
          );
        }
        seen = true;
        const now = Date.now();
        const drives = driveViews(found, firsts, now);
        const head = jobLine(found);
        if (tty) {
          // Up to the first line of the last drawing, then every line cleared and redrawn.
          const lines = [`${head}  (${clock()})`, ...drives.map((d) => d.line)];
          const up = drawnLines > 0 ? `\x1b[${drawnLines}F` : "";
          io.out(`${up}${lines.map((l) => `${l}\x1b[K\n`).join("")}\x1b[J`);
          drawnLines = lines.length;
        } else {
          const changed: string[] = [];
          if (head !== lastJob) changed.push(head);
          for (const d of drives) {
            if (lastDrives.get(d.id) !== d.key) changed.push(d.line);
            lastDrives.set(d.id, d.key);
          }
          lastJob = head;
          if (changed.length > 0) io.out(changed.map((l) => `${clock()} ${l}\n`).join(""));
        }
        if (ENDED_STATES.includes(stateOf(found))) return;
        await sleep(opts.interval);
      }
    },
  )
    .addOption(intervalOption())
    .addHelpText(
      "after",
      `
On a terminal the display is redrawn in place; otherwise (a pipe, a log file) a line is
printed only when the job or a drive changes. Ends with exit code 0 when the job has ended
(${ENDED_STATES.join(" or ")}), 1 when it is deleted.`,
    );
}

export function registerWatchCommands(job: Command, io: Io): void {
  registerWait(job, io);
  registerWatch(job, io);
}
