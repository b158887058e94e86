#!/usr/bin/env node
// Compiles src/ to dist/ (run by `npm install` / `npm ci` through the `prepare` script, and by
// `npm run build`), then copies what tsc does not: the .mjs workers and the portal's static
// files. bin/drivebay.js runs dist/ when it is there.
import { spawnSync } from "node:child_process";
import { cpSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const r = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], {
  stdio: "inherit",
});
if (r.status !== 0) {
  rmSync(dist, { recursive: true, force: true });
  console.error(
    "drivebay build: tsc failed; dist/ removed (bin/drivebay.js runs the sources through tsx)",
  );
  process.exit(r.status ?? 1);
}
function copyAssets(dir) {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) copyAssets(p);
    else if (!e.endsWith(".ts")) cpSync(p, join(dist, relative(join(root, "src"), p)));
  }
}
copyAssets(join(root, "src"));
// bin/drivebay.js runs dist/ only while no file under src/ is newer than this stamp.
writeFileSync(join(dist, ".built"), new Date().toISOString() + "\n");
