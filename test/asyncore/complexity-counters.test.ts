/**
 * The mechanism behind a flat loop-turn cost, pinned by counting work rather than timing it:
 * with a fixed number of active connections, the dispatchers one iteration inspects are the
 * active ones plus, at most, the periodic sweep of dispatchers with their own predicates —
 * whether the map holds 100 or 2,000 connected dispatchers.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { afterEach, beforeEach, test } from "node:test";
import { SWEEP_COST_RATIO, SWEEP_INTERVAL_MS, schedulerFor } from "../../src/asyncore/_scheduler.js";
import {
  closeAll,
  Dispatcher,
  type DispatcherSocket,
  DispatcherWithSend,
  loop,
  type SocketMap,
} from "../../src/asyncore/index.js";
import { MapContext } from "../support/asyncore-harness.js";

let ctx: MapContext;
beforeEach(() => {
  ctx = new MapContext();
});
afterEach(() => ctx.teardown());

const ACTIVE = 4;
const ROUNDS = 60;
const SIZES = [100, 2000];

class Echo extends DispatcherWithSend {
  override handleRead(): void {
    const data = this.recv(65536);
    if (data.length > 0) this.send(data);
  }
  override handleClose(): void {
    this.close();
  }
}

/** Its own writable(): the scheduler cannot see it change, so every one is swept. */
class OwnWritableEcho extends Dispatcher {
  #out: Buffer[] = [];
  override handleRead(): void {
    const data = this.recv(65536);
    if (data.length > 0) this.#out.push(data);
  }
  override writable(): boolean {
    return this.#out.length > 0;
  }
  override handleWrite(): void {
    const head = this.#out.shift()!;
    const sent = this.send(head);
    if (sent < head.length) this.#out.unshift(head.subarray(sent));
  }
  override handleClose(): void {
    this.close();
  }
}

/**
 * One-iteration loops with a 1 ms timeout until `done()`: an echo reaches the client between
 * iterations, and a longer timeout would only add idle waiting to the test.
 */
async function runUntil(map: SocketMap, done: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) await loop({ map, timeout: 1, count: 1 });
  assert.ok(done(), "the echoes did not come back");
}

interface Count {
  m: number;
  inspected: number;
  collections: number;
  sweeps: number;
  elapsedMs: number;
}

/** A listening dispatcher in a map of its own: accepting is not what is counted. */
class Acceptor extends Dispatcher {
  onSocket: (sock: DispatcherSocket) => void = () => {};
  override handleAccepted(sock: DispatcherSocket): void {
    this.onSocket(sock);
  }
}

/** `m` connections accepted into `map` as `Handler`s; `ACTIVE` of them play ping-pong. */
async function count(
  map: SocketMap,
  m: number,
  Handler: new (s: DispatcherSocket, map: SocketMap) => Dispatcher,
): Promise<Count> {
  const acceptMap: SocketMap = new Map();
  const acceptor = new Acceptor(undefined, acceptMap);
  acceptor.onSocket = (sock) => new Handler(sock, map);
  acceptor.createSocket();
  void acceptor.bind(["127.0.0.1", 0]);
  const [host, port] = (await acceptor.listen(1024)) as [string, number];
  const clients: net.Socket[] = [];
  try {
    for (let opened = 0; opened < m; opened += 250) {
      const batch = Array.from({ length: Math.min(250, m - opened) }, () => net.connect({ port, host }));
      clients.push(...batch);
      const connected = Promise.all(batch.map((s) => new Promise((resolve) => s.once("connect", resolve))));
      for (let i = 0; i < 5000 && map.size < opened + batch.length; i++) {
        await loop({ map: acceptMap, timeout: 5, count: 1 });
      }
      await connected;
    }
    assert.equal(map.size, m, "every connection became a dispatcher");
    // The new dispatchers' first look happens here, before counting starts.
    await loop({ map, timeout: 20, count: 3 });

    const scheduler = schedulerFor(map);
    const before = { i: scheduler.inspected, c: scheduler.collections, s: scheduler.sweeps };
    const active = clients.slice(0, ACTIVE);
    let echoed = 0;
    for (const c of active) c.on("data", (d: Buffer) => void (echoed += d.length));
    const start = performance.now();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const c of active) c.write("ping!");
      await runUntil(map, () => echoed === round * ACTIVE * 5);
    }
    return {
      m,
      inspected: scheduler.inspected - before.i,
      collections: scheduler.collections - before.c,
      sweeps: scheduler.sweeps - before.s,
      elapsedMs: performance.now() - start,
    };
  } finally {
    closeAll(acceptMap);
    closeAll(map);
    for (const c of clients) c.destroy();
  }
}

test("dispatchers whose predicates the library owns: only the active ones are inspected, at any m", async () => {
  const counts: Count[] = [];
  for (const m of SIZES) counts.push(await count(ctx.map, m, Echo));
  for (const c of counts) {
    const what = `m = ${c.m}: ${c.inspected} inspected in ${c.collections} iterations, ${c.sweeps} sweeps`;
    assert.equal(c.sweeps, 0, `no sweep is needed (${what})`);
    assert.ok(c.inspected >= ROUNDS * ACTIVE, `every echo was looked at (${what})`);
    // Idle dispatchers are never marked: no iteration looks at more than the active ones.
    assert.ok(c.inspected <= ACTIVE * c.collections, what);
  }
  const [small, large] = counts as [Count, Count];
  const perIteration = (c: Count) => c.inspected / c.collections;
  assert.ok(
    perIteration(large) <= perIteration(small) * 1.5 + 0.5,
    `per iteration: ${perIteration(small).toFixed(2)} at m = ${small.m}, ${perIteration(large).toFixed(2)} at m = ${large.m}`,
  );
  assert.ok(large.inspected <= small.inspected * 1.5, `in all: ${small.inspected} vs ${large.inspected}`);
});

