/**
 * Portal sessions in the store (ADR 0014), one contract over every store: found by the id
 * the cookie carries, never stored as that id, refused once expired or revoked, swept in
 * bounded batches, and shared by every node of the store.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { freshStores, STORE_FACTORIES } from "../support/store-factories.ts";
import type { PortalSession } from "../../src/store/ports.ts";
import { Access } from "../../src/auth/access.ts";
import { OffsetClock } from "../../src/domain/clock.ts";
import { PortalSessions, SESSION_TTL_MS } from "../../src/portal/sessions.ts";
import { sessionIdHash } from "../../src/store/session-ids.ts";

const T0 = new Date("2026-03-01T10:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);
const HOUR = 3600_000;
const newId = () => randomBytes(32).toString("base64url");

function session(over: Partial<PortalSession> = {}): PortalSession {
  return {
    kind: "customer",
    data: { claims: { iss: "https://issuer.example/", oid: "user-1", exp: 1_900_000_000 } },
    createdAt: T0,
    expiresAt: at(HOUR),
    ...over,
  };
}

for (const factory of STORE_FACTORIES) {
  describe(`Portal sessions: ${factory.name}`, { skip: factory.skip }, () => {
    const fresh = freshStores(factory);

    test("a session is found by its id with what it holds; another id finds nothing", async () => {
      const { store } = await fresh();
      const id = newId();
      const s = session();
      await store.createSession(id, s);
      assert.deepEqual(await store.findSession(id, at(1000)), s);
      assert.equal(await store.findSession(newId(), at(1000)), undefined);
      const op = newId();
      await store.createSession(op, session({ kind: "operator", data: { key: "fp" } }));
      assert.equal((await store.findSession(op, at(1000)))?.kind, "operator");
      assert.deepEqual((await store.findSession(op, at(1000)))?.data, { key: "fp" });
      await store.close();
    });

    test("the store keeps the id's SHA-256, never the id: the stored value finds nothing", async () => {
      const { place, store } = await fresh();
      const id = newId();
      await store.createSession(id, session());
      // The hash, used as a cookie, is hashed again and names no session.
      assert.equal(await store.findSession(sessionIdHash(id), at(1000)), undefined);
      await store.close();
      assert.deepEqual(await factory.traces(place, id), [], "the raw id is nowhere in the data");
      assert.ok(
        (await factory.traces(place, sessionIdHash(id))).length > 0,
        "its hash is (so the search above looks where the rows are)",
      );
    });

    test("an expired session is refused and its row deleted; one not yet expired is found", async () => {
      const { store } = await fresh();
      const id = newId();
      await store.createSession(id, session({ expiresAt: at(HOUR) }));
      assert.ok(await store.findSession(id, at(HOUR - 1)), "a millisecond before expiry");
      assert.equal(await store.findSession(id, at(HOUR)), undefined, "at expiry");
      assert.equal(
        await store.findSession(id, at(0)),
        undefined,
        "the expired row was deleted when it was refused",
      );
      await store.close();
    });

    test("sign-out revokes: a deleted session is never found again", async () => {
      const { store } = await fresh();
      const id = newId();
      const other = newId();
      await store.createSession(id, session());
      await store.createSession(other, session());
      assert.equal(await store.deleteSession(id), true);
      assert.equal(await store.findSession(id, at(1000)), undefined);
      assert.equal(await store.deleteSession(id), false, "nothing left to revoke");
      assert.ok(await store.findSession(other, at(1000)), "other sessions stay");
      await store.close();
    });

    test("a taken id is refused", async () => {
      const { store } = await fresh();
      const id = newId();
      await store.createSession(id, session());
      await assert.rejects(store.createSession(id, session({ kind: "operator", data: {} })));
      assert.equal((await store.findSession(id, at(1000)))?.kind, "customer");
      await store.close();
    });

    test("expired sessions are swept in bounded batches; live ones stay", async () => {
      const { store } = await fresh();
      const expired = Array.from({ length: 5 }, newId);
      const live = [newId(), newId()];
      for (const [i, id] of expired.entries()) {
        await store.createSession(id, session({ expiresAt: at(i * 1000) }));
      }
      for (const id of live) await store.createSession(id, session({ expiresAt: at(10 * HOUR) }));
      const now = at(HOUR);
      assert.equal(await store.deleteExpiredSessions(now, 3), 3);
      assert.equal(await store.deleteExpiredSessions(now, 3), 2);
      assert.equal(await store.deleteExpiredSessions(now, 3), 0);
      for (const id of live) assert.ok(await store.findSession(id, now));
      // The sweep deleted the rows: at a time before their expiry they are still gone.
      for (const id of expired) assert.equal(await store.findSession(id, at(-HOUR)), undefined);
      await store.close();
    });

    test("the portal's sessions: 12 hours at most, a customer's no longer than its token, kinds apart, a new operator key ends them", async () => {
      const { store } = await fresh();
      const clock = new OffsetClock({ frozenAt: T0 });
      const sessions = new PortalSessions(store, clock);
      const access = new Access(
        { mode: "development", grants: [{ principal: "user-1", subscriptions: ["sub-1"] }] },
        undefined,
        ["https://issuer.example/"],
      );
      const op = await sessions.operatorSignIn("key-1");
      assert.equal(await sessions.operatorValid(op, "key-1"), true);
      assert.equal(await sessions.operatorValid(op, "key-2"), false, "not with another key");
      assert.equal(
        await sessions.customer(op, access),
        undefined,
        "an operator session is no customer's",
      );

      const exp = T0.getTime() / 1000 + 3600;
      const claims = { iss: "https://issuer.example/", oid: "user-1", scp: "x", exp };
      const cust = await sessions.customerSignIn(claims, access.callerOf(claims));
      assert.deepEqual((await sessions.customer(cust, access))?.subscriptions, new Set(["sub-1"]));
      assert.equal(
        await sessions.operatorValid(cust, "key-1"),
        false,
        "a customer's is no operator's",
      );
      for (const junk of [undefined, "", "short", sessionIdHash(cust)]) {
        assert.equal(await sessions.customer(junk, access), undefined);
      }

      clock.advance(HOUR - 1);
      assert.ok(await sessions.customer(cust, access), "before the token's exp");
      clock.advance(1);
      assert.equal(await sessions.customer(cust, access), undefined, "ends with the token");
      assert.equal(await sessions.operatorValid(op, "key-1"), true);
      clock.advance(SESSION_TTL_MS - HOUR);
      assert.equal(
        await sessions.operatorValid(op, "key-1"),
        false,
        "12 hours, not extended by use",
      );

      const other = await sessions.operatorSignIn("key-1");
      await sessions.end(other);
      assert.equal(await sessions.operatorValid(other, "key-1"), false, "signed out");
      await store.close();
    });

    test("sessions survive a restart and are shared by every node of the store", async () => {
      const { place, store } = await fresh();
      const id = newId();
      await store.createSession(id, session());
      const peer = await factory.peer(place, store);
      assert.ok(await peer.findSession(id, at(1000)), "another node finds it");
      assert.equal(await peer.deleteSession(id), true, "and signs it out");
      assert.equal(await store.findSession(id, at(1000)), undefined, "for every node");
      const kept = newId();
      await store.createSession(kept, session());
      if (peer !== store) await peer.close();
      await store.close();
      const reopened = await factory.open(place);
      assert.deepEqual(await reopened.findSession(kept, at(1000)), session());
      assert.equal(await reopened.findSession(id, at(1000)), undefined);
      await reopened.close();
    });
  });
}
