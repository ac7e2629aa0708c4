/**
 * The native backend's stream connections and listeners, straight on the backend interface,
 * over IPv4, IPv6 and Unix-domain sockets on loopback: bytes both ways, half-close, water marks,
 * close vs abort, connect failures, resets, closing from inside a callback, and no descriptor
 * left open. Skipped when the addon is not built.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Address } from "../../src/address.js";
import { NativeSocket } from "../../src/core/native-socket.js";
import {
  addon,
  assertDescriptors,
  connectLogged,
  delay,
  listenLogged,
  native,
  openSockets,
  StreamLog,
  skipUnlessBuilt,
  tempDir,
  until,
} from "./native-helpers.js";

const tmp = tempDir();
let socketsAtStart = 0;
let sockPaths = 0;

const families: Array<{ name: string; addr: () => Address }> = [
  { name: "IPv4", addr: () => ["127.0.0.1", 0] },
  { name: "IPv6", addr: () => ["::1", 0] },
  { name: "Unix", addr: () => path.join(tmp.dir, `s${sockPaths++}.sock`) },
];

describe("native backend: streams", { skip: skipUnlessBuilt }, () => {
  const backend = native!;
  before(() => {
    socketsAtStart = openSockets();
  });
  after(async () => {
    assert.equal(addon!.openCount(), 0, "the addon still holds descriptors");
    await assertDescriptors(socketsAtStart);
    tmp.remove();
  });

  for (const fam of families) {
    describe(fam.name, () => {
      test("echo, half-close both ways, one onClose(null) each, addresses", async () => {
        const srv = await listenLogged(backend, fam.addr(), (conn, log) => {
          log.onChunk = (c) => conn.write(c);
        });
        assert.equal(srv.listener.backend, "native");
        const { conn, log } = await connectLogged(backend, srv.listener.address);
        assert.equal(conn.backend, "native");
        assert.ok(conn.raw instanceof NativeSocket);
        assert.equal(conn.getExtraInfo("socket"), conn.raw);
        conn.write(Buffer.from("hello "));
        conn.writev([Buffer.from("wor"), Buffer.alloc(0), Buffer.from("ld")]);
        await until(() => log.received === 11, "the echo");
        assert.equal(log.text(), "hello world");
        await until(() => srv.accepted.length === 1, "accept");
        const server = srv.accepted[0]!;
        if (typeof fam.addr() === "string") {
          assert.equal(conn.getExtraInfo("peername"), srv.listener.address);
          assert.equal(server.conn.remoteAddress, "");
        } else {
          const [host, port] = srv.listener.address as [string, number];
          assert.deepEqual(conn.getExtraInfo("peername"), [host, port]);
          assert.deepEqual(server.conn.remoteAddress, conn.localAddress);
          assert.deepEqual(server.conn.getExtraInfo("sockname"), [host, port]);
          assert.equal((conn.raw as NativeSocket).remotePort, port);
        }
        // Client half-closes: the server sees EOF and can still write.
        conn.end();
        assert.equal(conn.writable, false);
        await until(() => server.log.ended, "EOF at the server");
        assert.equal(server.conn.ended, true);
        assert.equal((server.conn.raw as NativeSocket).readyState, "writeOnly");
        server.conn.write(Buffer.from("after"));
        await until(() => log.received === 16, "bytes after the half-close");
        assert.equal(log.closed, false);
        server.conn.end();
        await until(() => log.closed && server.log.closed, "both closes");
        assert.deepEqual(log.events, ["connect", "end", "close"]);
        assert.deepEqual(server.log.events, ["end", "close"]);
        srv.listener.close();
        await until(srv.isClosed, "listener close");
        assert.equal(srv.listener.listening, false);
        if (typeof srv.listener.address === "string")
          assert.equal(fs.existsSync(srv.listener.address), false);
      });

      test("4 MiB both ways under water marks: paused, resumed, every byte in order", async () => {
        const SIZE = 4 * 1024 * 1024;
        const srv = await listenLogged(backend, fam.addr());
        const { conn, log } = await connectLogged(backend, srv.listener.address);
        await until(() => srv.accepted.length === 1, "accept");
        const server = srv.accepted[0]!;
        server.conn.pauseReading();
        assert.equal(server.conn.reading, false);
        conn.setWriteBufferLimits(64 * 1024, 16 * 1024);
        assert.deepEqual(conn.getWriteBufferLimits(), [16 * 1024, 64 * 1024]);
        const payload = Buffer.alloc(SIZE);
        for (let i = 0; i < SIZE; i++) payload[i] = (i * 7 + (i >> 11)) & 0xff;
        for (let off = 0; off < SIZE; off += 256 * 1024) conn.write(payload.subarray(off, off + 256 * 1024));
        assert.equal(conn.writePaused, true);
        assert.ok(conn.writeBufferSize > 64 * 1024);
        assert.deepEqual(log.events, ["connect", "paused"]);
        await delay(20);
        assert.equal(server.log.received, 0, "a paused connection delivers nothing");
        server.conn.resumeReading();
        await until(() => server.log.received === SIZE, "all bytes at the server", 10_000);
        await until(() => log.events.includes("resumed"), "onWriteResumed");
        assert.equal(conn.writeBufferSize, 0);
        assert.ok(server.log.bytes().equals(payload), "bytes differ");
        // And back, through writev.
        const parts = [
          payload.subarray(0, 1000),
          payload.subarray(1000, SIZE / 2),
          payload.subarray(SIZE / 2),
        ];
        server.conn.writev(parts);
        await until(() => log.received === SIZE, "all bytes at the client", 10_000);
        assert.ok(log.bytes().equals(payload), "bytes differ on the way back");
        conn.close();
        server.conn.close();
        await until(() => log.closed && server.log.closed, "both closes");
        assert.equal(log.error, null);
        srv.listener.close();
      });

      test("chunks stay intact however long they are kept: small reads copied, large ones lent", async () => {
        const srv = await listenLogged(backend, fam.addr());
        const { conn, log } = await connectLogged(backend, srv.listener.address);
        await until(() => srv.accepted.length === 1, "accept");
        const server = srv.accepted[0]!;
        // Sizes on both sides of the copy limit (32 KiB) and of a read area (64–128 KiB), each
        // sent alone so that it arrives as reads of its own.
        // The small sizes come again after the large ones have moved the read area.
        const small = [1, 100, 4096];
        const sizes = [...small, 32 * 1024, 32 * 1024 + 1, 65_536, 128 * 1024 + 5, 300_000, 7, ...small];
        const parts = sizes.map((n, k) => {
          const b = Buffer.alloc(n);
          for (let i = 0; i < n; i++) b[i] = (i * 31 + k * 17 + (i >> 9)) & 0xff;
          return b;
        });
        let sent = 0;
        for (const part of parts) {
          conn.write(part);
          sent += part.length;
          await until(() => server.log.received === sent, `${sent} bytes at the server`, 10_000);
        }
        assert.ok(
          server.log.chunks.some((c) => c.length > 32 * 1024),
          "at least one read was large enough to be lent",
        );
        assert.ok(server.log.bytes().equals(Buffer.concat(parts)), "a kept chunk changed after later reads");
        conn.close();
        server.conn.close();
        await until(() => log.closed && server.log.closed, "both closes");
        srv.listener.close();
      });

      test("close() flushes what is buffered; abort() drops it", async () => {
        const SIZE = 16 * 1024 * 1024;
        const srv = await listenLogged(backend, fam.addr());
        const a = await connectLogged(backend, srv.listener.address);
        await until(() => srv.accepted.length === 1, "accept");
        srv.accepted[0]!.conn.pauseReading();
        a.conn.write(Buffer.alloc(SIZE, 1));
        assert.ok(a.conn.writeBufferSize > 0, "the kernel cannot take 16 MiB at once");
        a.conn.close();
        assert.equal(a.conn.closed, true);
        assert.throws(() => a.conn.write(Buffer.from("x")), { code: "ERR_SOCKET_CLOSED" });
        await delay(10);
        assert.equal(a.log.closed, false, "closed before the flush");
        srv.accepted[0]!.conn.resumeReading();
        await until(() => srv.accepted[0]!.log.ended, "EOF after the flush", 10_000);
        assert.equal(srv.accepted[0]!.log.received, SIZE);
        await until(() => a.log.closed, "close");
        assert.equal(a.log.error, null);

        const b = await connectLogged(backend, srv.listener.address);
        await until(() => srv.accepted.length === 2, "accept");
        srv.accepted[1]!.conn.pauseReading();
        b.conn.write(Buffer.alloc(SIZE, 2));
        const cause = Object.assign(new Error("given up"), { code: "EGIVENUP" });
        b.conn.abort(cause);
        await until(() => b.log.closed, "close after abort");
        assert.equal(b.log.error, cause);
        srv.accepted[1]!.conn.resumeReading();
        await until(() => srv.accepted[1]!.log.ended, "the peer's EOF");
        assert.ok(srv.accepted[1]!.log.received < SIZE, "abort dropped the buffered bytes");
        // The server sides stay half-open until they close too.
        assert.equal(srv.accepted[1]!.log.closed, false);
        for (const s of srv.accepted) s.conn.close();
        await until(() => srv.accepted.every((s) => s.log.closed), "the server closes");
        srv.listener.close();
      });
    });
  }

  test("a refused connect closes with ECONNREFUSED before any onConnect", async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const log = new StreamLog();
    backend.connect(["127.0.0.1", port], {}, log);
    await until(() => log.closed, "close");
    assert.equal((log.error as Error & { code?: string }).code, "ECONNREFUSED");
    assert.match(log.error!.message, /^connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    assert.deepEqual(log.events, ["close:ECONNREFUSED"]);

    const missing = new StreamLog();
    backend.connect(path.join(tmp.dir, "nobody.sock"), {}, missing);
    await until(() => missing.closed, "close");
    assert.equal((missing.error as Error & { code?: string }).code, "ENOENT");
  });

  test("a host name is looked up; a name that does not resolve fails with its lookup error", async () => {
    const srv = await listenLogged(backend, ["127.0.0.1", 0]);
    const port = (srv.listener.address as [string, number])[1];
    const log = new StreamLog();
    const conn = backend.connect(["localhost", port], {}, log);
    await until(() => log.connected || log.closed, "connect");
    // localhost may be ::1 first, which refuses: the next address is tried.
    assert.equal(log.connected, true, `connect failed: ${log.error?.message}`);
    conn.abort();
    const bad = new StreamLog();
    backend.connect(["name.invalid", port], {}, bad);
    await until(() => bad.closed, "lookup failure", 10_000);
    assert.match(String((bad.error as Error & { code?: string }).code), /ENOTFOUND|EAI_AGAIN/);
    await until(() => log.closed, "close");
    await until(() => srv.accepted.length === 1 && srv.accepted[0]!.log.ended, "EOF at the server");
    srv.accepted[0]!.conn.close();
    srv.listener.close();
  });

  test("a peer reset closes with ECONNRESET (or EPIPE), after the bytes sent before it", async () => {
    const srv = await listenLogged(backend, ["127.0.0.1", 0]);
    const { conn, log } = await connectLogged(backend, srv.listener.address);
    await until(() => srv.accepted.length === 1, "accept");
    const server = srv.accepted[0]!;
    server.conn.pauseReading();
    server.conn.write(Buffer.from("last words"));
    conn.write(Buffer.from("unread by the server"));
    await delay(20);
    // Closing with unread bytes in the receive queue makes the kernel send RST.
    server.conn.close();
    await until(() => log.closed, "the reset");
    assert.equal(log.text(), "last words");
    assert.match(String((log.error as Error & { code?: string }).code), /^(ECONNRESET|EPIPE)$/);
    assert.equal((conn.raw as NativeSocket).destroyed, true);
    srv.listener.close();
  });

  test("closing or aborting from inside onData and onEnd is safe and reported once", async () => {
    const srv = await listenLogged(backend, ["127.0.0.1", 0], (conn, log) => {
      log.onChunk = (c) => {
        if (c.toString().includes("close")) conn.close();
        else conn.abort();
        // A second call from the same callback changes nothing.
        conn.close();
        conn.abort();
      };
    });
    const a = await connectLogged(backend, srv.listener.address);
    const b = await connectLogged(backend, srv.listener.address);
    a.conn.write(Buffer.from("close please"));
    b.conn.write(Buffer.from("abort please"));
    await until(() => srv.accepted.length === 2 && srv.accepted.every((s) => s.log.closed), "server closes");
    for (const s of srv.accepted) assert.deepEqual(s.log.events, ["close"]);
    // The clients see EOF (the peer closed) and stay half-open until they close.
    await until(() => a.log.ended && b.log.ended, "EOF at both clients");
    a.conn.close();
    b.conn.close();
    await until(() => a.log.closed && b.log.closed, "both closes");

    // onEnd closing the connection.
    const c = await connectLogged(backend, srv.listener.address);
    c.log.onEnd = () => {
      c.log.events.push("end");
      c.conn.close();
    };
    await until(() => srv.accepted.length === 3, "accept");
    srv.accepted[2]!.conn.end();
    await until(() => c.log.closed, "close from onEnd");
    assert.deepEqual(c.log.events, ["connect", "end", "close"]);
    srv.listener.close();
  });

  test("an accepted connection reads nothing until started; readyState and destroy()", async () => {
    const pending: Array<import("../../src/core/backend.js").StreamConnection> = [];
    const listener = await backend.listen(
      ["127.0.0.1", 0],
      {},
      { onConnection: (c) => pending.push(c), onAcceptError: assert.fail, onClose() {} },
    );
    const { conn, log } = await connectLogged(backend, listener.address);
    conn.write(Buffer.from("early"));
    await until(() => pending.length === 1, "accept");
    await delay(20);
    const accepted = pending[0]!;
    const sock = accepted.raw as NativeSocket;
    assert.equal(sock.readyState, "open");
    assert.ok(sock.fd > 2);
    const serverLog = new StreamLog();
    accepted.start(serverLog);
    await until(() => serverLog.received === 5, "the early bytes");
    sock.destroy();
    assert.equal(sock.readyState, "closed");
    assert.equal(sock.fd, -1);
    await until(() => log.ended && serverLog.closed, "EOF at the client");
    conn.close();
    await until(() => log.closed, "the client's close");
    assert.equal(backend.adopt(sock), accepted);
    listener.close();
  });

  test("listen errors: EADDRINUSE for a taken port and a taken path", async () => {
    const srv = await listenLogged(backend, ["127.0.0.1", 0]);
    await assert.rejects(backend.listen(srv.listener.address, {}, srv as never), { code: "EADDRINUSE" });
    const p = path.join(tmp.dir, "taken.sock");
    const unix = await listenLogged(backend, p);
    await assert.rejects(backend.listen(p, {}, unix as never), { code: "EADDRINUSE" });
    srv.listener.close();
    unix.listener.close();
  });
});
