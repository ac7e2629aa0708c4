/**
 * One suite of stream behaviours, run over TCP (IPv4 and IPv6), Unix-domain sockets and TLS:
 * line echo and async iteration, buffering from the moment of connection, read flow control
 * end to end, one read at a time, aborted reads, drain on a lost connection, write after
 * close, waitClosed on both ends, EOF, the limit with a 10 MiB line, readExactly over the
 * limit, startTls, and a client callback that throws.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { backendName } from "../../src/core/index.js";
import type { Server } from "../../src/protocols/index.js";
import { isReaderPaused, readerBufferedBytes } from "../../src/streams/_reader-flow.js";
import {
  type OpenConnectionOptions,
  openConnection,
  openUnixConnection,
  type StartServerOptions,
  type StreamReader,
  type StreamWriter,
  startServer,
  startUnixServer,
} from "../../src/streams/index.js";
import {
  collectReports,
  deferred,
  hasIPv6Loopback,
  localhostCert,
  rejectsWithCode,
  tcpAddress,
  tempDir,
  turn,
  until,
  watchUnhandled,
  within,
} from "./helpers.js";

type OnClient = (reader: StreamReader, writer: StreamWriter) => void | Promise<void>;

interface Kind {
  name: string;
  tls: boolean;
  skip: string | false;
  listen(onClient: OnClient, opts?: StartServerOptions): Promise<Server>;
  connect(server: Server, opts?: OpenConnectionOptions): Promise<[StreamReader, StreamWriter]>;
}

const unixDir = tempDir();
let unixCount = 0;
const clientTls = (): { ca: Buffer } => ({ ca: localhostCert().cert });

const kinds: Kind[] = [
  {
    name: "TCP over IPv4",
    tls: false,
    skip: false,
    listen: (cb, o) => startServer(cb, "127.0.0.1", 0, o),
    connect: (s, o) => openConnection(...tcpAddress(s.addresses), o),
  },
  {
    name: "TCP over IPv6",
    tls: false,
    skip: hasIPv6Loopback() ? false : "no ::1 on this machine",
    listen: (cb, o) => startServer(cb, "::1", 0, o),
    connect: (s, o) => openConnection(...tcpAddress(s.addresses), o),
  },
  {
    name: "Unix-domain",
    tls: false,
    skip: process.platform === "win32" ? "no Unix-domain sockets" : false,
    listen: (cb, o) => startUnixServer(cb, path.join(unixDir.dir, `s${unixCount++}.sock`), o),
    connect: (s, o) => openUnixConnection(s.addresses[0] as string, o),
  },
  {
    name: "TLS over TCP",
    tls: true,
    skip: false,
    listen: (cb, o) => startServer(cb, "127.0.0.1", 0, { ...o, tls: localhostCert() }),
    connect: (s, o) => openConnection(...tcpAddress(s.addresses), { ...o, tls: clientTls() }),
  },
];

after(() => unixDir.remove());

/** A server whose callback hands over its reader and writer, and one client connected to it. */
async function connected(
  kind: Kind,
  opts: { server?: StartServerOptions; client?: OpenConnectionOptions } = {},
) {
  const remote = deferred<{ reader: StreamReader; writer: StreamWriter }>();
  const server = await kind.listen((reader, writer) => remote.resolve({ reader, writer }), opts.server);
  const [reader, writer] = await kind.connect(server, opts.client);
  const peer = await within(remote.promise, 3000, "the server's callback");
  return { server, reader, writer, peer };
}

async function dispose(server: Server, ...writers: StreamWriter[]): Promise<void> {
  for (const w of writers) w.transport.abort();
  await within(server[Symbol.asyncDispose](), 3000, "the server to close");
}

/** Byte `i` of every patterned stream is `i % 251`; chunks of this length keep it aligned. */
const PATTERN = Buffer.from(Array.from({ length: 251 * 64 }, (_, i) => i % 251));

