/**
 * The core's server limits, on the active backend's listener: connection count, idle timeout
 * (its bounds, the pause exemption), refusal reports, the byte accounting hook, option checks.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { afterEach, beforeEach, test } from "node:test";
import type { ListenerEvents, StreamConnection, StreamEvents } from "../../src/core/backend.js";
import { getBackend } from "../../src/core/index.js";
import {
  checkServerLimits,
  IDLE_TICKS_PER_TIMEOUT,
  serverLimitStats,
  setServerAccounting,
} from "../../src/core/server-limits.js";
import { assertNoLeakedHandles, delay, openSocketHandles } from "../support/resources.js";

let handlesAtStart = 0;
beforeEach(() => {
  handlesAtStart = openSocketHandles();
});
afterEach(async () => {
  await assertNoLeakedHandles(handlesAtStart);
});

/** A listener whose connections are started by an echoing owner; records what happened. */
async function listen(
  opts: { maxConnections?: number; idleTimeout?: number },
  adopt: (conn: StreamConnection) => boolean = () => true,
) {
  const closes: Array<Error | null> = [];
  const acceptErrors: Error[] = [];
  const conns: StreamConnection[] = [];
  const events: ListenerEvents = {
    onConnection(conn) {
      conns.push(conn);
      if (!adopt(conn)) return;
      const owner: StreamEvents = {
        onData: (chunk) => conn.write(chunk),
        onEnd: () => conn.close(),
        onWritePaused() {},
        onWriteResumed() {},
        onClose: (err) => closes.push(err),
      };
      conn.start(owner);
    },
    onAcceptError: (err) => acceptErrors.push(err),
    onClose() {},
  };
  const listener = await getBackend().listen(["127.0.0.1", 0], opts, events);
  const [, port] = listener.address as [string, number];
  return { listener, port, closes, acceptErrors, conns };
}

/** Connect and resolve with the socket once connected; `ends` resolves at its close. */
function connect(port: number): Promise<{ sock: net.Socket; ends: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let got = "";
    sock.on("data", (d: Buffer) => {
      got += d.toString("latin1");
    });
    const ends = new Promise<string>((r) => sock.on("close", () => r(got)));
    sock.on("error", () => {});
    sock.once("connect", () => resolve({ sock, ends }));
    sock.once("error", reject);
  });
}

test("checkServerLimits rejects bad values with coded errors", () => {
  assert.throws(() => checkServerLimits({ maxConnections: 0 }, "listen"), { code: "ERR_INVALID_ARG_VALUE" });
  assert.throws(() => checkServerLimits({ maxConnections: 1.5 }, "listen"), {
    code: "ERR_INVALID_ARG_VALUE",
  });
  assert.throws(() => checkServerLimits({ idleTimeout: -1 }, "listen"), { code: "ERR_INVALID_ARG_VALUE" });
  assert.throws(() => checkServerLimits({ idleTimeout: Number.POSITIVE_INFINITY }, "listen"), {
    code: "ERR_INVALID_ARG_VALUE",
  });
  assert.throws(() => checkServerLimits({ idleTimeout: "5" as unknown as number }, "listen"), {
    code: "ERR_INVALID_ARG_TYPE",
  });
  checkServerLimits({ maxConnections: 1, idleTimeout: 0.5 }, "listen");
});

test("maxConnections: extra connections are closed on arrival, counted and reported once", async () => {
  const s = await listen({ maxConnections: 3 });
  const clients = await Promise.all(Array.from({ length: 8 }, () => connect(s.port)));
  // The refused five see EOF with no data; the three served ones echo.
  await waitFor(() => serverLimitStats()[0] !== undefined && serverLimitStats()[0]!.refused === 5);
  for (const c of clients) c.sock.write("x");
  const stats = serverLimitStats();
  assert.equal(stats.length, 1);
  assert.equal(stats[0]!.live, 3);
  assert.equal(stats[0]!.refused, 5);
  assert.equal(stats[0]!.accepted, 3);
  for (const c of clients) c.sock.end();
  const outputs = await Promise.all(clients.map((c) => c.ends));
  assert.equal(outputs.filter((o) => o === "x").length, 3);
  assert.equal(outputs.filter((o) => o === "").length, 5);
  // The first refusal is reported at once; later ones within the second are coalesced.
  assert.ok(s.acceptErrors.length >= 1);
  const first = s.acceptErrors[0] as Error & { code?: string; refused?: number };
  assert.equal(first.code, "ERR_LIMIT_REACHED");
  assert.match(first.message, /maxConnections/);
  s.listener.close();
  const reportedCount = (): number =>
    s.acceptErrors.reduce((n, e) => n + ((e as { refused?: number }).refused ?? 0), 0);
  await waitFor(() => reportedCount() === 5);
  const reported = reportedCount();
  assert.equal(reported, 5, "every refusal is in a report once the listener closes");
  assert.equal(s.closes.length, 3);
});

