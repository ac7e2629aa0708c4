/**
 * StreamWriter over real loopback sockets: drain() (waiting, several waiters — CPython's
 * test_multiple_drain —, rejections, abort), close/isClosing/waitClosed (including TLS ends
 * that close at once, abruptly or never flush), Symbol.asyncDispose, and startTls (CPython's
 * test_start_tls, plus its failures).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type * as tls from "node:tls";
import type { Server, Transport } from "../../src/protocols/index.js";
import { createConnection } from "../../src/protocols/index.js";
import { readerBufferedBytes } from "../../src/streams/_reader-flow.js";
import {
  openConnection,
  type StreamReader,
  StreamReaderProtocol,
  StreamWriter,
  startServer,
} from "../../src/streams/index.js";
import {
  collectReports,
  deferred,
  listenPeer,
  localhostCert,
  rejectsWithCode,
  tcpAddress,
  turn,
  until,
  within,
} from "./helpers.js";

interface Pair {
  server: Server;
  reader: StreamReader;
  writer: StreamWriter;
  peer: { reader: StreamReader; writer: StreamWriter };
}

async function pair(serverTls = false): Promise<Pair> {
  const remote = deferred<Pair["peer"]>();
  const server = await startServer((reader, writer) => remote.resolve({ reader, writer }), "127.0.0.1", 0, {
    tls: serverTls ? localhostCert() : undefined,
  });
  const [reader, writer] = await openConnection(...tcpAddress(server.addresses), {
    tls: serverTls ? { ca: localhostCert().cert } : undefined,
  });
  return { server, reader, writer, peer: await within(remote.promise) };
}

/**
 * Make the server's end close with a reset (RST), on any backend: it stops reading, gets
 * bytes it will never read, then aborts.
 */
async function resetByPeer(p: Pair): Promise<void> {
  p.peer.writer.transport.pauseReading();
  p.writer.write(Buffer.alloc(1024 * 1024));
  await turn(20);
  p.peer.writer.transport.abort();
}

async function dispose(p: Pair): Promise<void> {
  p.writer.transport.abort();
  p.peer.writer.transport.abort();
  await within(p.server[Symbol.asyncDispose](), 3000, "the server to close");
}

/** Write until drain() stays pending (the peer is not reading); that pending drain. */
async function fillUntilPaused(writer: StreamWriter): Promise<{ pending: Promise<void> }> {
  const chunk = Buffer.alloc(256 * 1024, 0x7a);
  for (let i = 0; i < 512; i++) {
    writer.write(chunk);
    const pending = writer.drain();
    // Wrapped: returning the promise itself from this async function would wait for it.
    if (!(await Promise.race([pending.then(() => true), turn(5).then(() => false)]))) return { pending };
  }
  throw new Error("the write buffer never stayed over its high-water mark");
}

/** Write until the kernel takes nothing more: the buffer does not shrink twice in a row. */
async function fillUntilStuck(writer: StreamWriter): Promise<void> {
  const chunk = Buffer.alloc(1024 * 1024, 0x73);
  let still = 0;
  for (let i = 0; i < 100 && still < 2; i++) {
    const before = writer.transport.getWriteBufferSize();
    if (still === 0) writer.write(chunk);
    const after = writer.transport.getWriteBufferSize();
    await turn(20);
    still = writer.transport.getWriteBufferSize() >= after && after >= before ? still + 1 : 0;
  }
  if (still < 2) throw new Error("the kernel never stopped taking bytes");
}

/** Read everything the peer sends, without keeping it; the byte count at EOF. */
async function sink(reader: StreamReader): Promise<number> {
  let n = 0;
  for (;;) {
    const data = await reader.read(65536);
    if (data.length === 0) return n;
    n += data.length;
  }
}

