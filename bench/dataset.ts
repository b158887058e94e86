/**
 * The benchmarks' datasets, shared by bench:import and bench:export: files of random bytes
 * whose sizes come from a seeded PRNG, so every run makes the same sizes.
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";

const KiB = 1024;
const MiB = 1024 * KiB;

export interface DataFile {
  /** The path under the dataset folder, `/`-separated: also the blob name. */
  name: string;
  size: number;
  /** Base64 MD5, as Content-MD5 carries it. */
  md5: string;
}

/** A seeded PRNG (mulberry32): the same sizes on every run. */
export function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function writeRandomFile(root: string, name: string, size: number): DataFile {
  const path = join(root, name);
  mkdirSync(dirname(path), { recursive: true });
  const hash = createHash("md5");
  const fd = openSync(path, "w");
  try {
    for (let done = 0; done < size;) {
      const chunk = randomBytes(Math.min(16 * MiB, size - done));
      hash.update(chunk);
      writeSync(fd, chunk);
      done += chunk.length;
    }
  } finally {
    closeSync(fd);
  }
  return { name, size, md5: hash.digest("base64") };
}

/** `count` files log-uniform between `min` and `max` bytes, 100 to a folder. */
export function smallFiles(
  root: string,
  count: number,
  min: number,
  max: number,
  seed: number,
): DataFile[] {
  const random = prng(seed);
  const files: DataFile[] = [];
  const [lo, hi] = [Math.log(min), Math.log(max)];
  for (let i = 0; i < count; i++) {
    const size = Math.round(Math.exp(lo + random() * (hi - lo)));
    const dir = `small/d${String(Math.floor(i / 100)).padStart(2, "0")}`;
    files.push(writeRandomFile(root, `${dir}/f${String(i).padStart(5, "0")}.bin`, size));
  }
  return files;
}

/** The `mixed` set: `small` files of `smallMin`–`smallMax` bytes, then the big ones. */
export function makeMixed(
  root: string,
  o: {
    small: number;
    smallMin: number;
    smallMax: number;
    large: number;
    largeBytes: number;
    hugeBytes: number;
  },
): DataFile[] {
  const files = smallFiles(root, o.small, o.smallMin, o.smallMax, 20261125);
  for (let i = 0; i < o.large; i++)
    files.push(writeRandomFile(root, `large/l${i}.bin`, o.largeBytes));
  if (o.hugeBytes > 0) files.push(writeRandomFile(root, "huge/huge.bin", o.hugeBytes));
  return files;
}
