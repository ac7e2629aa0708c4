/**
 * One suite, run over every stream transport: TCP over IPv4 and IPv6, Unix-domain sockets,
 * and TLS. Each case asserts the recorded callback sequence or the bytes on both ends.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Protocol, Server, Transport } from "../../src/protocols/index.js";
import {
  createConnection,
  createServer,
  createUnixConnection,
  createUnixServer,
} from "../../src/protocols/index.js";
import {
  collectReports,
  EchoRecorder,
  Factory,
  hasIPv6Loopback,
  localhostCert,
  Recorder,
  recorders,
  ThrowingRecorder,
  tcpAddress,
  tempDir,
  until,
  within,
} from "./helpers.js";

interface Kind {
  name: string;
  tls: boolean;
  skip: string | false;
  listen(factory: () => Protocol): Promise<Server>;
  connect(factory: () => Protocol, server: Server): Promise<[Transport, Protocol]>;
}

const unixDir = tempDir();
let unixCount = 0;

const kinds: Kind[] = [
  {
    name: "TCP over IPv4",
    tls: false,
    skip: false,
    listen: (f) => createServer(f, "127.0.0.1", 0),
    connect: (f, s) => createConnection(f, ...tcpAddress(s.addresses)),
  },
  {
    name: "TCP over IPv6",
    tls: false,
    skip: hasIPv6Loopback() ? false : "no ::1 on this machine",
    listen: (f) => createServer(f, "::1", 0),
    connect: (f, s) => createConnection(f, ...tcpAddress(s.addresses)),
  },
  {
    name: "Unix-domain",
    tls: false,
    skip: process.platform === "win32" ? "no Unix-domain sockets" : false,
    listen: (f) => createUnixServer(f, path.join(unixDir.dir, `s${unixCount++}.sock`)),
    connect: (f, s) => createUnixConnection(f, s.addresses[0] as string),
  },
  {
    name: "TLS over TCP",
    tls: true,
    skip: false,
    listen: (f) => createServer(f, "127.0.0.1", 0, { tls: localhostCert() }),
    connect: (f, s) => createConnection(f, ...tcpAddress(s.addresses), { tls: { ca: localhostCert().cert } }),
  },
];

after(() => unixDir.remove());

/** A server, one connection to it, and both protocols. */
async function connected(kind: Kind, serverSide: Factory<Recorder> = recorders()) {
  const server = await kind.listen(serverSide.create);
  const [transport, client] = await kind.connect(() => new Recorder(), server);
  const remote = await serverSide.nth(0);
  await within(remote.made.promise);
  return { server, transport, client: client as Recorder, remote, serverSide };
}

async function dispose(server: Server): Promise<void> {
  await within(server[Symbol.asyncDispose](), 3000, "the server to close");
}

