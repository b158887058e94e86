/**
 * MD5s of buffers cut from one SharedArrayBuffer (`alignedBuffers(…, { shared: true })`),
 * computed on a worker thread that reads the bytes in place: no copy, and the event loop
 * spends no CPU on them (MD5 was a third of the export copier's event-loop thread).
 *
 * A `SharedMd5Stream` is one file: `range` hashes a buffer's spans (the manifest's per-range
 * MD5s) and, if the stream has a whole-file hash, feeds the same bytes (after `zerosBefore`
 * zero bytes) into it; `digest` ends the stream. Messages reach the worker in the order
 * they were sent, so the whole-file hash sees the ranges in order. The caller must not
 * reuse a buffer before the promise `range` returned has settled: the worker reads it
 * until then.
 *
 * If the worker cannot be started, or a buffer is not a slice of the shared memory, the
 * same work is done on the calling thread (same results, more event-loop CPU). A worker
 * that stops (it crashed, or exited) takes the hash states of its open streams with it:
 * their pending and later calls reject with `Md5WorkerGone`, and the caller hashes that
 * file again on a new stream, which, like every stream opened from then on, is inline.
 */
import { createHash, type Hash } from "node:crypto";
import { Worker } from "node:worker_threads";
import { wasmMemoryOf } from "./buffer-pool.ts";
import { Md5WorkerGone, md5WorkerTestPrelude } from "./md5.ts";
import { md5WasmModule } from "./md5-wasm.ts";

// Plain CommonJS, evaluated by the worker: no loader (tsx) is needed on that thread.
// With a whole-file hash, a range's bytes go through the two-state kernel of md5-wasm.ts
// (the range's MD5 and the file's in one pass); partial blocks and padding go through a
// second instance of the kernel over a small private memory, on the same state globals.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const memory = Buffer.from(workerData.memory.buffer);
// The kernel, or undefined where WebAssembly is not available (node --jitless): then
// node:crypto makes both passes.
let big, small, globals, scratch;
try {
  if (workerData.noKernel) throw new Error("no kernel");
  const module_ = new WebAssembly.Module(workerData.wasm);
  globals = Array.from({ length: 8 }, () => new WebAssembly.Global({ value: "i32", mutable: true }, 0));
  const env = { mem: workerData.memory };
  globals.forEach((g, i) => (env["g" + i] = g));
  big = new WebAssembly.Instance(module_, { env }).exports;
  // Private: [0, 128) padding and partial blocks, [65536, 131072) zeros.
  const privateMemory = new WebAssembly.Memory({ initial: 2, maximum: 2, shared: true });
  scratch = Buffer.from(privateMemory.buffer);
  small = new WebAssembly.Instance(module_, { env: { ...env, mem: privateMemory } }).exports;
} catch {
  big = undefined;
}
const ZEROS_AT = 65536;
const INIT = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];

function state() {
  return { words: Int32Array.from(INIT), tail: Buffer.alloc(64), tailLength: 0, total: 0 };
}
function load(slot, s) {
  for (let k = 0; k < 4; k++) globals[slot * 4 + k].value = s.words[k];
}
function save(slot, s) {
  for (let k = 0; k < 4; k++) s.words[k] = globals[slot * 4 + k].value;
}
// Feeds bytes [at, at + length) of \`bytes\` (memory of \`kernel\`) into one state.
function update(s, bytes, kernel, at, length) {
  s.total += length;
  if (s.tailLength > 0) {
    const k = Math.min(64 - s.tailLength, length);
    bytes.copy(s.tail, s.tailLength, at, at + k);
    s.tailLength += k;
    at += k;
    length -= k;
    if (s.tailLength < 64) return;
    s.tail.copy(scratch, 0);
    load(0, s);
    small.x1(0, 1);
    save(0, s);
    s.tailLength = 0;
  }
  const n = Math.floor(length / 64);
  if (n > 0) {
    load(0, s);
    kernel.x1(at, n);
    save(0, s);
  }
  bytes.copy(s.tail, 0, at + n * 64, at + length);
  s.tailLength = length - n * 64;
}
// Feeds bytes [at, at + length) of the shared memory into two states in one pass.
function update2(a, b, at, length) {
  if (a.tailLength > 0 || b.tailLength > 0) {
    update(a, memory, big, at, length);
    update(b, memory, big, at, length);
    return;
  }
  const n = Math.floor(length / 64);
  load(0, a);
  load(1, b);
  big.x2(at, n);
  save(0, a);
  save(1, b);
  a.total += n * 64;
  b.total += n * 64;
  update(a, memory, big, at + n * 64, length - n * 64);
  update(b, memory, big, at + n * 64, length - n * 64);
}
const ZEROS = Buffer.alloc(65536);
function zeros(s, n) {
  while (n > 0) {
    const k = Math.min(n, 65536);
    if (big) update(s, scratch, small, ZEROS_AT, k);
    else s.update(ZEROS.subarray(0, k));
    n -= k;
  }
}
function digest(s) {
  const bits = s.total * 8;
  scratch.fill(0, 0, 128);
  s.tail.copy(scratch, 0, 0, s.tailLength);
  scratch[s.tailLength] = 0x80;
  const blocks = s.tailLength < 56 ? 1 : 2;
  scratch.writeUInt32LE(bits % 0x100000000, blocks * 64 - 8);
  scratch.writeUInt32LE(Math.floor(bits / 0x100000000), blocks * 64 - 4);
  load(0, s);
  small.x1(0, blocks);
  save(0, s);
  return Buffer.from(s.words.buffer, 0, 16).toString("hex").toUpperCase();
}
function md5(at, length) {
  return createHash("md5").update(memory.subarray(at, at + length)).digest("hex").toUpperCase();
}

