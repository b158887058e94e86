/**
 * The compiled CLI (dist/, built by `npm install` / `npm ci` through `prepare`): the binary
 * runs it and it says what the sources say. Skipped, with the reason, when there is no build.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { bin, runCli } from "./helpers.ts";

const DIST = join(import.meta.dirname, "..", "..", "dist", "cli", "index.js");
const SKIP = existsSync(DIST) ? undefined : "no dist/ (npm run build makes it; npm ci does too)";

test(
  "bin/drivebay.js runs the compiled dist/, and its help equals the sources'",
  { skip: SKIP },
  async () => {
    const compiled = await bin(["--help"], { env: { RUN_DRIVEBAY_FROM_SOURCE: "" } });
    assert.equal(compiled.code, 0, compiled.err);
    const source = await runCli(["--help"]);
    assert.equal(compiled.out, source.out, "dist/ is older than src/: npm run build");
    // The compiled job commands reach their own option parsing (a usage error, exit 2).
    const usage = await bin(["job", "update", "-n", "x", "--state", "shiped"], {
      env: { RUN_DRIVEBAY_FROM_SOURCE: "" },
    });
    assert.equal(usage.code, 2);
    assert.match(usage.err, /'shiped' is not a job state; did you mean 'Shipping'\?/);
  },
);
