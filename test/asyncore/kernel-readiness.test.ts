/**
 * Readiness mode: on the native backend a connected dispatcher sees the kernel's own
 * readiness. readable()/writable() are the poll interest, recv(n) is one recv() of at most n
 * bytes and send() returns what the kernel took. On node:net it stays emulated: the same API
 * tests pass over both.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { afterEach, beforeEach, describe, test } from "node:test";
import { kChannel } from "../../src/asyncore/_symbols.js";
import { Dispatcher, loop } from "../../src/asyncore/index.js";
import { backendName } from "../../src/core/index.js";
import { loopUntil, MapContext, RecordingClient, rawServer } from "../support/asyncore-harness.js";
import { delay } from "../support/resources.js";

const native = backendName() === "native";
const skip = native ? false : "readiness mode is the native backend's";

let ctx: MapContext;
beforeEach(() => {
  ctx = new MapContext();
});
afterEach(() => ctx.teardown());

/** A client dispatcher whose predicates and read size the test sets, and what it saw. */
class Probe extends RecordingClient {
  reading = true;
  writing = false;
  readSize = 0;
  reads: Buffer[] = [];
  readEvents = 0;
  writeEvents = 0;
  override readable(): boolean {
    return this.reading;
  }
  /** Writable while connecting, as asyncore learns of a finished connect from writability. */
  override writable(): boolean {
    return !this.connected || this.writing;
  }
  override handleRead(): void {
    this.readEvents++;
    if (this.readSize > 0) this.reads.push(this.recv(this.readSize));
  }
  override handleWrite(): void {
    this.writeEvents++;
  }
  /** Bytes the kernel holds for this socket, unread. */
  unread(): number {
    return this[kChannel].io!.unread();
  }
}

async function connectedProbe(): Promise<{ d: Probe; peer: net.Socket; server: net.Server }> {
  const { server, addr, accepted } = await rawServer();
  const d = new Probe(undefined, ctx.map);
  d.createSocket();
  d.connect(addr);
  const peer = await accepted;
  await loopUntil(ctx.map, () => d.connected);
  // The connect's own write event called handleWrite once.
  d.writeEvents = 0;
  return { d, peer, server };
}

function total(chunks: Buffer[]): number {
  return chunks.reduce((n, c) => n + c.length, 0);
}

