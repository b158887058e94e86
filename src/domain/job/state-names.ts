/**
 * Job state names as people type them: `shipping` is `Shipping` (ARM matches enum values
 * without regard to case), and a name that is no state gets the nearest one suggested.
 */
import { DomainError } from "../errors.ts";
import { JOB_STATES, type JobState } from "./model.ts";

/** The state spelled `text` in any case, or undefined. */
export function jobStateNamed(text: string): JobState | undefined {
  const lower = text.toLowerCase();
  return JOB_STATES.find((s) => s.toLowerCase() === lower);
}

/** Levenshtein distance, case-insensitive. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let row = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const next = [i];
    for (let j = 1; j <= y.length; j++) {
      next[j] = Math.min(
        row[j]! + 1,
        next[j - 1]! + 1,
        row[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1),
      );
    }
    row = next;
  }
  return row[y.length]!;
}

function commonPrefix(a: string, b: string): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n]!.toLowerCase() === b[n]!.toLowerCase()) n++;
  return n;
}

/**
 * The name of `names` nearest to `text`: fewest edits, then the longest common start. None
 * unless it looks like a typo (a third of the letters off) or a misspelt ending (the same
 * first three letters, at most half off): a different word gets no suggestion.
 */
export function nearestName(text: string, names: readonly string[]): string | undefined {
  let best: { name: string; edits: number; prefix: number } | undefined;
  for (const name of names) {
    const edits = distance(text, name);
    const prefix = commonPrefix(text, name);
    if (!best || edits < best.edits || (edits === best.edits && prefix > best.prefix)) {
      best = { name, edits, prefix };
    }
  }
  if (!best) return undefined;
  const longer = Math.max(text.length, best.name.length);
  const typo = best.edits <= Math.max(1, Math.floor(longer / 3));
  const sameStart = best.prefix >= 3 && best.edits <= Math.ceil(longer / 2);
  return typo || sameStart ? best.name : undefined;
}

/** What to say about a job state name that is no state. */
export function unknownJobStateMessage(text: string): string {
  const near = nearestName(text, JOB_STATES);
  return (
    `'${text}' is not a job state` +
    (near ? `; did you mean '${near}'?` : ".") +
    ` The states are ${JOB_STATES.join(", ")}.`
  );
}

/** Jobs_Update's `properties.state`: "" and any state in any case pass as the state's own name. */
export function parseJobStateChange(text: string): string {
  if (text === "") return text;
  const state = jobStateNamed(text);
  if (state === undefined) {
    const message = `${unknownJobStateMessage(text)} A customer sets only 'Shipping' (and cancels with cancelRequested: true).`;
    throw new DomainError("InvalidRequestContent", message, {
      target: "properties.state",
    });
  }
  return state;
}
