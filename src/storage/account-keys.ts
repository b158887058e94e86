/**
 * The embedded Azurite's account keys, generated once per account and kept in
 * `<dataDir>/storage-accounts.json` (mode 0600) so they survive restarts: a connection
 * string a customer copied keeps working. Keys are secrets: never logged.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";

/** Azure account keys are 64 random bytes, base64 (88 characters). */
export function generateAccountKey(): string {
  return randomBytes(64).toString("base64");
}

interface KeyFileBody {
  accounts: { name: string; key: string }[];
}

export class AccountKeyFileError extends Error {}

export class AccountKeyFile {
  private readonly keys = new Map<string, string>();

  constructor(readonly file: string) {
    if (!existsSync(file)) return;
    let body: KeyFileBody;
    try {
      body = JSON.parse(readFileSync(file, "utf8")) as KeyFileBody;
    } catch (e) {
      throw new AccountKeyFileError(
        `${file} is not readable JSON (${(e as Error).message}); ` +
          `fix it or move it away (new keys are then generated for every account).`,
      );
    }
    for (const a of Array.isArray(body?.accounts) ? body.accounts : []) {
      if (typeof a?.name === "string" && typeof a.key === "string") this.keys.set(a.name, a.key);
    }
  }

  names(): string[] {
    return [...this.keys.keys()].sort();
  }

  get(name: string): string | undefined {
    return this.keys.get(name);
  }

  entries(): [string, string][] {
    return [...this.keys.entries()];
  }

  /** The account's key; a new one is generated and written to the file first. */
  getOrCreate(name: string): { key: string; created: boolean } {
    const existing = this.keys.get(name);
    if (existing !== undefined) return { key: existing, created: false };
    const key = generateAccountKey();
    this.keys.set(name, key);
    try {
      this.save();
    } catch (e) {
      this.keys.delete(name);
      throw e;
    }
    return { key, created: true };
  }

  /** Written whole to a temporary file and renamed, so a crash never leaves half a file. */
  private save(): void {
    const body: KeyFileBody = {
      accounts: this.entries().map(([name, key]) => ({ name, key })),
    };
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
}