for (const kind of kinds) {
  describe(`streams conformance: ${kind.name}`, { skip: kind.skip }, () => {
    before(() => {
      if (kind.tls) localhostCert();
    });

    it("echoes lines, read by async iteration on the server", async () => {
      const server = await kind.listen(async (reader, writer) => {
        for await (const line of reader) writer.write(Buffer.concat([Buffer.from("> "), line]));
        writer.close();
      });
      const [reader, writer] = await kind.connect(server);
      writer.writeLines(["one\n", "two\n", "thr", "ee\n"]);
      assert.equal(String(await reader.readLine()), "> one\n");
      assert.equal(String(await reader.readLine()), "> two\n");
      assert.equal(String(await reader.readLine()), "> three\n");
      // TLS cannot half-close, and close() stops reading: the last line needs EOF after it.
      if (kind.tls) writer.close();
      else writer.write("last, without newline");
      if (!kind.tls) writer.writeEof();
      const rest: string[] = [];
      for await (const line of reader) rest.push(String(line));
      assert.deepEqual(rest, kind.tls ? [] : ["> last, without newline"]);
      assert.equal(reader.atEof(), true);
      writer.close();
      await within(writer.waitClosed());
      await dispose(server);
    });

    it("buffers from the moment of connection: nothing is lost before the first read", async () => {
      const lines = Array.from({ length: 200 }, (_, i) => `greeting ${i}\n`);
      const server = await kind.listen((_reader, writer) => {
        writer.writeLines(lines);
        writer.close();
      });
      const [reader, writer] = await kind.connect(server);
      await until(() => reader.atEof() || readerBufferedBytes(reader) === lines.join("").length);
      await turn(20);
      const got: string[] = [];
      for await (const line of reader) got.push(String(line));
      assert.deepEqual(got, lines);
      writer.close();
      await within(writer.waitClosed());
      await dispose(server);
    });

    it("pauses reading past 2 x limit and resumes at limit; the peer's writes stall meanwhile", async () => {
      const limit = 16 * 1024;
      const cap = 64 * 1024 * 1024;
      let written = 0;
      let stop = false;
      let lastProgress = Date.now();
      const done = deferred<void>();
      const server = await kind.listen(async (_reader, writer) => {
        try {
          while (!stop && written < cap) {
            writer.write(PATTERN);
            written += PATTERN.length;
            lastProgress = Date.now();
            await writer.drain();
          }
          writer.close();
        } finally {
          done.resolve();
        }
      });
      const [reader, writer] = await kind.connect(server, { limit });
      // Do not read until the peer has been stuck in drain() for a while.
      await until(
        () => isReaderPaused(reader) && Date.now() - lastProgress > 150,
        10_000,
        "the peer's writes to stall",
      );
      stop = true;
      assert.ok(written < cap, "the peer never stalled");
      // Past 2 x limit by one read at most: 64 KiB on node:net, 256 KiB on the native backend.
      const bound = 2 * limit + (backendName() === "native" ? 256 : 64) * 1024;
      assert.equal(isReaderPaused(reader), true);
      assert.equal(writer.transport.isReading(), false);
      assert.ok(
        readerBufferedBytes(reader) > 2 * limit,
        `only ${readerBufferedBytes(reader)} bytes buffered`,
      );
      assert.ok(readerBufferedBytes(reader) <= bound, `${readerBufferedBytes(reader)} bytes buffered`);
      let offset = 0;
      let resumes = 0;
      let wasPaused = true;
      for (;;) {
        const data = await reader.read(4096);
        if (data.length === 0) break;
        assert.ok(
          data.equals(PATTERN.subarray(offset % 251, (offset % 251) + data.length)),
          `bytes at ${offset}`,
        );
        offset += data.length;
        const buffered = readerBufferedBytes(reader);
        assert.ok(buffered <= bound, `${buffered} bytes buffered`);
        const paused = isReaderPaused(reader);
        if (paused) assert.ok(buffered > limit, `still paused with ${buffered} bytes buffered`);
        if (wasPaused && !paused) {
          resumes++;
          assert.ok(buffered <= limit, `resumed with ${buffered} bytes buffered`);
        }
        wasPaused = paused;
      }
      await within(done.promise);
      assert.equal(offset, written);
      assert.ok(resumes >= 1);
      writer.close();
      await within(writer.waitClosed());
      await dispose(server);
    });

    it("allows one pending read at a time", async () => {
      const { server, reader, writer, peer } = await connected(kind);
      const first = reader.readLine();
      await rejectsWithCode(reader.read(10), "ERR_READ_IN_PROGRESS");
      await rejectsWithCode(reader.readExactly(1), "ERR_READ_IN_PROGRESS");
      peer.writer.write("hello\n");
      assert.equal(String(await within(first)), "hello\n");
      peer.writer.write("again\n");
      assert.equal(String(await within(reader.readLine())), "again\n");
      writer.close();
      await dispose(server, peer.writer);
    });

    it("an aborted read rejects with the reason and leaves the buffer intact", async () => {
      const { server, reader, writer, peer } = await connected(kind);
      peer.writer.write("abc");
      await until(() => readerBufferedBytes(reader) === 3);
      const ac = new AbortController();
      const pending = reader.readLine({ signal: ac.signal });
      await turn();
      const reason = new Error("give up");
      ac.abort(reason);
      await assert.rejects(pending, (err) => err === reason);
      assert.equal(readerBufferedBytes(reader), 3);
      const exactly = new AbortController();
      const pendingExact = reader.readExactly(10, { signal: exactly.signal });
      exactly.abort();
      await assert.rejects(pendingExact, { name: "AbortError" });
      peer.writer.write("def\n");
      assert.equal(String(await within(reader.readLine())), "abcdef\n");
      writer.close();
      await dispose(server, peer.writer);
    });

    it("drain() rejects when the connection is lost while it waits", async () => {
      const { server, writer, peer } = await connected(kind);
      // The server never reads past 2 x limit: fill its buffers and then ours.
      const chunk = Buffer.alloc(256 * 1024, 0x61);
      let pending: Promise<void> | undefined;
      for (let i = 0; i < 512 && pending === undefined; i++) {
        writer.write(chunk);
        const drained = writer.drain();
        const settled = await Promise.race([drained.then(() => true), turn(5).then(() => false)]);
        if (!settled) pending = drained;
      }
      assert.ok(pending, "the write buffer never stayed over its high-water mark");
      peer.writer.transport.abort();
      await rejectsWithCode(within(pending), /^(ECONNRESET|EPIPE)$/);
      await rejectsWithCode(writer.drain(), /^(ECONNRESET|EPIPE)$/);
      await assert.rejects(writer.waitClosed(), { code: /^(ECONNRESET|EPIPE)$/ });
      await dispose(server);
    });

    it("write() after close() throws ERR_SOCKET_CLOSED; drain() rejects with it", async () => {
      const { server, reader, writer, peer } = await connected(kind);
      writer.write("bye\n");
      writer.close();
      assert.equal(writer.isClosing(), true);
      assert.throws(() => writer.write("late"), { code: "ERR_SOCKET_CLOSED" });
      assert.throws(() => writer.writeLines(["late"]), { code: "ERR_SOCKET_CLOSED" });
      await rejectsWithCode(writer.drain(), "ERR_SOCKET_CLOSED");
      assert.equal(String(await within(peer.reader.readLine())), "bye\n");
      await within(writer.waitClosed());
      await rejectsWithCode(writer.drain(), "ERR_SOCKET_CLOSED");
      assert.deepEqual(await reader.read(), Buffer.alloc(0));
      await dispose(server, peer.writer);
    });

    it("waitClosed() resolves on both ends, whichever closes first", async () => {
      for (const first of ["client", "server"] as const) {
        const { server, reader, writer, peer } = await connected(kind);
        const [closer, other] = first === "client" ? [writer, peer.writer] : [peer.writer, writer];
        const otherReader = first === "client" ? peer.reader : reader;
        closer.close();
        assert.deepEqual(await within(otherReader.read()), Buffer.alloc(0));
        other.close();
        await within(closer.waitClosed(), 3000, `${first}: waitClosed() of the closing end`);
        await within(other.waitClosed(), 3000, `${first}: waitClosed() of the other end`);
        await within(other.waitClosed(), 3000, "waitClosed() again");
        await dispose(server);
      }
    });

    it(
      kind.tls ? "cannot write EOF (TLS)" : "writeEof() half-closes; the peer answers after EOF",
      async () => {
        const { server, reader, writer, peer } = await connected(kind);
        if (kind.tls) {
          assert.equal(writer.canWriteEof(), false);
          assert.throws(() => writer.writeEof(), { code: "ERR_BAD_SOCKET" });
          writer.close();
          await dispose(server, peer.writer);
          return;
        }
        assert.equal(writer.canWriteEof(), true);
        writer.write("request body");
        writer.writeEof();
        assert.throws(() => writer.write("more"), { code: "ERR_SOCKET_CLOSED" });
        assert.equal(String(await within(peer.reader.read())), "request body");
        assert.equal(peer.reader.atEof(), true);
        peer.writer.write("response");
        await peer.writer.drain();
        peer.writer.close();
        assert.equal(String(await within(reader.read())), "response");
        await within(writer.waitClosed());
        await within(peer.writer.waitClosed());
        await dispose(server);
      },
    );

    it("a 10 MiB line against a 64 KiB limit: ERR_LIMIT_OVERRUN, with the buffer bounded", async () => {
      const limit = 64 * 1024;
      const total = 10 * 1024 * 1024;
      const { server, reader, writer, peer } = await connected(kind, { client: { limit } });
      const send = (async () => {
        const chunk = Buffer.alloc(64 * 1024, 0x78);
        for (let sent = 0; sent < total; sent += chunk.length) {
          peer.writer.write(chunk);
          await peer.writer.drain();
        }
        peer.writer.write("\nok\n");
      })();
      let maxBuffered = 0;
      const sampler = setInterval(() => {
        maxBuffered = Math.max(maxBuffered, readerBufferedBytes(reader));
      }, 1);
      let overruns = 0;
      let line: Buffer | undefined;
      try {
        for (let i = 0; i < 10_000; i++) {
          try {
            line = await within(reader.readLine());
          } catch (err) {
            assert.equal((err as { code?: string }).code, "ERR_LIMIT_OVERRUN");
            overruns++;
            continue;
          }
          if (String(line) === "ok\n") break;
          assert.ok(line.length <= limit + 1, `a line of ${line.length} bytes`);
        }
      } finally {
        clearInterval(sampler);
      }
      await within(send);
      assert.equal(String(line), "ok\n");
      assert.ok(overruns >= 1);
      assert.ok(maxBuffered <= 2 * limit + 64 * 1024, `${maxBuffered} bytes were buffered`);
      writer.close();
      await dispose(server, peer.writer);
    });

    it("readExactly(n) with n larger than the limit completes", async () => {
      const limit = 1024;
      const n = 300 * 1024;
      const { server, reader, writer, peer } = await connected(kind, { client: { limit } });
      const payload = Buffer.alloc(n);
      for (let i = 0; i < n; i++) payload[i] = (i * 13) & 0xff;
      peer.writer.write(payload);
      peer.writer.write("tail");
      const got = await within(reader.readExactly(n));
      assert.ok(got.equals(payload));
      assert.equal(String(await within(reader.readExactly(4))), "tail");
      writer.close();
      await dispose(server, peer.writer);
    });

    it("getExtraInfo() gives the addresses of both ends", async () => {
      const { server, writer, peer } = await connected(kind);
      const address = server.addresses[0];
      if (typeof address === "string") {
        assert.equal(writer.getExtraInfo("peername"), address);
      } else {
        assert.deepEqual(writer.getExtraInfo("peername"), address);
        assert.deepEqual(peer.writer.getExtraInfo("peername"), writer.getExtraInfo("sockname"));
      }
      assert.equal(writer.getExtraInfo("nothing", 42), 42);
      assert.equal(writer.getExtraInfo("cipher") !== undefined, kind.tls);
      writer.close();
      await dispose(server, peer.writer);
    });

    it("startTls() upgrades the connection on both sides", {
      skip: kind.tls ? "already TLS" : false,
    }, async () => {
      const server = await kind.listen(async (reader, writer) => {
        assert.equal(String(await reader.readLine()), "STARTTLS\n");
        writer.write("GO\n");
        await writer.startTls(localhostCert());
        writer.write(`secure: ${String(await reader.readLine())}`);
        writer.close();
      });
      const [reader, writer] = await kind.connect(server);
      writer.write("STARTTLS\n");
      assert.equal(String(await within(reader.readLine())), "GO\n");
      assert.equal(writer.getExtraInfo("cipher"), undefined);
      await within(writer.startTls(clientTls()), 3000, "the client handshake");
      assert.equal(typeof (writer.getExtraInfo("cipher") as { name?: string }).name, "string");
      assert.equal(writer.canWriteEof(), false);
      writer.write("hello\n");
      assert.equal(String(await within(reader.readLine())), "secure: hello\n");
      assert.deepEqual(await within(reader.read()), Buffer.alloc(0));
      writer.close();
      await within(writer.waitClosed());
      await dispose(server);
    });

    it("a client callback that throws closes its own connection only, reported once", async () => {
      const unhandled = watchUnhandled();
      const boom = Object.assign(new Error("handler failed"), { code: "EHANDLER" });
      let count = 0;
      const { reports } = await collectReports(async () => {
        const server = await kind.listen(async (reader, writer) => {
          const line = await reader.readLine();
          if (count++ === 0) throw boom;
          writer.write(line);
          writer.close();
        });
        const [badReader, bad] = await kind.connect(server);
        const [goodReader, good] = await kind.connect(server);
        bad.write("first\n");
        assert.deepEqual(await within(badReader.read()), Buffer.alloc(0));
        good.write("second\n");
        assert.equal(String(await within(goodReader.readLine())), "second\n");
        bad.close();
        good.close();
        await dispose(server);
      });
      assert.deepEqual(unhandled.stop(), []);
      assert.equal(reports.length, 1);
      assert.equal(reports[0]!.message, "Unhandled exception in client callback");
      assert.equal(reports[0]!.exception, boom);
    });
  });
}
