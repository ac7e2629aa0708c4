/**
 * Hostile input against each API's server: a 10 MiB line against a 64 KiB limit, a terminator
 * that never comes, slow-loris peers, and a burst of 5,000 connections at once. Memory is
 * measured where it is spent: the core's accounting of bytes a connection holds between
 * receipt and the kernel (`peakBuffered`), and the number of connections open at once.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { describe, test } from "node:test";
import { serverLimitStats, setServerAccounting } from "../../src/core/server-limits.js";
import { connected, delay, echoOnce, guardEachTest, pattern, until, within } from "./helpers.js";
import { APIS, type Api, startTestServer, type TestServer, type TestServerOptions } from "./servers.js";

const LIMIT = 64 * 1024;
/** What one connection may hold in the server, whatever it is sent. */
const BOUND = 1024 * 1024;

guardEachTest();

/** Start a server with the core's byte accounting on (limits or not). */
async function accounted(api: Api, opts: TestServerOptions = {}): Promise<TestServer> {
  setServerAccounting(true);
  try {
    return await startTestServer(api, opts);
  } finally {
    setServerAccounting(false);
  }
}

/** The peak bytes held by one connection of the only accounted listener. */
function peakBuffered(): number {
  const stats = serverLimitStats();
  assert.equal(stats.length, 1, "one accounted listener");
  return stats[0]!.peakBuffered;
}

/** Line servers frame at `\n` with a limit; the others echo bytes as they come. */
const LINES: Record<Api, boolean> = { dispatcher: false, asynchat: true, protocols: false, streams: true };

/** Send `size` bytes with no newline (one write); resolve with the bytes echoed by the close. */
function floodWithoutNewline(port: number, size: number): Promise<{ echoed: number }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1", () => sock.end(Buffer.alloc(size, "a")));
    let echoed = 0;
    sock.on("data", (d: Buffer) => {
      echoed += d.length;
    });
    sock.on("error", () => {});
    sock.on("close", () => resolve({ echoed }));
  });
}

/** One line round trip on a line server. */
async function lineRoundTrip(port: number, line: string): Promise<string> {
  const sock = await connected(port);
  const got = new Promise<string>((resolve) => {
    let text = "";
    sock.on("data", (d: Buffer) => {
      text += d.toString();
    });
    sock.once("close", () => resolve(text));
  });
  sock.end(line);
  return within(got, 5000, "a line echo");
}

for (const api of APIS) {
  describe(api, () => {
    test("a 10 MiB line against a 64 KiB limit", async (t) => {
      const server = await accounted(api, LINES[api] ? { lineLimit: LIMIT } : {});
      try {
        const size = 10 * 1024 * 1024;
        const result = await within(floodWithoutNewline(server.port, size), 20_000, "the flood");
        if (LINES[api]) {
          // The limit error closes the connection long before the 10 MiB are taken.
          await until(() => server.log.ends.length === 1, 3000, "the connection to end");
          assert.deepEqual(server.log.ends, ["ERR_LIMIT_OVERRUN"]);
          assert.equal(result.echoed, 0);
          if (api === "asynchat") {
            const err = server.log.errors[0] as Error & { code?: string; consumed?: number };
            assert.equal(err.code, "ERR_LIMIT_OVERRUN");
            assert.ok(err.consumed! > LIMIT && err.consumed! <= LIMIT + 65_536, `consumed ${err.consumed}`);
          }
          assert.equal(await lineRoundTrip(server.port, "still serving\n"), "still serving\n");
        } else {
          // No framing, no input buffering: every byte comes back, with flow control.
          assert.equal(result.echoed, size);
          assert.deepEqual(server.log.errors, []);
        }
        const peak = peakBuffered();
        t.diagnostic(`peak held by the connection: ${peak} bytes`);
        // Line servers stop at the limit: their reader pauses at 2 × limit (streams) or the
        // limit errors at once (asynchat); a chunk of up to 64 KiB arrives on top.
        assert.ok(
          peak <= (LINES[api] ? 3 * LIMIT + 65_536 : BOUND),
          `peak ${peak} bytes held by one connection`,
        );
      } finally {
        await server.close();
      }
    });

    const unframed = LINES[api] ? false : "only the line servers wait for a terminator";
    test("a terminator that never comes costs bounded memory and ends the connection early", {
      skip: unframed,
    }, async (t) => {
      const server = await accounted(api, { lineLimit: LIMIT });
      try {
        const sock = await connected(server.port);
        let sent = 0;
        const closed = new Promise<void>((resolve) => sock.once("close", () => resolve()));
        // 64 KiB pieces every few ms, up to 8 MiB, never a newline.
        const piece = Buffer.alloc(65_536, "z");
        while (!sock.destroyed && sent < 8 * 1024 * 1024) {
          sock.write(piece);
          sent += piece.length;
          await delay(2);
        }
        await within(closed, 5000, "the close");
        assert.ok(sent < 4 * 1024 * 1024, `the server closed after ${sent} bytes were sent`);
        assert.deepEqual(server.log.ends, ["ERR_LIMIT_OVERRUN"]);
        const peak = peakBuffered();
        t.diagnostic(`sent before the close: ${sent} bytes; peak held: ${peak} bytes`);
        assert.ok(peak <= BOUND, `peak ${peak}`);
      } finally {
        await server.close();
      }
    });

    test("slow-loris peers: the idle timeout spares trickles, others are served, memory stays bounded", async (t) => {
      const IDLE = 200;
      const server = await accounted(
        api,
        LINES[api] ? { lineLimit: LIMIT, idleTimeout: IDLE } : { idleTimeout: IDLE },
      );
      const loris: net.Socket[] = [];
      try {
        for (let i = 0; i < 10; i++) loris.push(await connected(server.port));
        const t0 = performance.now();
        const served: Promise<unknown>[] = [];
        // One byte per 50 ms each (a scaled-down 100 ms), for 700 ms: never idle for 200 ms.
        for (let tick = 0; performance.now() - t0 < 700; tick++) {
          for (const s of loris) s.write("b");
          if (tick % 4 === 0) {
            served.push(
              LINES[api]
                ? lineRoundTrip(server.port, "hello\n").then((l) => assert.equal(l, "hello\n"))
                : echoOnce(server.port, pattern(256 * 1024, tick)),
            );
          }
          await delay(50);
        }
        await within(Promise.all(served), 10_000, "the other clients");
        for (const s of loris) assert.equal(s.destroyed, false, "a trickling peer is not idle");
        t.diagnostic(`peak held by one connection: ${peakBuffered()} bytes`);
        assert.ok(peakBuffered() <= BOUND, `peak ${peakBuffered()}`);
        for (const s of loris) s.destroy();
        await until(() => server.live() === 0, 5000, "the loris connections to end");
      } finally {
        for (const s of loris) s.destroy();
        await server.close();
      }
    });

    test("a burst of 5,000 connections: each served or refused cleanly; the server goes on", async (t) => {
      const MAX = 500;
      const COUNT = 5000;
      const server = await startTestServer(api, { maxConnections: MAX });
      let maxLive = 0;
      const sampler = setInterval(() => {
        maxLive = Math.max(maxLive, serverLimitStats()[0]?.live ?? 0);
      }, 5);
      const clients = Array.from({ length: COUNT }, (_, i) => new BurstClient(server.port, i));
      try {
        // All open at once; none sends until every one is connected or already closed.
        await within(Promise.all(clients.map((c) => c.settled)), 30_000, "the burst to connect");
        await until(() => (serverLimitStats()[0]?.refused ?? 0) === COUNT - MAX, 10_000, "the refusals");
        for (const c of clients) c.send();
        const outcomes = await within(Promise.all(clients.map((c) => c.outcome)), 30_000, "the burst");
        const echoed = outcomes.filter((o) => o === "echoed").length;
        const refused = outcomes.filter((o) => o === "refused").length;
        t.diagnostic(`served ${echoed}, refused ${refused}, most open at once ${maxLive}`);
        assert.equal(echoed, MAX, `outcomes: ${[...new Set(outcomes)]}`);
        assert.equal(refused, COUNT - MAX);
        await until(() => server.live() === 0, 5000, "the burst to end");
        const stats = serverLimitStats()[0]!;
        assert.equal(server.log.served, MAX, "every served connection echoed in full");
        assert.equal(stats.refused, refused, "every refused connection was counted");
        assert.ok(maxLive <= MAX, `at most ${MAX} open at once, saw ${maxLive}`);
        assert.deepEqual(server.log.errors, []);
        assert.equal(await lineOrEcho(api, server.port), true, "serving after the burst");
      } finally {
        clearInterval(sampler);
        for (const c of clients) c.destroy();
        await server.close();
      }
    });
  });
}

