/**
 * The baseline echo server: plain `node:net`, written the way a careful Node program would be
 * (`write()` returning false pauses the socket, `'drain'` resumes it; half-close honoured).
 * Its write buffer limit is the socket's own high-water mark, so `maxBuffered` does not apply.
 * It uses none of asyncore-ts, so comparisons against it show what each API costs.
 *
 * @module
 */
import net from "node:net";
import type { Address } from "../../asyncore/index.js";
import { ConnectionTracker, type TrackedConnection } from "./connection-tracker.js";
import {
  describeError,
  type EchoListenSettings,
  isHangUp,
  logToStderr,
  type RunningEchoServer,
} from "./echo-server.js";

/** One connection: the socket and when it last received bytes. */
class RawEcho implements TrackedConnection {
  readonly #socket: net.Socket;
  #lastActivity = performance.now();
  /** Reading is paused until the write buffer drains. */
  #held = false;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (data: Buffer) => {
      this.#lastActivity = performance.now();
      if (!socket.write(data)) {
        this.#held = true;
        socket.pause();
      }
    });
    socket.on("drain", () => {
      this.#held = false;
      this.#lastActivity = performance.now();
      socket.resume();
    });
    socket.on("end", () => socket.end());
  }

  pendingBytes(): number {
    return this.#socket.writableLength;
  }

  lastActivity(): number {
    return this.#held ? performance.now() : this.#lastActivity;
  }

  closeGracefully(): void {
    this.#socket.end();
  }

  abort(): void {
    this.#socket.destroy();
  }
}

/**
 * Start the raw `node:net` echo server.
 *
 * @throws (rejects) the system error when it cannot listen (`EADDRINUSE`, `EACCES`, …).
 * @example
 * ```ts
 * const server = await startRawEcho({ address: ["127.0.0.1", 0] });
 * await server.close(2000);
 * ```
 */
export async function startRawEcho(settings: EchoListenSettings): Promise<RunningEchoServer> {
  const tracker = new ConnectionTracker();
  const log = settings.log ?? logToStderr;
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    if (tracker.draining) {
      socket.destroy();
      return;
    }
    const conn = new RawEcho(socket);
    tracker.add(conn);
    socket.on("error", (err) => {
      if (!isHangUp(err)) log(`echo (raw): connection ${socket.remoteAddress}: ${describeError(err)}`);
    });
    socket.on("close", () => tracker.delete(conn));
  });
  const { address } = settings;
  const backlog = settings.backlog ?? 1024;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const ready = (): void => {
      server.off("error", reject);
      resolve();
    };
    if (typeof address === "string") server.listen({ path: address, backlog }, ready);
    else server.listen({ host: address[0], port: address[1], backlog }, ready);
  });
  server.on("error", (err) => log(`echo (raw): listener: ${describeError(err)}`));
  const info = server.address();
  const bound: Address = typeof info === "string" ? info : [info!.address, info!.port];

  let closing: Promise<void> | undefined;
  let stopped!: () => void;
  const finished = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  // server.close() calls back only once every connection has ended: awaited after the drain.
  const shutdown = async (graceMs: number): Promise<void> => {
    let listenerClosed: Promise<void> = Promise.resolve();
    await tracker.drain(graceMs, () => {
      listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    });
    await listenerClosed;
  };
  return {
    address: bound,
    connections: () => tracker.size,
    finished,
    close(graceMs = 2000) {
      closing ??= shutdown(graceMs).finally(stopped);
      return closing;
    },
  };
}
