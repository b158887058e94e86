/**
 * BitLocker recovery passwords (reference/domain.md §4.4): 48 digits in 8 groups of 6,
 * each group a multiple of 11 below 720,896 (11 × 65,536), as BitLocker itself makes them.
 * Export drives get one when the datacenter records them; listBitLockerKeys returns it.
 */
import { randomInt } from "node:crypto";

export const BITLOCKER_KEY = /^\d{6}(?:-\d{6}){7}$/;

export function generateBitLockerKey(): string {
  return Array.from({ length: 8 }, () => String(randomInt(0, 65536) * 11).padStart(6, "0")).join(
    "-",
  );
}

/** Whether `key` is a recovery password BitLocker would accept (format and group checksums). */
export function isRecoveryPassword(key: string): boolean {
  if (!BITLOCKER_KEY.test(key)) return false;
  return key.split("-").every((g) => Number(g) % 11 === 0 && Number(g) < 720_896);
}
