/**
 * A Dispatcher wraps Node objects the user already has: a connected net.Socket, a listening
 * net.Server, a bound dgram.Socket.
 */
import assert from "node:assert/strict";
import * as dgram from "node:dgram";
import * as net from "node:net";
import { afterEach, beforeEach, test } from "node:test";
import type { Address } from "../../src/address.js";
import { Dispatcher } from "../../src/asyncore/index.js";
import { loopUntil, MapContext } from "../support/asyncore-harness.js";

let ctx: MapContext;
beforeEach(() => {
  ctx = new MapContext();
});
afterEach(() => ctx.teardown());

test("a listening net.Server becomes an accepting dispatcher", async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  const accepted: Address[] = [];
  class Listener extends Dispatcher {
    override handleAccepted(sock: net.Socket, addr: Address): void {
      accepted.push(addr);
      sock.end("welcome");
    }
  }
  const d = new Listener(server, ctx.map);
  assert.equal(d.accepting, true);
  assert.deepEqual(d.getsockname(), ["127.0.0.1", port]);
  const got = new Promise<string>((resolve) => {
    const c = net.connect(port, "127.0.0.1");
    let text = "";
    c.on("data", (b: Buffer) => {
      text += b.toString();
    });
    c.on("end", () => {
      c.destroy();
      resolve(text);
    });
  });
  await loopUntil(ctx.map, () => accepted.length === 1);
  assert.equal(await got, "welcome");
  d.close();
  assert.equal(server.listening, false);
});

test("a bound dgram.Socket becomes a datagram dispatcher", async () => {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  const { port } = sock.address();
  const got: string[] = [];
  class Udp extends Dispatcher {
    override handleRead(): void {
      const next = this.recvfrom(100);
      if (next) got.push(next[0].toString());
    }
    override writable(): boolean {
      return false;
    }
  }
  const d = new Udp(sock, ctx.map);
  const sender = dgram.createSocket("udp4");
  sender.send("over udp", port, "127.0.0.1");
  await loopUntil(ctx.map, () => got.length === 1);
  assert.deepEqual(got, ["over udp"]);
  assert.deepEqual(d.getsockname(), ["127.0.0.1", port]);
  sender.close();
  d.close();
});

test("a connected net.Socket: connected, addr is the peer, data flows both ways", async () => {
  const server = net.createServer((s) => s.on("data", (b: Buffer) => s.write(b.toString().toUpperCase())));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect(port, "127.0.0.1");
  await new Promise((r) => client.once("connect", r));
  let reply = "";
  class Upper extends Dispatcher {
    override handleRead(): void {
      reply += this.recv(100).toString();
    }
    override writable(): boolean {
      return false;
    }
  }
  const d = new Upper(client, ctx.map);
  assert.equal(d.connected, true);
  assert.deepEqual(d.addr, ["127.0.0.1", port]);
  assert.equal(d.send("shout"), 5);
  await loopUntil(ctx.map, () => reply === "SHOUT");
  d.close();
  await new Promise((r) => server.close(r));
});

test("setSocket refuses what is not a socket", () => {
  const d = new Dispatcher(undefined, ctx.map);
  assert.throws(() => d.setSocket({} as net.Socket), { code: "ERR_BAD_SOCKET" });
});
