/**
 * openConnection / openUnixConnection against an independent `node:net` peer: the client
 * cases of CPython 3.11 test_asyncio/test_streams.py (open_connection over TCP, Unix and TLS,
 * a protocol that lost its connection, wait_closed, the writer after close, EOF while
 * closing, drain against a peer that hangs up), then the options (limit, localAddr, signal)
 * and the failures.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { createConnection, createUnixConnection } from "../../src/protocols/index.js";
import {
  openConnection,
  openUnixConnection,
  StreamReader,
  StreamReaderProtocol,
  StreamWriter,
} from "../../src/streams/index.js";
import {
  collectReports,
  HTTP_REPLY,
  httpPeer,
  listenPeer,
  localhostCert,
  type Peer,
  rejectsWithCode,
  tempDir,
  within,
} from "./helpers.js";

const dir = tempDir();
after(() => dir.remove());
let socketCount = 0;
const unixPath = (): string => path.join(dir.dir, `p${socketCount++}.sock`);

type Transport = "tcp" | "unix";

function peer(kind: Transport, useTls = false): Promise<Peer> {
  return httpPeer(kind === "tcp" ? { host: "127.0.0.1" } : { path: unixPath() }, useTls);
}

function open(p: Peer, opts: Parameters<typeof openConnection>[2] = {}) {
  return typeof p.address === "string"
    ? openUnixConnection(p.address, opts)
    : openConnection(p.address[0], p.address[1], opts);
}

describe("openConnection: CPython test_streams cases", () => {
  for (const kind of ["tcp", "unix"] as const) {
    const suffix = kind === "unix" ? " (unix)" : "";

    it(`test_open_connection${suffix} / test_async_writer_api: a request, a line, then all to EOF`, async () => {
      const httpd = await peer(kind);
      const { reports } = await collectReports(async () => {
        const [reader, writer] = await open(httpd);
        writer.write("GET / HTTP/1.0\r\n\r\n");
        assert.equal(String(await within(reader.readLine())), "HTTP/1.0 200 OK\r\n");
        const rest = await within(reader.read());
        assert.ok(String(rest).endsWith("\r\n\r\nTest message"), String(rest));
        writer.close();
        await within(writer.waitClosed());
      });
      assert.deepEqual(reports, []);
      await httpd.close();
    });

    it(`test_open_connection_no_loop_ssl${suffix}: the same over TLS`, async () => {
      const httpd = await peer(kind, true);
      const { reports } = await collectReports(async () => {
        const [reader, writer] = await open(httpd, { tls: { ca: localhostCert().cert } });
        writer.write("GET / HTTP/1.0\r\n\r\n");
        const all = await within(reader.read());
        assert.equal(String(all), HTTP_REPLY);
        writer.close();
        await within(writer.waitClosed());
      });
      assert.deepEqual(reports, []);
      await httpd.close();
    });

    it(`test_open_connection_error${suffix}: connectionLost(err) makes reads reject with err`, async () => {
      const httpd = await peer(kind);
      const { reports } = await collectReports(async () => {
        const reader = new StreamReader();
        const protocol = new StreamReaderProtocol(reader);
        const [transport] =
          typeof httpd.address === "string"
            ? await createUnixConnection(() => protocol, httpd.address)
            : await createConnection(() => protocol, ...httpd.address);
        const writer = new StreamWriter(transport, protocol, reader);
        const err = new RangeError("division by zero");
        protocol.connectionLost(err);
        await assert.rejects(reader.read(), (e) => e === err);
        writer.close();
        await assert.rejects(writer.waitClosed(), (e) => e === err);
      });
      assert.deepEqual(reports, []);
      await httpd.close();
    });
  }

  it("test_wait_closed_on_close: isClosing() turns true at close(); waitClosed() resolves", async () => {
    const httpd = await peer("tcp");
    const [reader, writer] = await open(httpd);
    writer.write("GET / HTTP/1.0\r\n\r\n");
    assert.equal(String(await within(reader.readLine())), "HTTP/1.0 200 OK\r\n");
    assert.ok(String(await within(reader.read())).endsWith("\r\n\r\nTest message"));
    assert.equal(writer.isClosing(), false);
    writer.close();
    assert.equal(writer.isClosing(), true);
    await within(writer.waitClosed());
    await httpd.close();
  });

  it("test_wait_closed_on_close_with_unread_data", async () => {
    const httpd = await peer("tcp");
    const [reader, writer] = await open(httpd);
    writer.write("GET / HTTP/1.0\r\n\r\n");
    assert.equal(String(await within(reader.readLine())), "HTTP/1.0 200 OK\r\n");
    writer.close();
    await within(writer.waitClosed());
    await httpd.close();
  });

  it("test_async_writer_api_exception_after_close: write() throws ERR_SOCKET_CLOSED, drain() rejects", async () => {
    const httpd = await peer("tcp");
    const [reader, writer] = await open(httpd);
    writer.write("GET / HTTP/1.0\r\n\r\n");
    assert.equal(String(await within(reader.readLine())), "HTTP/1.0 200 OK\r\n");
    assert.ok(String(await within(reader.read())).endsWith("Test message"));
    writer.close();
    assert.throws(() => writer.write("data"), { code: "ERR_SOCKET_CLOSED" });
    await rejectsWithCode(writer.drain(), "ERR_SOCKET_CLOSED");
    await within(writer.waitClosed());
    await httpd.close();
  });

  it("test_eof_feed_when_closing_writer: after waitClosed() the reader is at EOF", async () => {
    const httpd = await peer("tcp");
    const { reports } = await collectReports(async () => {
      const [reader, writer] = await open(httpd);
      writer.close();
      await within(writer.waitClosed());
      assert.equal(reader.atEof(), true);
      assert.deepEqual(await reader.read(), Buffer.alloc(0));
    });
    assert.deepEqual(reports, []);
    await httpd.close();
  });

  it("test_drain_raises: write() + drain() against a peer that hangs up ends in an error", async () => {
    const rude = await listenPeer({ host: "127.0.0.1" }, false, (sock) => sock.destroy());
    const { reports } = await collectReports(async () => {
      const [, writer] = await open(rude);
      const chunk = Buffer.alloc(64 * 1024, 0x66);
      const loop = async (): Promise<never> => {
        for (let i = 0; i < 100_000; i++) {
          writer.write(chunk);
          await writer.drain();
        }
        throw new Error("drain() never failed");
      };
      await assert.rejects(within(loop(), 5000), (err: Error & { code?: string }) =>
        ["ECONNRESET", "EPIPE", "ERR_SOCKET_CLOSED"].includes(err.code ?? ""),
      );
      writer.close();
      await assert.rejects(within(writer.waitClosed()), { code: /^(ECONNRESET|EPIPE)$/ });
    });
    assert.deepEqual(reports, []);
    await rude.close();
  });
});

describe("openConnection: options and failures", () => {
  it("limit sets the reader's line limit", async () => {
    const talker = await listenPeer({ host: "127.0.0.1" }, false, (sock) => sock.end("0123456789\nshort\n"));
    const [reader, writer] = await open(talker, { limit: 8 });
    await rejectsWithCode(reader.readLine(), "ERR_LIMIT_OVERRUN");
    assert.equal(String(await within(reader.readLine())), "short\n");
    writer.close();
    await talker.close();
  });

  it("rejects a bad limit before connecting", async () => {
    let accepted = 0;
    const quiet = await listenPeer({ host: "127.0.0.1" }, false, () => accepted++);
    await rejectsWithCode(open(quiet, { limit: 0 }), "ERR_INVALID_ARG_VALUE");
    await rejectsWithCode(open(quiet, { limit: "big" as unknown as number }), "ERR_INVALID_ARG_TYPE");
    assert.equal(accepted, 0);
    await quiet.close();
  });

  it("binds to localAddr before connecting", async () => {
    const seen: Array<string | undefined> = [];
    const echo = await listenPeer({ host: "127.0.0.1" }, false, (sock) => {
      seen.push(`${sock.remoteAddress}:${sock.remotePort}`);
      sock.end();
    });
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const freePort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const [, writer] = await open(echo, { localAddr: ["127.0.0.1", freePort] });
    assert.deepEqual(writer.getExtraInfo("sockname"), ["127.0.0.1", freePort]);
    writer.close();
    await within(writer.waitClosed());
    assert.deepEqual(seen, [`127.0.0.1:${freePort}`]);
    await echo.close();
  });

  it("rejects with ECONNREFUSED, and ENOENT for a missing Unix socket", async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    await rejectsWithCode(openConnection("127.0.0.1", port), "ECONNREFUSED");
    await rejectsWithCode(openUnixConnection(path.join(dir.dir, "missing.sock")), "ENOENT");
  });

  it("an aborted signal rejects with its reason; aborting mid-handshake too", async () => {
    const ac = new AbortController();
    const reason = new Error("not now");
    ac.abort(reason);
    await assert.rejects(openConnection("127.0.0.1", 9, { signal: ac.signal }), (e) => e === reason);
    // A TLS peer that never answers the handshake.
    const mute = await listenPeer({ host: "127.0.0.1" }, false, () => {});
    const late = new AbortController();
    const attempt = open(mute, { tls: { ca: localhostCert().cert }, signal: late.signal });
    setTimeout(() => late.abort(reason), 30);
    await assert.rejects(within(attempt), (e) => e === reason);
    await mute.close();
  });

  it("rejects a certificate it cannot verify", async () => {
    const httpd = await peer("tcp", true);
    await rejectsWithCode(
      open(httpd, { tls: true }),
      /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/,
    );
    await httpd.close();
  });
});
