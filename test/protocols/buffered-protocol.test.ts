/**
 * BufferedProtocol: reads land in the protocol's own memory (`getBuffer()` → `bufferUpdated()`),
 * on every backend, over TCP and TLS, through server limits, with the write side copying what
 * it cannot send at once. Ports `test_buffered_proto.py` and the buffered-protocol cases of
 * `test_selector_events.py` (CPython 3.11).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as net from "node:net";
import { describe, it } from "node:test";
import type { BufferedProtocol, Server, Transport } from "../../src/protocols/index.js";
import { createConnection, createServer } from "../../src/protocols/index.js";
import { startServer } from "../../src/streams/index.js";
import { collectReports, deferred, localhostCert, Recorder, tcpAddress, until, within } from "./helpers.js";

/** Records what a buffered protocol is told; memory of `size` bytes, new for each read unless `reuse`. */
class BufferedRecorder implements BufferedProtocol {
  readonly events: string[] = [];
  readonly chunks: Buffer[] = [];
  readonly hints: number[] = [];
  transport: Transport | undefined;
  memory: Uint8Array;
  readonly made = deferred();
  readonly lost = deferred<Error | null>();
  #size = 0;
  #want = Number.POSITIVE_INFINITY;
  #enough = deferred();

  constructor(
    size = 100,
    readonly reuse = true,
  ) {
    this.memory = new Uint8Array(size);
  }
  connectionMade(transport: Transport): void {
    this.events.push("connectionMade");
    this.transport = transport;
    this.made.resolve();
  }
  getBuffer(sizeHint: number): Uint8Array {
    this.hints.push(sizeHint);
    if (!this.reuse) this.memory = new Uint8Array(this.memory.length);
    return this.memory;
  }
  bufferUpdated(nbytes: number): void {
    if (this.events.at(-1) !== "data") this.events.push("data");
    assert.ok(nbytes > 0 && nbytes <= this.memory.length, `nbytes ${nbytes}`);
    this.chunks.push(Buffer.from(this.memory.subarray(0, nbytes)));
    this.#size += nbytes;
    if (this.#size >= this.#want) this.#enough.resolve();
  }
  eofReceived(): void {
    this.events.push("eof");
  }
  connectionLost(err: Error | null): void {
    this.events.push(err ? `lost:${(err as Error & { code?: string }).code}` : "lost");
    this.lost.resolve(err);
  }
  received(): Buffer {
    return Buffer.concat(this.chunks);
  }
  /** Resolves once at least `n` bytes arrived. */
  async bytes(n: number): Promise<Buffer> {
    if (this.#size < n) {
      this.#want = n;
      this.#enough = deferred();
      await within(this.#enough.promise, 10000, `${n} bytes`);
    }
    return this.received();
  }
}

/**
 * Echoes from one reused buffer; stops reading while the write buffer is over its high-water
 * mark, so the bytes waiting there must be copies for the echo to stay intact.
 */
class BufferedEcho implements BufferedProtocol {
  #t: Transport | undefined;
  readonly #memory: Buffer;
  readonly lost = deferred<Error | null>();
  constructor(size = 65536) {
    this.#memory = Buffer.alloc(size);
  }
  connectionMade(t: Transport): void {
    this.#t = t;
  }
  getBuffer(): Uint8Array {
    return this.#memory;
  }
  bufferUpdated(n: number): void {
    this.#t!.write(this.#memory.subarray(0, n));
    // Scribble over what was just written: a write that kept a reference would send this.
    this.#memory.fill(0x2a, 0, n);
  }
  pauseWriting(): void {
    this.#t!.pauseReading();
  }
  resumeWriting(): void {
    this.#t!.resumeReading();
  }
  connectionLost(err: Error | null): void {
    this.lost.resolve(err);
  }
}

async function dispose(server: Server): Promise<void> {
  await within(server[Symbol.asyncDispose](), 5000, "the server to close");
}

/** A raw node:net client: connect, then resolve with the socket. */
function rawClient(server: Server): Promise<net.Socket> {
  const [host, port] = tcpAddress(server.addresses);
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host, () => resolve(sock));
    sock.once("error", reject);
  });
}

