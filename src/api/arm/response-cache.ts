/**
 * Serialised Jobs_Get bodies keyed by job incarnation and version. The store is still read
 * on every request (the version decides), so a cached body is never stale; what is saved
 * is building and stringifying the same response again.
 */
export class ResponseCache {
  private readonly entries = new Map<string, { version: number; body: string }>();

  constructor(private readonly maxEntries = 10_000) {}

  get(uid: string, version: number, build: () => unknown): string {
    const hit = this.entries.get(uid);
    if (hit && hit.version === version) return hit.body;
    const body = JSON.stringify(build());
    if (hit) this.entries.delete(uid);
    else if (this.entries.size >= this.maxEntries)
      this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(uid, { version, body });
    return body;
  }
}
