/**
 * Two MD5s over the same bytes in one pass: a WebAssembly kernel, generated here, whose
 * `x2(ptr, n)` runs MD5's compression function over `n` 64-byte blocks at `ptr` for two
 * hash states at once (the manifest's per-range MD5 and the whole file's). MD5 is one long
 * chain of dependent operations, so a core runs a second, independent chain interleaved
 * with the first at little extra cost: both hashes for about the CPU of one OpenSSL pass
 * (ADR 0019). `x1(ptr, n)` is the same for one state.
 *
 * The module imports its memory (`env.mem`: a shared memory, the read buffers') and its
 * eight state words as mutable globals (`env.g0`…`env.g7`: a, b, c, d of state 0, then
 * of state 1), so two instances — one over the shared buffers, one over a small private
 * memory for padding and partial blocks — can work on the same states.
 */

/** Shift amounts per step, by round (4 per round, repeated). */
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

/** The 64 additive constants: floor(|sin(i + 1)| × 2^32). */
const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);

/** The message word step `i` adds. */
function wordOf(i: number): number {
  if (i < 16) return i;
  if (i < 32) return (5 * i + 1) % 16;
  if (i < 48) return (3 * i + 5) % 16;
  return (7 * i) % 16;
}

const shiftOf = (i: number): number => SHIFTS[(i >> 4) * 4 + (i % 4)]!;

// --- the WebAssembly module ---------------------------------------------------------------

const op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  globalGet: 0x23,
  globalSet: 0x24,
  i32Load: 0x28,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Rotl: 0x77,
} as const;
const I32 = 0x7f;
const EMPTY_BLOCK = 0x40;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, "latin1")];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/**
 * The body of a kernel over `streams` states (1 or 2). Locals: 0 ptr, 1 n, then per
 * stream a, b, c, d. The globals hold each state as it was before the current block (its
 * feed-forward); message words are read from memory where a step needs them. Few locals
 * keep every state in a register: with the message words and the saved states in locals
 * too, the compiled code spilled them and ran no faster than two passes.
 */
function kernel(streams: number): number[] {
  const code: number[] = [];
  const get = (i: number) => code.push(op.localGet, ...uleb(i));
  const set = (i: number) => code.push(op.localSet, ...uleb(i));
  const state = (s: number, k: number) => 2 + s * 4 + k;

  for (let s = 0; s < streams; s++)
    for (let k = 0; k < 4; k++) {
      code.push(op.globalGet, ...uleb(s * 4 + k));
      set(state(s, k));
    }
  code.push(op.block, EMPTY_BLOCK, op.loop, EMPTY_BLOCK);
  get(1);
  code.push(op.i32Eqz, op.brIf, 1);
  // roles[s] = the locals now playing a, b, c, d for stream s.
  const roles = Array.from({ length: streams }, (_, s) => [0, 1, 2, 3].map((k) => state(s, k)));
  for (let i = 0; i < 64; i++) {
    for (let s = 0; s < streams; s++) {
      const [a, b, c, d] = roles[s] as [number, number, number, number];
      // b + rotl(a + K + M + F(b, c, d), s), the sum in that order: a + K + M does not
      // wait for the previous step, so the chain from one step's result to the next is
      // F's two operations, an add, the rotation and an add.
      get(b);
      get(a);
      code.push(op.i32Const, ...sleb(K[i]!), op.i32Add);
      get(0);
      code.push(op.i32Load, 2, ...uleb(wordOf(i) * 4)); // align 2^2, offset 4 × word
      code.push(op.i32Add);
      if (i < 16) {
        [d, b, c, d].forEach(get);
        code.push(op.i32Xor, op.i32And, op.i32Xor);
      } else if (i < 32) {
        [c, d, b, c].forEach(get);
        code.push(op.i32Xor, op.i32And, op.i32Xor);
      } else if (i < 48) {
        [b, c].forEach(get);
        code.push(op.i32Xor);
        get(d);
        code.push(op.i32Xor);
      } else {
        [c, b, d].forEach(get);
        code.push(op.i32Const, ...sleb(-1), op.i32Xor, op.i32Or, op.i32Xor);
      }
      code.push(op.i32Add, op.i32Const, ...sleb(shiftOf(i)), op.i32Rotl, op.i32Add);
      set(a);
      roles[s] = [d, a, b, c];
    }
  }
  // After 64 steps the roles are back where they started: add the saved state, save anew.
  for (let s = 0; s < streams; s++)
    for (let k = 0; k < 4; k++) {
      get(state(s, k));
      code.push(op.globalGet, ...uleb(s * 4 + k), op.i32Add, op.localTee, ...uleb(state(s, k)));
      code.push(op.globalSet, ...uleb(s * 4 + k));
    }
  get(0);
  code.push(op.i32Const, ...sleb(64), op.i32Add);
  set(0);
  get(1);
  code.push(op.i32Const, ...sleb(1), op.i32Sub);
  set(1);
  code.push(op.br, 0, op.end, op.end, op.end);
  const locals = [...uleb(1), ...uleb(streams * 4), I32];
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

/** The module's bytes (`x2` and `x1`, importing `env.mem` and `env.g0`…`env.g7`). */
export function md5WasmModule(): Uint8Array {
  const type = section(1, vec([[0x60, ...vec([[I32], [I32]]), ...vec([])]]));
  const memoryImport = [...name("env"), ...name("mem"), 0x02, 0x03, ...uleb(0), ...uleb(65536)];
  const globalImports = Array.from({ length: 8 }, (_, g) => [
    ...name("env"),
    ...name(`g${g}`),
    0x03,
    I32,
    0x01,
  ]);
  const imports = section(2, vec([memoryImport, ...globalImports]));
  const functions = section(3, vec([[0], [0]]));
  const exports = section(
    7,
    vec([
      [...name("x2"), 0x00, 0],
      [...name("x1"), 0x00, 1],
    ]),
  );
  const code = section(10, vec([kernel(2), kernel(1)]));
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...type,
    ...imports,
    ...functions,
    ...exports,
    ...code,
  ]);
}