test("streams: a per-line deadline ends a slow-loris line the idle timeout would allow", async () => {
  const server = await startTestServer("streams", { lineLimit: LIMIT, idleTimeout: 200, lineDeadline: 300 });
  try {
    const sock = await connected(server.port);
    const closed = new Promise<number>((resolve) => {
      const t0 = performance.now();
      sock.once("close", () => resolve(performance.now() - t0));
    });
    const trickle = setInterval(() => sock.write("c"), 50);
    try {
      const took = await within(closed, 3000, "the deadline");
      assert.ok(took >= 250 && took < 1000, `closed after ${took.toFixed(0)} ms`);
    } finally {
      clearInterval(trickle);
    }
    assert.deepEqual(server.log.ends, ["TimeoutError"]);
  } finally {
    await server.close();
  }
});

/**
 * One client of the burst: `settled` resolves once it is connected (or closed); `send()` then
 * sends 100 bytes and half-closes; `outcome` says whether they came back whole ("echoed") or
 * the server closed it with nothing sent ("refused").
 */
class BurstClient {
  readonly settled: Promise<void>;
  readonly outcome: Promise<string>;
  readonly #sock: net.Socket;
  readonly #payload: Buffer;

  constructor(port: number, i: number) {
    this.#payload = Buffer.from(`${String(i).padStart(6, "0")}${"x".repeat(93)}\n`);
    const sock = (this.#sock = net.connect(port, "127.0.0.1"));
    const parts: Buffer[] = [];
    sock.on("data", (d: Buffer) => parts.push(d));
    sock.on("error", () => {});
    const closed = new Promise<void>((resolve) => sock.once("close", () => resolve()));
    this.settled = Promise.race([
      new Promise<void>((resolve) => sock.once("connect", () => resolve())),
      closed,
    ]);
    this.outcome = closed.then(() => {
      const got = Buffer.concat(parts);
      if (got.equals(this.#payload)) return "echoed";
      return got.length === 0 ? "refused" : `partial ${got.length}`;
    });
  }

  send(): void {
    if (!this.#sock.destroyed && !this.#sock.readableEnded) this.#sock.end(this.#payload);
  }

  destroy(): void {
    this.#sock.destroy();
  }
}

async function lineOrEcho(api: Api, port: number): Promise<boolean> {
  if (LINES[api]) return (await lineRoundTrip(port, "after\n")) === "after\n";
  const payload = pattern(10_000, 9);
  return (await echoOnce(port, payload)).equals(payload);
}
