/**
 * The cost of a loop iteration follows activity, not the size of the map: counted, not timed.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { afterEach, beforeEach, test } from "node:test";
import { schedulerFor } from "../../src/asyncore/_scheduler.js";
import { Dispatcher, DispatcherWithSend, loop, type SocketMap } from "../../src/asyncore/index.js";
import { loopUntil, MapContext } from "../support/asyncore-harness.js";

let ctx: MapContext;
beforeEach(() => {
  ctx = new MapContext();
});
afterEach(() => ctx.teardown());

const IDLE = 1000;
const ROUNDS = 200;

class Echo extends DispatcherWithSend {
  override handleRead(): void {
    const data = this.recv(65536);
    if (data.length > 0) this.send(data);
  }
  override handleClose(): void {
    this.close();
  }
}

/** Echo with its own writable(): its readiness can change unseen, so the sweep watches it. */
class OwnPredicateEcho extends Dispatcher {
  #out: Buffer[] = [];
  override handleRead(): void {
    const data = this.recv(65536);
    if (data.length > 0) this.#out.push(data);
  }
  override writable(): boolean {
    return this.#out.length > 0;
  }
  override handleWrite(): void {
    this.send(this.#out.shift()!);
  }
  override handleClose(): void {
    this.close();
  }
}

async function measure(
  map: SocketMap,
  Handler: new (s: net.Socket, m: SocketMap) => Dispatcher,
): Promise<{ perIteration: number; sweeps: number; inspected: number; collections: number }> {
  class Server extends Dispatcher {
    override handleAccepted(sock: net.Socket): void {
      new Handler(sock, map);
    }
  }
  const server = new Server(undefined, map);
  server.createSocket();
  void server.bind(["127.0.0.1", 0]);
  const [host, port] = (await server.listen(1024)) as [string, number];
  const clients: net.Socket[] = [];
  const connectAll = Promise.all(
    Array.from({ length: IDLE + 1 }, () => {
      const s = net.connect(port, host);
      clients.push(s);
      return new Promise((r) => s.once("connect", r));
    }),
  );
  await connectAll;
  await loopUntil(map, () => map.size === IDLE + 2, 5000);
  // Let connection set-up settle, then count only the ping-pong.
  await loop({ timeout: 20, count: 3, map });
  const scheduler = schedulerFor(map);
  const before = {
    inspected: scheduler.inspected,
    collections: scheduler.collections,
    sweeps: scheduler.sweeps,
  };
  const active = clients[0]!;
  let echoed = 0;
  active.on("data", (d: Buffer) => {
    echoed += d.length;
  });
  for (let i = 1; i <= ROUNDS; i++) {
    active.write("ping!");
    await loopUntil(map, () => echoed === i * 5, 100);
  }
  const inspected = scheduler.inspected - before.inspected;
  const collections = scheduler.collections - before.collections;
  const sweeps = scheduler.sweeps - before.sweeps;
  for (const c of clients) c.destroy();
  await loopUntil(map, () => map.size === 1, 5000);
  server.close();
  return { perIteration: inspected / collections, sweeps, inspected, collections };
}

test(`with ${IDLE} idle connections an iteration inspects only the active dispatchers`, async () => {
  const r = await measure(ctx.map, Echo);
  assert.equal(r.sweeps, 0, "self-reporting dispatchers need no sweep");
  assert.ok(r.perIteration <= 2, `inspected ${r.inspected} dispatchers in ${r.collections} iterations`);
});

test("dispatchers with their own writable() cost one look each per sweep, not per iteration", async () => {
  const r = await measure(ctx.map, OwnPredicateEcho);
  // Everything beyond the active dispatcher is accounted for by the periodic sweeps.
  const budget = 2 * r.collections + r.sweeps * (IDLE + 2);
  assert.ok(r.inspected <= budget, `inspected ${r.inspected}, budget ${budget} (${r.sweeps} sweeps)`);
  assert.ok(r.sweeps < r.collections, `${r.sweeps} sweeps in ${r.collections} iterations`);
});
