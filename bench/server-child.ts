/**
 * A server process for the benchmarks, so the load generator and the server do not share
 * an event loop. Modes: `drivebay <dataDir>` (the real service, SQLite FULL sync) and
 * `bare <bodyFile>` (bare Fastify answering every GET with the same bytes).
 * Prints `READY <url>` when listening.
 */
import Fastify from "fastify";
import { readFileSync } from "node:fs";
import { loadConfig } from "../src/config.ts";
import { startService } from "../src/main.ts";

const [mode, arg] = process.argv.slice(2);
if (mode === "bare") {
  const body = readFileSync(arg!);
  const app = Fastify({ logger: false });
  app.get("/*", async (_req, reply) => {
    reply.header("content-type", "application/json; charset=utf-8");
    return reply.send(body);
  });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  console.log(`READY ${url}`);
} else {
  const config = loadConfig({ flags: { port: 0, dataDir: arg!, logLevel: "silent" }, env: {} });
  const running = await startService({ ...config, tickIntervalMs: 3_600_000 });
  console.log(`READY ${running.url}`);
}
process.on("SIGTERM", () => process.exit(0));
