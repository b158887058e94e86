/**
 * Checkpoints of the SQLite store's write-ahead log, run on a worker thread with its own
 * connection (`checkpointer-worker.mjs`, ADR 0004). SQLite's default is to checkpoint
 * inside the commit that takes the log past 1,000 pages: two fsyncs and a copy of the log
 * on the event loop, which held every request up for 10–15 ms at a time during a
 * retention sweep. Here the store's own connection never checkpoints; commits ask for a
 * checkpoint, which follows shortly on the thread.
 *
 * A checkpoint copies the log up to where it ended when the checkpoint began; the log
 * starts over from its beginning only when a commit finds all of it copied. Under a
 * steady stream of commits that never happens by itself, so once a checkpoint finds the
 * log longer than FENCE_FRAMES, the next one follows at once and is *fenced*: commits
 * wait for it (the store keeps queueing them, as group commit does), and the first one
 * after it starts the log over. Only writers wait, and only then; reads and the event
 * loop never do.
 */
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

const WORKER = fileURLToPath(new URL("./checkpointer-worker.mjs", import.meta.url));
/** Commits gather in the log for this long before a checkpoint copies them. */
const DELAY_MS = 50;
/** Log size (pages) past which the next checkpoint holds commits, so the log can start over. */
export const FENCE_FRAMES = 1000;
/** The longest a fenced checkpoint holds commits. */
const FENCE_MAX_MS = 1000;

interface CheckpointReply {
  ok: boolean;
  /** Pages in the log when the checkpoint ran. */
  log?: number;
  message?: string;
}

export class Checkpointer {
  private worker: Worker | undefined;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Set while a fenced checkpoint holds commits; resolves when they may go on. */
  private fence: Promise<void> | undefined;
  private lastLog = 0;
  private stopped = false;

  /** `onFailed`: the thread cannot run; the store checkpoints inside commits again. */
  constructor(
    private readonly file: string,
    private readonly onFailed: (reason: string) => void,
  ) {}

  /** A commit added to the log. */
  written(): void {
    this.pending = true;
    if (this.running || this.timer || this.stopped) return;
    // Started with the first commit, so that it is ready by the first checkpoint.
    this.worker ??= this.spawn();
    this.timer = setTimeout(() => this.run(), DELAY_MS);
    this.timer.unref();
  }

  /** While a fenced checkpoint runs: commits wait for this promise. */
  get holding(): Promise<void> | undefined {
    return this.fence;
  }

  private run(): void {
    this.timer = undefined;
    if (!this.pending || this.stopped) return;
    this.pending = false;
    const worker = (this.worker ??= this.spawn());
    const running = new Promise<CheckpointReply>((resolve) => {
      const onExit = () => resolve({ ok: false, message: "the checkpointer thread stopped" });
      worker.once("exit", onExit);
      worker.once("message", (reply: CheckpointReply) => {
        worker.off("exit", onExit);
        resolve(reply);
      });
      worker.postMessage("checkpoint");
    }).then((reply) => {
      this.running = undefined;
      if (!reply.ok) return this.fail(reply.message ?? "checkpoint failed");
      this.lastLog = reply.log ?? 0;
      if (!this.pending) return;
      // A long log gets its fenced checkpoint at once; otherwise commits gather again first.
      if (this.lastLog >= FENCE_FRAMES) this.run();
      else this.written();
    });
    this.running = running;
    if (this.lastLog >= FENCE_FRAMES) {
      // Commits wait for the checkpoint, but never for long: past FENCE_MAX_MS they go on
      // (the log grows instead, and the next fence tries again).
      const fence: Promise<void> = new Promise<void>((resolve) => {
        const lift = () => {
          clearTimeout(timer);
          // A later checkpoint may have put up a fence of its own by now.
          if (this.fence === fence) this.fence = undefined;
          resolve();
        };
        const timer = setTimeout(lift, FENCE_MAX_MS);
        timer.unref();
        void running.finally(lift);
      });
      this.fence = fence;
    }
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER, { workerData: { file: this.file } });
    worker.unref();
    worker.on("error", (e) => this.fail(e.message));
    return worker;
  }

  private fail(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    void this.worker?.terminate();
    this.worker = undefined;
    this.onFailed(reason);
  }

  /** Waits for a checkpoint in progress, then ends the thread (the store checkpoints on close). */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    const exited = once(worker, "exit");
    // Kept alive until it has closed its connection.
    worker.ref();
    worker.postMessage("close");
    await exited;
  }
}
