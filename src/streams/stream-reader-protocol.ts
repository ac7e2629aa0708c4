/**
 * {@link StreamReaderProtocol}: the protocol that joins a transport to a `StreamReader` (and,
 * for servers, starts the client callback with a reader and a writer).
 *
 * @module
 */
import { invalidArgType, toCodedError } from "../errors.js";
import { callExceptionHandler, type Protocol, type Transport } from "../protocols/index.js";
import { ConnectionState, installStateAccessor } from "./_connection-state.js";
import { attachFlowControl } from "./_reader-flow.js";
import type { StreamReader } from "./stream-reader.js";
import { StreamWriter } from "./stream-writer.js";

/**
 * What `startServer` runs for each connection, with the connection's reader and writer. It
 * may be async; a throw or a rejection is reported through the exception handler (message
 * `"Unhandled exception in client callback"`) and closes that connection only.
 * Python: `client_connected_cb`.
 */
export type ClientConnectedCallback = (reader: StreamReader, writer: StreamWriter) => void | Promise<void>;

/**
 * A protocol that feeds a `StreamReader` from its transport. Python:
 * `asyncio.StreamReaderProtocol`. `openConnection` and `startServer` make these for you; use
 * one directly to put streams on a transport made by `createConnection`/`createServer`.
 *
 * Callbacks, in the protocol order:
 * - `connectionMade`: attaches the transport to the reader for read flow control (reading
 *   pauses once more than `2 * limit` bytes are buffered and resumes at `limit`); with a client
 *   callback, makes a `StreamWriter` and runs the callback at once, so every byte received is
 *   buffered in the reader from the start, read or not;
 * - `dataReceived`: `reader.feedData()`;
 * - `eofReceived`: `reader.feedEof()`, and keeps the write side open (half-close) unless the
 *   transport cannot write EOF (TLS), as asyncio does;
 * - `connectionLost`: `reader.feedEof()` after a clean close, `reader.setException(err)`
 *   otherwise; wakes `drain()` and `waitClosed()`;
 * - `pauseWriting`/`resumeWriting`: what `StreamWriter.drain()` waits on.
 *
 * @example
 * ```ts
 * const reader = new StreamReader();
 * const protocol = new StreamReaderProtocol(reader);
 * const [transport] = await createConnection(() => protocol, "127.0.0.1", port);
 * const writer = new StreamWriter(transport, protocol, reader);
 * writer.write("ping\n");
 * console.log(String(await reader.readLine()));
 * ```
 */
export class StreamReaderProtocol implements Protocol {
  readonly #reader: StreamReader | null;
  readonly #onClient: ClientConnectedCallback | undefined;
  #transport: Transport | undefined;
  readonly #state: ConnectionState;

  static {
    installStateAccessor((protocol) =>
      typeof protocol === "object" && protocol !== null && #state in protocol ? protocol.#state : undefined,
    );
  }

  /**
   * @param reader the reader to feed, or null for a write-only connection
   * @param onClient for servers: run in `connectionMade` with the reader and a new writer
   * @throws TypeError `ERR_INVALID_ARG_TYPE` when `onClient` is given and is not a function,
   *   or when `onClient` is given without a reader
   */
  constructor(reader: StreamReader | null, onClient?: ClientConnectedCallback) {
    if (onClient !== undefined && typeof onClient !== "function") {
      throw invalidCallback(`must be a function, got ${typeof onClient}`);
    }
    if (onClient !== undefined && reader === null) throw invalidCallback("needs a reader");
    this.#reader = reader;
    this.#onClient = onClient;
    this.#state = new ConnectionState(onClient !== undefined);
  }

  /** The transport, once `connectionMade` ran. */
  get transport(): Transport | undefined {
    return this.#transport;
  }

  connectionMade(transport: Transport): void {
    this.#transport = transport;
    const reader = this.#reader;
    if (reader !== null) attachFlowControl(reader, transport);
    if (this.#onClient !== undefined && reader !== null) this.#runClient(reader, transport);
  }

  dataReceived(data: Buffer): void {
    this.#reader?.feedData(data);
  }

  eofReceived(): boolean {
    this.#reader?.feedEof();
    // TLS cannot half-close; asyncio returns False there rather than have `True` ignored.
    return this.#transport?.canWriteEof() ?? false;
  }

  connectionLost(err: Error | null): void {
    const reader = this.#reader;
    if (reader !== null) {
      if (err === null) reader.feedEof();
      else reader.setException(err);
    }
    this.#state.connectionLost(err);
  }

  pauseWriting(): void {
    this.#state.pauseWriting();
  }

  resumeWriting(): void {
    this.#state.resumeWriting();
  }

  /** Run the client callback; what it throws or rejects with is reported and closes the connection. */
  #runClient(reader: StreamReader, transport: Transport): void {
    const writer = new StreamWriter(transport, this, reader);
    let result: unknown;
    try {
      result = this.#onClient!(reader, writer);
    } catch (err) {
      this.#clientFailed(err);
      return;
    }
    if (!isThenable(result)) return;
    try {
      // A bound method rather than a closure: the smallest handler a waiting callback can hold.
      result.then(undefined, this.#clientFailed.bind(this));
    } catch (err) {
      this.#clientFailed(err);
    }
  }

  /** The client callback threw or rejected: report it, and close the connection. */
  #clientFailed(thrown: unknown): void {
    const transport = this.#transport!;
    callExceptionHandler({
      message: "Unhandled exception in client callback",
      exception: toCodedError(thrown),
      transport,
      protocol: this,
    });
    transport.close();
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function"
  );
}

function invalidCallback(detail: string): TypeError {
  return invalidArgType(`Cannot create stream protocol: the client callback ${detail}`);
}
