/**
 * The lint rule that keeps state comparisons out of everything but src/domain (issue 9):
 * the project's own ESLint configuration, run on snippets placed at paths in the tree.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ESLint } from "eslint";

const eslint = new ESLint({ cwd: new URL("../..", import.meta.url).pathname });

/** The lines the rule reports in `snippets` (one per line) as a file at `filePath`. */
async function reported(snippets: string[], filePath: string): Promise<number[]> {
  const code = snippets.map((s, i) => s.replace("export const f", `export const f${i}`)).join("\n");
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages
    .filter((m) => m.ruleId === "drivebay/no-state-comparison")
    .map((m) => m.line);
}

const FLAGGED = [
  `export const f = (job: { state: string }) => job.state === "Transferring";`,
  `export const f = (d?: { state: string }) => "Completed" !== d?.state;`,
  `export const f = (job: { state: string }) => { switch (job.state) { case "Packaging": return 1; } return 0; };`,
  `export const f = (job: { state: string }) => ["Shipping", "Received"].includes(job.state);`,
  `export const f = (s: Set<string>, d: { state: string }) => s.has(d.state);`,
  `export const f = (states: string[]) => states.includes("NeverReceived");`,
  `export const f = (jobState: string) => jobState == "Closed";`,
];

test("comparisons against job or drive states are refused outside src/domain", async () => {
  const every = FLAGGED.map((_, i) => i + 1);
  assert.deepEqual(await reported(FLAGGED, "src/portal/snippet.ts"), every);
  assert.deepEqual(await reported(FLAGGED, "src/cli/snippet.ts"), every);
  assert.deepEqual(await reported(FLAGGED, "src/domain/job/snippet.ts"), []);
});

test("presentation by a map keyed by state, and words that only look like states, pass", async () => {
  const fine = [
    `const BADGE: Record<string, string> = { Completed: "green" }; export const f = (job: { state: string }) => BADGE[job.state];`,
    `export const f = (e: { status: string }) => e.status === "Completed";`,
    `export const f = (events: string[]) => events.includes("cancel");`,
    `export const f = (a: { state: string }, b: { state: string }) => a.state === b.state;`,
  ];
  assert.deepEqual(await reported(fine, "src/portal/snippet.ts"), []);
});