const streams = new Map();
parentPort.on("message", (m) => {
  try {
    if (m.type === "open") {
      streams.set(m.stream, m.whole ? (big ? state() : createHash("md5")) : undefined);
    } else if (m.type === "range") {
      const whole = streams.get(m.stream);
      let hashes;
      if (!whole || !big) {
        hashes = m.spans.map(([offset, length]) => md5(m.at + offset, length));
        if (whole) {
          zeros(whole, m.zerosBefore);
          whole.update(memory.subarray(m.at, m.at + m.length));
        }
      } else {
        zeros(whole, m.zerosBefore);
        hashes = [];
        let fed = 0; // bytes of this range the whole-file hash has had
        for (const [offset, length] of m.spans) {
          if (offset < fed) {
            hashes.push(md5(m.at + offset, length));
            continue;
          }
          if (offset > fed) update(whole, memory, big, m.at + fed, offset - fed);
          const range = state();
          update2(range, whole, m.at + offset, length);
          hashes.push(digest(range));
          fed = offset + length;
        }
        if (fed < m.length) update(whole, memory, big, m.at + fed, m.length - fed);
      }
      parentPort.postMessage({ id: m.id, hashes });
    } else if (m.type === "digest") {
      const whole = streams.get(m.stream);
      streams.delete(m.stream);
      let hex;
      if (whole) {
        zeros(whole, m.zerosBefore);
        hex = big ? digest(whole) : whole.digest("hex").toUpperCase();
      }
      parentPort.postMessage({ id: m.id, hex });
    } else if (m.type === "close") {
      streams.delete(m.stream);
    }
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e && e.message || e) });
  }
});
`;

type Reply = { id: number; hashes?: string[]; hex?: string; error?: string };

type Pending = { resolve: (r: Reply) => void; reject: (e: Error) => void };

/** A span of a buffer: its offset in the buffer and its length. */
export type Span = { offset: number; length: number };

export class SharedMd5 {
  /** `kernel: false`: node:crypto makes both passes, as where WebAssembly is unavailable. */
  constructor(private readonly options: { kernel?: boolean } = {}) {}

  private worker: Worker | undefined;
  private failure: Error | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private nextStream = 0;

  /** The SharedArrayBuffer the buffers are cut from: the first shared one seen. */
  private memory: SharedArrayBuffer | undefined;

  /** Whether `buf` can be hashed by the worker (a slice of the shared memory, worker alive). */
  private usable(buf: Buffer): boolean {
    if (this.failure || !(buf.buffer instanceof SharedArrayBuffer)) return false;
    this.memory ??= buf.buffer;
    if (buf.buffer !== this.memory) return false;
    if (this.worker) return true;
    const memory = wasmMemoryOf(this.memory);
    if (!memory) return false;
    try {
      const worker = new Worker(md5WorkerTestPrelude("range") + WORKER_SOURCE, {
        eval: true,
        workerData: { memory, wasm: md5WasmModule(), noKernel: this.options.kernel === false },
      });
      worker.unref();
      worker.on("message", (r: Reply) => {
        const p = this.pending.get(r.id);
        if (!p) return;
        this.pending.delete(r.id);
        if (this.pending.size === 0) worker.unref();
        if (r.error !== undefined) p.reject(new Error(`MD5 worker: ${r.error}`));
        else p.resolve(r);
      });
      const fail = (e: Error) => {
        this.failure ??= new Md5WorkerGone(e);
        this.worker = undefined;
        for (const p of this.pending.values()) p.reject(this.failure);
        this.pending.clear();
      };
      worker.on("error", fail);
      worker.on("exit", (code) => fail(new Error(`the MD5 worker exited (code ${code})`)));
      this.worker = worker;
      return true;
    } catch (e) {
      this.failure = e as Error;
      return false;
    }
  }

  private send(message: Record<string, unknown>): Promise<Reply> {
    const worker = this.worker;
    if (!worker) return Promise.reject(this.failure ?? new Error("the MD5 worker is gone"));
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...message, id });
    });
  }

  /**
   * A stream for one file. `whole`: also compute the whole file's MD5. `sample`: a buffer
   * of the kind that will be hashed (decides worker or inline for the whole stream).
   */
  open(whole: boolean, sample: Buffer): SharedMd5Stream {
    if (this.usable(sample)) return new WorkerStream(this, this.nextStream++, whole);
    return new InlineStream(whole);
  }

  /** @internal */
  post(message: Record<string, unknown>): Promise<Reply> {
    return this.send(message);
  }

  /** @internal */
  postOneWay(message: Record<string, unknown>): void {
    this.worker?.postMessage({ ...message, id: -1 });
  }

  /** Whether hashing goes to the worker (for tests). */
  get onWorker(): boolean {
    return this.worker !== undefined && this.failure === undefined;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failure ??= new Error("closed");
    if (w) {
      w.removeAllListeners("exit");
      await w.terminate();
    }
  }
}

export interface SharedMd5Stream {
  /**
   * The MD5s (upper-case hex) of `spans` of `buf`, and `buf.subarray(0, length)` fed to the
   * whole-file hash after `zerosBefore` zero bytes. `buf` must stay untouched until this settles.
   */
  range(buf: Buffer, length: number, spans: Span[], zerosBefore: number): Promise<string[]>;
  /** The whole file's MD5 after `zerosBefore` more zero bytes (undefined without `whole`). */
  digest(zerosBefore: number): Promise<string | undefined>;
  /** Drops the stream (after a failure). */
  close(): void;
}

class WorkerStream implements SharedMd5Stream {
  private opened = false;
  constructor(
    private readonly owner: SharedMd5,
    private readonly id: number,
    private readonly whole: boolean,
  ) {}

  private open(): void {
    if (this.opened) return;
    this.opened = true;
    this.owner.postOneWay({ type: "open", stream: this.id, whole: this.whole });
  }

  async range(buf: Buffer, length: number, spans: Span[], zerosBefore: number): Promise<string[]> {
    this.open();
    const r = await this.owner.post({
      type: "range",
      stream: this.id,
      at: buf.byteOffset,
      length,
      spans: spans.map((s) => [s.offset, s.length]),
      zerosBefore,
    });
    return r.hashes!;
  }

  async digest(zerosBefore: number): Promise<string | undefined> {
    this.open();
    const r = await this.owner.post({ type: "digest", stream: this.id, zerosBefore });
    return r.hex;
  }

  close(): void {
    if (this.opened) this.owner.postOneWay({ type: "close", stream: this.id });
  }
}

const ZEROS = Buffer.alloc(1024 * 1024);

class InlineStream implements SharedMd5Stream {
  private readonly hash: Hash | undefined;
  constructor(whole: boolean) {
    this.hash = whole ? createHash("md5") : undefined;
  }

  private zeros(n: number): void {
    while (this.hash && n > 0) {
      const k = Math.min(n, ZEROS.length);
      this.hash.update(ZEROS.subarray(0, k));
      n -= k;
    }
  }

  async range(buf: Buffer, length: number, spans: Span[], zerosBefore: number): Promise<string[]> {
    const hashes = spans.map((s) =>
      createHash("md5")
        .update(buf.subarray(s.offset, s.offset + s.length))
        .digest("hex")
        .toUpperCase(),
    );
    if (this.hash) {
      this.zeros(zerosBefore);
      this.hash.update(buf.subarray(0, length));
    }
    return hashes;
  }

  async digest(zerosBefore: number): Promise<string | undefined> {
    if (!this.hash) return undefined;
    this.zeros(zerosBefore);
    return this.hash.digest("hex").toUpperCase();
  }

  close(): void {}
}