describe("StreamWriter.drain()", () => {
  it("resolves at once under the high-water mark, waits above it until the low one", async () => {
    const p = await pair();
    p.writer.write("small");
    await within(p.writer.drain(), 100, "an immediate drain");
    p.peer.writer.transport.pauseReading(); // hold the far end still
    const { pending } = await fillUntilPaused(p.writer);
    const [low, high] = p.writer.transport.getWriteBufferLimits();
    assert.ok(p.writer.transport.getWriteBufferSize() > high);
    let drained = false;
    void pending.then(() => {
      drained = true;
    });
    await turn(30);
    assert.equal(drained, false);
    p.peer.writer.transport.resumeReading();
    const reading = sink(p.peer.reader);
    await within(pending, 5000, "drain");
    assert.ok(p.writer.transport.getWriteBufferSize() <= low);
    p.writer.close();
    await within(reading);
    await dispose(p);
  });

  it("test_multiple_drain: ten waiting drains all resolve when writing resumes", async () => {
    const p = await pair();
    await fillUntilPaused(p.writer);
    let drained = 0;
    const drains = Array.from({ length: 10 }, () => p.writer.drain().then(() => drained++));
    await turn(20);
    assert.equal(drained, 0);
    const reading = sink(p.peer.reader);
    await within(Promise.all(drains), 5000, "ten drains");
    assert.equal(drained, 10);
    p.writer.close();
    await within(reading);
    await dispose(p);
  });

  it("a waiting drain rejects with ERR_SOCKET_CLOSED at close(); later ones too", async () => {
    const p = await pair();
    const { pending } = await fillUntilPaused(p.writer);
    p.writer.close();
    await rejectsWithCode(pending, "ERR_SOCKET_CLOSED");
    await rejectsWithCode(p.writer.drain(), "ERR_SOCKET_CLOSED");
    const reading = sink(p.peer.reader);
    await within(p.writer.waitClosed(), 5000, "the flush of a closing writer");
    assert.ok((await within(reading)) > 0);
    await dispose(p);
  });

  it("an aborted drain rejects with the reason; the writer goes on", async () => {
    const p = await pair();
    const ac = new AbortController();
    ac.abort(new Error("early"));
    await assert.rejects(p.writer.drain({ signal: ac.signal }), { message: "early" });
    await fillUntilPaused(p.writer);
    const late = new AbortController();
    const waiting = p.writer.drain({ signal: late.signal });
    late.abort(new Error("late"));
    await assert.rejects(waiting, { message: "late" });
    const reading = sink(p.peer.reader);
    await within(p.writer.drain(), 5000, "a drain after the aborted one");
    p.writer.close();
    await within(reading);
    await dispose(p);
  });

  it("rejects with the reader's error first, as asyncio does", async () => {
    const p = await pair();
    await resetByPeer(p);
    await assert.rejects(within(p.reader.read()), { code: "ECONNRESET" });
    await rejectsWithCode(p.writer.drain(), "ECONNRESET");
    await dispose(p);
  });

  it("after a clean end of the connection rejects with ECONNRESET (asyncio's 'Connection lost')", async () => {
    const p = await pair(true);
    p.peer.writer.close(); // TLS: the client's transport closes at the peer's EOF
    await within(p.writer.waitClosed());
    await rejectsWithCode(p.writer.drain(), "ECONNRESET");
    await dispose(p);
  });
});

