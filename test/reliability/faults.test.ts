/**
 * Fault injection against each API's echo server: peers that reset mid-write, half-close and
 * keep reading, half-close then stop reading and reset, vanish right after connecting, never
 * send (idle timeout), a server closed under writing clients, and handlers that throw. Each
 * test checks the callback the API promises (with its error), that a healthy connection beside
 * the faulty ones is served in full, that nothing is left open and no rejection goes unhandled.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { describe, test } from "node:test";
import {
  collectUntilClose,
  connected,
  delay,
  echoOnce,
  guardEachTest,
  pattern,
  rng,
  until,
  within,
} from "./helpers.js";
import { APIS, type Api, FAULT_CODE, MAX_BUFFERED, startTestServer, type TestServer } from "./servers.js";

guardEachTest();

/** How each API reports a connection its peer reset. */
const RESET_ENDS: Record<Api, readonly string[]> = {
  // asyncore treats disconnection errors as a close: handleClose(), no handleError().
  dispatcher: ["eof"],
  asynchat: ["eof"],
  protocols: ["ECONNRESET", "EPIPE"],
  // A read may still return bytes that arrived before the reset; echoing them then throws
  // ERR_SOCKET_CLOSED, as write() does once the connection is lost.
  streams: ["ECONNRESET", "EPIPE", "ERR_SOCKET_CLOSED"],
};

/** How each API reports a clean end. */
const CLEAN_END: Record<Api, string> = {
  dispatcher: "eof",
  asynchat: "eof",
  protocols: "close",
  streams: "eof",
};

/** A healthy echo of `size` bytes, run beside the faults. */
function healthy(server: TestServer, size: number, seed: number): Promise<void> {
  const payload = pattern(size, seed);
  return echoOnce(server.port, payload, 15_000).then((echo) => {
    assert.ok(echo.equals(payload), "the healthy connection got its bytes back");
  });
}

/** Wait for every served connection to have ended, then check the server's record. */
async function settled(server: TestServer): Promise<void> {
  await until(() => server.live() === 0, 5000, `${server.api}: connections to end`);
  assert.equal(server.log.ends.length, server.log.served, "one end per connection served");
}

