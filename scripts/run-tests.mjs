#!/usr/bin/env node
// Runs the test tiers with Node's test runner (TypeScript through tsx) and ends with a
// plain "N passed, M failed" line. Usage: node scripts/run-tests.mjs [tier ...]
// Tiers: unit, store, api, conformance, cli, transfer, browser, storage (default: all).
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

const ALL = ["unit", "store", "api", "conformance", "cli", "transfer", "storage", "e2e", "browser"];
const tiers = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
for (const t of tiers) {
  if (!ALL.includes(t)) {
    console.error(`unknown test tier '${t}'; tiers: ${ALL.join(", ")}`);
    process.exit(2);
  }
}

function testFiles(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries.sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out = out.concat(testFiles(p));
    else if (e.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const files = tiers.flatMap((t) => testFiles(join("test", t)));
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}
mkdirSync(".test-output", { recursive: true });
const tap = join(".test-output", `results-${process.pid}.tap`);
const r = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    "--test-concurrency=2",
    "--test-timeout=300000",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test-reporter=tap",
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  // bin/drivebay.js runs the sources (through tsx) in tests, never a dist/ built earlier.
  { stdio: "inherit", env: { ...process.env, RUN_DRIVEBAY_FROM_SOURCE: "1" } },
);
const text = readFileSync(tap, "utf8");
rmSync(tap, { force: true });
const count = (name) =>
  Number(
    /^# (\w+) (\d+)$/m.test(text)
      ? (text.match(new RegExp(`^# ${name} (\\d+)$`, "m"))?.[1] ?? 0)
      : 0,
  );
const passed = count("pass");
const failed = count("fail") + count("cancelled");
const skipped = count("skipped");
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(r.status === 0 && failed === 0 && passed > 0 ? 0 : 1);
