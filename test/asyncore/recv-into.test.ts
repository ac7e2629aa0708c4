/**
 * `recvInto(buffer, nbytes?)`: received bytes copied into the caller's own memory, the count
 * returned, with `recv()`'s semantics otherwise (EOF, EWOULDBLOCK, datagrams). On the native
 * backend a connected stream reads with one system call straight into the buffer; on node:net
 * it copies from the channel's queue. The same tests pass over both.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import type * as net from "node:net";
import { afterEach, beforeEach, describe, test } from "node:test";
import { kChannel } from "../../src/asyncore/_symbols.js";
import { AF_INET, SOCK_DGRAM } from "../../src/asyncore/index.js";
import { backendName } from "../../src/core/index.js";
import { loopUntil, MapContext, RecordingClient, rawServer } from "../support/asyncore-harness.js";

const native = backendName() === "native";

let ctx: MapContext;
beforeEach(() => {
  ctx = new MapContext();
});
afterEach(() => ctx.teardown());

/** A client dispatcher that reads with `recvInto(buf, nbytes)` while `reading`, and what it saw. */
class Into extends RecordingClient {
  reading = true;
  buf: Uint8Array = Buffer.alloc(64 * 1024);
  nbytes = 0;
  counts: number[] = [];
  /** Called with the bytes of each read that gave some. */
  onBytes: (bytes: Uint8Array) => void = () => {};
  override readable(): boolean {
    return this.reading;
  }
  override writable(): boolean {
    return !this.connected;
  }
  override handleRead(): void {
    const n = this.recvInto(this.buf, this.nbytes);
    this.counts.push(n);
    if (n > 0) this.onBytes(this.buf.subarray(0, n));
  }
  override handleWrite(): void {}
  /** Received bytes not yet read: in the kernel (native) or in the channel's queue (node:net). */
  waiting(): number {
    const chan = this[kChannel];
    return chan.io !== undefined ? chan.io.unread() : chan.queued;
  }
}

async function connected(): Promise<{ d: Into; peer: net.Socket; server: net.Server }> {
  const { server, addr, accepted } = await rawServer();
  const d = new Into(undefined, ctx.map);
  d.createSocket();
  d.connect(addr);
  const peer = await accepted;
  await loopUntil(ctx.map, () => d.connected);
  return { d, peer, server };
}

/** Send `data` and wait (without reading: `readable()` false) until all of it waits for `d`. */
async function arrive(d: Into, peer: net.Socket, data: Buffer | string): Promise<void> {
  d.reading = false;
  peer.write(data);
  await loopUntil(ctx.map, () => d.waiting() === data.length);
}

