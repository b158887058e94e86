#!/usr/bin/env node
// CLI start-up: `drivebay --help` (the compiled dist/, as installed) against `node -e 0` in
// the same run, alternating so load that comes and goes falls on both; and the sources
// through tsx (RUN_DRIVEBAY_FROM_SOURCE=1), what every command cost before the build.
// Usage: npm run build && node bench/cli-startup.mjs [rounds]
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const bin = join(root, "bin", "drivebay.js");
if (!existsSync(join(root, "dist", "cli", "index.js"))) {
  console.error("no dist/: run npm run build first");
  process.exit(2);
}
const rounds = Number(process.argv[2] ?? 15);
const cases = {
  "node -e 0": { args: ["-e", "0"], env: {} },
  "drivebay --help (dist)": { args: [bin, "--help"], env: {} },
  "drivebay --help (tsx)": { args: [bin, "--help"], env: { RUN_DRIVEBAY_FROM_SOURCE: "1" } },
};
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
console.log(
  `load average at start: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
for (let i = 0; i < rounds; i++) {
  for (const [name, c] of Object.entries(cases)) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, c.args, {
      env: { ...process.env, ...c.env },
      stdio: "ignore",
    });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${name} exited ${r.status}`);
    if (i > 0) times[name].push(ms); // the first round warms the file cache
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const base = median(times["node -e 0"]);
for (const [name, t] of Object.entries(times)) {
  const m = median(t);
  console.log(
    `${name.padEnd(24)} median ${m.toFixed(0).padStart(5)} ms  ${(m / base).toFixed(2)}× node -e 0`,
  );
}
