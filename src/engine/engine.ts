/**
 * The engine's tick(now): fires every stored deadline that is due (Creating expiry,
 * shipping alert and close, retention purge) through the lifecycle table. Work is done in
 * bounded batches that yield to the event loop, so a large sweep never blocks the API.
 * Each batch is claimed in the store first (ADR 0013), so sweepers on several nodes share
 * the due jobs instead of deciding each one twice; the compare-and-set write is what makes
 * each deadline fire once, whatever happens to a claim.
 */
import type { FastifyBaseLogger } from "fastify";
import type { Clock } from "../domain/clock.ts";
import type { Timers } from "../domain/job/lifecycle.ts";
import { decide, EVENTS, purgeOf } from "../domain/job/lifecycle.ts";
import { randomInt, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { mkdir, stat } from "node:fs/promises";
import { generateBitLockerKey } from "../domain/export/bitlocker.ts";
import { autopilotExportDriveIds } from "../domain/export/drives.ts";
import { join } from "node:path";
import type { Decision, JobEvent } from "../domain/job/lifecycle.ts";
import type { Job, TimerEvent } from "../domain/job/model.ts";
import type { JobStore } from "../store/ports.ts";
import { commit, type EffectSink } from "../service/apply.ts";

export interface EngineDeps {
  store: JobStore;
  clock: Clock;
  timers: Timers;
  logger?: Pick<FastifyBaseLogger, "info" | "error" | "warn">;
  /** Due jobs decided and written together (default 3, or 64 before start(); see sweep()). */
  batchSize?: number;
  /**
   * After each batch the sweep pauses for this many times as long as the batch took
   * (default 1: it takes at most about half of the event loop while requests wait).
   */
  sweepPause?: number;
  /** A transfer runner copies attached drives, so the autopilot starts transfers. */
  transfers?: boolean;
  /** Where the effects of a fired deadline go (drives to copy), like every use case's. */
  effects?: EffectSink;
  /** The autopilot's dock: a drive "arrives" when `<dockDir>/<driveId>/` exists. */
  dockDir?: string;
  /** How long a claimed batch stays this sweeper's if it dies meanwhile (default 60 s). */
  claimLeaseMs?: number;
  /** Runs before each sweep (the service clock catches up with other nodes' advances). */
  beforeSweep?: () => Promise<void>;
  /** An export copier writes onto attached export drives, so the autopilot starts those too. */
  exportTransfers?: boolean;
  /** The capacity the autopilot gives the empty dock drives of an export job (default 1 TB). */
  exportDriveCapacityBytes?: number;
}

/** The capacity of the autopilot's export dock drives when none is configured: 1 TB. */
export const DEFAULT_EXPORT_DRIVE_CAPACITY = 1e12;

/** Drive ids become folder names only when they cannot climb out of the dock. */
const SAFE_NAME = /^[A-Za-z0-9_-]{1,128}$/;

export interface TickResult {
  changed: number;
  purged: number;
}

/** A timer turn (not just an immediate), so the requests waiting on sockets are served first. */
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Engine {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<TickResult> | undefined;
  /** Job versions already handled in the current sweep (a stale one is never retried in a loop). */
  private readonly seen = new Set<string>();
  /** This sweeper, as its claims name it. */
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  constructor(private readonly deps: EngineDeps) {}

  /** Runs one sweep; concurrent calls share the sweep in progress and then run again. */
  async tick(): Promise<TickResult> {
    while (this.running) await this.running.catch(() => undefined);
    this.running = this.sweep();
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private async sweep(): Promise<TickResult> {
    const { store } = this.deps;
    // A sweep shares the event loop with the API (bench:retention measures the cost): each
    // batch's query and its transaction run without a break, so the batch size bounds how
    // long a request can wait behind the sweep; the pause after each batch bounds how much
    // of the loop the sweep takes. Measured with 100,000 expired jobs: batches of 32 with a
    // 1 ms pause held readers' p99 at 5–27× its quiet value; batches of 3 with a pause as
    // long as the batch, about 2.2×, and the sweep took 42 s instead of 18 s.
    // Before start() (the start-up tick, before the server listens) no request can wait
    // behind the sweep: it runs in large batches, unpaced.
    await this.deps.beforeSweep?.();
    const paced = this.timer !== undefined;
    const batchSize = this.deps.batchSize ?? (paced ? 3 : 64);
    const pauseFactor = paced ? (this.deps.sweepPause ?? 1) : 0;
    const now = this.deps.clock.now();
    const result: TickResult = { changed: 0, purged: 0 };
    this.seen.clear();
    const lease = { owner: this.owner, ms: this.deps.claimLeaseMs ?? 60_000 };
    // Jobs left as they were keep their claims until the sweep ends, so the batches move on
    // past them; then they are given back, due again on the next sweep.
    const unchanged: Job[] = [];
    try {
      for (;;) {
        const claimed = await store.claimDue(now, batchSize, lease);
        const due = claimed.filter((j) => !this.seen.has(`${j.uid}:${j.version}`));
        unchanged.push(...claimed.filter((j) => !due.includes(j)));
        if (due.length === 0) break;
        const started = performance.now();
        unchanged.push(...(await this.fireAll(due, now, result)));
        if (pauseFactor > 0) await pause(Math.max(1, (performance.now() - started) * pauseFactor));
        else await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      if (unchanged.length > 0) {
        await store
          .releaseClaims(this.owner, unchanged)
          .catch((err: unknown) => this.deps.logger?.warn({ err }, "claims not given back"));
      }
    }
    return result;
  }

  /**
   * Decides every due job of a batch, then writes the whole batch at once (the SQLite
   * store's group commit makes it one transaction): the purges together through
   * purgeExpired (a lost one is redone, since its deadline stays stored until it commits),
   * the changes each with its own compare-and-set and their effects carried out. Returns
   * the jobs it left unchanged.
   */
  private async fireAll(due: Job[], now: Date, result: TickResult): Promise<Job[]> {
    const decided = await Promise.all(due.map((job) => this.decideDue(job, now)));
    const purges: { job: Job; reason: string }[] = [];
    const writes: Promise<void>[] = [];
    const unchanged: Job[] = [];
    decided.forEach((d, i) => {
      if (!d?.decision.changed) unchanged.push(due[i]!);
    });
    for (const d of decided) {
      if (!d?.decision.changed) continue;
      const purge = purgeOf(d.decision);
      if (purge) purges.push({ job: d.job, reason: purge.reason });
      else writes.push(this.change(d.job, d.decision, result));
    }
    if (purges.length > 0) writes.push(this.purge(purges, result));
    await Promise.all(writes);
    return unchanged;
  }

  private async decideDue(
    job: Job,
    now: Date,
  ): Promise<{ job: Job; decision: Decision } | undefined> {
    this.seen.add(`${job.uid}:${job.version}`);
    if (!job.dueEvent) return undefined;
    try {
      const decision = decide(job, await this.eventFor(job, job.dueEvent, now), {
        now,
        actor: EVENTS[job.dueEvent].actors[0]!,
        timers: this.deps.timers,
      });
      return { job, decision };
    } catch (err) {
      this.deps.logger?.error({ err, job: job.name, event: job.dueEvent }, "timer failed");
      return undefined;
    }
  }

  private async purge(purges: { job: Job; reason: string }[], result: TickResult): Promise<void> {
    try {
      const done = await this.deps.store.purgeExpired(
        purges.map(({ job }) => ({ uid: job.uid, version: job.version })),
      );
      purges.forEach(({ job, reason }, i) => {
        if (!done[i]) return;
        result.purged++;
        this.deps.logger?.info({ job: job.name, state: job.state, event: job.dueEvent }, reason);
      });
    } catch (err) {
      for (const { job } of purges) {
        this.deps.logger?.error({ err, job: job.name, event: job.dueEvent }, "timer failed");
      }
    }
  }

  private async change(job: Job, decision: Decision, result: TickResult): Promise<void> {
    try {
      if (await commit(this.deps, job, decision)) result.changed++;
    } catch (err) {
      this.deps.logger?.error({ err, job: job.name, event: job.dueEvent }, "timer failed");
    }
  }

  /** The event a due deadline fires; the autopilot's steps carry what it found on disk. */
  private async eventFor(job: Job, due: TimerEvent, now: Date): Promise<JobEvent> {
    switch (due) {
      case "autopilotArrive":
        if (job.jobType === "Export") return this.exportArrival(job);
        return { type: due, docked: await this.docked(job) };
      case "autopilotShipBack":
        return {
          type: due,
          returnPackage: {
            carrierName: job.returnShipping?.carrierName ?? "FedEx",
            trackingNumber: `DB${randomInt(1e9, 1e10 - 1)}${randomInt(100, 999)}`,
            shipDate: now.toISOString().slice(0, 10),
          },
        };
      case "autopilotAdvance":
        // Drives received by hand are still in the dock: the autopilot mounts them to copy them.
        return {
          type: due,
          transfer:
            job.jobType === "Export"
              ? this.deps.exportTransfers === true
              : this.deps.transfers === true,
          docked: await this.docked(job),
        };
      default:
        return { type: due };
    }
  }

  /**
   * An export job's package arrives with `deliveryPackage.driveCount` empty drives (at least
   * one, at most ten): each gets a dock folder `<dock>/<driveId>/`, a BitLocker key and the
   * configured capacity. The ids are derived from the job's uid, so a sweep that loses its
   * write and runs again finds the same folders.
   */
  private async exportArrival(job: Job): Promise<JobEvent> {
    const docked = await this.docked(job);
    if (!this.deps.dockDir || job.driveList.length > 0) {
      return { type: "autopilotArrive", docked };
    }
    const ids = autopilotExportDriveIds(job);
    const exportDrives = [];
    for (const driveId of ids) {
      const path = join(this.deps.dockDir, driveId);
      await mkdir(path, { recursive: true });
      docked[driveId] = path;
      exportDrives.push({
        driveId,
        bitLockerKey: generateBitLockerKey(),
        capacityBytes: this.deps.exportDriveCapacityBytes ?? DEFAULT_EXPORT_DRIVE_CAPACITY,
      });
    }
    return { type: "autopilotArrive", docked, exportDrives };
  }

  /** Drives whose folder exists in the dock (`<data-dir>/dock/<driveId>/`). */
  private async docked(job: Job): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    if (!this.deps.dockDir) return out;
    for (const d of job.driveList) {
      if (!SAFE_NAME.test(d.driveId)) continue;
      const path = join(this.deps.dockDir, d.driveId);
      const info = await stat(path).catch(() => undefined);
      if (info?.isDirectory()) out[d.driveId] = path;
    }
    return out;
  }

  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => {
      this.tick().catch((err) => this.deps.logger?.error({ err }, "tick failed"));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