for (const api of APIS) {
  describe(api, () => {
    test("peers that reset mid-write: the reset is reported as the API says; others unaffected", async () => {
      const server = await startTestServer(api);
      try {
        const beside = healthy(server, 600_000, 1);
        const resets = Array.from(
          { length: 6 },
          (_, i) =>
            new Promise<void>((resolve, reject) => {
              const sock = net.connect(server.port, "127.0.0.1", () => sock.write(pattern(1 << 20, 100 + i)));
              sock.once("data", () => {
                sock.resetAndDestroy();
                resolve();
              });
              sock.on("error", reject);
            }),
        );
        await within(Promise.all(resets), 5000, "the resets");
        await beside;
        await settled(server);
        const resetEnds = server.log.ends.filter((e) => e !== CLEAN_END[api]);
        for (const end of resetEnds) assert.ok(RESET_ENDS[api].includes(end), `unexpected end ${end}`);
        if (api === "dispatcher" || api === "asynchat") assert.deepEqual(server.log.errors, []);
        else assert.ok(resetEnds.length >= 1, `a reset reached connectionLost(err): ${server.log.ends}`);
      } finally {
        await server.close();
      }
    });

    test("peers that half-close and keep reading get every byte back, then the close", async () => {
      const server = await startTestServer(api);
      try {
        // Larger than the server's output limit: it stops reading, then flushes after the EOF.
        const sizes = [1, 1000, 65_536, MAX_BUFFERED + 12_345, 1 << 20];
        await within(
          Promise.all(sizes.map((size, i) => healthy(server, size, 10 + i))),
          20_000,
          "the half-closed echoes",
        );
        await settled(server);
        assert.deepEqual(server.log.ends, Array(sizes.length).fill(CLEAN_END[api]));
        assert.deepEqual(server.log.errors, []);
      } finally {
        await server.close();
      }
    });

    test("a half-closed peer that stops reading and then resets is not left behind", async () => {
      const server = await startTestServer(api);
      try {
        // 16 MiB sent and EOF, nothing read: more than the kernel's buffers on both sides take
        // (up to 4 MiB to send on Linux), so the server stops reading and waits to flush.
        const sock = await connected(server.port);
        sock.pause();
        sock.end(Buffer.alloc(16 << 20, 3));
        await until(() => server.log.served === 1, 3000, "the connection to be served");
        await delay(150);
        assert.equal(server.live(), 1, "still flushing");
        sock.resetAndDestroy();
        await settled(server);
        await healthy(server, 100_000, 4);
      } finally {
        await server.close();
      }
    });

    test("peers that vanish right after connecting leave nothing behind", async () => {
      const server = await startTestServer(api);
      try {
        const beside = healthy(server, 300_000, 5);
        const gone: Promise<void>[] = [];
        for (let i = 0; i < 30; i++) {
          const sock = net.connect(server.port, "127.0.0.1");
          sock.on("error", () => {});
          const closed = new Promise<void>((resolve) => sock.once("close", () => resolve()));
          // Half reset as soon as connected (before the server handles the accept), half closed
          // even before the handshake is reported.
          if (i % 2 === 0) sock.once("connect", () => sock.resetAndDestroy());
          else sock.destroy();
          gone.push(closed);
        }
        await within(Promise.all(gone), 5000, "the vanishing peers");
        await beside;
        await delay(100);
        await settled(server);
        assert.deepEqual(server.log.errors, []);
      } finally {
        await server.close();
      }
    });

    test("peers that connect and never send are closed by the idle timeout", async () => {
      const server = await startTestServer(api, { idleTimeout: 150 });
      try {
        const silent = await Promise.all(Array.from({ length: 20 }, () => connected(server.port)));
        const closed = Promise.all(silent.map(collectUntilClose));
        await healthy(server, 200_000, 6);
        const out = await within(closed, 3000, "idle connections to close");
        assert.ok(out.every((b) => b.length === 0));
        await settled(server);
        assert.deepEqual(server.log.errors, []);
      } finally {
        await server.close();
      }
    });

    test("closing the server while clients write ends every client and frees everything", async () => {
      const server = await startTestServer(api);
      const clients: net.Socket[] = [];
      const chunk = pattern(16 * 1024, 7);
      try {
        const ends: Promise<void>[] = [];
        for (let i = 0; i < 20; i++) {
          const sock = await connected(server.port);
          clients.push(sock);
          sock.resume();
          ends.push(new Promise<void>((resolve) => sock.once("close", () => resolve())));
          const pump = (): void => {
            while (!sock.destroyed && sock.write(chunk)) {
              /* fill the socket's buffer */
            }
            if (!sock.destroyed) sock.once("drain", pump);
          };
          pump();
        }
        await delay(150);
        await within(server.close(), 5000, "the server to close");
        await within(Promise.all(ends), 5000, "every client to see the close");
        assert.equal(server.live(), 0);
        const refused = await new Promise<string>((resolve) => {
          const late = net.connect(server.port, "127.0.0.1");
          late.on("error", (err: Error & { code?: string }) => resolve(String(err.code)));
          late.on("connect", () => {
            late.destroy();
            resolve("connected");
          });
        });
        assert.equal(refused, "ECONNREFUSED");
      } finally {
        for (const c of clients) c.destroy();
        await server.close();
      }
    });

    test("handlers that throw at random close their own connection only", async () => {
      const MARK = 0xee;
      const server = await startTestServer(api, { throwOn: (chunk) => chunk.includes(MARK) });
      try {
        const random = rng(42);
        // Healthy payloads never contain the mark; faulty ones hold it at a random place.
        const clean = (size: number, seed: number): Buffer =>
          Buffer.from(pattern(size, seed).map((b) => (b === MARK ? 0 : b)));
        const healthyRuns = Array.from({ length: 6 }, (_, i) => {
          const payload = clean(50_000 + i * 40_000, 20 + i);
          return echoOnce(server.port, payload, 15_000).then((echo) => assert.ok(echo.equals(payload)));
        });
        const faulty = Array.from({ length: 6 }, (_, i) => {
          const payload = clean(200_000, 40 + i);
          payload[Math.floor(random() * payload.length)] = MARK;
          return new Promise<void>((resolve, reject) => {
            const sock = net.connect(server.port, "127.0.0.1", () => sock.end(payload));
            let got = 0;
            sock.on("data", (d: Buffer) => {
              // What does come back is a true prefix of what was sent.
              if (!d.equals(payload.subarray(got, got + d.length))) reject(new Error("echo differs"));
              got += d.length;
            });
            sock.on("error", () => {});
            sock.on("close", () => (got < payload.length ? resolve() : reject(new Error("no fault seen"))));
          });
        });
        await within(Promise.all([...healthyRuns, ...faulty]), 20_000, "all connections");
        await settled(server);
        const faults = server.log.errors.filter((e) => (e as Error & { code?: string }).code === FAULT_CODE);
        assert.equal(faults.length, 6, `errors: ${server.log.errors.map(String)}`);
        assert.equal(server.log.errors.length, 6);
        const faultEnds = server.log.ends.filter((e) => e === FAULT_CODE);
        assert.equal(faultEnds.length, 6, `ends: ${server.log.ends}`);
        assert.equal(server.log.ends.filter((e) => e === CLEAN_END[api]).length, 6);
      } finally {
        await server.close();
      }
    });
  });
}