describe("StreamWriter: close, waitClosed, dispose", () => {
  it("waitClosed() before close() waits for the connection to end by other means", async () => {
    const p = await pair();
    let closed = false;
    const waiting = p.writer.waitClosed().then(() => {
      closed = true;
    });
    await turn(30);
    assert.equal(closed, false);
    p.peer.writer.close();
    assert.deepEqual(await within(p.reader.read()), Buffer.alloc(0));
    assert.equal(closed, false, "a plain connection stays half-open after the peer's EOF");
    p.writer.close();
    await within(waiting);
    await dispose(p);
  });

  it("waitClosed() rejects with the error the connection ended with", async () => {
    const p = await pair();
    const waiting = p.writer.waitClosed();
    await resetByPeer(p);
    await rejectsWithCode(within(waiting), "ECONNRESET");
    await rejectsWithCode(p.writer.waitClosed(), "ECONNRESET");
    await dispose(p);
  });

  it("waitClosed({ signal }) gives up on a close that cannot flush; abort() then ends it", async () => {
    const p = await pair(true);
    p.peer.writer.transport.pauseReading();
    await fillUntilStuck(p.writer);
    p.writer.close();
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("too slow")), 50);
    await assert.rejects(within(p.writer.waitClosed({ signal: ac.signal })), { message: "too slow" });
    p.writer.transport.abort();
    await within(p.writer.waitClosed());
    await dispose(p);
  });

  it("TLS: waitClosed() never hangs, whoever closes and however", async () => {
    const cases: Array<[string, (p: Pair) => void]> = [
      ["client closes", (p) => p.writer.close()],
      ["server closes", (p) => p.peer.writer.close()],
      [
        "both close at once",
        (p) => {
          p.writer.close();
          p.peer.writer.close();
        },
      ],
      ["client aborts", (p) => p.writer.transport.abort()],
      [
        "the server's socket is destroyed without close_notify",
        (p) => (p.peer.writer.getExtraInfo("socket") as tls.TLSSocket).destroy(),
      ],
      [
        "the server aborts with unread bytes (a reset)",
        (p) => {
          p.peer.writer.transport.pauseReading();
          p.writer.write(Buffer.alloc(256 * 1024));
          setTimeout(() => p.peer.writer.transport.abort(), 20);
        },
      ],
    ];
    for (const [name, act] of cases) {
      const p = await pair(true);
      p.writer.write("some data\n");
      assert.equal(String(await within(p.peer.reader.readLine())), "some data\n");
      act(p);
      // Each end closes its writer once its reader sees the end, as an application would.
      const settle = async (reader: StreamReader, writer: StreamWriter): Promise<void> => {
        await reader.read().catch(() => Buffer.alloc(0));
        writer.close();
        await writer.waitClosed().catch(() => {});
      };
      await within(
        Promise.all([settle(p.reader, p.writer), settle(p.peer.reader, p.peer.writer)]),
        3000,
        `waitClosed() when ${name}`,
      );
      assert.equal(p.writer.isClosing(), true);
      await within(p.server[Symbol.asyncDispose](), 3000, `the server to close when ${name}`);
    }
  });

  it("await using closes and waits", async () => {
    const p = await pair();
    {
      await using writer = p.writer;
      writer.write("from a scope\n");
    }
    assert.equal(p.writer.isClosing(), true);
    assert.equal(String(await within(p.peer.reader.read())), "from a scope\n");
    await dispose(p);
  });

  it("a writer needs a StreamReaderProtocol", async () => {
    const p = await pair();
    assert.throws(() => new StreamWriter(p.writer.transport, {} as StreamReaderProtocol, null), {
      code: "ERR_INVALID_ARG_TYPE",
    });
    await dispose(p);
  });

  it("works over createConnection() with a StreamReaderProtocol and no reader", async () => {
    const got = deferred<string>();
    const peer = await listenPeer({ host: "127.0.0.1" }, false, (sock) => {
      let text = "";
      sock.on("data", (d: Buffer) => (text += d));
      sock.on("end", () => {
        got.resolve(text);
        sock.end();
      });
    });
    const protocol = new StreamReaderProtocol(null);
    const [transport] = await createConnection(() => protocol, ...(peer.address as [string, number]));
    const writer = new StreamWriter(transport as Transport, protocol, null);
    writer.writeLines(["write", "-only"]);
    await writer.drain();
    writer.writeEof();
    assert.equal(await within(got.promise), "write-only");
    await within(writer.waitClosed());
    await peer.close();
  });
});

