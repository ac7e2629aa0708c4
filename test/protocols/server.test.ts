/**
 * Server: close/waitClosed/serveForever/startServing/async dispose, signals, listening
 * failures, and the stream cases of CPython 3.11 test_asyncio/test_server.py.
 */
import assert from "node:assert/strict";
import { linkSync, lstatSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { describe, it } from "node:test";
import type { Protocol, Server, Transport } from "../../src/protocols/index.js";
import {
  createConnection,
  createServer,
  createUnixConnection,
  createUnixServer,
} from "../../src/protocols/index.js";
import {
  collectReports,
  deferred,
  Factory,
  Recorder,
  recorders,
  tcpAddress,
  tempDir,
  until,
  within,
} from "./helpers.js";

/** What the CPython cases serve: read a line, stop the server, answer "1", close. */
class LineThenStop implements Protocol {
  #t: Transport | undefined;
  #buf = "";
  constructor(readonly stop: () => void) {}
  connectionMade(t: Transport): void {
    this.#t = t;
  }
  dataReceived(data: Buffer): void {
    this.#buf += data.toString("latin1");
    if (!this.#buf.includes("\n")) return;
    this.stop();
    this.#t!.write("1");
    this.#t!.close();
  }
}

const HELLO = `${"1".repeat(1024 * 5)}\n`;

/** Connect, send HELLO, read one byte, close: the client of the CPython cases. */
async function helloClient(connect: (f: () => Protocol) => Promise<[Transport, Protocol]>): Promise<string> {
  const [transport, client] = await connect(() => new Recorder());
  transport.write(HELLO);
  const answer = (await (client as Recorder).bytes(1)).toString();
  transport.close();
  await within((client as Recorder).lost.promise);
  return answer;
}

async function dispose(server: Server): Promise<void> {
  await within(server[Symbol.asyncDispose](), 3000, "the server to close");
}

describe("Server (CPython test_server.py)", () => {
  it("test_start_server_1: serveForever() until the handler stops it", async () => {
    let srv: Server | undefined;
    srv = await createServer(() => new LineThenStop(() => srv!.close()), "127.0.0.1", 0, {
      startServing: false,
    });
    assert.equal(srv.isServing(), false);
    const addr = tcpAddress(srv.addresses);
    const main = (async () => {
      await using s = srv;
      await s.serveForever();
    })();
    await until(() => srv!.isServing(), 2000, "isServing()");
    const answer = await helloClient((f) => createConnection(f, ...addr));
    await within(main);
    assert.equal(answer, "1");
    assert.deepEqual(srv.addresses, []);
    assert.equal(srv.isServing(), false);
    await assert.rejects(srv.serveForever(), { code: "ERR_SERVER_CLOSED", message: /is closed/ });
  });

  it("test_start_unix_server_1: startServing() then serveForever() over a Unix socket", async () => {
    const tmp = tempDir();
    try {
      const addr = path.join(tmp.dir, "srv.sock");
      let srv: Server | undefined;
      srv = await createUnixServer(() => new LineThenStop(() => srv!.close()), addr, { startServing: false });
      const started = deferred();
      const main = (async () => {
        await using s = srv;
        assert.equal(s.isServing(), false);
        await s.startServing();
        assert.equal(s.isServing(), true);
        started.resolve();
        await s.serveForever();
      })();
      await within(started.promise);
      const answer = await helloClient((f) => createUnixConnection(f, addr));
      await within(main);
      assert.equal(answer, "1");
      assert.deepEqual(srv.addresses, []);
      assert.equal(srv.isServing(), false);
      await assert.rejects(srv.serveForever(), { code: "ERR_SERVER_CLOSED", message: /is closed/ });
    } finally {
      tmp.remove();
    }
  });
});

describe("Server", () => {
  it("holds connections that arrive before startServing() and serves them then", async () => {
    const serverSide = recorders();
    const server = await createServer(serverSide.create, "127.0.0.1", 0, { startServing: false });
    const [transport] = await createConnection(() => new Recorder(), ...tcpAddress(server.addresses));
    transport.write("waiting");
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(serverSide.made.length, 0);
    await server.startServing();
    await server.startServing(); // no-op
    const remote = await serverSide.nth(0);
    assert.equal((await remote.bytes(7)).toString(), "waiting");
    assert.deepEqual(remote.events, ["connectionMade", "data"]);
    transport.close();
    await dispose(server);
  });

  it("close() aborts connections held before serving started", async () => {
    const serverSide = recorders();
    const server = await createServer(serverSide.create, "127.0.0.1", 0, { startServing: false });
    const [, client] = await createConnection(() => new Recorder(), ...tcpAddress(server.addresses));
    await new Promise((r) => setTimeout(r, 20));
    server.close();
    await within((client as Recorder).lost.promise);
    await within(server.waitClosed());
    assert.equal(serverSide.made.length, 0);
    await assert.rejects(server.startServing(), { code: "ERR_SERVER_CLOSED" });
  });

  it("waitClosed() called before close() waits for it; close() is idempotent", async () => {
    const server = await createServer(() => new Recorder(), "127.0.0.1", 0);
    let done = false;
    const waiting = server.waitClosed().then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(done, false);
    server.close();
    server.close();
    await within(waiting);
    assert.equal(server.isServing(), false);
  });

  it("await using closes the server and waits for its connections", async () => {
    const serverSide = recorders();
    let remote: Recorder | undefined;
    {
      await using server = await createServer(serverSide.create, "127.0.0.1", 0);
      const [transport] = await createConnection(() => new Recorder(), ...tcpAddress(server.addresses));
      remote = await serverSide.nth(0);
      setTimeout(() => transport.close(), 30);
    }
    assert.deepEqual(remote.events, ["connectionMade", "eof", "lost"]);
  });

  it("serveForever() resolves once close() was called and the connections ended", async () => {
    const serverSide = recorders();
    const server = await createServer(serverSide.create, "127.0.0.1", 0);
    const forever = server.serveForever();
    await assert.rejects(server.serveForever(), { code: "ERR_SERVER_CLOSED", message: /already running/ });
    const [transport] = await createConnection(() => new Recorder(), ...tcpAddress(server.addresses));
    await serverSide.nth(0);
    let ended = false;
    void forever.then(() => {
      ended = true;
    });
    server.close();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(ended, false, "serveForever() ended while a connection was open");
    transport.close();
    await within(forever);
  });

  it("serveForever({ signal }) closes the server and rejects with the reason on abort", async () => {
    const server = await createServer(() => new Recorder(), "127.0.0.1", 0);
    const ac = new AbortController();
    const forever = server.serveForever({ signal: ac.signal });
    const reason = new Error("stop now");
    setTimeout(() => ac.abort(reason), 10);
    await assert.rejects(within(forever), (err) => err === reason);
    assert.equal(server.isServing(), false);
    await within(server.waitClosed());
  });

  it("the signal of ServerOptions closes the server once listening, and rejects creation when aborted", async () => {
    const ac = new AbortController();
    const server = await createServer(() => new Recorder(), "127.0.0.1", 0, { signal: ac.signal });
    const forever = server.serveForever();
    ac.abort();
    await within(forever);
    assert.equal(server.isServing(), false);
    const reason = new Error("never mind");
    await assert.rejects(
      createServer(() => new Recorder(), "127.0.0.1", 0, { signal: AbortSignal.abort(reason) }),
      (err) => err === reason,
    );
  });

  it("rejects with EADDRINUSE when the port is taken", async () => {
    const first = await createServer(() => new Recorder(), "127.0.0.1", 0);
    const [, port] = tcpAddress(first.addresses);
    await assert.rejects(
      createServer(() => new Recorder(), "127.0.0.1", port),
      { code: "EADDRINUSE" },
    );
    await dispose(first);
  });

  it("listens on every address of a host name, all on one port", async () => {
    const server = await createServer(() => new Recorder(), "localhost", 0);
    const addrs = server.addresses as Array<[string, number]>;
    assert.ok(addrs.length >= 1);
    assert.equal(new Set(addrs.map((a) => a[1])).size, 1);
    for (const [host, port] of addrs) {
      const [t, p] = await createConnection(() => new Recorder(), host, port);
      t.close();
      await within((p as Recorder).lost.promise);
    }
    await dispose(server);
  });

  it("a factory that throws on an incoming connection is reported; the server keeps serving", async () => {
    const { reports } = await collectReports(async () => {
      let calls = 0;
      const good = recorders();
      const server = await createServer(
        () => {
          if (calls++ === 0) throw Object.assign(new Error("no protocol"), { code: "ENOPROTO" });
          return good.create();
        },
        "127.0.0.1",
        0,
      );
      const [, first] = await createConnection(() => new Recorder(), ...tcpAddress(server.addresses));
      await within((first as Recorder).lost.promise);
      const [second] = await createConnection(() => new Recorder(), ...tcpAddress(server.addresses));
      second.write("ok");
      assert.equal((await (await good.nth(0)).bytes(2)).toString(), "ok");
      second.close();
      await dispose(server);
    });
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.message, "Cannot create a protocol for an incoming connection");
    assert.equal((reports[0]!.exception as Error & { code: string }).code, "ENOPROTO");
  });

  it("createUnixServer() replaces a stale socket file but not a regular file", async () => {
    const tmp = tempDir();
    try {
      const sock = path.join(tmp.dir, "stale.sock");
      // A socket file with nobody listening: a hard link to a socket that then closes.
      const live = path.join(tmp.dir, "live.sock");
      const raw = net.createServer();
      await new Promise<void>((r) => raw.listen(live, r));
      linkSync(live, sock);
      await new Promise<void>((r) => raw.close(() => r()));
      assert.ok(lstatSync(sock).isSocket());
      const server = await createUnixServer(() => new Recorder(), sock);
      const [t, p] = await createUnixConnection(() => new Recorder(), sock);
      t.close();
      await within((p as Recorder).lost.promise);
      await dispose(server);

      const file = path.join(tmp.dir, "plain-file");
      writeFileSync(file, "not a socket");
      await assert.rejects(
        createUnixServer(() => new Recorder(), file),
        { code: "EADDRINUSE" },
      );
    } finally {
      tmp.remove();
    }
  });

  it("rejects bad arguments with codes", async () => {
    await assert.rejects(createServer("nope" as never, "127.0.0.1", 0), { code: "ERR_INVALID_ARG_TYPE" });
    await assert.rejects(
      createServer(() => ({}), 42 as never, 0),
      { code: "ERR_INVALID_ARG_TYPE" },
    );
    await assert.rejects(
      createUnixServer(() => ({}), ""),
      { code: "ERR_INVALID_ARG_TYPE" },
    );
  });

  it("counts a connection until its connectionLost, whoever closed it", async () => {
    const serverSide = new Factory(() => new Recorder());
    const server = await createServer(serverSide.create, "127.0.0.1", 0);
    const [t1] = await createConnection(() => new Recorder(), ...tcpAddress(server.addresses));
    const [t2] = await createConnection(() => new Recorder(), ...tcpAddress(server.addresses));
    const r2 = await serverSide.nth(1);
    server.close();
    let closed = false;
    void server.waitClosed().then(() => {
      closed = true;
    });
    t1.close();
    await within((await serverSide.nth(0)).lost.promise);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(closed, false);
    r2.transport!.abort();
    await within(server.waitClosed());
    t2.close();
  });
});
