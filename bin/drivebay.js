#!/usr/bin/env node
// The `drivebay` binary: TypeScript sources run through tsx, no build step.
import { register } from "tsx/esm/api";

register();
const { run } = await import("../src/cli/index.ts");
process.exit(await run(process.argv.slice(2)));