describe("StreamWriter.startTls()", () => {
  it("test_start_tls: a line in clear, startTls on both sides, a line over TLS", async () => {
    const { reports } = await collectReports(async () => {
      const server = await startServer(
        async (reader, writer) => {
          writer.write(await reader.readLine());
          await writer.drain();
          assert.equal(writer.getExtraInfo("cipher"), undefined);
          await writer.startTls(localhostCert());
          assert.notEqual(writer.getExtraInfo("cipher"), undefined);
          writer.write(await reader.readLine());
          await writer.drain();
          writer.close();
          await writer.waitClosed();
        },
        "127.0.0.1",
        0,
      );
      const [reader, writer] = await openConnection(...tcpAddress(server.addresses));
      writer.write("hello world 1!\n");
      await writer.drain();
      const back1 = String(await within(reader.readLine()));
      assert.equal(writer.getExtraInfo("cipher"), undefined);
      await within(writer.startTls({ ca: localhostCert().cert }));
      assert.notEqual(writer.getExtraInfo("cipher"), undefined);
      writer.write("hello world 2!\n");
      await writer.drain();
      const back2 = String(await within(reader.readLine()));
      writer.close();
      await within(writer.waitClosed());
      server.close();
      await within(server.waitClosed());
      assert.equal(back1, "hello world 1!\n");
      assert.equal(back2, "hello world 2!\n");
    });
    assert.deepEqual(reports, []);
  });

  it("isServer overrides the side: the dialling end plays the TLS server", async () => {
    const p = await pair();
    const serverUp = p.writer.startTls({ ...localhostCert(), isServer: true });
    const clientUp = p.peer.writer.startTls({
      ca: localhostCert().cert,
      servername: "localhost",
      isServer: false,
    });
    await within(Promise.all([serverUp, clientUp]));
    const cert = p.peer.writer.getExtraInfo("peercert") as { subject: { CN: string } };
    assert.equal(cert.subject.CN, "localhost");
    p.writer.write("reversed\n");
    assert.equal(String(await within(p.peer.reader.readLine())), "reversed\n");
    p.writer.close();
    p.peer.writer.close();
    await within(p.writer.waitClosed());
    await dispose(p);
  });

  it("keeps what the reader buffered before the upgrade", async () => {
    const p = await pair();
    p.peer.writer.write("buffered in clear\n");
    await until(() => readerBufferedBytes(p.reader) === 18);
    await within(
      Promise.all([p.peer.writer.startTls(localhostCert()), p.writer.startTls({ ca: localhostCert().cert })]),
    );
    p.peer.writer.write("then over TLS\n");
    assert.equal(String(await within(p.reader.readLine())), "buffered in clear\n");
    assert.equal(String(await within(p.reader.readLine())), "then over TLS\n");
    await dispose(p);
  });

  it("rejects on a TLS connection, during another upgrade, and after close()", async () => {
    const secure = await pair(true);
    await rejectsWithCode(secure.writer.startTls({}), "ERR_BAD_SOCKET");
    await dispose(secure);
    const p = await pair();
    const first = p.writer.startTls({ ca: localhostCert().cert });
    await rejectsWithCode(p.writer.startTls({ ca: localhostCert().cert }), "ERR_BAD_SOCKET");
    await within(Promise.all([first, p.peer.writer.startTls(localhostCert())]));
    p.writer.close();
    await rejectsWithCode(p.writer.startTls({}), "ERR_SOCKET_CLOSED");
    await dispose(p);
  });

  it("a failed handshake rejects with the TLS error and ends the connection", async () => {
    const p = await pair();
    const serverUp = p.peer.writer.startTls(localhostCert());
    // No `ca`: the self-signed certificate cannot be verified.
    const err = await rejectsWithCode(within(p.writer.startTls({})), /SELF_SIGNED|UNABLE_TO_VERIFY/);
    assert.ok(err instanceof Error);
    await assert.rejects(within(serverUp));
    await within(p.writer.waitClosed().catch(() => {}));
    await within(p.peer.writer.waitClosed().catch(() => {}));
    await dispose(p);
  });

  it("an abort during the handshake rejects with the reason and aborts the connection", async () => {
    const p = await pair(); // the peer never starts TLS: the handshake cannot finish
    const ac = new AbortController();
    const up = p.writer.startTls({ ca: localhostCert().cert }, { signal: ac.signal });
    await turn(30);
    ac.abort(new Error("enough"));
    await assert.rejects(within(up), { message: "enough" });
    await within(p.writer.waitClosed().catch(() => {}));
    assert.equal(p.writer.isClosing(), true);
    await dispose(p);
  });

  it("the peer hanging up mid-handshake rejects instead of hanging", async () => {
    const p = await pair();
    const up = p.writer.startTls({ ca: localhostCert().cert });
    await turn(20);
    p.peer.writer.transport.abort();
    await assert.rejects(within(up), { code: /^(ECONNRESET|EPIPE)$/ });
    await dispose(p);
  });
});
