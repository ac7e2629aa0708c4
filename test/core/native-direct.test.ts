/**
 * Readiness mode of the native backend's stream connections (`direct()`), straight on the
 * backend interface: the owner polls, `recv()` and `send()` are one system call each, and EOF,
 * a reset and a close read as they do on a socket. Skipped when the addon is not built.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { after, before, describe, test } from "node:test";
import type { DirectStream, ReadinessEvents, StreamConnection } from "../../src/core/backend.js";
import { addon, assertDescriptors, native, openSockets, skipUnlessBuilt, until } from "./native-helpers.js";

/** Readiness events counted, plus the close. */
class ReadinessLog implements ReadinessEvents {
  readable = 0;
  writable = 0;
  connected = false;
  closed: Error | null | undefined = undefined;
  onReadable(): void {
    this.readable++;
  }
  onWritable(): void {
    this.writable++;
  }
  onConnect(): void {
    this.connected = true;
  }
  onData(): void {
    assert.fail("no data events in readiness mode");
  }
  onEnd(): void {
    assert.fail("no end events in readiness mode");
  }
  onWritePaused(): void {}
  onWriteResumed(): void {}
  onClose(err: Error | null): void {
    this.closed = err;
  }
}

/** A native listener whose connections go to readiness mode, and a node:net peer of one. */
async function directPair(): Promise<{
  io: DirectStream;
  conn: StreamConnection;
  log: ReadinessLog;
  peer: net.Socket;
  close(): void;
}> {
  const accepted: Array<{ conn: StreamConnection; io: DirectStream; log: ReadinessLog }> = [];
  const listener = await native!.listen(
    ["127.0.0.1", 0],
    {},
    {
      onConnection(conn) {
        const log = new ReadinessLog();
        const io = conn.direct!(log);
        assert.ok(io !== undefined);
        accepted.push({ conn, io, log });
      },
      onAcceptError(err) {
        throw err;
      },
      onClose() {},
    },
  );
  const [host, port] = listener.address as [string, number];
  const peer = net.connect(port, host);
  await until(() => accepted.length === 1, "accept");
  const { conn, io, log } = accepted[0]!;
  return {
    io,
    conn,
    log,
    peer,
    close() {
      peer.destroy();
      conn.abort();
      listener.close();
    },
  };
}

describe("native backend: readiness mode", { skip: skipUnlessBuilt }, () => {
  let socketsAtStart = 0;
  before(() => {
    socketsAtStart = openSockets();
  });
  after(async () => {
    await until(() => addon!.openCount() === 0, "the addon to close every descriptor");
    await assertDescriptors(socketsAtStart);
  });

  test("readable is reported, not read: recv(n) takes n bytes, unread() counts the rest", async () => {
    const p = await directPair();
    assert.equal(p.io.recv(100), null, "nothing waits yet");
    p.io.setInterest(true, false);
    p.peer.write("hello world");
    await until(() => p.log.readable > 0, "readable");
    await until(() => p.io.unread() === 11, "all 11 bytes in the kernel");
    assert.equal(p.io.recv(5)!.toString(), "hello");
    assert.equal(p.io.unread(), 6);
    assert.equal(p.io.recv(100)!.toString(), " world");
    assert.equal(p.io.recv(100), null);
    assert.equal(p.io.unread(), 0);
    p.close();
  });

  test("send() returns what the kernel took; write interest reports room", async () => {
    const p = await directPair();
    let got = "";
    p.peer.on("data", (c: Buffer) => {
      got += c.toString();
    });
    assert.equal(p.io.send(Buffer.from("pong")), 4);
    await until(() => got === "pong", "the peer to read");
    p.io.setInterest(false, true);
    await until(() => p.log.writable > 0, "writable");
    p.io.setInterest(false, false);
    const seen = p.log.writable;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(p.log.writable, seen, "no interest, no reports");
    p.close();
  });

  test("EOF reads as an empty Buffer, again and again; close reads as EOF", async () => {
    const p = await directPair();
    p.io.setInterest(true, false);
    p.peer.end("bye");
    await until(() => p.log.readable > 0, "readable");
    await until(() => p.io.unread() === 3, "the bytes before EOF");
    assert.equal(p.io.recv(10)!.toString(), "bye");
    await until(() => p.io.recv(10)?.length === 0, "EOF");
    assert.equal(p.conn.ended, true);
    assert.equal(p.io.recv(10)!.length, 0);
    p.conn.close();
    assert.equal(p.io.recv(10)!.length, 0);
    assert.throws(() => p.io.send(Buffer.from("x")), { code: "ERR_SOCKET_CLOSED" });
    await until(() => p.log.closed !== undefined, "onClose");
    assert.equal(p.log.closed, null);
    p.close();
  });

  test("a reset: recv() throws ECONNRESET and the connection closes with it", async () => {
    const p = await directPair();
    p.io.setInterest(true, false);
    p.peer.resetAndDestroy();
    await until(() => p.log.readable > 0, "readable");
    assert.throws(() => p.io.recv(10), { code: "ECONNRESET" });
    await until(() => p.log.closed !== undefined, "onClose");
    assert.equal((p.log.closed as Error & { code: string }).code, "ECONNRESET");
    p.close();
  });

  test("a dialled connection enters it while connecting; not after start()", async () => {
    const server = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as net.AddressInfo;
    const log = new ReadinessLog();
    const conn = native!.connect(["127.0.0.1", port], {}, log);
    const io = conn.direct!(log)!;
    assert.ok(io !== undefined);
    await until(() => log.connected, "connect");
    io.setInterest(true, false);
    assert.equal(io.send(Buffer.from("echo")), 4);
    await until(() => io.unread() === 4, "the echo in the kernel");
    assert.equal(io.recv(64)!.toString(), "echo");
    conn.close();
    // A connection already started on events stays on them.
    const started = native!.connect(["127.0.0.1", port], {}, new ReadinessLog());
    await until(() => !started.connecting, "second connect");
    assert.equal(started.direct!(new ReadinessLog()), undefined);
    started.close();
    server.close();
  });
});