for (const kind of kinds) {
  describe(`conformance: ${kind.name}`, { skip: kind.skip }, () => {
    before(() => {
      if (kind.tls) localhostCert();
    });

    it("runs the callbacks in order on both ends", async () => {
      const { server, transport, client, remote } = await connected(kind);
      assert.deepEqual(client.events, ["connectionMade"]);
      transport.write("ping");
      assert.equal((await remote.bytes(4)).toString(), "ping");
      remote.transport!.write("pong");
      remote.transport!.close();
      assert.equal(await within(client.lost.promise), null);
      assert.equal(await within(remote.lost.promise), null);
      assert.equal(client.received().toString(), "pong");
      assert.deepEqual(client.events, ["connectionMade", "data", "eof", "lost"]);
      assert.deepEqual(remote.events, ["connectionMade", "data", "lost"]);
      assert.equal(transport.isClosing(), true);
      await dispose(server);
    });

    it("carries 1 MiB both ways intact", async () => {
      const server = await kind.listen(() => new EchoRecorder());
      const [transport, client] = await kind.connect(() => new Recorder(), server);
      const payload = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 10)) & 0xff;
      for (let off = 0; off < payload.length; off += 100_000)
        transport.write(payload.subarray(off, off + 100_000));
      const back = await (client as Recorder).bytes(payload.length);
      assert.equal(back.length, payload.length);
      assert.ok(back.equals(payload), "echoed bytes differ");
      transport.close();
      await dispose(server);
    });

    it("close() flushes what is buffered, then connectionLost(null)", async () => {
      const { server, transport, client, remote } = await connected(kind);
      transport.pauseReading(); // nothing can be flushed while the peer does not read
      const total = 8 * 1024 * 1024;
      remote.transport!.write(Buffer.alloc(total, 0x61));
      remote.transport!.close();
      assert.equal(remote.transport!.isClosing(), true);
      await new Promise((r) => setTimeout(r, 30));
      assert.deepEqual(
        remote.events,
        ["connectionMade", "pauseWriting"],
        "connectionLost ran before the flush",
      );
      transport.resumeReading();
      assert.equal(await within(remote.lost.promise), null);
      assert.equal(await within(client.lost.promise), null);
      assert.equal(client.size, total);
      assert.deepEqual(client.events, ["connectionMade", "data", "eof", "lost"]);
      assert.deepEqual(remote.events, ["connectionMade", "pauseWriting", "resumeWriting", "lost"]);
      await dispose(server);
    });

    it("abort() drops what is buffered and closes at once", async () => {
      const { server, transport, client, remote } = await connected(kind);
      transport.pauseReading();
      const total = 8 * 1024 * 1024;
      remote.transport!.write(Buffer.alloc(total, 0x62));
      assert.ok(remote.transport!.getWriteBufferSize() > 0, "expected bytes to be buffered");
      remote.transport!.abort();
      assert.equal(await within(remote.lost.promise), null);
      transport.resumeReading();
      await within(client.lost.promise);
      assert.ok(client.size < total, `received all ${total} bytes despite abort()`);
      assert.deepEqual(remote.events, ["connectionMade", "pauseWriting", "lost"]);
      await dispose(server);
    });

    it("write() after close() or after the connection was lost throws ERR_SOCKET_CLOSED", async () => {
      const { server, transport, remote } = await connected(kind);
      transport.close();
      assert.throws(() => transport.write("x"), { code: "ERR_SOCKET_CLOSED" });
      assert.throws(() => transport.writeLines(["x"]), { code: "ERR_SOCKET_CLOSED" });
      await within(remote.lost.promise);
      assert.throws(() => remote.transport!.write("late"), { code: "ERR_SOCKET_CLOSED" });
      await dispose(server);
    });

    it("pauseReading() holds dataReceived until resumeReading()", async () => {
      const { server, transport, remote } = await connected(kind);
      const rt = remote.transport!;
      assert.equal(rt.isReading(), true);
      rt.pauseReading();
      assert.equal(rt.isReading(), false);
      transport.write("abc");
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(remote.size, 0);
      rt.resumeReading();
      assert.equal(rt.isReading(), true);
      assert.equal((await remote.bytes(3)).toString(), "abc");
      transport.close();
      assert.equal(rt.isReading(), true);
      await within(remote.lost.promise);
      assert.equal(rt.isReading(), false);
      await dispose(server);
    });

    it("calls pauseWriting above the high-water mark and resumeWriting at the low one", async () => {
      const { server, transport, client, remote } = await connected(kind);
      transport.pauseReading(); // the peer does not read
      const rt = remote.transport!;
      assert.deepEqual(rt.getWriteBufferLimits(), [16 * 1024, 64 * 1024]);
      const [low, high] = rt.getWriteBufferLimits();
      let paused = false;
      const sizes: Array<[string, number]> = [];
      remote.pauseWriting = () => {
        remote.events.push("pauseWriting");
        paused = true;
        sizes.push(["pause", rt.getWriteBufferSize()]);
      };
      remote.resumeWriting = () => {
        remote.events.push("resumeWriting");
        paused = false;
        sizes.push(["resume", rt.getWriteBufferSize()]);
      };
      // Fill the kernel's buffers too, until the transport's own buffer stays above `high`.
      const chunk = Buffer.alloc(256 * 1024, 0x63);
      let written = 0;
      while (!(paused && rt.getWriteBufferSize() > high)) {
        assert.ok(written < 128 * 1024 * 1024, "the write buffer never stayed above the high-water mark");
        rt.write(chunk);
        written += chunk.length;
        await new Promise((r) => setImmediate(r));
      }
      transport.resumeReading();
      await until(() => !paused, 5000, "resumeWriting");
      for (const [what, size] of sizes) {
        if (what === "pause") assert.ok(size > high, `paused at ${size} bytes`);
        else assert.ok(size <= low, `resumed at ${size} bytes`);
      }
      const flow = remote.events.slice(1);
      assert.ok(flow.length >= 2 && flow.length % 2 === 0, `unpaired flow events: ${flow.join(",")}`);
      for (const [i, e] of flow.entries()) assert.equal(e, i % 2 === 0 ? "pauseWriting" : "resumeWriting");
      await client.bytes(written);
      transport.close();
      await within(remote.lost.promise);
      await dispose(server);
    });

    it(
      kind.tls ? "cannot half-close (TLS)" : "half-closes: eofReceived() returning true keeps writing open",
      async () => {
        const serverSide = recorders();
        const { server, transport, client, remote } = await connected(kind, serverSide);
        if (kind.tls) {
          assert.equal(transport.canWriteEof(), false);
          assert.throws(() => transport.writeEof(), { code: "ERR_BAD_SOCKET" });
          transport.close();
          await within(remote.lost.promise);
          await dispose(server);
          return;
        }
        remote.keepOpen = true;
        assert.equal(transport.canWriteEof(), true);
        transport.write("request");
        transport.writeEof();
        assert.throws(() => transport.write("more"), { code: "ERR_SOCKET_CLOSED" });
        await within(remote.eof.promise);
        assert.equal(remote.received().toString(), "request");
        remote.transport!.write("response");
        remote.transport!.close();
        assert.equal(await within(client.lost.promise), null);
        assert.equal(client.received().toString(), "response");
        assert.deepEqual(remote.events, ["connectionMade", "data", "eof", "lost"]);
        assert.deepEqual(client.events, ["connectionMade", "data", "eof", "lost"]);
        await dispose(server);
      },
    );

    it("a throwing dataReceived() aborts that connection only", async () => {
      const { reports } = await collectReports(async () => {
        const serverSide: Factory<Recorder> = new Factory<Recorder>(
          (): Recorder => (serverSide.made.length === 0 ? new ThrowingRecorder() : new EchoRecorder()),
        );
        const server = await kind.listen(serverSide.create);
        const [bad, badClient] = await kind.connect(() => new Recorder(), server);
        const [good, goodClient] = await kind.connect(() => new Recorder(), server);
        bad.write("x");
        const failed = await serverSide.nth(0);
        const err = await within(failed.lost.promise);
        assert.equal((err as Error & { code: string }).code, "EBAD");
        assert.deepEqual(failed.events, ["connectionMade", "lost:EBAD"]);
        await within((badClient as Recorder).lost.promise);
        good.write("still fine");
        assert.equal((await (goodClient as Recorder).bytes(10)).toString(), "still fine");
        good.close();
        await dispose(server);
      });
      assert.equal(reports.length, 1);
      assert.equal(reports[0]!.message, "Exception in Protocol.dataReceived()");
      assert.equal((reports[0]!.exception as Error & { code: string }).code, "EBAD");
    });

    it("getExtraInfo() gives addresses, the socket and TLS details", async () => {
      const { server, transport, remote } = await connected(kind);
      const rt = remote.transport!;
      if (typeof server.addresses[0] === "string") {
        assert.equal(transport.getExtraInfo("peername"), server.addresses[0]);
      } else {
        assert.deepEqual(transport.getExtraInfo("peername"), server.addresses[0]);
        assert.deepEqual(rt.getExtraInfo("peername"), transport.getExtraInfo("sockname"));
        assert.deepEqual(rt.getExtraInfo("sockname"), server.addresses[0]);
      }
      assert.equal(typeof transport.getExtraInfo("socket"), "object");
      assert.equal(transport.getExtraInfo("no-such-thing", "fallback"), "fallback");
      if (kind.tls) {
        const cert = transport.getExtraInfo("peercert") as { subject: { CN: string } };
        assert.equal(cert.subject.CN, "localhost");
        assert.equal(typeof (transport.getExtraInfo("cipher") as { name: string }).name, "string");
        assert.equal(rt.getExtraInfo("peercert", "none"), "none"); // the client sent no certificate
      } else {
        assert.equal(transport.getExtraInfo("peercert", "none"), "none");
        assert.equal(transport.getExtraInfo("cipher"), undefined);
      }
      transport.close();
      await dispose(server);
    });

    it("Server.waitClosed() waits for the connections the server accepted", async () => {
      const { server, transport, remote } = await connected(kind);
      server.close();
      assert.deepEqual(server.addresses, []);
      let closed = false;
      const waiting = server.waitClosed().then(() => {
        closed = true;
      });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(closed, false, "waitClosed() resolved while a connection was open");
      transport.write("after close");
      assert.equal((await remote.bytes(11)).toString(), "after close");
      transport.close();
      await within(waiting);
      assert.equal(closed, true);
    });
  });
}
