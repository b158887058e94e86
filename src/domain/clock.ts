/** All time in drivebay comes from a Clock, so tests (and the emulator's clock control) can move it. */
export interface Clock {
  now(): Date;
}

export class SystemClock implements Clock {
  now(): Date {
    return new Date();
  }
}

/**
 * A clock whose reading is the system time plus an offset that only grows. The emulator
 * profile uses it for clock control; tests use it with `frozenAt` to stand still.
 */
export class OffsetClock implements Clock {
  private offsetMs = 0;
  private readonly frozenAt: number | undefined;

  constructor(options: { offsetMs?: number; frozenAt?: Date } = {}) {
    this.offsetMs = options.offsetMs ?? 0;
    this.frozenAt = options.frozenAt?.getTime();
  }

  now(): Date {
    const base = this.frozenAt ?? new Date().getTime();
    return new Date(base + this.offsetMs);
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError("a clock only moves forward");
    this.offsetMs += ms;
  }

  /** Moves the offset up to `offsetMs` (another node's advance); a lower one changes nothing. */
  catchUp(offsetMs: number): void {
    if (Number.isFinite(offsetMs) && offsetMs > this.offsetMs) this.offsetMs = offsetMs;
  }

  get offset(): number {
    return this.offsetMs;
  }
}

export const DAY_MS = 24 * 60 * 60 * 1000;
