#!/usr/bin/env node
// The `drivebay` binary. It runs the JavaScript compiled at install (`npm install` and `npm ci`
// build dist/ through the `prepare` script; `npm run build` again after changing src/). Without
// a build, or with RUN_DRIVEBAY_FROM_SOURCE=1 (the tests set it), it runs the TypeScript sources
// through tsx, which compiles them on every start.
import { existsSync } from "node:fs";

const compiled = new URL("../dist/cli/index.js", import.meta.url);
let run;
if (process.env.RUN_DRIVEBAY_FROM_SOURCE !== "1" && existsSync(compiled)) {
  ({ run } = await import(compiled.href));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ run } = await import("../src/cli/index.ts"));
}
process.exit(await run(process.argv.slice(2)));