test("maxConnections: a slot frees when a connection ends, also one never started", async () => {
  let adoptNext = false;
  const s = await listen({ maxConnections: 1 }, () => adoptNext);
  // Not adopted: the owner drops it unstarted.
  const first = await connect(s.port);
  await delay(30);
  assert.equal(s.conns.length, 1);
  s.conns[0]!.abort();
  await first.ends;
  adoptNext = true;
  const second = await connect(s.port);
  second.sock.write("ok");
  await delay(50);
  second.sock.end();
  assert.equal(await second.ends, "ok", "the dropped connection no longer counts");
  s.listener.close();
});

test("idleTimeout closes a silent connection after 1 to 1.25 times the timeout, with ERR_LIMIT_REACHED", async () => {
  const IDLE = 200;
  const s = await listen({ idleTimeout: IDLE });
  const started = performance.now();
  const silent = await connect(s.port);
  await silent.ends;
  const took = performance.now() - started;
  assert.ok(took >= IDLE, `closed after ${took} ms`);
  assert.ok(took <= IDLE * (1 + 1 / IDLE_TICKS_PER_TIMEOUT) + 60, `closed after ${took} ms`);
  await delay(10);
  assert.equal(s.closes.length, 1);
  assert.equal((s.closes[0] as Error & { code?: string }).code, "ERR_LIMIT_REACHED");
  assert.match(s.closes[0]!.message, /idleTimeout/);
  assert.equal(serverLimitStats()[0]?.idleClosed, 1);
  s.listener.close();
});

test("idleTimeout: data keeps a connection open; paused reading stops the clock", async () => {
  const IDLE = 120;
  const s = await listen({ idleTimeout: IDLE });
  const chatty = await connect(s.port);
  const paused = await connect(s.port);
  await delay(20);
  s.conns[1]!.pauseReading();
  for (let i = 0; i < 10; i++) {
    chatty.sock.write(".");
    await delay(IDLE / 3);
  }
  // 400 ms: the chatty one was never silent for long, the paused one was never waiting.
  assert.equal(chatty.sock.destroyed, false);
  assert.equal(paused.sock.destroyed, false);
  s.conns[1]!.resumeReading();
  await paused.ends;
  chatty.sock.end();
  assert.equal(await chatty.ends, "..........");
  s.listener.close();
});

test("accounting: bytes held between receipt and the kernel are measured per connection", async () => {
  setServerAccounting(true);
  let s: Awaited<ReturnType<typeof listen>>;
  try {
    // An owner that keeps what it receives (never writes): everything received is held.
    s = await listen({}, (conn) => {
      conn.start({
        onData() {},
        onEnd: () => conn.close(),
        onWritePaused() {},
        onWriteResumed() {},
        onClose() {},
      });
      return false;
    });
  } finally {
    setServerAccounting(false);
  }
  const c = await connect(s.port);
  c.sock.end(Buffer.alloc(100_000));
  await c.ends;
  const stats = serverLimitStats();
  assert.equal(stats.length, 1);
  assert.equal(stats[0]!.maxConnections, Number.POSITIVE_INFINITY);
  assert.equal(stats[0]!.peakBuffered, 100_000);
  s.listener.close();
  await delay(20);
  assert.equal(serverLimitStats().length, 0, "a closed listener with no connections is forgotten");
});

/** Poll `cond` every 5 ms for up to 5 s (timings stretch on a loaded machine). */
async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await delay(5);
}