describe("Dispatcher.recvInto()", () => {
  test("copies to the start of the buffer and returns the count", async () => {
    const { d, peer, server } = await connected();
    assert.equal(d[kChannel].io !== undefined, native);
    // A view into the middle of a larger array: the bytes land at its own start.
    const backing = new Uint8Array(200).fill(0xee);
    d.buf = backing.subarray(50, 150);
    d.onBytes = (bytes) => assert.equal(Buffer.from(bytes).toString(), "hello");
    peer.write("hello");
    await loopUntil(ctx.map, () => d.counts.length > 0);
    assert.deepEqual(d.counts, [5]);
    assert.equal(Buffer.from(backing.subarray(50, 55)).toString(), "hello");
    assert.equal(backing[49], 0xee);
    assert.equal(backing[55], 0xee);
    assert.deepEqual(d.errors, []);
    d.close();
    peer.destroy();
    server.close();
  });

  test("nbytes below the buffer's length reads at most nbytes; the rest waits for the next call", async () => {
    const { d, peer, server } = await connected();
    const sent = randomBytes(1000);
    await arrive(d, peer, sent);
    const buf = Buffer.alloc(4096);
    assert.equal(d.recvInto(buf, 10), 10);
    assert.deepEqual(buf.subarray(0, 10), sent.subarray(0, 10));
    // On the native backend the other 990 bytes are still the kernel's.
    assert.equal(d.waiting(), 990);
    assert.equal(d.recvInto(buf, 10), 10);
    assert.deepEqual(buf.subarray(0, 10), sent.subarray(10, 20));
    // 0 means the whole buffer, as in Python.
    assert.equal(d.recvInto(buf, 0), 980);
    assert.deepEqual(buf.subarray(0, 980), sent.subarray(20));
    assert.throws(() => d.recvInto(buf), { code: "EWOULDBLOCK" });
    d.close();
    peer.destroy();
    server.close();
  });

  test("1 MiB arrives whole through one reused 64 KiB buffer, then EOF", async () => {
    const { d, peer, server } = await connected();
    const sent = randomBytes(1024 * 1024);
    const hash = createHash("sha256");
    let received = 0;
    d.onBytes = (bytes) => {
      hash.update(bytes);
      received += bytes.length;
    };
    peer.end(sent);
    await loopUntil(ctx.map, () => d.closes > 0, 5000);
    assert.deepEqual(d.errors, []);
    assert.equal(received, sent.length);
    assert.equal(hash.digest("hex"), createHash("sha256").update(sent).digest("hex"));
    assert.ok(d.counts.every((n) => n <= 64 * 1024));
    assert.equal(d.counts.at(-1), 0, "the last read, at EOF, gives 0");
    assert.equal(d.closes, 1);
    peer.destroy();
    server.close();
  });

  test("EOF gives 0 and calls handleClose(); so does a reset, not handleError()", async () => {
    const { d, peer, server } = await connected();
    peer.end("bye");
    await loopUntil(ctx.map, () => d.closes > 0);
    assert.deepEqual(d.counts, [3, 0]);
    assert.deepEqual(d.errors, []);
    const second = await connected();
    second.peer.resetAndDestroy();
    await loopUntil(ctx.map, () => second.d.closes > 0);
    assert.deepEqual(second.d.errors, []);
    assert.equal(second.d.counts.at(-1), 0);
    peer.destroy();
    server.close();
    second.server.close();
  });

  test("EWOULDBLOCK when nothing waits, ENOTCONN before a connection", async () => {
    const { d, peer, server } = await connected();
    assert.throws(() => d.recvInto(Buffer.alloc(16)), { code: "EWOULDBLOCK" });
    // An empty buffer reads nothing and is not EOF.
    assert.equal(d.recvInto(new Uint8Array(0)), 0);
    assert.equal(d.closes, 0);
    d.close();
    peer.destroy();
    server.close();
    const idle = new Into(undefined, ctx.map);
    idle.createSocket();
    assert.throws(() => idle.recvInto(Buffer.alloc(16)), { code: "ENOTCONN" });
    idle.close();
  });

  test("a buffer that is not a Uint8Array, or nbytes out of 0..buffer.length, is refused", () => {
    const d = new Into(undefined, ctx.map);
    d.createSocket();
    const buf = Buffer.alloc(8);
    for (const bad of ["text", [1, 2, 3], new ArrayBuffer(8), new DataView(new ArrayBuffer(8)), null]) {
      assert.throws(() => d.recvInto(bad as unknown as Uint8Array), { code: "ERR_INVALID_ARG_TYPE" });
    }
    assert.throws(() => d.recvInto(buf, "4" as unknown as number), { code: "ERR_INVALID_ARG_TYPE" });
    for (const bad of [-1, 9, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => d.recvInto(buf, bad), { code: "ERR_INVALID_ARG_VALUE" });
    }
    d.close();
  });

  test("a datagram socket copies the next datagram, cut to nbytes", async () => {
    const d = new Into(undefined, ctx.map);
    d.createSocket(AF_INET, SOCK_DGRAM);
    const addr = await d.bind(["127.0.0.1", 0]);
    d.buf = Buffer.alloc(16, 0xee);
    const got: string[] = [];
    d.onBytes = (bytes) => got.push(Buffer.from(bytes).toString());
    d.sendto("abcdef", addr);
    await loopUntil(ctx.map, () => got.length === 1);
    assert.deepEqual(d.counts, [6]);
    assert.equal(d.buf[6], 0xee);
    // Cut to 3 bytes: the rest of the datagram is lost, as on UDP.
    d.nbytes = 3;
    d.sendto("ghijkl", addr);
    d.sendto("mnopqr", addr);
    await loopUntil(ctx.map, () => got.length === 3);
    assert.deepEqual(got, ["abcdef", "ghi", "mno"]);
    assert.throws(() => d.recvInto(d.buf), { code: "EWOULDBLOCK" });
    assert.deepEqual(d.errors, []);
    d.close();
  });
});
