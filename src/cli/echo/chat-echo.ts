/**
 * The echo server on asynchat: an `AsyncChat` per connection with no terminator (`null`), so
 * every received chunk reaches `collectIncomingData`, which pushes it straight back.
 *
 * @module
 */
import type * as net from "node:net";
import { AsyncChat } from "../../asynchat/index.js";
import type { TrackedConnection } from "./connection-tracker.js";
import {
  describeError,
  type EchoListenSettings,
  isHangUp,
  type RunningEchoServer,
  socketDestroyed,
} from "./echo-server.js";
import { type LoopServerContext, startLoopServer } from "./loop-server.js";

/**
 * One connection. `readable()` is false while more than `maxBuffered` bytes are queued for
 * sending, so a peer that does not read stops being read from. At the peer's EOF the queue is
 * sent first (`closeWhenDone()`).
 */
class ChatEcho extends AsyncChat implements TrackedConnection {
  readonly #context: LoopServerContext;
  #lastActivity = performance.now();
  #finishing = false;

  constructor(sock: net.Socket, context: LoopServerContext) {
    super(sock, context.map);
    this.#context = context;
    this.setTerminator(null);
  }

  override readable(): boolean {
    if (this.#finishing) return socketDestroyed(this.socket);
    return this.outBufferSize <= this.#context.maxBuffered;
  }

  override collectIncomingData(data: Buffer): void {
    this.#lastActivity = performance.now();
    this.push(data);
  }

  /** Never called: with a `null` terminator every byte goes to `collectIncomingData`. */
  override foundTerminator(): void {}

  /** EOF, a dead socket, or the `closeWhenDone()` mark reached. */
  override handleClose(): void {
    if (this.outBufferSize === 0 || socketDestroyed(this.socket) || this.#finishing) {
      this.close();
      return;
    }
    this.#finish();
  }

  override handleError(err: unknown): void {
    if (!isHangUp(err)) this.#context.report(`echo (chat): connection ${this.addr}: ${describeError(err)}`);
    this.close();
  }

  override close(): void {
    super.close();
    this.#context.tracker.delete(this);
  }

  pendingBytes(): number {
    return this.outBufferSize;
  }

  lastActivity(): number {
    // While the buffer holds reading back, unread input may wait in the kernel.
    if (this.outBufferSize > this.#context.maxBuffered) this.#lastActivity = performance.now();
    return this.#lastActivity;
  }

  closeGracefully(): void {
    if (this.outBufferSize === 0) this.close();
    else this.#finish();
  }

  abort(): void {
    (this.socket as { destroy?: () => void } | undefined)?.destroy?.();
    this.close();
  }

  /** Stop reading and close once the queue is sent (once). */
  #finish(): void {
    if (this.#finishing) return;
    this.#finishing = true;
    this.closeWhenDone();
  }
}

/**
 * Start the asynchat echo server and run its loop until it is closed.
 *
 * @throws (rejects) the system error when it cannot listen (`EADDRINUSE`, `EACCES`, …).
 * @example
 * ```ts
 * const server = await startChatEcho({ address: ["127.0.0.1", 0] });
 * await server.close(2000);
 * ```
 */
export function startChatEcho(settings: EchoListenSettings): Promise<RunningEchoServer> {
  return startLoopServer(settings, "chat", (sock, context) => new ChatEcho(sock, context));
}
