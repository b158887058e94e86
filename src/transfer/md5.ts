/**
 * An MD5 computed on a worker thread, so that a file's whole-file MD5 and its per-block
 * MD5s (main thread) are computed side by side while the file is read once. MD5 is what
 * limits drive preparation; two of them in one thread halve its speed.
 *
 * Flow control keeps memory flat: `update` resolves at once while less than
 * `MAX_IN_FLIGHT` bytes wait for the worker, and waits for it otherwise.
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

/** Upper-case hex MD5 of one stream of bytes at a time, hashed off the main thread. */
export class WorkerMd5 {
  private readonly worker: Worker;
  private inFlight = 0;
  private waiting: (() => void)[] = [];
  private digests: { resolve: (hex: string) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.on("message", (m: FromWorker) => {
      if (m.type === "ack") {
        this.inFlight -= m.n;
        if (this.inFlight <= MAX_IN_FLIGHT) this.wake();
      } else this.digests.shift()?.resolve(m.hex);
    });
    this.worker.on("error", (e) => {
      this.failure = e;
      this.wake();
      for (const d of this.digests.splice(0)) d.reject(e);
    });
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
