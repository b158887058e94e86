/**
 * An MD5 computed on a worker thread, so that a file's whole-file MD5 and its per-block
 * MD5s (main thread) are computed side by side while the file is read once. MD5 is what
 * limits drive preparation; two of them in one thread halve its speed.
 *
 * Flow control keeps memory flat: `update` resolves at once while less than
 * `MAX_IN_FLIGHT` bytes wait for the worker, and waits for it otherwise.
 *
 * A worker that stops (it crashed, or exited) takes the hash under way with it: `update`
 * and `digest` reject with `Md5WorkerGone`, and the caller hashes that file again (inline).
 */
import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";

const MAX_IN_FLIGHT = 16 * 1024 * 1024;

// Plain CommonJS, evaluated by the worker: no loader (tsx) is needed on that thread.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
let hash = createHash("md5");
parentPort.on("message", (m) => {
  if (m.type === "begin") hash = createHash("md5");
  else if (m.type === "data") {
    hash.update(m.bytes);
    parentPort.postMessage({ type: "ack", n: m.bytes.length });
  } else if (m.type === "end") {
    parentPort.postMessage({ type: "digest", hex: hash.digest("hex").toUpperCase() });
    hash = createHash("md5");
  }
});
`;

type FromWorker = { type: "ack"; n: number } | { type: "digest"; hex: string };

/**
 * An MD5 worker stopped: the hashes it held are lost. The bytes are to be hashed again
 * (on the calling thread, since a worker that died once may die again).
 */
export class Md5WorkerGone extends Error {
  constructor(cause: Error) {
    super(`the MD5 worker stopped (${cause.message})`, { cause });
  }
}

/**
 * For tests only: MD5 workers (this module's and `SharedMd5`'s) started from now on stop
 * (`process.exit`) on receiving their `nth` message of data to hash, before hashing it, or
 * as they start with 0; undefined (the default) for none. A real worker then dies mid-file.
 */
export function md5WorkerExitsForTests(nth: number | undefined): void {
  exitOn = nth;
}
let exitOn: number | undefined;

/**
 * Source to run before a worker's own (empty unless `md5WorkerExitsForTests` is set):
 * exits the worker on its nth message of type `dataType`.
 */
export function md5WorkerTestPrelude(dataType: string): string {
  if (exitOn === undefined) return "";
  return `(() => {
  if (${exitOn} === 0) process.exit(70);
  let seen = 0;
  require("node:worker_threads").parentPort.on("message", (m) => {
    if (m.type === ${JSON.stringify(dataType)} && ++seen === ${exitOn}) process.exit(70);
  });
})();
`;
}

/** Upper-case hex MD5 of one stream of bytes at a time, hashed off the main thread. */
export class WorkerMd5 {
  private readonly worker: Worker;
  private inFlight = 0;
  private waiting: (() => void)[] = [];
  private digests: { resolve: (hex: string) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;

  constructor() {
    this.worker = new Worker(md5WorkerTestPrelude("data") + WORKER_SOURCE, { eval: true });
    this.worker.on("message", (m: FromWorker) => {
      if (m.type === "ack") {
        this.inFlight -= m.n;
        if (this.inFlight <= MAX_IN_FLIGHT) this.wake();
      } else this.digests.shift()?.resolve(m.hex);
    });
    // An exit (process.exit, a crash) with no error event too: without it, bytes posted to
    // the dead worker were never acknowledged, and `update` or `digest` waited for good.
    const fail = (e: Error) => {
      this.failure ??= new Md5WorkerGone(e);
      this.wake();
      for (const d of this.digests.splice(0)) d.reject(this.failure);
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`the MD5 worker exited (code ${code})`)));
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = [];
    for (const resolve of w) resolve();
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  /** Starts a new stream (whatever was sent before without `digest` is dropped). */
  begin(): void {
    this.check();
    this.worker.postMessage({ type: "begin" });
  }

  /** Sends bytes (copied: the caller may reuse `chunk`); waits while the worker is behind. */
  async update(chunk: Buffer): Promise<void> {
    this.check();
    const bytes = new Uint8Array(chunk);
    this.inFlight += bytes.length;
    this.worker.postMessage({ type: "data", bytes }, [bytes.buffer]);
    while (this.inFlight > MAX_IN_FLIGHT && !this.failure) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.check();
  }

  async digest(): Promise<string> {
    this.check();
    const hex = new Promise<string>((resolve, reject) => this.digests.push({ resolve, reject }));
    this.worker.postMessage({ type: "end" });
    return hex;
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }
}

/** The same interface on the calling thread, for small files where a worker does not pay. */
export class InlineMd5 {
  private hash = createHash("md5");
  begin(): void {
    this.hash = createHash("md5");
  }
  async update(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
  }
  async digest(): Promise<string> {
    return this.hash.digest("hex").toUpperCase();
  }
}

/** Upper-case hex, the form manifests and the job's `manifestHash` use. */
export function hexUpper(digest: Buffer): string {
  return digest.toString("hex").toUpperCase();
}

/** Upper-case hex MD5 of `bytes`. */
export function md5Hex(bytes: Buffer | string): string {
  return hexUpper(createHash("md5").update(bytes).digest());
}

/** MD5 of no bytes (an empty file's, an empty blob's). */
export const EMPTY_MD5: Buffer = createHash("md5").digest();
