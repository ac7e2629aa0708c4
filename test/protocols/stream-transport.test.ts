/**
 * Stream transport details over TCP: write variants, water marks, resets, and protocol
 * callbacks that throw.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { describe, it, mock } from "node:test";
import { NativeSocket } from "../../src/core/index.js";
import type { Protocol, Server, Transport } from "../../src/protocols/index.js";
import {
  callExceptionHandler,
  createConnection,
  createServer,
  defaultExceptionHandler,
  setExceptionHandler,
} from "../../src/protocols/index.js";
import type { StreamTransport } from "../../src/protocols/stream-transport.js";
import { collectReports, Factory, Recorder, recorders, tcpAddress, until, within } from "./helpers.js";

async function pair(serverSide: Factory<Recorder> = recorders()) {
  const server = await createServer(serverSide.create, "127.0.0.1", 0);
  const [transport, client] = await createConnection(() => new Recorder(), ...tcpAddress(server.addresses));
  const remote = await serverSide.nth(0);
  await within(remote.made.promise);
  return { server, transport, client: client as Recorder, remote };
}

async function dispose(server: Server): Promise<void> {
  await within(server[Symbol.asyncDispose](), 3000, "the server to close");
}

/** Close with a TCP RST (SO_LINGER 0). False when the backend's socket cannot (neither a net.Socket nor a NativeSocket). */
function resetPeer(transport: Transport): boolean {
  const sock = transport.getExtraInfo("socket");
  if (!(sock instanceof net.Socket) && !(sock instanceof NativeSocket)) return false;
  sock.resetAndDestroy();
  return true;
}

/** A recorder whose chosen callback throws `err`. */
function throwing(where: keyof Protocol, err: unknown): Factory<Recorder> {
  return new Factory(() => {
    const p = new Recorder();
    const original = (p[where] as (...args: unknown[]) => unknown).bind(p);
    (p as unknown as Record<string, unknown>)[where] = (...args: unknown[]) => {
      original(...args);
      throw err;
    };
    return p;
  });
}

