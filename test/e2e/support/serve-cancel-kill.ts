/**
 * `drivebay serve` as the e2e tests run it, with one addition: when the copy of job `<job>`
 * reaches the boundary of item `<index>`, the job's cancel is requested through the ARM API
 * and the process SIGKILLs itself, while other blobs of the drive are still being written.
 * A real crash right after a cancel request, at a known point of the copy.
 *
 * Usage: serve-cancel-kill.ts <dataDir> <subscriptionId> <resourceGroup> <job> <index>.
 * Prints `drivebay listening on <url>` on stderr, as `drivebay serve` does.
 */
import { loadConfig } from "../../../src/config.ts";
import { startService } from "../../../src/main.ts";
import { armClient } from "../../support/server.ts";

const [dataDir, subscriptionId, rg, jobName, at] = process.argv.slice(2);
const config = loadConfig({
  flags: { port: 0, dataDir: dataDir!, logLevel: "silent" },
  env: { ...process.env, DRIVEBAY_AUTOPILOT: "off", DRIVEBAY_BLOB_PORT: "0" },
});
const running = await startService(config);
let fired = false;
running.runner!.onBlobStart = async ({ job, index }) => {
  if (job !== jobName || index !== Number(at) || fired) return;
  fired = true;
  await armClient(running.url, { subscriptionId }).jobs.update(jobName, rg!, {
    cancelRequested: true,
  });
  process.kill(process.pid, "SIGKILL");
};
process.stderr.write(`drivebay listening on ${running.url}\n`);
