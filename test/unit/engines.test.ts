// Every package the lockfile installs must accept the Node version the README promises
// (package.json `engines.node`, today >=20.19): a package declaring a range without it makes
// `npm install` print EBADENGINE warnings a newcomer has to interpret (issue 13 item 12). Fix with
// a pin or an `overrides` entry in package.json, not by widening this check. The lockfile is read
// rather than node_modules so that a stale local install does not decide the result.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import semver from "semver";

const root = process.cwd();
const own = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  engines: { node: string };
};
const minimum = semver.minVersion(own.engines.node)!.version;

interface LockEntry {
  version?: string;
  engines?: { node?: unknown } | string[];
}

test(`every package in package-lock.json accepts Node ${minimum}`, () => {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
    lockfileVersion: number;
    packages: Record<string, LockEntry>;
  };
  assert.ok(
    lock.lockfileVersion >= 2,
    "package-lock.json must be lockfileVersion 2 or later (a packages map)",
  );
  const entries = Object.entries(lock.packages).filter(([path]) =>
    path.startsWith("node_modules/"),
  );
  assert.ok(entries.length > 50, `expected a full lockfile, found ${entries.length} packages`);
  const refusing: string[] = [];
  for (const [path, entry] of entries) {
    const engines = entry.engines;
    const range = engines && !Array.isArray(engines) ? engines.node : undefined;
    if (typeof range !== "string" || range.trim() === "") continue;
    if (semver.validRange(range) === null) continue; // npm does not warn on a range it cannot parse
    if (!semver.satisfies(minimum, range)) {
      refusing.push(
        `${path.replace(/^.*node_modules\//, "")}@${entry.version} (${path}) declares node ${range}`,
      );
    }
  }
  assert.deepEqual(refusing, [], `packages that refuse Node ${minimum}:\n${refusing.join("\n")}`);
});