describe("readiness mode", () => {
  test("a dialled and an accepted dispatcher are in it on the native backend only", async () => {
    const { d, peer, server } = await connectedProbe();
    assert.equal(d[kChannel].io !== undefined, native);
    const listener = net.createServer();
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    class Server extends Dispatcher {
      accepted: Dispatcher | undefined;
      override handleAccepted(sock: net.Socket): void {
        this.accepted = new Dispatcher(sock, ctx.map);
      }
    }
    const s = new Server(undefined, ctx.map);
    s.createSocket();
    void s.bind(["127.0.0.1", 0]);
    const [, port] = (await s.listen(5)) as [string, number];
    const client = net.connect(port, "127.0.0.1");
    await loopUntil(ctx.map, () => s.accepted !== undefined);
    assert.equal(s.accepted![kChannel].io !== undefined, native);
    client.destroy();
    s.accepted!.close();
    s.close();
    d.close();
    peer.destroy();
    server.close();
    listener.close();
  });

  test("recv(n) takes n bytes; the rest stays in the kernel", { skip }, async () => {
    const { d, peer, server } = await connectedProbe();
    d.reading = false;
    peer.write(Buffer.alloc(1000, 7));
    await loopUntil(ctx.map, () => d.unread() === 1000);
    d.readSize = 10;
    d.reading = true;
    // Nothing marks the dispatcher: a sweep sees readable() turn true.
    await loopUntil(ctx.map, () => d.reads.length >= 1);
    d.reading = false;
    assert.equal(d.reads[0]!.length, 10);
    assert.equal(d.unread(), 1000 - total(d.reads));
    d.close();
    peer.destroy();
    server.close();
  });

  test("while readable() is false nothing is read into the process", { skip }, async () => {
    const { d, peer, server } = await connectedProbe();
    d.reading = false;
    const sent = Buffer.alloc(200 * 1024, 1);
    peer.write(sent);
    // The kernel's buffer takes what it can; none of it reaches the dispatcher.
    await loopUntil(ctx.map, () => d.unread() > 64 * 1024);
    for (let i = 0; i < 5; i++) await loop({ timeout: 10, count: 1, map: ctx.map });
    assert.equal(d.readEvents, 0);
    assert.equal(d[kChannel].queued, 0);
    // Then reading takes all of it, each recv() at most what was asked.
    d.readSize = 4096;
    d.reading = true;
    await loopUntil(ctx.map, () => total(d.reads) === sent.length, 2000);
    assert.ok(d.reads.every((c) => c.length <= 4096));
    assert.deepEqual(d.errors, []);
    d.close();
    peer.destroy();
    server.close();
  });

  test("a recv() that takes exactly what waits: no EWOULDBLOCK at the next iteration", { skip }, async () => {
    const { d, peer, server } = await connectedProbe();
    d.readSize = 4096;
    for (let round = 1; round <= 5; round++) {
      peer.write(Buffer.alloc(4096, round));
      await loopUntil(ctx.map, () => d.reads.length === round);
      for (let i = 0; i < 3; i++) await loop({ timeout: 5, count: 1, map: ctx.map });
    }
    assert.equal(d.readEvents, 5);
    assert.deepEqual(d.errors, []);
    assert.deepEqual(
      d.reads.map((c) => [c.length, c[0]]),
      [1, 2, 3, 4, 5].map((r) => [4096, r]),
    );
    d.close();
    peer.destroy();
    server.close();
  });

  test("send() returns what the kernel took: less than asked once its buffer is full", { skip }, async () => {
    const { d, peer, server } = await connectedProbe();
    peer.pause();
    const big = Buffer.alloc(32 * 1024 * 1024, 3);
    const first = d.send(big);
    assert.ok(first > 0 && first < big.length, `send took ${first}`);
    let n = first;
    // Both kernel buffers fill up (the peer is not reading) and the kernel takes nothing more.
    for (let i = 0; i < 10_000 && n > 0; i++) {
      n = d.send(big);
      if (i % 16 === 0) await new Promise((r) => setImmediate(r));
    }
    assert.equal(n, 0);
    // writable() is the poll interest: handleWrite comes once the kernel has room again.
    d.writing = true;
    peer.resume();
    await loopUntil(ctx.map, () => d.writeEvents > 0, 2000);
    assert.ok(d.send(Buffer.alloc(10)) > 0);
    d.close();
    peer.destroy();
    server.close();
  });

  test("a handler that ignores its readiness is not woken on every turn", { skip }, async () => {
    const { d, peer, server } = await connectedProbe();
    d.writing = true; // handleWrite sends nothing; handleRead reads nothing
    peer.write("x");
    const run = loop({ timeout: 5, map: ctx.map });
    await delay(200);
    const { readEvents, writeEvents } = d;
    d.close();
    await run;
    // A sweep every 8 ms at most looks again: about 25 of each, never thousands.
    assert.ok(readEvents >= 1 && readEvents <= 60, `handleRead ran ${readEvents} times`);
    assert.ok(writeEvents >= 1 && writeEvents <= 60, `handleWrite ran ${writeEvents} times`);
    peer.destroy();
    server.close();
  });

  test("with no loop running, a readable socket wakes the process once, not on every turn", {
    skip,
  }, async () => {
    const { d, peer, server } = await connectedProbe();
    const chan = d[kChannel];
    let reports = 0;
    const report = chan.onReadable.bind(chan);
    chan.onReadable = () => {
      reports++;
      report();
    };
    peer.write("unread");
    await delay(100);
    assert.ok(reports >= 1 && reports <= 2, `${reports} readiness reports in 100 ms`);
    // The next loop finds the socket readable and reads it.
    d.readSize = 100;
    await loopUntil(ctx.map, () => d.reads.length > 0);
    assert.equal(d.reads[0]!.toString(), "unread");
    d.close();
    peer.destroy();
    server.close();
  });

  test("EOF and a reset each reach handleClose through recv(), not handleError", { skip }, async () => {
    const { d, peer, server } = await connectedProbe();
    d.readSize = 100;
    peer.end("bye");
    await loopUntil(ctx.map, () => d.closes > 0);
    assert.equal(total(d.reads), 3);
    assert.deepEqual(d.errors, []);
    const second = await connectedProbe();
    second.d.readSize = 100;
    second.peer.resetAndDestroy();
    await loopUntil(ctx.map, () => second.d.closes > 0);
    assert.deepEqual(second.d.errors, []);
    peer.destroy();
    server.close();
    second.server.close();
  });
});
