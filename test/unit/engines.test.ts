// Every installed package must accept the Node version the README promises (package.json
// `engines.node`, today >=20.19): a package declaring a range without it makes `npm install`
// print EBADENGINE warnings a newcomer has to interpret (issue 13 item 12). Fix with a pin or an
// `overrides` entry in package.json, not by widening this check.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import semver from "semver";

const root = process.cwd();
const own = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  engines: { node: string };
};
const minimum = semver.minVersion(own.engines.node)!.version;

function packageDirs(modules: string, out: string[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(modules);
  } catch {
    return out;
  }
  for (const name of names) {
    if (name.startsWith(".")) continue;
    const dir = join(modules, name);
    if (name.startsWith("@")) {
      packageDirs(dir, out);
      continue;
    }
    if (!statSync(dir).isDirectory()) continue;
    out.push(dir);
    packageDirs(join(dir, "node_modules"), out);
  }
  return out;
}

test(`every installed package accepts Node ${minimum}`, () => {
  const dirs = packageDirs(join(root, "node_modules"));
  assert.ok(dirs.length > 50, `expected an installed node_modules, found ${dirs.length} packages`);
  const refusing: string[] = [];
  for (const dir of dirs) {
    let pkg: { name?: string; version?: string; engines?: { node?: unknown } };
    try {
      pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    } catch {
      continue; // a folder without a manifest (e.g. a bin link folder) is not a package
    }
    const range = pkg.engines?.node;
    if (typeof range !== "string" || range.trim() === "") continue;
    if (semver.validRange(range) === null) continue; // npm ignores ranges it cannot parse too
    if (!semver.satisfies(minimum, range)) {
      refusing.push(
        `${pkg.name}@${pkg.version} (${dir.slice(root.length + 1)}) declares node ${range}`,
      );
    }
  }
  assert.deepEqual(refusing, [], `packages that refuse Node ${minimum}:\n${refusing.join("\n")}`);
});
