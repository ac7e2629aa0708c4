/**
 * AsyncChat over real loopback sockets: the socket-level cases of CPython 3.11's
 * test_asynchat.py (the pure framing cases are in terminator-scanner.test.ts), then framing
 * changed from a callback, a large transfer with random read splits, getData, discardBuffers,
 * and output that stays bounded when the peer does not read.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as net from "node:net";
import { afterEach, beforeEach, describe, test } from "node:test";
import { AsyncChat, type Producer, SimpleProducer } from "../../src/asynchat/index.js";
import { AF_INET6, AF_UNIX, loop } from "../../src/asyncore/index.js";
import { loopUntil, MapContext, unixPath } from "../support/asyncore-harness.js";
import { makeRng } from "./chat-cases.js";
import {
  EchoSession,
  echoPair,
  OneShotServer,
  type ReadSize,
  randomReads,
  SERVER_QUIT,
  unexpected,
} from "./echo-peers.js";

const b = (s: string): Buffer => Buffer.from(s, "latin1");
const text = (bufs: Buffer[]): string[] => bufs.map((x) => x.toString("latin1"));

let ctx: MapContext;
beforeEach(() => {
  ctx = new MapContext();
  unexpected.length = 0;
});
afterEach(async () => {
  await ctx.teardown();
  assert.deepEqual(unexpected, []);
});

/** Loop until every dispatcher of the test closed itself. */
const untilAllClosed = (max = 2000) => loopUntil(ctx.map, () => ctx.map.size === 0, max);

describe("AsyncChat: test_asynchat.py over loopback", () => {
  for (const term of ["\n", "\r\n", "qqq"]) {
    test(`line terminator ${JSON.stringify(term)}, reads of 1, 2, 3 bytes (test_line_terminator*)`, async () => {
      for (const l of [1, 2, 3]) {
        const [, c] = await echoPair(ctx.map, term, { chunkSize: l, readSize: (n) => Math.min(n, l) });
        c.push(b("hello "));
        c.push(b(`world${term}`));
        c.push(b(`I'm not dead yet!${term}`));
        c.push(SERVER_QUIT);
        await untilAllClosed();
        assert.deepEqual(text(c.contents), ["hello world", "I'm not dead yet!"], `reads of ${l}`);
      }
    });
  }

  for (const termlen of [1, 6]) {
    test(`numeric terminator ${termlen} (test_numeric_terminator*)`, async () => {
      const data = b("hello world, I'm not dead yet!\n");
      const [, c] = await echoPair(ctx.map, termlen, { chunkSize: 3 });
      c.push(data);
      c.push(SERVER_QUIT);
      await untilAllClosed();
      assert.deepEqual(c.contents, [data.subarray(0, termlen)]);
      assert.deepEqual(c.buffer, data.subarray(termlen), "the rest is collected without a terminator");
      assert.equal(c.getTerminator(), 0);
    });
  }

  test("no terminator: everything is collected (test_none_terminator)", async () => {
    const data = b("hello world, I'm not dead yet!\n");
    const [, c] = await echoPair(ctx.map, null, { chunkSize: 5 });
    c.push(data);
    c.push(SERVER_QUIT);
    await untilAllClosed();
    assert.deepEqual(c.contents, []);
    assert.deepEqual(c.buffer, data);
  });

  const families = [
    { name: "IPv4", opts: {} },
    { name: "IPv6", opts: { family: AF_INET6, addr: ["::1", 0] as const } },
    { name: "Unix", opts: { family: AF_UNIX, addr: unixPath } },
  ];
  for (const fam of families) {
    test(`a SimpleProducer round trip over ${fam.name} (test_simple_producer)`, async () => {
      const addr = typeof fam.opts.addr === "function" ? fam.opts.addr() : fam.opts.addr;
      const [, c] = await echoPair(ctx.map, "\n", { ...fam.opts, addr, chunkSize: 4 });
      const data = b("hello world\nI'm not dead yet!\n");
      c.pushWithProducer(new SimpleProducer(Buffer.concat([data, SERVER_QUIT]), 8));
      await untilAllClosed();
      assert.deepEqual(text(c.contents), ["hello world", "I'm not dead yet!"]);
    });
  }

  test("bytes given to pushWithProducer are sent as they are (test_string_producer)", async () => {
    const [, c] = await echoPair(ctx.map, "\n", { chunkSize: 7 });
    c.pushWithProducer(b("hello world\nI'm not dead yet!\nQUIT\n"));
    await untilAllClosed();
    assert.deepEqual(text(c.contents), ["hello world", "I'm not dead yet!"]);
  });

  test("closeWhenDone closes once everything queued was sent (test_close_when_done)", async () => {
    const [server, c] = await echoPair(ctx.map, "\n", { hold: true });
    let closedByQueue = false;
    const handleClose = c.handleClose.bind(c);
    c.handleClose = () => {
      closedByQueue = c.outBufferSize === 0 && c.connected;
      handleClose();
    };
    c.push(b("hello world\nI'm not dead yet!\n"));
    c.push(SERVER_QUIT);
    c.closeWhenDone();
    assert.equal(c.writable(), true);
    await loopUntil(ctx.map, () => !ctx.map.has(c.fileno()) && server.session?.received !== undefined);
    assert.ok(closedByQueue, "closed from initiateSend with nothing left to send");
    // Only now may the server echo: the client has gone and must not have received anything.
    server.session!.resend();
    await untilAllClosed();
    assert.deepEqual(c.contents, []);
    assert.deepEqual(text([server.session!.received!]), ["hello world\nI'm not dead yet!\n"]);
  });

  test("push takes bytes of any kind and strings, and rejects the rest (test_push)", async () => {
    const [, c] = await echoPair(ctx.map, "\n", { chunkSize: 16 });
    const data = b("bytes\n");
    c.push(data);
    c.push(new Uint8Array(data));
    c.push(new Uint8Array(new Uint8Array(b("xxbytes\nyy")).buffer, 2, 6)); // a view, as a memoryview
    c.push("bytes\n"); // a string is UTF-8 encoded (CPython rejects str)
    assert.throws(() => c.push(10 as never), { name: "TypeError", code: "ERR_INVALID_ARG_TYPE" });
    assert.throws(() => c.push({} as never), { name: "TypeError", code: "ERR_INVALID_ARG_TYPE" });
    assert.throws(() => c.pushWithProducer({} as never), { name: "TypeError", code: "ERR_INVALID_ARG_TYPE" });
    c.push(SERVER_QUIT);
    await untilAllClosed();
    assert.deepEqual(text(c.contents), ["bytes", "bytes", "bytes", "bytes"]);
  });

  test("a read that would block is ignored, not an error (test_blockingioerror)", async () => {
    const [server, c] = await echoPair(ctx.map, "\n");
    await loopUntil(ctx.map, () => c.connected && server.session !== undefined);
    // Nothing was sent to the client: recv() throws EWOULDBLOCK, which handleRead must absorb.
    assert.throws(() => c.recv(10), { code: "EWOULDBLOCK" });
    let collected = 0;
    c.collectIncomingData = () => {
      collected++;
    };
    c.handleRead();
    assert.equal(collected, 0);
    assert.deepEqual(unexpected, []);
    c.push(SERVER_QUIT);
    await untilAllClosed();
  });
});

