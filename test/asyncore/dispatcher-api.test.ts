/**
 * The socket API cases of CPython 3.11's test_asyncore.py (BaseTestAPI), run over IPv4, IPv6
 * and Unix-domain sockets on loopback.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { after, afterEach, beforeEach, describe, test } from "node:test";
import type { Address } from "../../src/address.js";
import { AF_INET, AF_INET6, AF_UNIX, Dispatcher, loop, SOCK_STREAM } from "../../src/asyncore/index.js";
import { backendName, NativeSocket, NativeStreamListener } from "../../src/core/index.js";
import { type Family, loopUntil, MapContext, unixPath } from "../support/asyncore-harness.js";

const families: Family[] = [
  { name: "IPv4", family: AF_INET, addr: () => ["127.0.0.1", 0] },
  { name: "IPv6", family: AF_INET6, addr: () => ["::1", 0] },
  { name: "Unix", family: AF_UNIX, addr: () => unixPath() },
];

/** Errors raised where no handler was expected: asserted empty after each test. */
let unexpected: string[] = [];

/** A handler every unexpected callback of which is recorded. */
class BaseTestHandler extends Dispatcher {
  flag = false;
  override handleAccept(): void {
    unexpected.push("handleAccept not supposed to be called");
  }
  override handleAccepted(sock: net.Socket, _addr: Address): void {
    sock.destroy();
    unexpected.push("handleAccepted not supposed to be called");
  }
  override handleConnect(): void {
    unexpected.push("handleConnect not supposed to be called");
  }
  override handleExpt(): void {
    unexpected.push("handleExpt not supposed to be called");
  }
  override handleClose(): void {
    unexpected.push("handleClose not supposed to be called");
    this.close();
  }
  override handleError(err: unknown): void {
    unexpected.push(`handleError: ${String(err)}`);
    this.close();
  }
}

type HandlerClass = new (sock: net.Socket, map: Map<number, Dispatcher>) => Dispatcher;

/** Listens and hands each connection to `handler`. */
class BaseServer extends Dispatcher {
  readonly ready: Promise<Address>;
  readonly #handler: HandlerClass;
  readonly #map: Map<number, Dispatcher>;
  constructor(
    family: number,
    addr: Address,
    map: Map<number, Dispatcher>,
    handler: HandlerClass = BaseTestHandler,
  ) {
    super(undefined, map);
    this.#map = map;
    this.#handler = handler;
    this.createSocket(family);
    this.setReuseAddr();
    void this.bind(addr);
    this.ready = this.listen(5);
  }
  override handleAccepted(sock: net.Socket): void {
    new this.#handler(sock, this.#map);
  }
  override handleError(err: unknown): void {
    unexpected.push(`server handleError: ${String(err)}`);
    this.close();
  }
}

class BaseClient extends BaseTestHandler {
  constructor(family: number, address: Address, map: Map<number, Dispatcher>) {
    super(undefined, map);
    this.createSocket(family);
    this.connect(address);
  }
  override handleConnect(): void {}
}

