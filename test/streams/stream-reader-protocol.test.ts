/**
 * StreamReaderProtocol on real connections made by the protocols layer: buffering from
 * connectionMade, EOF (half-close kept open on plain sockets, closed on TLS), connectionLost
 * with and without an error, the reader's flow control on the transport, a reader given to
 * two connections, and its argument checks.
 */
import assert from "node:assert/strict";
import type * as net from "node:net";
import { describe, it } from "node:test";
import type { ConnectOptions, Transport } from "../../src/protocols/index.js";
import { createConnection } from "../../src/protocols/index.js";
import { isReaderPaused, readerBufferedBytes } from "../../src/streams/_reader-flow.js";
import { StreamReader, StreamReaderProtocol, StreamWriter } from "../../src/streams/index.js";
import { collectReports, deferred, listenPeer, localhostCert, type Peer, until, within } from "./helpers.js";

/** Connect a new StreamReaderProtocol (over `reader`) to `peer`. */
async function connect(peer: Peer, reader: StreamReader, opts: ConnectOptions = {}) {
  const protocol = new StreamReaderProtocol(reader);
  const [transport] = await createConnection(() => protocol, ...(peer.address as [string, number]), opts);
  return { protocol, transport, writer: new StreamWriter(transport, protocol, reader) };
}

describe("StreamReaderProtocol", () => {
  it("buffers what arrives from connectionMade on, before any read", async () => {
    const greeting = Buffer.alloc(100_000, 0x67);
    const peer = await listenPeer({ host: "127.0.0.1" }, false, (sock) => sock.write(greeting));
    const reader = new StreamReader();
    const { transport, writer } = await connect(peer, reader);
    await until(() => readerBufferedBytes(reader) === greeting.length);
    assert.equal(transport.isReading(), true, "100 kB is under 2 x limit: still reading");
    assert.ok((await reader.readExactly(greeting.length)).equals(greeting));
    writer.close();
    await within(writer.waitClosed());
    await peer.close();
  });

  it("on EOF over a plain socket: the reader ends, the write side stays open", async () => {
    const reply = deferred<string>();
    const peer = await listenPeer({ host: "127.0.0.1" }, false, (sock: net.Socket) => {
      let text = "";
      sock.on("data", (d: Buffer) => (text += d));
      sock.on("end", () => reply.resolve(text));
      sock.end("request");
    });
    const reader = new StreamReader();
    const { protocol, writer } = await connect(peer, reader);
    assert.equal(String(await within(reader.read())), "request");
    assert.equal(reader.atEof(), true);
    assert.equal(writer.isClosing(), false);
    assert.equal(protocol.transport?.isClosing(), false);
    writer.write("answer after EOF");
    writer.close();
    assert.equal(await within(reply.promise), "answer after EOF");
    await within(writer.waitClosed());
    await peer.close();
  });

  it("on EOF over TLS: the reader ends and the transport closes (no half-close)", async () => {
    const peer = await listenPeer({ host: "127.0.0.1" }, true, (sock) => sock.end("secure goodbye"));
    const reader = new StreamReader();
    const { writer } = await connect(peer, reader, { tls: { ca: localhostCert().cert } });
    await within(writer.waitClosed(), 3000, "the transport to close at EOF");
    assert.equal(String(await reader.read()), "secure goodbye");
    assert.equal(reader.atEof(), true);
    assert.equal(writer.isClosing(), true);
    await peer.close();
  });

  it("connectionLost(err) fails the pending read and every later one with err", async () => {
    const peer = await listenPeer({ host: "127.0.0.1" }, false, (sock) => {
      sock.write("partial");
      setTimeout(() => sock.resetAndDestroy(), 20);
    });
    const reader = new StreamReader();
    const { writer } = await connect(peer, reader);
    const err = await assert
      .rejects(within(reader.readLine()), { code: "ECONNRESET" })
      .then(() => reader.exception());
    assert.equal((err as Error & { code?: string }).code, "ECONNRESET");
    await assert.rejects(reader.read(), (e) => e === err);
    await assert.rejects(writer.waitClosed(), (e) => e === err);
    await peer.close();
  });

  it("attaches the transport to the reader: pauses over 2 x limit, resumes at limit", async () => {
    const limit = 1024;
    const total = 10 * limit;
    const peer = await listenPeer({ host: "127.0.0.1" }, false, (sock) => sock.end(Buffer.alloc(total, 1)));
    const reader = new StreamReader(limit);
    const { transport, writer } = await connect(peer, reader);
    await until(() => isReaderPaused(reader));
    assert.equal(transport.isReading(), false);
    assert.ok(readerBufferedBytes(reader) > 2 * limit);
    let consumed = 0;
    while (readerBufferedBytes(reader) > limit) {
      consumed += (await reader.read(512)).length;
      if (readerBufferedBytes(reader) > limit) assert.equal(transport.isReading(), false);
    }
    assert.equal(transport.isReading(), true);
    assert.equal(isReaderPaused(reader), false);
    consumed += (await within(reader.read())).length;
    assert.equal(consumed, total);
    writer.close();
    await within(writer.waitClosed());
    await peer.close();
  });

  it("a reader already attached to a transport fails the second connection, reported", async () => {
    const peer = await listenPeer({ host: "127.0.0.1" }, false, () => {});
    const reader = new StreamReader();
    const { writer } = await connect(peer, reader);
    const { reports } = await collectReports(async () => {
      await assert.rejects(connect(peer, reader), { code: "ERR_INVALID_ARG_VALUE" });
    });
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.message, "Exception in Protocol.connectionMade()");
    writer.close();
    await within(writer.waitClosed());
    await peer.close();
  });

  it("a protocol without a reader only writes", async () => {
    const peer = await listenPeer({ host: "127.0.0.1" }, false, (sock) => sock.end("ignored"));
    const protocol = new StreamReaderProtocol(null);
    const [transport] = await createConnection(() => protocol, ...(peer.address as [string, number]));
    const writer = new StreamWriter(transport as Transport, protocol, null);
    writer.write("fine");
    writer.close();
    await within(writer.waitClosed());
    await peer.close();
  });

  it("checks its arguments", () => {
    assert.throws(() => new StreamReaderProtocol(new StreamReader(), 42 as never), {
      code: "ERR_INVALID_ARG_TYPE",
    });
    assert.throws(() => new StreamReaderProtocol(null, () => {}), { code: "ERR_INVALID_ARG_TYPE" });
  });
});
