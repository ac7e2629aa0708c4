/**
 * The asynchat echo server of the benchmarks: an `AsyncChat` per connection that sends back
 * every byte it receives. Same contract as `raw-net-echo.ts`: `node chat-echo.js [port]
 * [frameSize]`, listens on 127.0.0.1 (any free port by default), prints
 * `listening on 127.0.0.1:PORT` once ready, exits 0 on SIGTERM/SIGINT; TCP_NODELAY is set on
 * every connection, as the raw server does.
 *
 * How frames are chosen: the load generator (`src/cli/ping-pong.ts`) sends messages of random
 * bytes of one fixed size and checks that exactly those bytes come back. Random bytes have no
 * line end to frame on, and the generator does not tell the server the size, so:
 * - with a frame size (the second argument, or the `CHAT_ECHO_FRAME` environment variable,
 *   which `asyncore bench --spawn` passes on to the server it starts), the terminator is that
 *   byte count: each message is collected whole, then pushed back in one `push()` and the
 *   count set again in `foundTerminator` — a framed echo. It must equal the generator's
 *   `--size`, or the generator waits for echoes that never come;
 * - without one, the terminator is `null`: every received chunk goes to
 *   `collectIncomingData`, which pushes it straight back — the same read → scan → push → send
 *   path without the framing search, and it works for any message size.
 *
 * @example
 * ```sh
 * CHAT_ECHO_FRAME=1024 asyncore bench --spawn bench/servers/chat-echo.js --size 1024
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
const frame = argInt(process.argv[3] ?? process.env.CHAT_ECHO_FRAME, "frame size", 1, 64 * 1024 * 1024);

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
    if (frame === null) new StreamingEcho(sock);
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
