/**
 * The embedded Azurite's process entry (plain JavaScript, so it starts without tsx).
 * `src/storage/azurite.ts` spawns it with Azurite's own command-line flags and an IPC
 * channel. It does what Azurite's `dist/src/blob/main.js` does, plus:
 *
 * - accounts from drivebay: Azurite reads `AZURITE_ACCOUNTS` from its own environment
 *   (at start, then every 60 s). The list comes over IPC instead (no size limit, never in
 *   /proc/<pid>/environ): `{ type: "start", accounts }` starts Azurite with it, and
 *   `{ type: "accounts", id, value }` replaces it at run time and makes Azurite re-read it
 *   at once, so a new account is served without a restart;
 * - the parent's end: when the IPC channel closes (drivebay stopped or died), Azurite
 *   closes (which saves its on-disk index) and this process exits. No orphans.
 *
 * Messages to the parent: `{ type: "listening", port }`, `{ type: "accounts-ok", id }`,
 * `{ type: "failed", code, message }` (then it exits with 1).
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { BlobServerFactory } = require("azurite/dist/src/blob/BlobServerFactory");
const BlobEnvironment = require("azurite/dist/src/blob/BlobEnvironment").default;
const { setExtentMemoryLimit } = require("azurite/dist/src/common/ConfigurationBase");

/** How long Azurite may take to close before the process exits anyway. */
const CLOSE_TIMEOUT_MS = 8000;

function send(message) {
  if (process.connected) process.send(message);
}

let server;
/** Set once Azurite listens: only a running BlobServer can be closed. */
let running = false;
let closing;

function shutdown(code) {
  closing ??= (async () => {
    const timer = setTimeout(() => process.exit(code), CLOSE_TIMEOUT_MS);
    try {
      if (running) await server.close();
    } catch (e) {
      console.error(`azurite: close failed: ${e?.stack ?? e}`);
    } finally {
      clearTimeout(timer);
      process.exit(code);
    }
  })();
  return closing;
}

async function start(accounts) {
  process.env.AZURITE_ACCOUNTS = accounts;
  const env = new BlobEnvironment();
  setExtentMemoryLimit(env, false);
  server = await new BlobServerFactory().createServer(env);
  // Azurite 3.35 keeps its account table in BlobServer.accountDataStore; refresh() re-reads
  // the variable. Checked before listening, so an Azurite without it fails at start.
  if (typeof server.accountDataStore?.refresh !== "function") {
    throw Object.assign(
      new Error("this Azurite has no account refresh; drivebay needs azurite 3.35"),
      { code: "EAZURITEVERSION" },
    );
  }
  await server.start();
  running = true;
  const address = server.getHttpServerAddress();
  send({ type: "listening", port: Number(/:(\d+)$/.exec(address)?.[1]) });
}

process.on("message", (message) => {
  if (closing) return;
  if (message?.type === "start" && !server) {
    start(String(message.accounts ?? "")).catch((e) => {
      send({ type: "failed", code: e?.code, message: e?.message ?? String(e) });
      console.error(`azurite: ${e?.stack ?? e}`);
      void shutdown(1);
    });
  } else if (message?.type === "accounts" && running) {
    process.env.AZURITE_ACCOUNTS = String(message.value ?? "");
    server.accountDataStore.refresh();
    send({ type: "accounts-ok", id: message.id });
  } else if (message?.type === "shutdown") {
    void shutdown(0);
  }
});
process.on("disconnect", () => void shutdown(0));
// drivebay runs this in its own process group, so a terminal's Ctrl+C reaches only drivebay,
// which then stops this process in order. A signal sent here directly also stops it.
process.once("SIGINT", () => void shutdown(0));
process.once("SIGTERM", () => void shutdown(0));
