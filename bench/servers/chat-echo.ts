/**
 * The asynchat echo server of the benchmarks: an `AsyncChat` per connection that sends back
 * every byte it receives. Same contract as `raw-net-echo.ts`: `node chat-echo.js [port]
 * [frame]`, listens on 127.0.0.1 (any free port by default), prints
 * `listening on 127.0.0.1:PORT` once ready, exits 0 on SIGTERM/SIGINT; TCP_NODELAY is set on
 * every connection, as the raw server does.
 *
 * How input is framed must match what the load generator (`src/cli/ping-pong.ts`) sends, so
 * it is chosen by the second argument, or else the `CHAT_ECHO_FRAME` environment variable:
 * - `lines` — what the benchmarks use (`bench/echo-compare.ts` by default, `asyncore bench
 *   --lines`, which both set `CHAT_ECHO_FRAME=lines` for the servers they start): the
 *   terminator is `"\n"`, the generator's messages are lines (`size - 1` bytes without `"\n"`,
 *   then `"\n"`), and each line is collected in `collectIncomingData` and pushed back with its
 *   `"\n"` from `foundTerminator` — asynchat's line-echo idiom;
 * - a byte count: the terminator is that count, each message is collected whole, pushed back
 *   in one `push()` and the count set again in `foundTerminator`. It must equal the
 *   generator's `--size`; the generator's one-byte echo probe (sent before every measured run
 *   of `asyncore bench --spawn` and `echo-compare`) is then never answered, so this mode suits
 *   only `asyncore bench --port` without `--idle`;
 * - nothing (or empty): the terminator is `null`: every received chunk goes to
 *   `collectIncomingData`, which pushes it straight back — the read → scan → push → send path
 *   without framing, for the generator's default messages of any bytes.
 *
 * @example
 * ```sh
 * asyncore bench --spawn bench/servers/chat-echo.js --lines --size 1024
 * ```
 * @module
 */
import type * as net from "node:net";
import { AsyncChat } from "../../src/asynchat/index.js";
import { closeAll, Dispatcher, loop } from "../../src/asyncore/index.js";

function argInt(text: string | undefined, what: string, min: number, max: number): number | null {
  if (text === undefined || text === "") return null;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`chat-echo: invalid ${what} "${text}"\n`);
    process.exit(2);
  }
  return n;
}

const port = argInt(process.argv[2], "port", 0, 65535) ?? 0;
const frameText = process.argv[3] ?? process.env.CHAT_ECHO_FRAME;
const lines = frameText === "lines";
const frame = lines ? null : argInt(frameText, "frame (lines or a byte count)", 1, 64 * 1024 * 1024);
const NEWLINE = Buffer.from("\n");
const EMPTY = Buffer.alloc(0);
/** `Buffer.allocUnsafe()` takes buffers smaller than this from its pool, others are allocated apart. */
const POOL_LIMIT = Buffer.poolSize >>> 1;

/** Echoes whole frames of `frame` bytes. */
class FramedEcho extends AsyncChat {
  constructor(sock: net.Socket, size: number) {
    super(sock);
    this.setTerminator(size);
  }
  override foundTerminator(): void {
    this.push(this.getData());
    this.setTerminator(frame!);
  }
}

/**
 * Echoes every line, its terminator included. The pieces of a line (one per read it spans) are
 * pushed as they are, only the last one copied to join its `"\n"`: the line goes back in as
 * many sends as it came in reads, and only its last read is copied. A last piece too large for
 * Node's buffer pool is pushed as it is, and the `"\n"` after it: copying it would take a fresh
 * allocation (and its page faults) to add one byte, dearer than one more small send.
 */
class LineEcho extends AsyncChat {
  #parts: Buffer[] = [];
  constructor(sock: net.Socket) {
    super(sock);
    this.setTerminator(NEWLINE);
  }
  override collectIncomingData(data: Buffer): void {
    this.#parts.push(data);
  }
  override foundTerminator(): void {
    const parts = this.#parts;
    const last = parts.length - 1;
    for (let i = 0; i < last; i++) this.push(parts[i]!);
    const tail = last >= 0 ? parts[last]! : EMPTY;
    if (tail.length + 1 >= POOL_LIMIT) {
      while (parts.length > 0) parts.pop();
      this.push(tail);
      this.push(NEWLINE);
      return;
    }
    const line = Buffer.allocUnsafe(tail.length + 1);
    line.set(tail, 0);
    line[tail.length] = NEWLINE[0]!;
    // Emptied for the next line in place: no new array, and pop() is cheaper than `length = 0`.
    while (parts.length > 0) parts.pop();
    this.push(line);
  }
}

/** Echoes every chunk as it is collected. */
class StreamingEcho extends AsyncChat {
  constructor(sock: net.Socket) {
    super(sock);
    this.setTerminator(null);
  }
  override collectIncomingData(data: Buffer): void {
    this.push(data);
  }
  override foundTerminator(): void {}
}

class EchoServer extends Dispatcher {
  override handleAccepted(sock: net.Socket): void {
    sock.setNoDelay(true);
    if (lines) new LineEcho(sock);
    else if (frame === null) new StreamingEcho(sock);
    else new FramedEcho(sock, frame);
  }
}

const server = new EchoServer();
server.createSocket();
void server.bind(["127.0.0.1", port]);
const [, boundPort] = (await server.listen(1024)) as [string, number];
process.stdout.write(`listening on 127.0.0.1:${boundPort}\n`);

function shutdown(): void {
  closeAll();
  process.exit(0);
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
await loop({ timeout: 30000 });