for (const fam of families) {
  describe(`dispatcher API over ${fam.name}`, () => {
    let ctx: MapContext;
    beforeEach(() => {
      ctx = new MapContext();
      unexpected = [];
    });
    afterEach(async () => {
      await ctx.teardown(false);
      assert.deepEqual(unexpected, []);
    });
    after(() => undefined);

    test("handleConnect runs on connect() (test_handle_connect)", async () => {
      class TestClient extends BaseClient {
        override handleConnect(): void {
          this.flag = true;
        }
      }
      const server = new BaseServer(fam.family, fam.addr(), ctx.map);
      const client = new TestClient(fam.family, await server.ready, ctx.map);
      await loopUntil(ctx.map, () => client.flag);
      assert.equal(client.connected, true);
    });

    test("handleAccept runs when a client connects (test_handle_accept)", async () => {
      class TestListener extends BaseTestHandler {
        ready: Promise<Address>;
        constructor(map: Map<number, Dispatcher>) {
          super(undefined, map);
          this.createSocket(fam.family);
          void this.bind(fam.addr());
          this.ready = this.listen(5);
        }
        override handleAccept(): void {
          this.flag = true;
          const pair = this.accept();
          pair?.[0].destroy();
        }
      }
      const server = new TestListener(ctx.map);
      new BaseClient(fam.family, await server.ready, ctx.map);
      await loopUntil(ctx.map, () => server.flag);
    });

    test("handleAccepted receives the socket (test_handle_accepted)", async () => {
      let peer: Address | undefined;
      class TestListener extends BaseTestHandler {
        ready: Promise<Address>;
        constructor(map: Map<number, Dispatcher>) {
          super(undefined, map);
          this.createSocket(fam.family);
          void this.bind(fam.addr());
          this.ready = this.listen(5);
        }
        override handleAccept(): void {
          Dispatcher.prototype.handleAccept.call(this);
        }
        override handleAccepted(sock: net.Socket, addr: Address): void {
          // The backend's own socket object: a net.Socket, or a NativeSocket on the native backend.
          assert.ok(sock instanceof (backendName() === "native" ? NativeSocket : net.Socket));
          peer = addr;
          sock.destroy();
          this.flag = true;
        }
      }
      const server = new TestListener(ctx.map);
      new BaseClient(fam.family, await server.ready, ctx.map);
      await loopUntil(ctx.map, () => server.flag);
      if (fam.family === AF_UNIX) assert.equal(peer, "");
      else assert.equal((peer as [string, number])[0], fam.family === AF_INET6 ? "::1" : "127.0.0.1");
    });

    test("handleRead runs when data arrives (test_handle_read)", async () => {
      class TestClient extends BaseClient {
        override handleRead(): void {
          this.flag = true;
          assert.equal(this.recv(4096).length > 0, true);
        }
      }
      class TestHandler extends BaseTestHandler {
        constructor(conn: net.Socket, map: Map<number, Dispatcher>) {
          super(conn, map);
          this.send(Buffer.alloc(1024, "x"));
        }
        override writable(): boolean {
          return false;
        }
      }
      const server = new BaseServer(fam.family, fam.addr(), ctx.map, TestHandler);
      const client = new TestClient(fam.family, await server.ready, ctx.map);
      await loopUntil(ctx.map, () => client.flag);
    });

    test("handleWrite runs when the socket can take data (test_handle_write)", async () => {
      class TestClient extends BaseClient {
        override handleWrite(): void {
          this.flag = true;
        }
      }
      const server = new BaseServer(fam.family, fam.addr(), ctx.map);
      const client = new TestClient(fam.family, await server.ready, ctx.map);
      await loopUntil(ctx.map, () => client.flag);
    });

    test("handleClose runs when the other end closes (test_handle_close)", async () => {
      class TestClient extends BaseClient {
        override handleRead(): void {
          this.recv(1024);
        }
        override handleWrite(): void {}
        override handleClose(): void {
          this.flag = true;
          this.close();
        }
      }
      class TestHandler extends BaseTestHandler {
        constructor(conn: net.Socket, map: Map<number, Dispatcher>) {
          super(conn, map);
          this.close();
        }
      }
      const server = new BaseServer(fam.family, fam.addr(), ctx.map, TestHandler);
      const client = new TestClient(fam.family, await server.ready, ctx.map);
      await loopUntil(ctx.map, () => client.flag);
    });

    test("a broken connection reaches handleClose (test_handle_close_after_conn_broken)", async () => {
      const data = Buffer.alloc(128);
      class TestClient extends BaseClient {
        override handleWrite(): void {
          this.send(data);
        }
        override handleRead(): void {
          this.recv(1024);
        }
        override handleClose(): void {
          this.flag = true;
          this.close();
        }
        override handleExpt(): void {
          this.flag = true;
          this.close();
        }
      }
      class TestHandler extends BaseTestHandler {
        override handleRead(): void {
          this.recv(data.length);
          this.close();
        }
        override writable(): boolean {
          return false;
        }
      }
      const server = new BaseServer(fam.family, fam.addr(), ctx.map, TestHandler);
      const client = new TestClient(fam.family, await server.ready, ctx.map);
      await loopUntil(ctx.map, () => client.flag, 2000);
    });

    test("an exception in a handler reaches handleError (test_handle_error)", async () => {
      class TestClient extends BaseClient {
        caught: unknown;
        override handleWrite(): void {
          throw new RangeError("division by zero");
        }
        override handleError(err: unknown): void {
          this.caught = err;
          this.flag = true;
          this.close();
        }
      }
      const server = new BaseServer(fam.family, fam.addr(), ctx.map);
      const client = new TestClient(fam.family, await server.ready, ctx.map);
      await loopUntil(ctx.map, () => client.flag);
      assert.ok(client.caught instanceof RangeError);
    });

    test("connected/accepting follow the socket's life (test_connection_attributes)", async () => {
      const server = new BaseServer(fam.family, fam.addr(), ctx.map);
      const client = new BaseClient(fam.family, await server.ready, ctx.map);
      assert.equal(server.connected, false);
      assert.equal(server.accepting, true);
      assert.equal(client.accepting, false);
      // The accepted connection is a BaseTestHandler, whose default handlers must not be reached.
      await loopUntil(ctx.map, () => client.connected);
      await loop({ timeout: 10, count: 5, map: ctx.map });
      assert.equal(server.connected, false);
      assert.equal(server.accepting, true);
      assert.equal(client.connected, true);
      assert.equal(client.accepting, false);
      client.close();
      assert.equal(client.connected, false);
      assert.equal(client.accepting, false);
      server.close();
      assert.equal(server.connected, false);
      assert.equal(server.accepting, false);
    });

    test("createSocket makes a stream socket of the family (test_create_socket)", async () => {
      const s = new Dispatcher(undefined, ctx.map);
      s.createSocket(fam.family, SOCK_STREAM);
      assert.equal(ctx.map.get(s.fileno()), s);
      void s.bind(fam.addr());
      const addr = await s.listen(5);
      assert.ok(s.socket instanceof (backendName() === "native" ? NativeStreamListener : net.Server));
      if (fam.family === AF_UNIX) assert.equal(typeof addr, "string");
      else assert.equal(net.isIP((addr as [string, number])[0]), fam.family === AF_INET6 ? 6 : 4);
      s.close();
    });

    if (fam.family !== AF_UNIX) {
      test("a second bind to a used port fails with EADDRINUSE (test_bind)", async () => {
        const s1 = new Dispatcher(undefined, ctx.map);
        s1.createSocket(fam.family);
        void s1.bind(fam.addr());
        const [host, port] = (await s1.listen(5)) as [string, number];
        const errors: unknown[] = [];
        class Failing extends Dispatcher {
          override handleError(err: unknown): void {
            errors.push(err);
            this.close();
          }
        }
        const s2 = new Failing(undefined, ctx.map);
        s2.createSocket(fam.family);
        const bound = s2.bind([host, port]);
        await assert.rejects(s2.listen(5), { code: "EADDRINUSE" });
        await assert.rejects(bound, { code: "EADDRINUSE" });
        await loopUntil(ctx.map, () => errors.length > 0);
        assert.equal((errors[0] as { code?: string }).code, "EADDRINUSE");
        s1.close();
      });

      test("a connection reset right after connect does not disturb the server (test_quick_connect)", async () => {
        const server = new BaseServer(fam.family, fam.addr(), ctx.map);
        const [host] = (await server.ready) as [string, number];
        // Accepted handlers see the reset as EOF; they may close quietly.
        class Quiet extends BaseTestHandler {
          override handleRead(): void {
            this.recv(1024);
          }
          override handleWrite(): void {}
          override handleClose(): void {
            this.close();
          }
        }
        server.close();
        const server2 = new BaseServer(fam.family, [host, 0], ctx.map, Quiet);
        const address = (await server2.ready) as [string, number];
        const s = net.connect({ host: address[0], port: address[1] });
        s.on("error", () => {});
        s.on("connect", () => s.resetAndDestroy());
        const looping = loop({ timeout: 100, count: 5, map: ctx.map });
        await looping;
        assert.equal(server2.accepting, true);
        server2.close();
      });
    }
  });
}
