/**
 * The dock of the server the CLI is pointed at, as a folder of this machine: the operator
 * API names it (`GET /operator/v1/dock`), and the folder's `.drivebay-dock` file must hold
 * the id the server gave, so the CLI reads and writes where that server looks (and not in a
 * namesake on another machine). Used by `drive prepare --dock` and by `job show` for where
 * an exported drive can be read.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CliFailure } from "./client.ts";
import { operatorSender } from "./operator.ts";

/** The file in a server's dock holding the id `GET /operator/v1/dock` gives (src/main.ts). */
export const DOCK_MARKER = ".drivebay-dock";

export type DockLookup =
  | { found: true; path: string }
  /** Why the dock cannot be used from here; `failure` when the server could not be asked. */
  | { found: false; why: string; failure?: CliFailure };

export async function serverDock(
  endpoint: string,
  key: { key: string; source: string },
): Promise<DockLookup> {
  let dock: { path: string; local: boolean; id: string };
  try {
    dock = (await operatorSender(endpoint, key)("dock")) as typeof dock;
  } catch (e) {
    if (!(e instanceof CliFailure)) throw e;
    return { found: false, why: e.message, failure: e };
  }
  if (!dock.local) {
    return {
      found: false,
      why:
        `the server at ${endpoint} does not read its dock ${dock.path}: its workers run the ` +
        `autopilot, each with the dock of its own data directory`,
    };
  }
  let marker: string | undefined;
  try {
    marker = readFileSync(join(dock.path, DOCK_MARKER), "utf8").trim();
  } catch {
    marker = undefined;
  }
  if (marker !== dock.id) {
    return {
      found: false,
      why:
        `the dock of the server at ${endpoint} is ${dock.path} on the server's machine, and ` +
        (marker === undefined
          ? "there is no such dock on this one"
          : "the folder of that name here is another server's dock"),
    };
  }
  return { found: true, path: dock.path };
}