/** Send `data` in random pieces and collect exactly as many bytes back. */
async function roundTrip(sock: net.Socket, data: Buffer, readDelayMs = 0): Promise<Buffer> {
  const back: Buffer[] = [];
  let got = 0;
  const done = deferred();
  const onData = (chunk: Buffer): void => {
    back.push(chunk);
    got += chunk.length;
    if (got >= data.length) done.resolve();
  };
  if (readDelayMs > 0) {
    sock.pause();
    setTimeout(() => sock.resume(), readDelayMs);
  }
  sock.on("data", onData);
  for (let at = 0; at < data.length; ) {
    const n = Math.min(data.length - at, 1 + Math.floor(Math.random() * 70000));
    sock.write(data.subarray(at, at + n));
    at += n;
  }
  await within(done.promise, 20000, `${data.length} echoed bytes`);
  sock.off("data", onData);
  return Buffer.concat(back);
}

function digest(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/** A protocol with 4 bytes of memory that pauses reading after each read. */
class Pausing extends BufferedRecorder {
  constructor() {
    super(4);
  }
  override bufferUpdated(n: number): void {
    super.bufferUpdated(n);
    this.transport!.pauseReading();
  }
}

/** A server of {@link Pausing} protocols, sent "abcdefgh", once its first read (4 bytes) is in. */
async function pausedAfterFirstRead(): Promise<{ server: Server; sock: net.Socket; made: Pausing[] }> {
  const made: Pausing[] = [];
  const server = await createServer(() => made[made.push(new Pausing()) - 1]!, "127.0.0.1", 0);
  const sock = await rawClient(server);
  sock.write("abcdefgh");
  await until(() => made[0]?.received().length === 4, 3000, "the first read");
  return { server, sock, made };
}

describe("BufferedProtocol", () => {
  it("receives what a stream server writes through small buffers (test_buffered_proto_create_connection)", async () => {
    const noise = Buffer.from("12345678+".repeat(1024));
    const srv = await startServer(
      async (reader, writer) => {
        writer.write(noise);
        await reader.readExactly(1);
        writer.close();
        await writer.waitClosed();
      },
      "127.0.0.1",
      0,
    );
    const [transport, client] = await createConnection(
      () => new BufferedRecorder(100),
      ...tcpAddress(srv.addresses),
    );
    assert.deepEqual(await client.bytes(noise.length), noise);
    transport.write("1");
    assert.equal(await within(client.lost.promise), null);
    assert.ok(client.hints.length >= noise.length / 100, "one getBuffer() per read");
    assert.deepEqual(client.events, ["connectionMade", "data", "eof", "lost"]);
    srv.close();
    await within(srv.waitClosed());
  });

  it("echoes 4 MiB from one reused buffer, byte for byte, also while the peer is slow to read", async () => {
    const server = await createServer(() => new BufferedEcho(), "127.0.0.1", 0);
    const sock = await rawClient(server);
    const data = randomBytes(4 * 1024 * 1024);
    // The first round queues megabytes in the server's write buffer (the client reads late).
    const back = await roundTrip(sock, data, 300);
    assert.equal(back.length, data.length);
    assert.equal(digest(back), digest(data));
    const again = await roundTrip(sock, data.subarray(0, 100000));
    assert.ok(again.equals(data.subarray(0, 100000)));
    sock.destroy();
    await dispose(server);
  });

  it("gets every byte in order through a 1-byte buffer", async () => {
    const server = await createServer(() => new BufferedEcho(1), "127.0.0.1", 0);
    const sock = await rawClient(server);
    const data = randomBytes(3000);
    assert.ok((await roundTrip(sock, data)).equals(data));
    sock.destroy();
    await dispose(server);
  });

  it("may hand out new memory for every read", async () => {
    const server = await createServer(() => new BufferedEcho(), "127.0.0.1", 0);
    const [transport, client] = await createConnection(
      () => new BufferedRecorder(4096, false),
      ...tcpAddress(server.addresses),
    );
    const data = randomBytes(200000);
    transport.write(data);
    assert.ok((await client.bytes(data.length)).equals(data));
    transport.close();
    await within(client.lost.promise);
    await dispose(server);
  });

  it("writeLines() from the protocol's memory sends copies", async () => {
    class Framer extends BufferedRecorder {
      override bufferUpdated(n: number): void {
        super.bufferUpdated(n);
        const piece = this.memory.subarray(0, n);
        this.transport!.writeLines([piece, "|"]);
        this.memory.fill(0x2a, 0, n);
      }
    }
    const server = await createServer(() => new Framer(1), "127.0.0.1", 0);
    const sock = await rawClient(server);
    const back = await roundTrip(sock, Buffer.from("abc"));
    const more: Buffer[] = [back];
    while (Buffer.concat(more).length < 6) {
      await new Promise((r) => sock.once("data", (c: Buffer) => r(more.push(c))));
    }
    assert.equal(Buffer.concat(more).toString(), "a|b|c|");
    sock.destroy();
    await dispose(server);
  });

  it("sees EOF after the data, and a half-closed connection keeps writing", async () => {
    class HalfOpen extends BufferedRecorder {
      override eofReceived(): boolean {
        super.eofReceived();
        this.transport!.write(`got ${this.received().length}`);
        return true;
      }
    }
    const made: HalfOpen[] = [];
    const server = await createServer(() => made[made.push(new HalfOpen(7)) - 1]!, "127.0.0.1", 0);
    const sock = await rawClient(server);
    const reply: Buffer[] = [];
    sock.on("data", (c: Buffer) => reply.push(c));
    const ended = new Promise((r) => sock.once("end", r));
    sock.end("0123456789");
    await until(() => Buffer.concat(reply).toString() === "got 10", 5000, "the reply after EOF");
    made[0]!.transport!.close();
    await within(ended);
    await within(made[0]!.lost.promise);
    assert.deepEqual(made[0]!.events, ["connectionMade", "data", "eof", "lost"]);
    sock.destroy();
    await dispose(server);
  });

  for (const [what, make, code] of [
    [
      "throws",
      () => {
        throw Object.assign(new Error("no memory"), { code: "ENOBUF" });
      },
      "ENOBUF",
    ],
    ["returns an empty buffer", () => new Uint8Array(0), "ERR_INVALID_RETURN_VALUE"],
    ["returns a string", () => "abc" as unknown as Uint8Array, "ERR_INVALID_RETURN_VALUE"],
  ] as const) {
    it(`getBuffer() that ${what} aborts its own connection only (test_get_buffer_error/zerosized)`, async () => {
      let calls = 0;
      const { result: lost, reports } = await collectReports(async () => {
        class Bad extends BufferedRecorder {
          updated = 0;
          override getBuffer(hint: number): Uint8Array {
            calls++;
            return (make as (h: number) => Uint8Array)(hint);
          }
          override bufferUpdated(n: number): void {
            this.updated++;
            super.bufferUpdated(n);
          }
        }
        // The first connection gets the bad protocol, the next a good one.
        const made: BufferedRecorder[] = [];
        const server = await createServer(
          () => made[made.push(made.length === 0 ? new Bad() : new BufferedRecorder()) - 1]!,
          "127.0.0.1",
          0,
        );
        const sock = await rawClient(server);
        sock.on("error", () => {});
        sock.write("x");
        const bad = made[0] as Bad;
        const err = await within(bad.lost.promise);
        assert.equal(bad.updated, 0, "bufferUpdated() is never called");
        // The server goes on serving.
        const [other, client] = await createConnection(() => new Recorder(), ...tcpAddress(server.addresses));
        await within(made[1]!.made.promise, 3000, "the next connection");
        other.close();
        await within(client.lost.promise);
        sock.destroy();
        await dispose(server);
        return err;
      });
      assert.equal((lost as Error & { code?: string }).code, code);
      assert.ok(calls >= 1);
      assert.equal(reports.length, 1);
      assert.equal(reports[0]!.message, "Exception in Protocol.getBuffer()");
    });
  }

  it("bufferUpdated() that throws aborts its connection with that error (test_buffer_updated_error)", async () => {
    const { reports } = await collectReports(async () => {
      class Bad extends BufferedRecorder {
        override bufferUpdated(): void {
          throw Object.assign(new Error("bad input"), { code: "EBAD" });
        }
      }
      const bad: Bad[] = [];
      const server = await createServer(() => bad[bad.push(new Bad()) - 1]!, "127.0.0.1", 0);
      const sock = await rawClient(server);
      sock.on("error", () => {});
      sock.write("x");
      const err = await within(bad[0]!.lost.promise);
      assert.equal((err as Error & { code?: string }).code, "EBAD");
      sock.destroy();
      await dispose(server);
    });
    assert.equal(reports[0]!.message, "Exception in Protocol.bufferUpdated()");
  });

  it("pauseReading() inside bufferUpdated() stops the reads until resumeReading()", async () => {
    const { server, sock, made } = await pausedAfterFirstRead();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(made[0]!.received().toString(), "abcd", "no read while paused");
    assert.equal(made[0]!.hints.length, 1, "no getBuffer() while paused");
    made[0]!.transport!.resumeReading();
    await until(() => made[0]!.received().length === 8, 3000, "the second read");
    assert.equal(made[0]!.received().toString(), "abcdefgh");
    made[0]!.transport!.close();
    sock.destroy();
    await dispose(server);
  });

  it("bytes held back by a pause go to the next protocol after setProtocol()", async () => {
    const { server, sock, made } = await pausedAfterFirstRead();
    const next = new Recorder();
    const transport = made[0]!.transport! as Transport & { setProtocol(p: unknown): void };
    transport.setProtocol(next);
    transport.resumeReading();
    assert.equal((await next.bytes(4)).toString(), "efgh");
    transport.close();
    sock.destroy();
    await dispose(server);
  });

  it("setProtocol() switches between a Protocol and a BufferedProtocol mid-connection (test_proto_type_switch)", async () => {
    const plain = new Recorder();
    const buffered = new BufferedRecorder(16);
    const made: Transport[] = [];
    const server = await createServer(
      () => ({
        connectionMade: (t: Transport) => {
          made.push(t);
          (t as unknown as { setProtocol(p: unknown): void }).setProtocol(plain);
        },
      }),
      "127.0.0.1",
      0,
    );
    const sock = await rawClient(server);
    await until(() => made.length === 1, 3000, "the connection");
    const transport = made[0]! as unknown as { setProtocol(p: unknown): void };
    sock.write("one");
    assert.equal((await plain.bytes(3)).toString(), "one");
    transport.setProtocol(buffered);
    sock.write("two");
    assert.equal((await buffered.bytes(3)).toString(), "two");
    transport.setProtocol(plain);
    sock.write("three");
    assert.equal((await plain.bytes(8)).toString(), "onethree");
    assert.equal(buffered.received().toString(), "two");
    sock.destroy();
    await dispose(server);
  });

  it("works over TLS, where the transport copies each decrypted chunk in", async () => {
    const server = await createServer(() => new BufferedEcho(1000), "127.0.0.1", 0, { tls: localhostCert() });
    const [transport, client] = await createConnection(
      () => new BufferedRecorder(333),
      ...tcpAddress(server.addresses),
      { tls: { ca: localhostCert().cert } },
    );
    const data = randomBytes(300000);
    transport.write(data);
    assert.ok((await client.bytes(data.length)).equals(data));
    assert.ok(
      client.hints.every((h) => h > 0),
      "the hint is what the chunk still holds",
    );
    transport.close();
    await within(client.lost.promise);
    await dispose(server);
  });

  it("works behind server limits (maxConnections, idleTimeout)", async () => {
    const server = await createServer(() => new BufferedEcho(), "127.0.0.1", 0, {
      maxConnections: 4,
      idleTimeout: 5000,
    });
    const sock = await rawClient(server);
    const data = randomBytes(500000);
    assert.ok((await roundTrip(sock, data)).equals(data));
    sock.destroy();
    await dispose(server);
  });
});
