/**
 * The echo server on asyncio's streams: per connection, `read()` → `write()` → `await drain()`
 * until EOF.
 *
 * @module
 */
import { type StreamReader, type StreamWriter, startServer, startUnixServer } from "../../streams/index.js";
import { ConnectionTracker, type TrackedConnection } from "./connection-tracker.js";
import {
  DEFAULT_MAX_BUFFERED,
  describeError,
  type EchoListenSettings,
  isHangUp,
  logToStderr,
  READ_SIZE,
  type RunningEchoServer,
} from "./echo-server.js";
import { serverHandle } from "./protocol-echo.js";

/** One connection's echo loop and what the shutdown needs to know about it. */
class StreamEcho implements TrackedConnection {
  readonly #reader: StreamReader;
  readonly #writer: StreamWriter;
  #lastActivity = performance.now();
  /** The loop waits in `drain()`: nothing is read meanwhile. */
  #held = false;

  constructor(reader: StreamReader, writer: StreamWriter) {
    this.#reader = reader;
    this.#writer = writer;
  }

  /**
   * Echo until EOF. `drain()` waits while the writer's buffer is over its high-water mark
   * (`maxBuffered`); meanwhile nothing is read, and the reader stops reading from the socket
   * once twice its limit is buffered.
   */
  async run(maxBuffered: number): Promise<void> {
    this.#writer.transport.setWriteBufferLimits(maxBuffered);
    for (;;) {
      const data = await this.#reader.read(READ_SIZE);
      if (data.length === 0) break;
      this.#lastActivity = performance.now();
      this.#writer.write(data);
      this.#held = true;
      await this.#writer.drain();
      this.#held = false;
      this.#lastActivity = performance.now();
    }
    this.#writer.close();
    await this.#writer.waitClosed();
  }

  pendingBytes(): number {
    return this.#writer.transport.getWriteBufferSize();
  }

  lastActivity(): number {
    return this.#held ? performance.now() : this.#lastActivity;
  }

  closeGracefully(): void {
    this.#writer.close();
  }

  abort(): void {
    this.#writer.transport.abort();
  }
}

/**
 * Start the streams echo server.
 *
 * @throws (rejects) the system error when it cannot listen (`EADDRINUSE`, `EACCES`, …).
 * @example
 * ```ts
 * const server = await startStreamsEcho({ address: ["127.0.0.1", 0] });
 * await server.close(2000);
 * ```
 */
export async function startStreamsEcho(settings: EchoListenSettings): Promise<RunningEchoServer> {
  const tracker = new ConnectionTracker();
  const maxBuffered = settings.maxBuffered ?? DEFAULT_MAX_BUFFERED;
  const log = settings.log ?? logToStderr;

  const onClient = async (reader: StreamReader, writer: StreamWriter): Promise<void> => {
    if (tracker.draining) {
      writer.transport.abort();
      return;
    }
    const echo = new StreamEcho(reader, writer);
    tracker.add(echo);
    try {
      await echo.run(maxBuffered);
    } catch (err) {
      // A reset, or this side closing during a drain() at shutdown: the connection is over.
      if (!isHangUp(err))
        log(
          `echo (streams): connection ${String(writer.getExtraInfo("peername", "?"))}: ${describeError(err)}`,
        );
      writer.transport.abort();
    } finally {
      tracker.delete(echo);
    }
  };

  const { address } = settings;
  const options = { backlog: settings.backlog ?? 1024 };
  const server =
    typeof address === "string"
      ? await startUnixServer(onClient, address, options)
      : await startServer(onClient, address[0], address[1], options);
  return serverHandle(server, tracker);
}
