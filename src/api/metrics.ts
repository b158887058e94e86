/** Prometheus text exposition for requests by operationId and status, latency, and jobs by state. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
  );
  return parts.length ? `{${parts.join(",")}}` : "";
}

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, { buckets: number[]; sum: number; count: number }>();

  observe(operationId: string, status: number, seconds: number): void {
    const key = `${operationId}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    let h = this.latency.get(operationId);
    if (!h) {
      h = { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.latency.set(operationId, h);
    }
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) h.buckets[i]!++;
    h.sum += seconds;
    h.count++;
  }

  render(jobsByState: Record<string, number>): string {
    const out: string[] = [];
    out.push("# HELP drivebay_http_requests_total HTTP requests by operationId and status.");
    out.push("# TYPE drivebay_http_requests_total counter");
    for (const [key, n] of this.requests) {
      const [operationId, status] = key.split("\u0000") as [string, string];
      out.push(`drivebay_http_requests_total${labels({ operationId, status })} ${n}`);
    }
    out.push("# HELP drivebay_http_request_duration_seconds Request latency by operationId.");
    out.push("# TYPE drivebay_http_request_duration_seconds histogram");
    for (const [operationId, h] of this.latency) {
      BUCKETS.forEach((b, i) => {
        out.push(
          `drivebay_http_request_duration_seconds_bucket${labels({ operationId, le: String(b) })} ${h.buckets[i]}`,
        );
      });
      out.push(
        `drivebay_http_request_duration_seconds_bucket${labels({ operationId, le: "+Inf" })} ${h.count}`,
      );
      out.push(`drivebay_http_request_duration_seconds_sum${labels({ operationId })} ${h.sum}`);
      out.push(`drivebay_http_request_duration_seconds_count${labels({ operationId })} ${h.count}`);
    }
    out.push("# HELP drivebay_jobs Jobs in the store by state.");
    out.push("# TYPE drivebay_jobs gauge");
    for (const [state, n] of Object.entries(jobsByState))
      out.push(`drivebay_jobs${labels({ state })} ${n}`);
    return out.join("\n") + "\n";
  }
}