describe("stream transport", () => {
  it("writeLines() sends every chunk in order and skips empty ones", async () => {
    const { server, transport, remote } = await pair();
    transport.writeLines(["a", new Uint8Array([0x62, 0x63]), "", Buffer.from("é")]);
    transport.writeLines([]);
    transport.write("");
    assert.equal((await remote.bytes(5)).toString(), "abcé");
    transport.close();
    await dispose(server);
  });

  it("setWriteBufferLimits() derives the missing mark as asyncio does and rejects bad ones", async () => {
    const { server, transport } = await pair();
    assert.deepEqual(transport.getWriteBufferLimits(), [16384, 65536]);
    transport.setWriteBufferLimits(1000);
    assert.deepEqual(transport.getWriteBufferLimits(), [250, 1000]);
    transport.setWriteBufferLimits(undefined, 100);
    assert.deepEqual(transport.getWriteBufferLimits(), [100, 400]);
    transport.setWriteBufferLimits(50, 10);
    assert.deepEqual(transport.getWriteBufferLimits(), [10, 50]);
    assert.throws(() => transport.setWriteBufferLimits(10, 50), { code: "ERR_INVALID_ARG_VALUE" });
    assert.throws(() => transport.setWriteBufferLimits(-1), { code: "ERR_INVALID_ARG_VALUE" });
    transport.setWriteBufferLimits();
    assert.deepEqual(transport.getWriteBufferLimits(), [16384, 65536]);
    assert.equal(transport.getWriteBufferSize(), 0);
    transport.close();
    await dispose(server);
  });

  it("runs pauseWriting() inside the write() that crosses the high-water mark", async () => {
    const { server, transport, client, remote } = await pair();
    transport.pauseReading();
    const rt = remote.transport!;
    rt.setWriteBufferLimits(0);
    const big = Buffer.alloc(16 * 1024 * 1024, 1);
    rt.write(big);
    assert.ok(rt.getWriteBufferSize() > 0);
    assert.deepEqual(remote.events, ["connectionMade", "pauseWriting"]);
    transport.resumeReading();
    await client.bytes(big.length);
    await until(() => remote.events.includes("resumeWriting"), 3000, "resumeWriting");
    transport.close();
    await dispose(server);
  });

  it("setWriteBufferLimits() itself pauses and resumes when the buffer is on the other side", async () => {
    const { server, transport, client, remote } = await pair();
    transport.pauseReading();
    const rt = remote.transport!;
    rt.setWriteBufferLimits(1 << 30);
    const big = Buffer.alloc(16 * 1024 * 1024, 2);
    rt.write(big);
    assert.deepEqual(remote.events, ["connectionMade"]);
    rt.setWriteBufferLimits(1);
    assert.deepEqual(remote.events, ["connectionMade", "pauseWriting"]);
    rt.setWriteBufferLimits(1 << 30);
    assert.deepEqual(remote.events, ["connectionMade", "pauseWriting", "resumeWriting"]);
    transport.resumeReading();
    await client.bytes(big.length);
    transport.close();
    await dispose(server);
  });

  it("reports a peer's reset as connectionLost(ECONNRESET)", async (t) => {
    const { server, transport, remote } = await pair();
    remote.transport!.write("unread by the peer");
    await new Promise((r) => setTimeout(r, 10));
    if (!resetPeer(transport)) {
      t.skip("resetting needs a net.Socket");
      transport.abort();
      return dispose(server);
    }
    const err = await within(remote.lost.promise);
    assert.equal((err as Error & { code: string }).code, "ECONNRESET");
    assert.deepEqual(remote.events, ["connectionMade", "lost:ECONNRESET"]);
    await dispose(server);
  });

  it("reports writing to a reset peer as connectionLost(EPIPE or ECONNRESET)", async (t) => {
    const { server, transport, remote } = await pair();
    const rt = remote.transport!;
    rt.pauseReading(); // the reset is found by writing, not by reading
    if (!resetPeer(transport)) {
      t.skip("resetting needs a net.Socket");
      transport.abort();
      return dispose(server);
    }
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 100 && !rt.isClosing(); i++) {
      rt.write(Buffer.alloc(64 * 1024));
      await new Promise((r) => setTimeout(r, 2));
    }
    const err = (await within(remote.lost.promise)) as Error & { code: string };
    assert.ok(["EPIPE", "ECONNRESET"].includes(err.code), `got ${err.code}`);
    assert.throws(() => rt.write("x"), { code: "ERR_SOCKET_CLOSED" });
    await dispose(server);
  });

  it("abort() during a close() flush drops the rest", async () => {
    const { server, transport, client, remote } = await pair();
    transport.pauseReading();
    const rt = remote.transport!;
    rt.write(Buffer.alloc(8 * 1024 * 1024));
    rt.close();
    rt.close();
    rt.abort();
    assert.equal(await within(remote.lost.promise), null);
    rt.abort(); // no-op once lost
    transport.resumeReading();
    await within(client.lost.promise);
    assert.ok(client.size < 8 * 1024 * 1024);
    await dispose(server);
  });

  it("close() inside connectionMade: nothing is read, connectionLost follows", async () => {
    const serverSide = new Factory(() => {
      const p = new Recorder();
      p.connectionMade = (t: Transport) => {
        Recorder.prototype.connectionMade.call(p, t);
        t.close();
      };
      return p;
    });
    const server = await createServer(serverSide.create, "127.0.0.1", 0);
    const [transport, client] = await createConnection(() => new Recorder(), ...tcpAddress(server.addresses));
    transport.write("ignored");
    const remote = await serverSide.nth(0);
    assert.equal(await within(remote.lost.promise), null);
    await within((client as Recorder).lost.promise);
    assert.deepEqual(remote.events, ["connectionMade", "lost"]);
    await dispose(server);
  });

  it("pauseReading() inside connectionMade holds the first bytes", async () => {
    const serverSide = new Factory(() => {
      const p = new Recorder();
      p.connectionMade = (t: Transport) => {
        Recorder.prototype.connectionMade.call(p, t);
        t.pauseReading();
      };
      return p;
    });
    const { server, transport, remote } = await pair(serverSide);
    transport.write("early");
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(remote.size, 0);
    remote.transport!.resumeReading();
    assert.equal((await remote.bytes(5)).toString(), "early");
    transport.close();
    await dispose(server);
  });

  it("setProtocol() sends later callbacks to the new protocol", async () => {
    const { server, transport, client, remote } = await pair();
    const st = remote.transport as StreamTransport;
    assert.equal(st.getProtocol(), remote);
    const next = new Recorder();
    st.setProtocol(next);
    transport.write("for the next one");
    assert.equal((await next.bytes(16)).toString(), "for the next one");
    transport.close();
    await within(next.lost.promise);
    assert.deepEqual(next.events, ["data", "eof", "lost"]);
    assert.deepEqual(remote.events, ["connectionMade"]);
    await within(client.lost.promise);
    await dispose(server);
  });

  describe("a protocol callback that throws", () => {
    const boom = () => Object.assign(new Error("boom"), { code: "EBOOM" });

    it("connectionMade: aborts that connection, passes the error to connectionLost", async () => {
      const { reports } = await collectReports(async () => {
        const serverSide = throwing("connectionMade", boom());
        const server = await createServer(serverSide.create, "127.0.0.1", 0);
        const [transport, client] = await createConnection(
          () => new Recorder(),
          ...tcpAddress(server.addresses),
        );
        transport.write("data that must not arrive");
        const remote = await serverSide.nth(0);
        assert.equal(((await within(remote.lost.promise)) as Error & { code: string }).code, "EBOOM");
        assert.deepEqual(remote.events, ["connectionMade", "lost:EBOOM"]);
        await within((client as Recorder).lost.promise);
        await dispose(server);
      });
      assert.deepEqual(
        reports.map((r) => r.message),
        ["Exception in Protocol.connectionMade()"],
      );
    });

    it("eofReceived: aborts with the error", async () => {
      const { reports } = await collectReports(async () => {
        const { server, transport, remote } = await pair(throwing("eofReceived", boom()));
        transport.writeEof();
        await within(remote.lost.promise);
        assert.deepEqual(remote.events, ["connectionMade", "eof", "lost:EBOOM"]);
        transport.close();
        await dispose(server);
      });
      assert.equal(reports.length, 1);
    });

    it("pauseWriting: aborts with the error, write() returns normally", async () => {
      const { reports } = await collectReports(async () => {
        const { server, transport, remote } = await pair(throwing("pauseWriting", boom()));
        transport.pauseReading();
        remote.transport!.setWriteBufferLimits(0);
        remote.transport!.write(Buffer.alloc(16 * 1024 * 1024));
        assert.equal(remote.transport!.isClosing(), true);
        await within(remote.lost.promise);
        assert.deepEqual(remote.events, ["connectionMade", "pauseWriting", "lost:EBOOM"]);
        transport.close();
        await dispose(server);
      });
      assert.deepEqual(
        reports.map((r) => r.message),
        ["Exception in Protocol.pauseWriting()"],
      );
    });

    it("connectionLost: only reported; the server still closes", async () => {
      const { reports } = await collectReports(async () => {
        const { server, transport, remote } = await pair(throwing("connectionLost", boom()));
        transport.close();
        await within(remote.lost.promise);
        await dispose(server);
      });
      assert.equal(reports.length, 1);
      assert.equal(reports[0]!.message, "Exception in Protocol.connectionLost()");
    });

    it("a thrown non-Error becomes an Error with code ERR_UNKNOWN", async () => {
      const { reports } = await collectReports(async () => {
        const { server, transport, remote } = await pair(throwing("dataReceived", "just a string"));
        transport.write("x");
        const err = await within(remote.lost.promise);
        assert.ok(err instanceof Error);
        assert.equal((err as Error & { code: string }).code, "ERR_UNKNOWN");
        assert.match(err.message, /just a string/);
        transport.close();
        await dispose(server);
      });
      assert.equal(reports.length, 1);
      assert.equal(reports[0]!.transport !== undefined, true);
      assert.equal(reports[0]!.protocol !== undefined, true);
    });
  });

  describe("exception handler", () => {
    it("defaults to console.error, and a throwing handler falls back to it", () => {
      const printed = mock.method(console, "error", () => {});
      try {
        callExceptionHandler({ message: "first", exception: new Error("one") });
        assert.equal(printed.mock.callCount(), 1);
        assert.equal(printed.mock.calls[0]!.arguments[0], "first");
        const previous = setExceptionHandler(() => {
          throw new Error("handler broke");
        });
        assert.equal(previous, null);
        callExceptionHandler({ message: "second", exception: new Error("two") });
        assert.equal(printed.mock.callCount(), 3);
        assert.equal(printed.mock.calls[2]!.arguments[0], "second");
        const mine = setExceptionHandler(null);
        assert.equal(typeof mine, "function");
        defaultExceptionHandler({ message: "third", exception: new Error("three") });
        assert.equal(printed.mock.callCount(), 4);
      } finally {
        printed.mock.restore();
        setExceptionHandler(null);
      }
    });
  });
});
