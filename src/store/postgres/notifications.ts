/**
 * Wake-ups between the processes that share a PostgreSQL store (ADR 0013): NOTIFY on one
 * channel, heard on a connection of its own that LISTENs. Within the process, subscribers
 * hear a wake-up at once (LocalWakeups), and this process's own notifications are not
 * delivered to it a second time. A listener connection that fails is replaced (after 0.5,
 * 1, 2 … 10 s); while it is down `listening` is false, and when it is back the resync
 * subscribers run, since what was sent meanwhile is lost.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import type { WakeTopic } from "../ports.ts";
import { LocalWakeups } from "../wakeups.ts";

/** The channel every drivebay process LISTENs on. */
export const CHANNEL = "drivebay";

const TOPICS: readonly WakeTopic[] = ["effects", "clock"];

export class PostgresWakeups extends LocalWakeups {
  /** This process, as named in its notifications (they come back to its own listener too). */
  readonly node = randomUUID().slice(0, 12);
  private client: pg.Client | undefined;
  private closed = false;
  private retryMs = 500;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly pool: pg.Pool,
    private readonly onError: (e: Error) => void,
  ) {
    super();
  }

  override get listening(): boolean {
    return this.client !== undefined;
  }

  /** Connects the listener; throws when the first connection cannot be made. */
  async start(): Promise<void> {
    await this.connect();
  }

  /** A notification as sent: `<node> <topic> <payload>`. */
  static encode(node: string, topic: WakeTopic, payload: string): string {
    return `${node} ${topic} ${payload}`;
  }

  /** Tells this process at once, and the others through NOTIFY. */
  override async publish(topic: WakeTopic, payload: string): Promise<void> {
    this.deliver(topic, payload);
    await this.pool.query({
      name: "notify",
      text: "SELECT pg_notify($1, $2)",
      values: [CHANNEL, PostgresWakeups.encode(this.node, topic, payload)],
    });
  }

  /** Hands a notification heard from the database to this process's subscribers. */
  private heard(message: pg.Notification): void {
    if (message.channel !== CHANNEL || !message.payload) return;
    const first = message.payload.indexOf(" ");
    const second = message.payload.indexOf(" ", first + 1);
    if (first < 0 || second < 0) return;
    if (message.payload.slice(0, first) === this.node) return;
    const topic = message.payload.slice(first + 1, second) as WakeTopic;
    if (!TOPICS.includes(topic)) return;
    this.deliver(topic, message.payload.slice(second + 1));
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ ...this.config, application_name: "drivebay-listen" });
    client.on("notification", (m) => this.heard(m));
    client.on("error", (e) => {
      this.onError(e);
      this.lost(client);
    });
    client.on("end", () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = 500;
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.resync();
    this.reconnectLater();
  }

  private reconnectLater(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.connect().then(
        () => this.resync(),
        (e: Error) => {
          this.onError(e);
          this.retryMs = Math.min(this.retryMs * 2, 10_000);
          this.reconnectLater();
        },
      );
    }, this.retryMs);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
