/**
 * npm run docs:lifecycle — writes docs/lifecycle.md from the lifecycle tables, so anyone
 * can hold SPEC §2 against the code. test/unit/lifecycle-doc.test.ts fails when the
 * committed file is not what this renders.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  DRIVE_DEFAULTS,
  DRIVE_EVENTS,
  DRIVE_GUARDS,
  DRIVE_START,
  DRIVE_TABLE,
  type DriveEventType,
} from "../src/domain/job/drive-lifecycle.ts";
import {
  DRIVES_MOVED,
  EVENTS,
  EVENT_TYPES,
  JOB_DEFAULTS,
  JOB_GUARDS,
  JOB_TABLE,
  TIMED_EVENTS,
  type EventType,
} from "../src/domain/job/job-table.ts";
import { DRIVE_STATES, JOB_STATES } from "../src/domain/job/model.ts";
import type { Rule, Target } from "../src/domain/job/table.ts";
import { FIELD_WINDOWS, type UpdatableField } from "../src/domain/job/updates.ts";

export const DOC_PATH = fileURLToPath(new URL("../docs/lifecycle.md", import.meta.url));

const EFFECT_WORDS: Record<string, string> = {
  stopCopies: "each drive being copied stops at its next blob boundary (`stopCopy`)",
  resumeCopies: "each drive being copied is copied again, from where it stopped (`startCopy`)",
  startCopy: "the drive is to be copied (`startCopy`)",
};

function target(to: Target<string, string>, guards: Record<string, { label: string }>): string {
  if (to === "same") return "stays";
  if (to === "faultedFrom") return "→ the state it was faulted from";
  if (typeof to === "object") {
    const cases = to.cases.map(([g, s]) => `→ \`${s}\` if ${guards[g]!.label}`);
    const otherwise = to.otherwise === "same" ? "stays" : `→ \`${to.otherwise}\``;
    return `${cases.join("; ")}; otherwise ${otherwise}`;
  }
  return `→ \`${to}\``;
}

function rule(
  r: Rule<string, string, string, string>,
  guards: Record<string, { label: string }>,
): string {
  switch (r.kind) {
    case "refuse":
      return `refused: \`${r.code}\``;
    case "ignore":
      return `nothing changes (${r.why})`;
    case "purge":
      return `**purged** with its history ("${r.why}")`;
    case "go": {
      const effects = r.effects.map((e) => EFFECT_WORDS[e] ?? e);
      return target(r.to, guards) + (effects.length ? `; effects: ${effects.join(", ")}` : "");
    }
    case "when":
      return `if ${guards[r.guard]!.label}: ${rule(r.then, guards)}; otherwise ${rule(r.otherwise, guards)}`;
  }
}

const cell = (s: string) => s.replace(/\|/g, "\\|");

export function renderLifecycleDoc(): string {
  const out: string[] = [];
  const line = (s = "") => out.push(s);
  line("# The lifecycle, as the code holds it");
  line();
  line(
    "Generated from `src/domain/job/job-table.ts` (jobs), `src/domain/job/drive-lifecycle.ts` " +
      "(drives) and `src/domain/job/updates.ts` (field windows) by `npm run docs:lifecycle`; " +
      "`test/unit/lifecycle-doc.test.ts` fails when this file is stale. Do not edit it by hand. " +
      "Hold it against `../shared/SPEC.md` §2 and §3.",
  );
  line();
  line("## Job events");
  line();
  line(
    "A rule is a refusal (the error code the API answers with), an event that changes " +
      "nothing, a purge, or a transition to its next state with its effects. Guards in " +
      "`if …` are asked of the job as the event finds it; guards in a transition's `→ … if …` " +
      "of the job as the event leaves it (after its drives moved). Timer and autopilot events " +
      "act only at their stored deadline; otherwise they only bring the deadline up to date.",
  );
  line();
  line("| event | sent by | what it does to the drives | in states not listed below |");
  line("| --- | --- | --- | --- |");
  for (const e of EVENT_TYPES) {
    const timed = (TIMED_EVENTS as readonly string[]).includes(e) ? " (at its deadline)" : "";
    line(
      `| \`${e}\` | ${EVENTS[e].actors.join(", ")}${timed} | ${cell(DRIVES_MOVED[e] ?? "—")} | ${cell(rule(JOB_DEFAULTS[e], JOB_GUARDS))} |`,
    );
  }
  line();
  line("## Jobs, state by state");
  for (const state of JOB_STATES) {
    line();
    line(`### ${state}`);
    line();
    line("| event | rule |");
    line("| --- | --- |");
    for (const e of EVENT_TYPES) {
      const r = JOB_TABLE[state][e as EventType];
      if (r) line(`| \`${e}\` | ${cell(rule(r, JOB_GUARDS))} |`);
    }
  }
  line();
  line("## What a customer may change (Jobs_Update, SPEC §2.2)");
  line();
  line(`| field | ${JOB_STATES.join(" | ")} |`);
  line(`| --- | ${JOB_STATES.map(() => "---").join(" | ")} |`);
  for (const [field, states] of Object.entries(FIELD_WINDOWS) as [
    UpdatableField,
    readonly string[],
  ][]) {
    line(
      `| \`${field}\` | ${JOB_STATES.map((s) => (states.includes(s) ? "✓" : "")).join(" | ")} |`,
    );
  }
  line();
  line("## Drives (SPEC §2.6)");
  line();
  line(
    `An import job's drives start \`${DRIVE_START.import}\` (the customer's driveList); an ` +
      `export drive starts \`${DRIVE_START.export}\`, recorded with a capacity and a BitLocker ` +
      "key when its package is received.",
  );
  line();
  line("| drive event | in states not listed below |");
  line("| --- | --- |");
  for (const e of DRIVE_EVENTS)
    line(`| \`${e}\` | ${cell(rule(DRIVE_DEFAULTS[e], DRIVE_GUARDS))} |`);
  for (const state of DRIVE_STATES) {
    const rows = DRIVE_EVENTS.filter((e) => DRIVE_TABLE[state][e as DriveEventType]);
    if (rows.length === 0) continue;
    line();
    line(`### ${state}`);
    line();
    line("| drive event | rule |");
    line("| --- | --- |");
    for (const e of rows)
      line(`| \`${e}\` | ${cell(rule(DRIVE_TABLE[state][e]!, DRIVE_GUARDS))} |`);
  }
  line();
  line("## The guards");
  line();
  line("| guard | holds when |");
  line("| --- | --- |");
  for (const [name, g] of [...Object.entries(JOB_GUARDS), ...Object.entries(DRIVE_GUARDS)]) {
    line(
      `| \`${name}\` | ${cell(g.label)}${g.request ? " (it may come with the request itself)" : ""} |`,
    );
  }
  line();
  return out.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(DOC_PATH, renderLifecycleDoc());
  console.log(`wrote ${DOC_PATH}`);
}
