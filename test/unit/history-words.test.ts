/**
 * The portal's history never shows an internal name (issue 13 item 14): every event the
 * lifecycle can record, every actor that can send one, and every deadline a job can wait
 * for has words in src/domain/job/history-words.ts, and the words are not the internal name.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { EVENT_TYPES, EVENTS, TIMED_EVENTS } from "../../src/domain/job/job-table.ts";
import { actorWords, deadlineWords, eventWords } from "../../src/domain/job/history-words.ts";

const internal = (s: string) => /^[a-z]+[A-Z]\w*$/.test(s) || /^[a-z]+$/.test(s);

/** The event names lifecycle.ts writes into history entries (`entry(ctx, "<event>", …)`). */
function recordedEvents(): string[] {
  const src = readFileSync(join(import.meta.dirname, "../../src/domain/job/lifecycle.ts"), "utf8");
  const found = [...src.matchAll(/\bentry\(\s*ctx,\s*"(\w+)"/g)].map((m) => m[1]!);
  return [...new Set(found)];
}

test("every event the lifecycle records has words, and they are not its internal name", () => {
  const recorded = recordedEvents();
  // The scan must see the entries it is meant to check (a renamed helper would hide them).
  for (const e of ["create", "receivePackage", "completeDrive", "package", "cancel"]) {
    assert.ok(recorded.includes(e), `lifecycle.ts records '${e}' (found ${recorded.join(", ")})`);
  }
  for (const event of new Set([...EVENT_TYPES, ...recorded])) {
    const words = eventWords(event);
    assert.notEqual(words, event, `event '${event}' has no words`);
    assert.ok(!internal(words), `event '${event}' reads '${words}'`);
    assert.doesNotMatch(words, /[A-Z][a-z]+[A-Z]/, `event '${event}' reads '${words}'`);
  }
});

test("every actor and every deadline has words for the customer and the operator pages", () => {
  const actors = new Set(["customer", ...Object.values(EVENTS).flatMap((e) => e.actors)]);
  for (const actor of actors) {
    for (const audience of ["customer", "operator"] as const) {
      const words = actorWords(actor, audience);
      assert.ok(
        words !== actor && !internal(words),
        `actor '${actor}' reads '${words}' (${audience})`,
      );
    }
  }
  assert.equal(actorWords("engine", "customer"), "Datacenter (copy)");
  for (const due of TIMED_EVENTS) {
    const words = deadlineWords(due);
    assert.ok(words !== due && !/[a-z][A-Z]/.test(words), `deadline '${due}' reads '${words}'`);
  }
});
