/** docs/lifecycle.md is what the tables say now (regenerate it with `npm run docs:lifecycle`). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DOC_PATH, renderLifecycleDoc } from "../../scripts/lifecycle-doc.ts";

test("docs/lifecycle.md is generated from the current lifecycle tables", () => {
  const committed = readFileSync(DOC_PATH, "utf8");
  const current = renderLifecycleDoc();
  const stale = committed !== current;
  assert.ok(
    !stale,
    "docs/lifecycle.md is stale: run `npm run docs:lifecycle` and commit the result",
  );
  // The document says what the tables say, e.g. the disposition rule of SPEC §2.1.
  assert.match(
    current,
    /\| `shipBack` \| → `Completed` if the job was cancelled; → `Closed` if a drive has an error/,
  );
});
