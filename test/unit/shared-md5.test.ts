/**
 * The MD5 worker over shared read buffers (ADR 0016, addendum): the same per-span and
 * whole-file MD5s as hashing on the calling thread, zeros between ranges included, on the
 * worker when the buffers are slices of a shared memory and inline otherwise.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { alignedBuffers } from "../../src/transfer/buffer-pool.ts";
import { Md5WorkerGone, md5WorkerExitsForTests } from "../../src/transfer/md5.ts";
import { SharedMd5 } from "../../src/transfer/shared-md5.ts";

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex").toUpperCase();
const SIZE = 256 * 1024;

const md5s = new SharedMd5();
after(() => md5s.close());

/** Two ranges with a gap of zeros before each and after the last, in two buffers. */
async function hashThrough(make: () => Buffer) {
  const a = make();
  const b = make();
  const one = randomBytes(SIZE);
  const two = randomBytes(SIZE - 1000);
  one.copy(a);
  two.copy(b);
  const stream = md5s.open(true, a);
  const [h1, h2] = await Promise.all([
    stream.range(
      a,
      one.length,
      [
        { offset: 0, length: 1000 },
        { offset: 1000, length: SIZE - 1000 },
      ],
      4096,
    ),
    stream.range(b, two.length, [{ offset: 0, length: two.length }], 512),
  ]);
  const whole = await stream.digest(77);
  const file = Buffer.concat([Buffer.alloc(4096), one, Buffer.alloc(512), two, Buffer.alloc(77)]);
  assert.deepEqual(h1, [md5(one.subarray(0, 1000)), md5(one.subarray(1000))]);
  assert.deepEqual(h2, [md5(two)]);
  assert.equal(whole, md5(file));
}

test("buffers of a shared memory are hashed on the worker, with the calling thread's results", async () => {
  const make = alignedBuffers(2, SIZE, { shared: true });
  await hashThrough(make);
  assert.equal(md5s.onWorker, true, "the worker hashed them");
});

test("buffers of an unshared memory are hashed inline, with the same results", async () => {
  await hashThrough(alignedBuffers(2, SIZE));
});

test("a stream without a whole-file hash gives per-span MD5s and no digest", async () => {
  const buf = alignedBuffers(1, SIZE, { shared: true })();
  const bytes = randomBytes(SIZE);
  bytes.copy(buf);
  const stream = md5s.open(false, buf);
  assert.deepEqual(await stream.range(buf, SIZE, [{ offset: 10, length: 20 }], 0), [
    md5(bytes.subarray(10, 30)),
  ]);
  assert.equal(await stream.digest(0), undefined);
});

for (const kernel of [true, false])
  test(`${kernel ? "one pass for both hashes (the kernel)" : "two node:crypto passes (no kernel)"}: random files cut into ranges and spans give node:crypto's MD5s`, async () => {
    // Lengths around the 64-byte block and the 4 MiB range, gaps of zeros, spans that tile
    // a range and spans that leave holes: the two-state kernel, its fallbacks for partial
    // blocks, and the padding all checked against node:crypto on the same bytes.
    const BUF = 1024 * 1024;
    const make = alignedBuffers(3, BUF, { shared: true });
    const bufs = [make(), make(), make()];
    const own = new SharedMd5({ kernel });
    try {
      const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;
      for (let round = 0; round < 40; round++) {
        const stream = own.open(true, bufs[0]!);
        const file: Buffer[] = [];
        const pending: Promise<void>[] = [];
        for (let r = 0; r < 3; r++) {
          const buf = bufs[r]!;
          const length = pick([0, 1, 63, 64, 65, 4096, 65536 + 17, BUF - 64, BUF]);
          const bytes = randomBytes(length);
          bytes.copy(buf);
          const gap = pick([0, 0, 0, 1, 64, 100]);
          file.push(Buffer.alloc(gap), bytes);
          // Spans: the whole range, two halves, or one span with holes around it.
          const cut = Math.floor(length / 2) & ~(pick([1, 64]) - 1);
          const spans = pick([
            [{ offset: 0, length }],
            [
              { offset: 0, length: cut },
              { offset: cut, length: length - cut },
            ],
            length > 8 ? [{ offset: 3, length: length - 8 }] : [{ offset: 0, length }],
          ]);
          const want = spans.map((s) => md5(bytes.subarray(s.offset, s.offset + s.length)));
          pending.push(
            stream.range(buf, length, spans, gap).then((got) => assert.deepEqual(got, want)),
          );
        }
        const tail = pick([0, 5, 64]);
        file.push(Buffer.alloc(tail));
        await Promise.all(pending);
        assert.equal(await stream.digest(tail), md5(Buffer.concat(file)), `round ${round}`);
        assert.equal(own.onWorker, true);
      }
    } finally {
      await own.close();
    }
  });

/**
 * A worker that really dies (the test hook makes it call process.exit) with ranges pending:
 * they reject with Md5WorkerGone, never with a wrong MD5, and every stream opened after it
 * is hashed inline with node:crypto's results.
 */
async function dies(nthRange: number) {
  const make = alignedBuffers(3, SIZE, { shared: true });
  const bufs = [make(), make(), make()];
  const bytes = bufs.map((b) => {
    const r = randomBytes(SIZE);
    r.copy(b);
    return r;
  });
  md5WorkerExitsForTests(nthRange);
  const own = new SharedMd5();
  try {
    const stream = own.open(true, bufs[0]!);
    md5WorkerExitsForTests(undefined);
    assert.equal(own.onWorker, true, "a worker was started");
    const results = await Promise.allSettled(
      bufs.map((b) => stream.range(b, SIZE, [{ offset: 0, length: SIZE }], 0)),
    );
    // Those answered before the worker died are right; the others are rejected.
    results.forEach((r, i) => {
      if (r.status === "fulfilled") assert.deepEqual(r.value, [md5(bytes[i]!)]);
      else assert.ok(r.reason instanceof Md5WorkerGone, String(r.reason));
    });
    const lost = results.filter((r) => r.status === "rejected").length;
    // At least the ranges from the one it died on (a reply posted just before may be lost too).
    assert.ok(lost >= 3 - Math.max(0, nthRange - 1), `${lost} ranges lost`);
    await assert.rejects(stream.digest(0), Md5WorkerGone, "the whole-file hash is gone");
    assert.equal(own.onWorker, false);
    // The file hashed again: inline now, right.
    const again = own.open(true, bufs[0]!);
    const hashes = [];
    for (const b of bufs)
      hashes.push(...(await again.range(b, SIZE, [{ offset: 0, length: SIZE }], 0)));
    assert.deepEqual(hashes, bytes.map(md5));
    assert.equal(await again.digest(0), md5(Buffer.concat(bytes)));
    assert.equal(own.onWorker, false, "inline from then on");
  } finally {
    md5WorkerExitsForTests(undefined);
    await own.close();
  }
}

test("the MD5 worker dies with ranges pending: they reject Md5WorkerGone, later streams are inline and right", () =>
  dies(2));

test("the MD5 worker dies as it starts: the first ranges reject Md5WorkerGone, the file hashed again inline", () =>
  dies(0));
