/**
 * The echo server on the dispatcher model: a `DispatcherWithSend` per connection in a socket
 * map of its own, run by `loop()`.
 *
 * @module
 */
import type * as net from "node:net";
import { DispatcherWithSend } from "../../asyncore/index.js";
import type { TrackedConnection } from "./connection-tracker.js";
import {
  describeError,
  type EchoListenSettings,
  isHangUp,
  READ_SIZE,
  type RunningEchoServer,
  socketDestroyed,
} from "./echo-server.js";
import { type LoopServerContext, startLoopServer } from "./loop-server.js";

/**
 * One connection: `handleRead()` sends back what `recv()` returned; `readable()` is false while
 * more than `maxBuffered` bytes wait in the send buffer, so a peer that does not read stops
 * being read from. At the peer's EOF the rest is sent before closing.
 */
class EchoHandler extends DispatcherWithSend implements TrackedConnection {
  readonly #context: LoopServerContext;
  #lastActivity = performance.now();
  /** The peer has sent EOF (or the server is shutting down): close once the buffer is empty. */
  #finishing = false;

  constructor(sock: net.Socket, context: LoopServerContext) {
    super(sock, context.map);
    this.#context = context;
  }

  override readable(): boolean {
    // Once finishing, only a dead socket is worth a read event (its recv() ends the connection).
    if (this.#finishing) return socketDestroyed(this.socket);
    return this.outBufferSize <= this.#context.maxBuffered;
  }

  override handleRead(): void {
    const data = this.recv(READ_SIZE);
    if (data.length > 0) {
      this.#lastActivity = performance.now();
      this.send(data);
    }
  }

  override handleWrite(): void {
    this.initiateSend();
    if (this.#finishing && this.outBufferSize === 0) this.close();
  }

  /** EOF or a dead socket: close now if nothing is left to send (or it cannot be), else later. */
  override handleClose(): void {
    if (this.outBufferSize === 0 || socketDestroyed(this.socket) || this.#finishing) {
      this.close();
      return;
    }
    this.#finishing = true;
    this.initiateSend();
  }

  override handleError(err: unknown): void {
    if (!isHangUp(err)) {
      this.#context.report(`echo (dispatcher): connection ${this.addr}: ${describeError(err)}`);
    }
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
    else this.#finishing = true;
  }

  abort(): void {
    (this.socket as { destroy?: () => void } | undefined)?.destroy?.();
    this.close();
  }
}

/**
 * Start the dispatcher-model echo server and run its loop until it is closed.
 *
 * @throws (rejects) the system error when it cannot listen (`EADDRINUSE`, `EACCES`, …).
 * @example
 * ```ts
 * const server = await startDispatcherEcho({ address: ["127.0.0.1", 0] });
 * await server.close(2000);
 * ```
 */
export function startDispatcherEcho(settings: EchoListenSettings): Promise<RunningEchoServer> {
  return startLoopServer(settings, "dispatcher", (sock, context) => new EchoHandler(sock, context));
}
