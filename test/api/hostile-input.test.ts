/**
 * Hostile input over raw sockets (the SDK cannot send it): every request that reaches
 * drivebay, whatever its method or request line, gets an ARM envelope with
 * x-ms-request-id; 405 on known paths with the Allow the route table gives; a body over
 * the limit is a 413 that a client writing the whole 10 MB first actually reads.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { importJob } from "./fixtures.ts";

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: { error: { code: string; message: string } };
  /** A socket error seen while writing or reading (EPIPE, ECONNRESET), if any. */
  socketError?: string;
}

describe("hostile input", () => {
  let server: TestServer;
  let port: number;
  const jobPath = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/existing?api-version=2021-01-01`;
  before(async () => {
    server = await startTestServer();
    port = Number(new URL(server.url).port);
    await server.client().jobs.create("existing", "rg", importJob());
  });
  after(() => server.close());

  /** Writes `head` and then `body` completely (waiting for each write), then reads the answer. */
  function raw(head: string, body?: Buffer, chunked = false): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      const chunks: Buffer[] = [];
      let socketError: string | undefined;
      socket.on("data", (d: Buffer) => chunks.push(d));
      socket.on("error", (e) => (socketError = (e as NodeJS.ErrnoException).code ?? e.message));
      socket.on("close", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const [headText, ...rest] = text.split("\r\n\r\n");
        const lines = (headText ?? "").split("\r\n");
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? "")?.[1]);
        if (!status) return reject(new Error(`no HTTP answer (${socketError}): ${text}`));
        const headers = Object.fromEntries(
          lines.slice(1).map((l) => {
            const i = l.indexOf(":");
            return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
          }),
        );
        resolve({ status, headers, body: JSON.parse(rest.join("\r\n\r\n")), socketError });
      });
      const write = (b: Buffer | string) =>
        new Promise<void>((r, j) => socket.write(b, (e) => (e ? j(e) : r())));
      void (async () => {
        try {
          // Ask the server to close after answering, so the answer ends with the socket.
          await write(head.replace("Host: x\r\n", "Host: x\r\nConnection: close\r\n"));
          if (body) {
            const step = 64 * 1024;
            for (let i = 0; i < body.length; i += step) {
              const part = body.subarray(i, i + step);
              await write(chunked ? `${part.length.toString(16)}\r\n` : "");
              await write(part);
              if (chunked) await write("\r\n");
            }
            if (chunked) await write("0\r\n\r\n");
          }
        } catch (e) {
          socketError = (e as NodeJS.ErrnoException).code ?? String(e);
        }
      })();
    });
  }

  const assertEnvelope = (a: RawAnswer, status: number, code: string) => {
    assert.equal(a.status, status, JSON.stringify(a));
    assert.match(a.headers["x-ms-request-id"] ?? "", /^[0-9a-f-]{36}$/);
    assert.match(a.headers["content-type"] ?? "", /application\/json/);
    assert.equal(a.body.error.code, code);
    assert.ok(a.body.error.message.length > 10);
  };

  test("a method Node does not know (GETT, FOO) on a known path: 405 with Allow from the route table", async () => {
    for (const method of ["GETT", "FOO", "BREW"]) {
      const a = await raw(`${method} ${jobPath} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assertEnvelope(a, 405, "MethodNotAllowed");
      assert.equal(a.headers.allow, "GET, PUT, PATCH, DELETE", method);
      assert.match(a.body.error.message, new RegExp(`'${method}'`));
    }
    // A known method on a known path that does not take it.
    const post = await raw(`POST ${jobPath} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
    assertEnvelope(post, 405, "MethodNotAllowed");
    // Paths outside the ARM API come from the same table.
    const health = await raw(`DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
    assertEnvelope(health, 405, "MethodNotAllowed");
    assert.equal(health.headers.allow, "GET");
    const list = await raw(
      `PUT /subscriptions/${SUBSCRIPTION}/providers/Microsoft.ImportExport/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`,
    );
    assertEnvelope(list, 405, "MethodNotAllowed");
    assert.equal(list.headers.allow, "GET");
  });

  test("a request line that cannot be parsed: 400 BadRequest in the envelope", async () => {
    for (const line of [
      `GETT /nothing/here HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET / HTTP/9.9\r\nHost: x\r\n\r\n`,
      `\u0001\u0002 nonsense\r\n\r\n`,
      `GET ${jobPath} HTTP/1.1\r\nBad Header Line\r\n\r\n`,
    ]) {
      assertEnvelope(await raw(line), 400, "BadRequest");
    }
  });

  test("a 10 MB body, written whole before reading: the client receives the 413", async () => {
    const big = Buffer.alloc(10 * 1024 * 1024, 0x20);
    const withLength = await raw(
      `PUT ${jobPath} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n`,
      big,
    );
    assertEnvelope(withLength, 413, "RequestEntityTooLarge");
    assert.equal(withLength.socketError, undefined, "no EPIPE or reset while writing");
    const chunked = await raw(
      `PATCH ${jobPath} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
      big,
      true,
    );
    assertEnvelope(chunked, 413, "RequestEntityTooLarge");
    assert.equal(chunked.socketError, undefined, "no EPIPE or reset while writing");
    // Nothing changed, and the server still answers.
    const job = await server.client().jobs.get("existing", "rg");
    assert.deepEqual(job.tags ?? {}, {});
  });
});