describe("AsyncChat: framing, buffers and flow over loopback", () => {
  test("a terminator changed inside foundTerminator applies to the rest of the read", async () => {
    // Length-prefixed records: a decimal header line, then that many bytes of body.
    class Records extends AsyncChat {
      records: Buffer[] = [];
      readonly #read: ReadSize;
      constructor(sock: net.Socket, read: ReadSize) {
        super(sock, ctx.map);
        this.#read = read;
        this.setTerminator("\n");
      }
      override recv(n: number): Buffer {
        return super.recv(this.#read(n));
      }
      override foundTerminator(): void {
        if (typeof this.getTerminator() === "number") {
          this.records.push(this.getData());
          this.setTerminator("\n");
          return;
        }
        const n = Number(this.getData().toString());
        if (n === 0) this.records.push(Buffer.alloc(0));
        else this.setTerminator(n);
      }
    }
    const rng = makeRng(7);
    const bodies: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const body = Buffer.alloc(rng() < 0.1 ? 0 : Math.floor(rng() * 3000));
      for (let j = 0; j < body.length; j++) body[j] = rng() < 0.05 ? 10 : Math.floor(rng() * 256);
      bodies.push(body);
    }
    const wire = Buffer.concat(bodies.flatMap((body) => [b(`${body.length}\n`), body]));
    for (const read of [(n: number) => n, randomReads(makeRng(8)), (n: number) => Math.min(n, 61)]) {
      const server = new OneShotServer(ctx.map, (sock) => new Records(sock, read));
      const client = new Sender(await server.ready);
      client.push(wire);
      client.closeWhenDone();
      await untilAllClosed(20_000);
      assert.equal(server.session!.records.length, bodies.length);
      assert.ok(
        server.session!.records.every((r, i) => r.equals(bodies[i]!)),
        "every record intact",
      );
    }
  });

  test("8 MiB of lines echoed both ways with random read splits", { timeout: 60_000 }, async () => {
    const rng = makeRng(2024);
    const wire = makeLines(rng, 8 * 1024 * 1024);
    const expected = sha256(wire);
    const lineCount = wire.reduce((n, byte) => n + (byte === 10 ? 1 : 0), 0);
    class LineEcho extends AsyncChat {
      readonly hash = createHash("sha256");
      lines = 0;
      readonly #read = randomReads(makeRng(1));
      constructor(sock: net.Socket) {
        super(sock, ctx.map);
        this.setTerminator("\n");
      }
      override recv(n: number): Buffer {
        return super.recv(this.#read(n));
      }
      override foundTerminator(): void {
        const line = this.getData();
        this.hash.update(line).update("\n");
        this.lines++;
        this.push(line);
        this.push("\n");
      }
    }
    class LineClient extends Sender {
      readonly hash = createHash("sha256");
      lines = 0;
      readonly #read = randomReads(makeRng(2));
      override recv(n: number): Buffer {
        return super.recv(this.#read(n));
      }
      override foundTerminator(): void {
        this.hash.update(this.getData()).update("\n");
        if (++this.lines === lineCount) this.closeWhenDone();
      }
    }
    const server = new OneShotServer(ctx.map, (sock) => new LineEcho(sock));
    const client = new LineClient(await server.ready);
    client.setTerminator("\n");
    client.push(wire);
    await untilAllClosed(100_000);
    assert.equal(server.session!.lines, lineCount);
    assert.equal(server.session!.hash.digest("hex"), expected, "the server got every line intact");
    assert.equal(client.lines, lineCount);
    assert.equal(client.hash.digest("hex"), expected, "the client got every echo intact");
  });

  test("getData returns what was collected since the last call, joined once", async () => {
    const chat = new AsyncChat(undefined, ctx.map);
    assert.equal(ctx.map.size, 0, "no socket yet: not in the map");
    assert.deepEqual(chat.getData(), Buffer.alloc(0));
    chat.collectIncomingData(b("ab"));
    chat.collectIncomingData(Buffer.alloc(0));
    chat.collectIncomingData(b("cd"));
    assert.equal(chat.getData().toString(), "abcd");
    assert.equal(chat.getData().length, 0, "cleared");
    chat.collectIncomingData(b("single"));
    assert.equal(chat.getData().toString(), "single");

    // Over a socket, with the default collectIncomingData: one frame per getData in 1-byte reads.
    class Frames extends Sender {
      override recv(n: number): Buffer {
        return super.recv(Math.min(n, 1));
      }
      override foundTerminator(): void {
        this.frames.push(this.getData().toString());
      }
    }
    const server = new OneShotServer(ctx.map, (sock) => new EchoSession(sock, ctx.map, 3, false));
    const frames = new Frames(await server.ready);
    frames.setTerminator("\r\n");
    frames.push(b("one\r\ntwo\r\n\r\nthree\r\nQUIT\n"));
    await untilAllClosed();
    assert.deepEqual(frames.frames, ["one", "two", "", "three"]);
  });

  test("the default foundTerminator fails with ERR_METHOD_NOT_IMPLEMENTED into handleError", async () => {
    const errors: unknown[] = [];
    class Unfinished extends AsyncChat {
      override handleConnect(): void {}
      override handleError(err: unknown): void {
        errors.push(err);
        this.close();
      }
    }
    const server = new OneShotServer(ctx.map, (sock) => new Sender(undefined, sock));
    const chat = new Unfinished(undefined, ctx.map);
    chat.createSocket();
    chat.connect(await server.ready);
    chat.setTerminator("\n");
    await loopUntil(ctx.map, () => server.session?.connected === true);
    server.session!.push("line\n");
    server.session!.closeWhenDone();
    await untilAllClosed();
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as { code?: string }).code, "ERR_METHOD_NOT_IMPLEMENTED");
    assert.match(String(errors[0]), /Unfinished must override foundTerminator/);
  });

  test("discardBuffers drops queued output, kept data and a partly received terminator", async () => {
    const server = new OneShotServer(ctx.map, (sock) => new Sender(undefined, sock));
    const client = new Sender(await server.ready);
    client.setTerminator("\r\n");
    client.push("dropped before connecting\r\n");
    client.pushWithProducer(new SimpleProducer("dropped too"));
    assert.ok(client.outBufferSize > 0);
    client.discardBuffers();
    assert.equal(client.outBufferSize, 0);
    const seen: string[] = [];
    client.collectIncomingData = (data) => {
      seen.push(data.toString());
      AsyncChat.prototype.collectIncomingData.call(client, data);
    };
    client.foundTerminator = () => client.frames.push(client.getData().toString());
    await loopUntil(ctx.map, () => client.connected && server.session !== undefined);
    const peer = server.session!;
    peer.push("abc\r");
    await loopUntil(ctx.map, () => seen.length > 0);
    assert.deepEqual(seen, ["abc"], "the \\r is held as a possible start of the terminator");
    client.discardBuffers();
    assert.equal(client.getData().length, 0);
    peer.push("\nfoo\r\n");
    await loopUntil(ctx.map, () => client.frames.length > 0);
    assert.deepEqual(client.frames, ["\nfoo"], "the held \\r and the kept abc were dropped");
    client.push("bye");
    client.closeWhenDone();
    let got = "";
    await loopUntil(ctx.map, () => {
      got += peer.getData().toString();
      return got.length >= 3;
    });
    assert.equal(got, "bye", "nothing discarded reached the peer");
    peer.close();
    await untilAllClosed();
  });

  test("push is sent in acOutBufferSize pieces, one send per initiateSend", async () => {
    const [, c] = await echoPair(ctx.map, null, { chunkSize: 65536 });
    const sizes: number[] = [];
    c.acOutBufferSize = 4096;
    const send = c.send.bind(c);
    c.send = (data) => {
      sizes.push(typeof data === "string" ? Buffer.byteLength(data) : data.length);
      return send(data);
    };
    const data = Buffer.alloc(100_000);
    for (let i = 0; i < data.length; i++) data[i] = 65 + (i % 26);
    c.push(data);
    c.push(SERVER_QUIT);
    await untilAllClosed();
    assert.ok(Math.max(...sizes) <= 4096, `largest send ${Math.max(...sizes)}`);
    assert.equal(
      sizes.reduce((x, y) => x + y, 0),
      data.length + SERVER_QUIT.length,
    );
    assert.deepEqual(c.buffer, data);
  });

  test("an endless producer is pulled only as fast as a slow peer reads", { timeout: 30_000 }, async () => {
    let peer: net.Socket | undefined;
    let peerBytes = 0;
    let peerEnded = false;
    const listener = net.createServer((sock) => {
      peer = sock;
      sock.pause();
      sock.on("data", (d) => {
        peerBytes += d.length;
      });
      sock.on("end", () => {
        peerEnded = true;
        sock.end();
      });
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    try {
      const piece = Buffer.alloc(65536, 0x61);
      let pulls = 0;
      const endless: Producer = {
        more: () => {
          pulls++;
          return piece;
        },
      };
      class Counting extends Sender {
        sent = 0;
        largest = 0;
        override send(data: Uint8Array | string): number {
          const n = super.send(data);
          this.sent += n;
          this.largest = Math.max(this.largest, n);
          return n;
        }
      }
      const port = (listener.address() as net.AddressInfo).port;
      const chat = new Counting(["127.0.0.1", port]);
      chat.pushWithProducer(endless);
      const settle = async () => {
        let last = -1;
        let still = 0;
        for (let i = 0; i < 3000 && still < 25; i++) {
          await loop({ timeout: 10, count: 1, map: ctx.map });
          still = pulls === last ? still + 1 : 0;
          last = pulls;
        }
        assert.ok(still >= 25, "pulling stopped while the peer does not read");
      };
      await settle();
      assert.ok(pulls > 0 && peer !== undefined);
      assert.ok(pulls * piece.length - chat.sent <= chat.acOutBufferSize, "at most one piece pulled ahead");
      assert.ok(chat.outBufferSize <= chat.acOutBufferSize);
      assert.ok(chat.largest <= chat.acOutBufferSize);
      assert.ok(pulls < 1024, `pulled ${pulls} pieces into kernel buffers`);
      const stalledAt = pulls;
      peer.resume();
      await loopUntil(ctx.map, () => pulls > stalledAt + 20, 5000);
      chat.close();
      await new Promise<void>((resolve) => {
        const check = () => (peerEnded ? resolve() : setTimeout(check, 5));
        check();
      });
      assert.equal(peerBytes, chat.sent, "the peer got exactly what the socket took");
    } finally {
      peer?.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });
});

/** A plain channel: connects (or wraps `sock`); keeps what it receives for getData(). */
class Sender extends AsyncChat {
  frames: string[] = [];
  constructor(addr?: readonly [string, number] | string, sock?: net.Socket) {
    super(sock, ctx.map);
    if (addr !== undefined) {
      this.createSocket();
      this.connect(addr);
    }
  }
  override handleConnect(): void {}
  override foundTerminator(): void {}
  override handleError(err: unknown): void {
    unexpected.push(`sender: ${String(err)}`);
    this.close();
  }
}

/** `total` bytes of lines (no byte 10 inside): mostly short, some empty, a few over 64 KiB. */
function makeLines(rng: () => number, total: number): Buffer {
  const buf = Buffer.allocUnsafe(total);
  for (let i = 0; i < total; i++) {
    const byte = Math.floor(rng() * 256);
    buf[i] = byte === 10 ? 11 : byte;
  }
  let pos = 0;
  for (;;) {
    const r = rng();
    const len = r < 0.05 ? 0 : r < 0.07 ? 50_000 + Math.floor(rng() * 150_000) : Math.floor(rng() * 2000);
    pos += len;
    if (pos >= total - 1) break;
    buf[pos++] = 10;
  }
  buf[total - 1] = 10;
  return buf;
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
