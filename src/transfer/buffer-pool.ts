/**
 * A fixed set of equal buffers that copies borrow and give back. The transfer runner reads
 * every range into one of them, so its memory is `count × size` however large the files
 * and however many blobs are copied at once, and no range costs an allocation (a fresh
 * 4 MiB buffer per range made garbage collection 6 % of the engine's time and its peak RSS
 * depend on when the collector ran).
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly waiting: ((buffer: Buffer) => void)[] = [];
  private made = 0;

  /** `make`: how a buffer is made (default: `Buffer.allocUnsafeSlow(size)`), called at most `count` times. */
  constructor(
    private readonly count: number,
    readonly size: number,
    private readonly make: () => Buffer = () => Buffer.allocUnsafeSlow(size),
  ) {}

  /** A buffer of `size` bytes (contents undefined); waits while all are lent out. */
  acquire(): Promise<Buffer> {
    const buffer = this.free.pop();
    if (buffer) return Promise.resolve(buffer);
    // Made on first need, so an idle engine holds none.
    if (this.made < this.count) {
      this.made++;
      return Promise.resolve(this.make());
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(buffer: Buffer): void {
    const next = this.waiting.shift();
    if (next) next(buffer);
    else this.free.push(buffer);
  }

  /** Runs `use` with a borrowed buffer and gives it back however `use` ends. */
  async with<T>(use: (buffer: Buffer) => Promise<T>): Promise<T> {
    const buffer = await this.acquire();
    try {
      return await use(buffer);
    } finally {
      this.release(buffer);
    }
  }
}

/** The alignment `alignedBuffers` gives (a page; O_DIRECT needs the disk's block size, 512 or 4096). */
export const DIRECT_ALIGN = 4096;

/**
 * A maker of `count` buffers of `size` bytes (a multiple of 64 KiB) whose memory starts on a
 * page boundary, as O_DIRECT writes need. Node has no aligned allocation and a Buffer's
 * address is not visible, but a WebAssembly.Memory is page-aligned: one of `count × size`
 * bytes, made on the first call (its pages take memory only once written), is cut into
 * the buffers. `shared`: the memory is a shared one (its buffer a SharedArrayBuffer), so a
 * worker thread can read the buffers in place (`SharedMd5`); its maximum is its size.
 */
export function alignedBuffers(
  count: number,
  size: number,
  { shared = false }: { shared?: boolean } = {},
): () => Buffer {
  const PAGE = 64 * 1024;
  if (size % PAGE !== 0) throw new Error(`aligned buffers are multiples of ${PAGE} bytes`);
  let memory: ArrayBuffer | SharedArrayBuffer | undefined;
  let made = 0;
  return () => {
    if (made >= count) throw new Error("no aligned buffer left");
    const pages = (count * size) / PAGE;
    if (!memory) {
      const wasm = new WebAssembly.Memory({ initial: pages, maximum: pages, shared });
      memory = wasm.buffer;
      if (memory instanceof SharedArrayBuffer) MEMORIES.set(memory, wasm);
    }
    return Buffer.from(memory, size * made++, size);
  };
}

const MEMORIES = new WeakMap<SharedArrayBuffer, WebAssembly.Memory>();

/** The shared WebAssembly.Memory whose buffer is `buffer` (made by `alignedBuffers`). */
export function wasmMemoryOf(buffer: SharedArrayBuffer): WebAssembly.Memory | undefined {
  return MEMORIES.get(buffer);
}
