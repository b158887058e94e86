/**
 * A server process for the benchmarks, so the load generator and the server do not share
 * an event loop. Modes: `drivebay <dataDir> [storeUrl]` (the real service, SQLite FULL
 * sync, or the PostgreSQL store at `storeUrl`) and
 * `bare <bodyFile>` (bare Fastify answering every GET with the same bytes), and
 * `import <dataDir>` (the service as `bench:import` runs it: emulator profile, embedded
 * Azurite in memory on a free port, autopilot off, the operator key from
 * BENCH_OPERATOR_KEY; prints `AZURITE <pid>` first, so the bench can tell the two
 * processes apart), and `token <dataDir> <configFile>` (the real service with the settings of
 * a JSON config file: the service profile under token auth).
 * Prints `READY <url>` when listening.
 */
import Fastify from "fastify";
import { readFileSync } from "node:fs";
import { loadConfig } from "../src/config.ts";
import { startService } from "../src/main.ts";

const [mode, arg, storeUrl] = process.argv.slice(2);
if (mode === "bare") {
  const body = readFileSync(arg!);
  const app = Fastify({ logger: false });
  app.get("/*", async (_req, reply) => {
    reply.header("content-type", "application/json; charset=utf-8");
    return reply.send(body);
  });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  console.log(`READY ${url}`);
} else if (mode === "import") {
  const config = loadConfig({
    flags: { port: 0, dataDir: arg!, logLevel: "silent", blobPort: 0 },
    env: {
      DRIVEBAY_PROFILE: "emulator",
      DRIVEBAY_BLOB_EMBEDDED: "on",
      DRIVEBAY_BLOB_IN_MEMORY: "on",
      DRIVEBAY_AUTOPILOT: "off",
      DRIVEBAY_OPERATOR_KEY: process.env.BENCH_OPERATOR_KEY,
    },
  });
  const running = await startService(config);
  console.log(`AZURITE ${running.azurite?.pid ?? ""}`);
  console.log(`READY ${running.url}`);
} else if (mode === "token") {
  const config = loadConfig({
    flags: { port: 0, dataDir: arg!, logLevel: "silent", config: storeUrl },
    env: {},
  });
  const running = await startService({ ...config, tickIntervalMs: 3_600_000 });
  console.log(`READY ${running.url}`);
} else {
  const config = loadConfig({
    flags: { port: 0, dataDir: arg!, logLevel: "silent", store: storeUrl },
    env: {},
  });
  const running = await startService({ ...config, tickIntervalMs: 3_600_000 });
  console.log(`READY ${running.url}`);
}
process.on("SIGTERM", () => process.exit(0));
