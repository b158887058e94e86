/**
 * Portal sessions live in the store (ADR 0014): a person signed in stays signed in when
 * the server process is restarted on the same data directory, and signing out revokes the
 * session, so the old cookie replayed by hand opens nothing. Real `drivebay serve`
 * processes, real Chromium; the customer side under token auth with real JWTs.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Cookie, Page } from "playwright-core";
import { SUBSCRIPTION } from "../support/server.ts";
import { AUDIENCE, ISSUER, TestIssuer } from "../support/tokens.ts";
import { browserSkip, launch, newPage, screenshot } from "./support.ts";

const SKIP = browserSkip();
const BIN = new URL("../../bin/drivebay.js", import.meta.url).pathname;

interface Served {
  child: ChildProcess;
  url: string;
}

/** `drivebay serve` on `port` (0: any), its data in `dataDir`; resolves once it listens. */
async function serve(dataDir: string, port: number, env: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    [BIN, "serve", "--port", String(port), "--data-dir", dataDir, "--log-level", "silent"],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        DRIVEBAY_AUTOPILOT: "off",
        DRIVEBAY_BLOB_EMBEDDED: "off",
        ...env,
      },
    },
  );
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (c: Buffer) => {
      stderr += c.toString();
      const m = /^drivebay listening on (http:\/\/\S+)$/m.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  return { child, url } satisfies Served;
}

async function stop(served: Served | undefined): Promise<void> {
  if (!served || served.child.exitCode !== null) return;
  const exited = once(served.child, "exit");
  served.child.kill("SIGTERM");
  await exited;
}

/** The server again on the same data directory and port (so the page reloads from it). */
async function restart(served: Served, dataDir: string, env?: Record<string, string>) {
  await stop(served);
  return serve(dataDir, Number(new URL(served.url).port), env);
}

/** A GET with only this cookie, as a script replaying it would send it (no redirects followed). */
async function getWith(url: string, cookie: Cookie): Promise<{ status: number; location: string }> {
  const res = await fetch(url, {
    headers: { cookie: `${cookie.name}=${cookie.value}` },
    redirect: "manual",
  });
  await res.body?.cancel();
  return { status: res.status, location: res.headers.get("location") ?? "" };
}

async function cookieOf(page: Page, name: string): Promise<Cookie> {
  const cookie = (await page.context().cookies()).find((c) => c.name === name);
  assert.ok(cookie, `the ${name} cookie is set`);
  return cookie;
}

describe("portal sessions across a server restart", { skip: SKIP }, () => {
  let browser: Browser | undefined;
  const servers: (Served | undefined)[] = [];
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "drivebay-sessions-"));
    dirs.push(dir);
    return dir;
  };
  after(async () => {
    await browser?.close();
    for (const s of servers) await stop(s);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("an operator stays signed in across a restart; sign-out revokes the session", async (t) => {
    browser ??= await launch();
    const dir = dataDir();
    let server = await serve(dir, 0);
    servers.push(server);
    const key = readFileSync(join(dir, "operator.key"), "utf8").trim();
    const { page, errors } = await newPage(browser);
    const home = `${server.url}/portal/operator/`;

    await page.goto(home);
    assert.match(page.url(), /\/portal\/operator\/login/);
    await page.getByLabel("Operator key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    const cookie = await cookieOf(page, "drivebay_operator");
    assert.equal((await getWith(home, cookie)).status, 200, "the cookie alone opens the page");

    // Sessions expire on the real clock: moving the service clock past 12 hours ends none.
    const advanced = await fetch(`${server.url}/operator/v1/clock/advance`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ by: "2d" }),
    });
    assert.equal(advanced.status, 200, await advanced.text());
    assert.equal((await getWith(home, cookie)).status, 200, "still signed in after clock advance");

    server = await restart(server, dir);
    servers.push(server);
    await page.reload();
    assert.equal(page.url(), home, "not sent to the sign-in page");
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await screenshot(page, t.name, "after restart");
    assert.equal((await getWith(home, cookie)).status, 200, "the same session on the new process");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("#notice", { hasText: "You are signed out." }).waitFor();
    const replayed = await getWith(home, cookie);
    assert.equal(replayed.status, 303, "the old cookie opens nothing");
    assert.match(replayed.location, /^\/portal\/operator\/login\?next=/);

    // Revoked for good: still refused after another restart.
    server = await restart(server, dir);
    servers.push(server);
    assert.equal((await getWith(home, cookie)).status, 303);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("a customer signed in with a token stays signed in across a restart; sign-out revokes it", async (t) => {
    browser ??= await launch();
    const issuer = new TestIssuer();
    const dir = dataDir();
    const config = join(dir, "config.json");
    writeFileSync(
      config,
      JSON.stringify({
        profile: "service",
        operatorKey: "restart-test-operator-key-0123456789",
        auth: {
          mode: "token",
          issuer: ISSUER,
          audience: AUDIENCE,
          jwksFile: issuer.jwksFile,
          grants: [{ principal: "oid-grace", subscriptions: [SUBSCRIPTION] }],
        },
      }),
    );
    const env = { DRIVEBAY_CONFIG: config };
    let server = await serve(dir, 0, env);
    servers.push(server);
    const { page, errors } = await newPage(browser);
    const jobs = `${server.url}/portal/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/jobs`;

    await page.goto(jobs);
    assert.match(page.url(), /\/portal\/signin\?next=/);
    await page
      .getByLabel("Access token")
      .fill(issuer.token({ oid: "oid-grace", upn: "grace@example.test" }));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(jobs);
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    const cookie = await cookieOf(page, "drivebay_customer");
    assert.equal((await getWith(jobs, cookie)).status, 200, "the cookie alone opens the page");

    server = await restart(server, dir, env);
    servers.push(server);
    await page.reload();
    assert.equal(page.url(), jobs, "not sent to the sign-in page");
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await screenshot(page, t.name, "after restart");
    assert.equal((await getWith(jobs, cookie)).status, 200, "the same session on the new process");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("#notice", { hasText: "You are signed out." }).waitFor();
    const replayed = await getWith(jobs, cookie);
    assert.equal(replayed.status, 303, "the old cookie opens nothing");
    assert.match(replayed.location, /^\/portal\/signin\?next=/);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
