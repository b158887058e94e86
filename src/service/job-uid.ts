/**
 * Job uids are time-ordered (UUID version 7, RFC 9562): a millisecond timestamp, then a
 * counter for uids made in the same millisecond, then random bits. The store keys a job's
 * history, drives and import progress by uid, so jobs created around the same time keep
 * their rows and index entries on the same pages: purging a day's expired jobs rewrites a
 * few pages instead of one page per job and index (bench:retention measures it).
 */
import { randomBytes } from "node:crypto";

let lastMs = 0;
let counter = 0;

export function newJobUid(at: Date): string {
  let ms = at.getTime();
  // Never behind the last uid, so uids made by this process sort in the order made.
  if (ms <= lastMs) {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      ms++;
      counter = 0;
    }
  } else {
    counter = 0;
  }
  lastMs = ms;
  const b = randomBytes(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (counter >> 8); // version 7, counter's high bits
  b[7] = counter & 0xff;
  b[8] = 0x80 | (b[8]! & 0x3f); // variant 10
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
