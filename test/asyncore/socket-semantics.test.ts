/**
 * recv/send/connect/bind semantics of API.md on real loopback sockets: EWOULDBLOCK, EOF and
 * resets, a full send buffer, refused connects, bind failures, datagrams, pipes.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import { afterEach, beforeEach, describe, test } from "node:test";
import type { Address } from "../../src/address.js";
import {
  AF_INET,
  AF_INET6,
  Dispatcher,
  DispatcherWithSend,
  FileDispatcher,
  loop,
  SOCK_DGRAM,
} from "../../src/asyncore/index.js";
import { loopUntil, MapContext, rawServer, unixPath } from "../support/asyncore-harness.js";

let ctx: MapContext;
beforeEach(() => {
  ctx = new MapContext();
});
afterEach(() => ctx.teardown());

class Recorder extends Dispatcher {
  events: string[] = [];
  errors: unknown[] = [];
  override handleConnect(): void {
    this.events.push("connect");
  }
  override handleClose(): void {
    this.events.push("close");
    this.close();
  }
  override handleError(err: unknown): void {
    this.errors.push(err);
    this.close();
  }
}

describe("recv", () => {
  test("throws EWOULDBLOCK with nothing buffered, returns data, then empty + handleClose at EOF", async () => {
    const { server, addr, accepted } = await rawServer();
    const d = new Recorder(undefined, ctx.map);
    d.createSocket();
    d.connect(addr);
    const peer = await accepted;
    await loopUntil(ctx.map, () => d.connected);
    assert.throws(() => d.recv(10), { code: "EWOULDBLOCK" });
    peer.end("hello world");
    const got: Buffer[] = [];
    d.handleRead = function (this: Recorder) {
      const data = this.recv(4);
      if (data.length > 0) got.push(data);
    };
    d.writable = () => false;
    await loopUntil(ctx.map, () => d.events.includes("close"));
    assert.equal(Buffer.concat(got).toString(), "hello world");
    assert.ok(got.every((c) => c.length <= 4));
    assert.deepEqual(d.events, ["connect", "close"]);
    server.close();
  });

  test("a reset in the middle of a transfer reaches handleClose and nothing escapes loop()", async () => {
    const { server, addr, accepted } = await rawServer();
    let received = 0;
    class Reader extends Recorder {
      override handleRead(): void {
        received += this.recv(65536).length;
      }
      override writable(): boolean {
        return !this.connected;
      }
    }
    const d = new Reader(undefined, ctx.map);
    d.createSocket();
    d.connect(addr);
    const peer = await accepted;
    peer.write(Buffer.alloc(200_000, 1), () => peer.resetAndDestroy());
    await loop({ timeout: 50, count: 400, map: ctx.map });
    assert.deepEqual(d.errors, []);
    assert.ok(d.events.includes("close"), `events: ${d.events.join(",")}`);
    assert.ok(received <= 200_000);
    server.close();
  });
});

describe("send", () => {
  test("returns 0 once the socket's buffer is full, then more once the peer reads", async () => {
    const { server, addr, accepted } = await rawServer();
    const d = new Recorder(undefined, ctx.map);
    d.createSocket();
    d.connect(addr);
    const peer = await accepted;
    peer.pause();
    await loopUntil(ctx.map, () => d.connected);
    const chunk = Buffer.alloc(64 * 1024, 2);
    let total = 0;
    let taken = 0;
    for (let i = 0; i < 10_000; i++) {
      taken = d.send(chunk);
      total += taken;
      if (taken === 0) break;
      if (i % 16 === 0) await new Promise((r) => setImmediate(r));
    }
    assert.equal(taken, 0, "send() never buffers without bound");
    assert.ok(total > 0);
    let drained = 0;
    peer.on("data", (c: Buffer) => {
      drained += c.length;
    });
    peer.resume();
    let writable = false;
    d.handleWrite = () => {
      writable = true;
    };
    d.readable = () => false;
    await loopUntil(ctx.map, () => writable);
    assert.ok(d.send(chunk) > 0, "the socket takes more after draining");
    d.close();
    await new Promise((r) => peer.once("end", r));
    assert.equal(drained, total + chunk.length);
    peer.destroy();
    server.close();
  });

  test("calls handleClose and returns 0 when the peer is gone", async () => {
    const { server, addr, accepted } = await rawServer();
    const d = new Recorder(undefined, ctx.map);
    d.readable = () => true;
    d.handleRead = function (this: Recorder) {
      this.recv(100);
    };
    d.writable = () => false;
    d.createSocket();
    d.connect(addr);
    const peer = await accepted;
    await loopUntil(ctx.map, () => d.connected || d.events.length > 0, 50).catch(() => undefined);
    peer.resetAndDestroy();
    await loopUntil(ctx.map, () => d.events.includes("close"));
    assert.equal(d.send("late"), 0);
    server.close();
  });
});

describe("connect", () => {
  test("a refused connect reaches handleError with ECONNREFUSED", async () => {
    const { server, addr } = await rawServer();
    await new Promise((r) => server.close(r));
    const d = new Recorder(undefined, ctx.map);
    d.createSocket();
    d.connect(addr);
    await loopUntil(ctx.map, () => d.errors.length > 0);
    assert.equal((d.errors[0] as { code?: string }).code, "ECONNREFUSED");
    assert.deepEqual(d.events, [], "handleConnect never ran");
  });

  test("handleConnect runs just before connected becomes true", async () => {
    const { server, addr, accepted } = await rawServer();
    let connectedDuringHandler: boolean | undefined;
    class C extends Recorder {
      override handleConnect(): void {
        connectedDuringHandler = this.connected;
      }
      override handleWrite(): void {}
    }
    const d = new C(undefined, ctx.map);
    d.createSocket();
    d.connect(addr);
    assert.equal(d.connecting, true);
    await loopUntil(ctx.map, () => d.connected);
    assert.equal(connectedDuringHandler, false);
    assert.equal(d.connecting, false);
    assert.deepEqual(d.addr, ["127.0.0.1", (addr as [string, number])[1]]);
    (await accepted).destroy();
    d.close();
    server.close();
  });

  test("connects over a Unix-domain socket path", async () => {
    const path = unixPath();
    const server = net.createServer((s) => s.end("hi"));
    await new Promise<void>((r) => server.listen(path, r));
    let got = "";
    class C extends Recorder {
      override handleRead(): void {
        got += this.recv(100).toString();
      }
      override handleWrite(): void {}
    }
    const d = new C(undefined, ctx.map);
    d.createSocket(1);
    d.connect(path);
    await loopUntil(ctx.map, () => d.events.includes("close"));
    assert.equal(got, "hi");
    server.close();
  });
});

describe("bind and listen", () => {
  test("a failure rejects and reaches handleError; an ignored promise is no unhandled rejection", async () => {
    const { server, addr } = await rawServer();
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown): void => {
      unhandled.push(err);
    };
    process.on("unhandledRejection", onUnhandled);
    try {
      const d = new Recorder(undefined, ctx.map);
      d.createSocket(AF_INET);
      void d.bind(addr);
      void d.listen(5);
      await loopUntil(ctx.map, () => d.errors.length > 0);
      assert.equal((d.errors[0] as { code?: string }).code, "EADDRINUSE");
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      server.close();
    }
  });

  test("getsockname() and addr give the bound address", async () => {
    const d = new Recorder(undefined, ctx.map);
    d.createSocket(AF_INET6);
    const bound = d.bind(["::1", 0]);
    const listening = await d.listen(5);
    assert.deepEqual(await bound, listening);
    assert.deepEqual(d.getsockname(), listening);
    assert.deepEqual(d.addr, listening);
    assert.match(String(d), /^<Recorder listening \[::1\]:\d+ at #\d+>$/);
    d.close();
  });
});

describe("datagrams", () => {
  test("sendto/recvfrom exchange datagrams with their addresses", async () => {
    const received: Array<[string, Address]> = [];
    class Udp extends Recorder {
      override handleRead(): void {
        const got = this.recvfrom(1024);
        if (got !== null) received.push([got[0].toString(), got[1]]);
      }
      override writable(): boolean {
        return false;
      }
    }
    const a = new Udp(undefined, ctx.map);
    a.createSocket(AF_INET, SOCK_DGRAM);
    const addrA = await a.bind(["127.0.0.1", 0]);
    const b = new Udp(undefined, ctx.map);
    b.createSocket(AF_INET, SOCK_DGRAM);
    const addrB = await b.bind(["127.0.0.1", 0]);
    assert.equal(a.sendto("ping", addrB), 4);
    assert.equal(b.sendto(Buffer.from("pong"), addrA), 4);
    await loopUntil(ctx.map, () => received.length === 2);
    assert.deepEqual(received.map((r) => r[0]).sort(), ["ping", "pong"]);
    const fromA = received.find((r) => r[0] === "ping")!;
    assert.deepEqual(fromA[1], addrA);
    assert.equal(b.recvfrom(10), null, "null when none waits");
    assert.throws(() => b.recv(10), { code: "EWOULDBLOCK" });
    a.close();
    b.close();
  });

  test("a datagram cut to bufferSize, and sendto on a stream socket is an error", async () => {
    const d = new Recorder(undefined, ctx.map);
    d.createSocket(AF_INET, SOCK_DGRAM);
    const addr = await d.bind(["127.0.0.1", 0]);
    d.sendto("abcdef", addr);
    d.readable = () => true;
    let got: Buffer | undefined;
    d.handleRead = function (this: Recorder) {
      got = this.recvfrom(3)?.[0];
    };
    d.writable = () => false;
    await loopUntil(ctx.map, () => got !== undefined);
    assert.equal(got!.toString(), "abc");
    d.close();
    const s = new Recorder(undefined, ctx.map);
    s.createSocket();
    assert.throws(() => s.sendto("x", addr), { code: "ERR_BAD_SOCKET" });
    s.close();
  });
});

describe("FileDispatcher", () => {
  test("reads what is written to a pipe (test_dispatcher of FileWrapperTest)", async () => {
    const fifo = unixPath().replace(/\.sock$/, ".fifo");
    execFileSync("mkfifo", [fifo]);
    const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    let data = "";
    class PipeReader extends FileDispatcher {
      override handleRead(): void {
        data += this.recv(64).toString();
      }
      override writable(): boolean {
        return false;
      }
    }
    const d = new PipeReader(fd, ctx.map);
    assert.equal(d.connected, true);
    const w = fs.openSync(fifo, fs.constants.O_WRONLY);
    fs.writeSync(w, "It's not dead, it's sleeping!");
    fs.closeSync(w);
    await loopUntil(ctx.map, () => data.length === 29);
    assert.equal(data, "It's not dead, it's sleeping!");
    d.close();
    fs.rmSync(fifo);
  });

  test("refuses a regular file with ERR_BAD_SOCKET", () => {
    const file = unixPath().replace(/\.sock$/, ".txt");
    fs.writeFileSync(file, "x");
    const fd = fs.openSync(file, "r");
    try {
      assert.throws(() => new FileDispatcher(fd, ctx.map), { code: "ERR_BAD_SOCKET" });
    } finally {
      fs.closeSync(fd);
      fs.rmSync(file);
    }
  });
});

describe("readiness changed from outside a dispatcher's handlers", () => {
  test("the chat broadcast pattern delivers to every member", async () => {
    const members: Member[] = [];
    class Member extends DispatcherWithSend {
      override handleRead(): void {
        const data = this.recv(4096);
        if (data.length === 0) return;
        for (const m of members) if (m !== this) m.send(data);
      }
      override handleClose(): void {
        this.close();
      }
    }
    class Hub extends Dispatcher {
      override handleAccepted(sock: net.Socket): void {
        members.push(new Member(sock, ctx.map));
      }
    }
    const hub = new Hub(undefined, ctx.map);
    hub.createSocket();
    void hub.bind(["127.0.0.1", 0]);
    const [host, port] = (await hub.listen(5)) as [string, number];
    const clients = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(port, host, () => resolve(s));
          }),
      ),
    );
    const got = clients.map(() => "");
    clients.forEach((c, i) => {
      c.on("data", (d: Buffer) => {
        got[i] += d.toString();
      });
    });
    await loopUntil(ctx.map, () => members.length === 3);
    clients[0]!.write("hello all");
    await loopUntil(ctx.map, () => got[1] === "hello all" && got[2] === "hello all");
    assert.equal(got[0], "");
    for (const c of clients) c.destroy();
    await loopUntil(ctx.map, () => ctx.map.size === 1);
    hub.close();
  });

  test("a writable() that another party flips is seen within 10 ms", async () => {
    const { server, addr, accepted } = await rawServer();
    class Flagged extends Dispatcher {
      pending = false;
      wroteAt = 0;
      override readable(): boolean {
        return false;
      }
      override writable(): boolean {
        return this.pending;
      }
      override handleWrite(): void {
        this.wroteAt = performance.now();
        this.pending = false;
      }
      override handleConnect(): void {}
    }
    const d = new Flagged(undefined, ctx.map);
    d.createSocket();
    d.pending = true;
    d.connect(addr);
    await loopUntil(ctx.map, () => d.connected);
    const peer = await accepted;
    const lags: number[] = [];
    for (let i = 0; i < 5; i++) {
      const flippedAt = performance.now() + 3;
      setTimeout(() => {
        d.pending = true;
      }, 3);
      d.wroteAt = 0;
      await loopUntil(ctx.map, () => d.wroteAt > 0, 100);
      lags.push(d.wroteAt - flippedAt);
    }
    lags.sort((x, y) => x - y);
    assert.ok(lags[2]! < 10, `median lag ${lags[2]} ms (all: ${lags.join(", ")})`);
    d.close();
    peer.destroy();
    server.close();
  });
});
