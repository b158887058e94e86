// The SQLite store's checkpointer thread (checkpointer.ts, ADR 0004): a worker with its
// own connection that copies the write-ahead log back into the database file when asked. A
// checkpoint fsyncs the log and the database file; done here, those waits never hold up
// the event loop that serves the API. Plain JavaScript, so it runs without a loader.
import Database from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";

const db = new Database(workerData.file);
// The checkpoint syncs the log before copying it and the database file after (FULL).
db.pragma("synchronous = FULL");
// This connection only checkpoints; it never starts one of its own on a commit.
db.pragma("wal_autocheckpoint = 0");

parentPort.on("message", (message) => {
  if (message === "close") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    // PASSIVE: copy what no reader still needs, without waiting for the writer or readers.
    const [row] = db.pragma("wal_checkpoint(PASSIVE)");
    parentPort.postMessage({ ok: true, log: row?.log ?? 0 });
  } catch (error) {
    parentPort.postMessage({ ok: false, message: String(error?.message ?? error) });
  }
});