test("dispatchers with their own writable(): the active ones, plus m per sweep, sweeps at most every 8 ms", async () => {
  const counts: Count[] = [];
  for (const m of SIZES) counts.push(await count(ctx.map, m, OwnWritableEcho));
  for (const c of counts) {
    const what = `m = ${c.m}: ${c.inspected} inspected in ${c.collections} iterations, ${c.sweeps} sweeps in ${c.elapsedMs.toFixed(0)} ms`;
    // Outside sweeps an iteration looks at the active dispatchers only; a sweep looks at all m.
    assert.ok(c.inspected <= ACTIVE * c.collections + c.m * c.sweeps, what);
    assert.ok(c.inspected >= c.m * c.sweeps, what);
    // A sweep of 2,000 may take long enough to wait past the whole measurement (the next test).
    if (c.m === SIZES[0]) assert.ok(c.sweeps >= 1, what);
    // Sweeps are periodic, not per iteration.
    assert.ok(c.sweeps <= Math.ceil(c.elapsedMs / SWEEP_INTERVAL_MS) + 1, what);
    assert.ok(c.sweeps < c.collections, what);
  }
  // What is not the sweep's does not grow with m.
  const [small, large] = counts.map((c) => c.inspected - c.m * c.sweeps) as [number, number];
  assert.ok(
    large <= small * 1.5 + ACTIVE,
    `outside sweeps: ${small} inspected at m = 100, ${large} at m = 2000`,
  );
});

/** Busy for `ms` milliseconds, as a slow predicate or a collection pause would be. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** One connection accepted into `ctx.map` as a `Handler`, and its client end. */
async function acceptOne<T extends Dispatcher>(
  Handler: new (s: DispatcherSocket, map: SocketMap) => T,
): Promise<{ handler: T; client: net.Socket }> {
  const acceptMap: SocketMap = new Map();
  const acceptor = new Acceptor(undefined, acceptMap);
  let handler: T | undefined;
  acceptor.onSocket = (sock) => void (handler = new Handler(sock, ctx.map));
  acceptor.createSocket();
  void acceptor.bind(["127.0.0.1", 0]);
  const [host, port] = (await acceptor.listen(8)) as [string, number];
  const client = net.connect({ port, host });
  try {
    for (let i = 0; i < 1000 && handler === undefined; i++)
      await loop({ map: acceptMap, timeout: 5, count: 1 });
  } finally {
    closeAll(acceptMap);
  }
  if (handler === undefined) {
    client.destroy();
    assert.fail("the connection was not accepted");
  }
  return { handler, client };
}

test("a sweep that takes long is followed by a wait SWEEP_COST_RATIO times as long, and still sees changes", async () => {
  const SPIN_MS = 2;
  /**
   * writable() takes SPIN_MS, so each sweep does (on node:net readable() is asked only once
   * bytes wait); readable() turns true only through a timer.
   */
  class SlowPredicates extends Dispatcher {
    wantRead = false;
    readAt = Number.NaN;
    override readable(): boolean {
      return this.wantRead;
    }
    override writable(): boolean {
      spin(SPIN_MS);
      return false;
    }
    override handleRead(): void {
      this.recv(64);
      this.readAt = performance.now();
    }
  }
  const { handler, client } = await acceptOne(SlowPredicates);
  try {
    client.write("x");
    const scheduler = schedulerFor(ctx.map);
    const before = scheduler.sweeps;
    const start = performance.now();
    const flip = setTimeout(() => void (handler.wantRead = true), 300);
    try {
      for (let i = 0; i < 100 && Number.isNaN(handler.readAt); i++)
        await loop({ map: ctx.map, timeout: 50, count: 1 });
    } finally {
      clearTimeout(flip);
    }
    const elapsed = performance.now() - start;
    const sweeps = scheduler.sweeps - before;
    const what = `${sweeps} sweeps in ${elapsed.toFixed(0)} ms`;
    assert.ok(!Number.isNaN(handler.readAt), `a sweep saw readable() turn true (${what})`);
    // Every 8 ms would be about elapsed / 8; each sweep takes at least SPIN_MS.
    assert.ok(sweeps >= 2, what);
    assert.ok(sweeps <= Math.ceil(elapsed / (SPIN_MS * SWEEP_COST_RATIO)) + 2, what);
  } finally {
    client.destroy();
    closeAll(ctx.map);
  }
});

test("one sweep that a pause made long does not put off the next ones", async () => {
  /** Its own writable(), so it is swept; the third call takes 20 ms, as a collection might. */
  class OnceSlow extends Dispatcher {
    calls = 0;
    override writable(): boolean {
      if (++this.calls === 3) spin(20);
      return false;
    }
  }
  const { handler, client } = await acceptOne(OnceSlow);
  try {
    const scheduler = schedulerFor(ctx.map);
    const before = scheduler.sweeps;
    const start = performance.now();
    // Nothing is ready: the iteration ends at its timeout, and the sweeps wake the loop.
    await loop({ map: ctx.map, timeout: 300, count: 1 });
    const sweeps = scheduler.sweeps - before;
    const what = `${sweeps} sweeps in ${(performance.now() - start).toFixed(0)} ms, writable() called ${handler.calls} times`;
    assert.ok(handler.calls > 3, `the slow call happened (${what})`);
    // Were the 20 ms sweep alone to count, the next would be 800 ms off.
    assert.ok(sweeps >= 5, what);
  } finally {
    client.destroy();
    closeAll(ctx.map);
  }
});
