/**
 * Wake-ups within one process (the SQLite store, which one process owns): publish calls
 * the subscribers in a later microtask. The PostgreSQL store extends this with
 * LISTEN/NOTIFY to reach the other processes (postgres/notifications.ts).
 */
import type { WakeTopic, Wakeups } from "./ports.ts";

export class LocalWakeups implements Wakeups {
  private readonly subscribers = new Map<WakeTopic, Set<(payload: string) => void>>();
  private readonly resyncs = new Set<() => void>();

  get listening(): boolean {
    return true;
  }

  async publish(topic: WakeTopic, payload: string): Promise<void> {
    this.deliver(topic, payload);
  }

  subscribe(topic: WakeTopic, fn: (payload: string) => void): () => void {
    let set = this.subscribers.get(topic);
    if (!set) this.subscribers.set(topic, (set = new Set()));
    const once = (payload: string) => fn(payload);
    set.add(once);
    return () => set.delete(once);
  }

  onResync(fn: () => void): () => void {
    const once = () => fn();
    this.resyncs.add(once);
    return () => this.resyncs.delete(once);
  }

  /** Calls the subscribers of `topic` in a microtask; one that throws does not stop the rest. */
  protected deliver(topic: WakeTopic, payload: string): void {
    const set = this.subscribers.get(topic);
    if (!set || set.size === 0) return;
    queueMicrotask(() => {
      for (const fn of set) {
        try {
          fn(payload);
        } catch {
          // A subscriber's failure is its own; the others still hear the wake-up.
        }
      }
    });
  }

  protected resync(): void {
    for (const fn of this.resyncs) {
      try {
        fn();
      } catch {
        // As in deliver.
      }
    }
  }
}
