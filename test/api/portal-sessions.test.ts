/**
 * Portal sessions shared by the API nodes of one PostgreSQL store (ADR 0013, 0014): a
 * session opened through one node is valid on the other, and a sign-out on either revokes
 * it for both. The portal is HTML, not ARM, so this talks plain HTTP (the SDK has no
 * portal); the browser tier shows the same sessions surviving a restart in Chromium.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { postgresSkip, freshDatabase } from "../support/postgres.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

const KEY = "two-node-operator-key-0123456789abcdef";

async function get(url: string, cookie: string): Promise<{ status: number; location: string }> {
  const res = await fetch(url, { headers: { cookie }, redirect: "manual" });
  await res.body?.cancel();
  return { status: res.status, location: res.headers.get("location") ?? "" };
}

async function post(url: string, form: Record<string, string>, cookie = ""): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(form).toString(),
    redirect: "manual",
  });
}

describe("portal sessions on two API nodes of one store", { skip: postgresSkip() }, () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  test("signed in through one node, signed in on the other; signed out on either, out on both; a new key ends them", async () => {
    const url = await freshDatabase();
    const node = () =>
      startTestServer({ config: { role: "api", store: { url }, operatorKey: KEY } });
    const a = await node();
    servers.push(a);
    const b = await node();
    servers.push(b);
    const home = (s: TestServer) => `${s.url}/portal/operator/`;

    assert.equal((await get(home(b), "")).status, 303, "no session, no page");
    const login = await post(`${a.url}/portal/operator/login`, { key: KEY });
    assert.equal(login.status, 303);
    const cookie = /^(drivebay_operator=[^;]+)/.exec(login.headers.get("set-cookie") ?? "")?.[1];
    assert.ok(cookie, "a session cookie");

    assert.equal((await get(home(a), cookie)).status, 200, "on the node that opened it");
    assert.equal((await get(home(b), cookie)).status, 200, "on the other node");

    // A new operator key (configured, then restarted) ends the sessions of the old one.
    const rekeyed = await startTestServer({
      config: { role: "api", store: { url }, operatorKey: `${KEY}-new` },
    });
    servers.push(rekeyed);
    assert.equal((await get(home(rekeyed), cookie)).status, 303, "not with another key");

    const logout = await post(`${b.url}/portal/operator/logout`, {}, cookie);
    assert.equal(logout.status, 303);
    for (const s of [a, b]) {
      const replayed = await get(home(s), cookie);
      assert.equal(replayed.status, 303, `refused on ${s === a ? "the first" : "the second"} node`);
      assert.match(replayed.location, /^\/portal\/operator\/login/);
    }
  });
});
