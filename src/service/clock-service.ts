/**
 * Clock control (SPEC §3, emulator profile only): move the service clock forward so the
 * 14/30/90-day rules can be tried in seconds. The offset is stored, so a restart keeps
 * the service's time where it was, and every node sharing the store follows it (they are
 * woken, and also read it before each sweep); a tick runs right after every advance on a
 * node that runs the timers. On an API node the workers' sweeps fire what fell due.
 */
import { OffsetClock } from "../domain/clock.ts";
import { DomainError } from "../domain/errors.ts";
import type { JobStore } from "../store/ports.ts";

export const CLOCK_OFFSET_SETTING = "clock-offset-ms";

export interface ClockReading {
  now: string;
  offsetMs: number;
  controllable: boolean;
}

export class ClockService {
  constructor(
    private readonly deps: {
      clock: OffsetClock;
      store: JobStore;
      enabled: boolean;
      /** Runs the engine's sweep; returns what it did (absent where the timers run elsewhere). */
      tick?: () => Promise<{ changed: number; purged: number }>;
    },
  ) {}

  read(): ClockReading {
    return {
      now: this.deps.clock.now().toISOString(),
      offsetMs: this.deps.clock.offset,
      controllable: this.deps.enabled,
    };
  }

  async advance(
    ms: number,
  ): Promise<ClockReading & { tick?: { changed: number; purged: number } }> {
    if (!this.deps.enabled) {
      throw new DomainError(
        "ClockControlDisabled",
        "Clock control is available only in the emulator profile; this service runs on real time.",
      );
    }
    if (!Number.isFinite(ms) || ms <= 0 || ms > 100 * 365 * 86_400_000) {
      throw new DomainError(
        "InvalidRequestContent",
        "The clock can be advanced by a positive duration of at most 100 years.",
        {
          target: "by",
        },
      );
    }
    // Atomically in the store: advances made on two nodes at once both count.
    const { clock, store } = this.deps;
    const offset = await store.raiseSetting(CLOCK_OFFSET_SETTING, ms, clock.offset + ms);
    clock.catchUp(offset);
    // The other nodes also read the offset before each sweep: a lost wake-up only delays them.
    await store.wakeups.publish("clock", String(offset)).catch(() => undefined);
    if (!this.deps.tick) return this.read();
    const tick = await this.deps.tick();
    return { ...this.read(), tick };
  }
}
