#!/usr/bin/env node
// The `drivebay` binary. It runs the JavaScript compiled at install (`npm install` and `npm ci`
// build dist/ through the `prepare` script; `npm run build` again after changing src/). Without
// a build, with a build older than a file under src/ (a pull or an edit since), or with
// RUN_DRIVEBAY_FROM_SOURCE=1 (the tests set it), it runs the TypeScript sources through tsx,
// which compiles them on every start.
import { readdirSync, statSync } from "node:fs";

const compiled = new URL("../dist/cli/index.js", import.meta.url);

function builtAt() {
  try {
    return statSync(new URL("../dist/.built", import.meta.url)).mtimeMs;
  } catch {
    return undefined;
  }
}

function changedSince(dir, at) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = new URL(e.name + (e.isDirectory() ? "/" : ""), dir);
    if (e.isDirectory() ? changedSince(p, at) : statSync(p).mtimeMs > at) return true;
  }
  return false;
}

function useBuild() {
  if (process.env.RUN_DRIVEBAY_FROM_SOURCE === "1") return false;
  const at = builtAt();
  if (at === undefined) return false;
  if (!changedSince(new URL("../src/", import.meta.url), at)) return true;
  console.error(
    "drivebay: src/ changed since the last build; running the sources (npm run build compiles them again)",
  );
  return false;
}

let run;
if (useBuild()) {
  ({ run } = await import(compiled.href));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ run } = await import("../src/cli/index.ts"));
}
process.exit(await run(process.argv.slice(2)));
