/**
 * Small echo servers, one per API, that record what their callbacks saw: the reliability
 * tests drive them with faulty and hostile peers and check the record. Each applies
 * backpressure (stops reading while its output is over `MAX_BUFFERED`), flushes its echoes
 * after the peer's EOF before closing, and can be made to throw on chosen input.
 * No side effects at import time (the test runner may load this file as a test).
 */
import type * as net from "node:net";
import { AsyncChat } from "../../src/asynchat/index.js";
import { closeAll, Dispatcher, DispatcherWithSend, loop, type SocketMap } from "../../src/asyncore/index.js";
import { hasCode } from "../../src/errors.js";
import {
  createServer,
  type ExceptionContext,
  type Protocol,
  setExceptionHandler,
  type Transport,
} from "../../src/protocols/index.js";
import { startServer } from "../../src/streams/index.js";

/** The four APIs under test. */
export const APIS = ["dispatcher", "asynchat", "protocols", "streams"] as const;
export type Api = (typeof APIS)[number];

/** Output waiting on one connection before the server stops reading from it. */
export const MAX_BUFFERED = 256 * 1024;

/** The error handlers throw when told to. */
export const FAULT_CODE = "TEST_FAULT";

export interface TestServerOptions {
  maxConnections?: number;
  idleTimeout?: number;
  /** Throw from the data callback when this returns true for a received chunk. */
  throwOn?: (chunk: Buffer) => boolean;
  /** asynchat and streams: frame lines (`\n`) with this limit instead of echoing raw bytes. */
  lineLimit?: number;
  /** streams with lineLimit: each line must arrive within this many ms (`AbortSignal.timeout`). */
  lineDeadline?: number;
}

/** Kernel queue of pending connections asked for (Linux caps it at `somaxconn`). */
const BACKLOG = 4096;

/** What the server's callbacks saw. */
export interface ServerLog {
  /**
   * One entry per connection that ended: the error code it ended with, `"eof"`/`"close"`
   * for a clean end (dispatcher/asynchat: `handleClose`; protocols: `connectionLost(null)`).
   */
  ends: string[];
  /** Errors passed to handleError, or reported through the exception handler. */
  errors: Error[];
  /** Accept errors (EMFILE, ERR_LIMIT_REACHED, …). */
  acceptErrors: Error[];
  /** Connections that started being served. */
  served: number;
}

export interface TestServer {
  readonly api: Api;
  readonly port: number;
  readonly log: ServerLog;
  /** Connections being served now. */
  live(): number;
  /** Close the listener and every connection; resolves once all are gone. */
  close(): Promise<void>;
}

/** Start the test server of `api` on 127.0.0.1, port 0. */
export function startTestServer(api: Api, opts: TestServerOptions = {}): Promise<TestServer> {
  switch (api) {
    case "dispatcher":
    case "asynchat":
      return startLoopServer(api, opts);
    case "protocols":
      return startProtocolServer(opts);
    case "streams":
      return startStreamsServer(opts);
  }
}

/** An error's string code; its name for the DOMExceptions of aborted reads (`TimeoutError`). */
function codeOf(err: unknown): string {
  if (err instanceof DOMException) return err.name;
  const code = (err as { code?: unknown } | null)?.code;
  return code === undefined ? String(err) : String(code);
}

function fault(): Error {
  return Object.assign(new Error("handler fault (injected)"), { code: FAULT_CODE });
}

function newLog(): ServerLog {
  return { ends: [], errors: [], acceptErrors: [], served: 0 };
}

// --- dispatcher and asynchat -----------------------------------------------------------------

interface LoopContext {
  map: SocketMap;
  log: ServerLog;
  opts: TestServerOptions;
  live: number;
}

class DispatcherEcho extends DispatcherWithSend {
  readonly #ctx: LoopContext;
  #finishing = false;
  #ended = false;
  #how: string | undefined;
  constructor(sock: net.Socket, ctx: LoopContext) {
    super(sock, ctx.map);
    this.#ctx = ctx;
    ctx.live++;
    ctx.log.served++;
  }
  override readable(): boolean {
    return !this.#finishing && this.outBufferSize <= MAX_BUFFERED;
  }
  override handleRead(): void {
    const data = this.recv(65536);
    if (data.length === 0) return;
    if (this.#ctx.opts.throwOn?.(data)) throw fault();
    this.send(data);
  }
  override handleWrite(): void {
    this.initiateSend();
    if (this.#finishing && this.outBufferSize === 0) this.#end("eof");
  }
  override handleClose(): void {
    if (this.outBufferSize === 0 || this.#finishing) this.#end("eof");
    else this.#finishing = true;
  }
  override handleError(err: unknown): void {
    this.#ctx.log.errors.push(err as Error);
    this.#end(codeOf(err));
  }
  #end(how: string): void {
    this.#how ??= how;
    this.close();
  }
  /** Also reached from closeAll() when the server closes: recorded as "closed". */
  override close(): void {
    if (!this.#ended) {
      this.#ended = true;
      this.#ctx.live--;
      this.#ctx.log.ends.push(this.#how ?? "closed");
    }
    super.close();
  }
}

class ChatEcho extends AsyncChat {
  readonly #ctx: LoopContext;
  #eof = false;
  #ended = false;
  #how: string | undefined;
  constructor(sock: net.Socket, ctx: LoopContext) {
    super(sock, ctx.map);
    this.#ctx = ctx;
    ctx.live++;
    ctx.log.served++;
    if (ctx.opts.lineLimit !== undefined) {
      this.collectLimit = ctx.opts.lineLimit;
      this.setTerminator("\n");
    } else {
      this.setTerminator(null);
    }
  }
  override readable(): boolean {
    return !this.#eof && this.outBufferSize <= MAX_BUFFERED;
  }
  override collectIncomingData(data: Buffer): void {
    if (this.#ctx.opts.throwOn?.(data)) throw fault();
    if (this.#ctx.opts.lineLimit !== undefined) super.collectIncomingData(data);
    else this.push(data);
  }
  override foundTerminator(): void {
    this.push(Buffer.concat([this.getData(), Buffer.from("\n")]));
  }
  override handleClose(): void {
    // First EOF: send what is queued, then close (closeWhenDone calls handleClose again).
    if (!this.#eof && this.connected) {
      this.#eof = true;
      this.closeWhenDone();
      return;
    }
    this.#end("eof");
  }
  override handleError(err: unknown): void {
    this.#ctx.log.errors.push(err as Error);
    this.#end(codeOf(err));
  }
  #end(how: string): void {
    this.#how ??= how;
    this.close();
  }
  /** Also reached from closeAll() when the server closes: recorded as "closed". */
  override close(): void {
    if (!this.#ended) {
      this.#ended = true;
      this.#ctx.live--;
      this.#ctx.log.ends.push(this.#how ?? "closed");
    }
    super.close();
  }
}

async function startLoopServer(api: "dispatcher" | "asynchat", opts: TestServerOptions): Promise<TestServer> {
  const ctx: LoopContext = { map: new Map(), log: newLog(), opts, live: 0 };
  class Listener extends Dispatcher {
    override handleAccepted(sock: net.Socket): void {
      if (api === "dispatcher") new DispatcherEcho(sock, ctx);
      else new ChatEcho(sock, ctx);
    }
    override handleAcceptError(err: Error): void {
      ctx.log.acceptErrors.push(err);
    }
    override handleError(err: unknown): void {
      ctx.log.errors.push(err as Error);
    }
  }
  const listener = new Listener(undefined, ctx.map);
  listener.createSocket();
  void listener.bind(["127.0.0.1", 0]);
  const [, port] = (await listener.listen(BACKLOG, {
    maxConnections: opts.maxConnections,
    idleTimeout: opts.idleTimeout,
  })) as [string, number];
  const running = loop({ map: ctx.map, timeout: 100 });
  let closing: Promise<void> | undefined;
  return {
    api,
    port,
    log: ctx.log,
    live: () => ctx.live,
    close() {
      closing ??= (async () => {
        listener.close();
        closeAll(ctx.map, true);
        await running;
      })();
      return closing;
    },
  };
}

// --- protocols ---------------------------------------------------------------------------------

/** Route the exception handler into `log` while a protocols/streams server runs. */
function captureReports(log: ServerLog): () => void {
  const previous = setExceptionHandler((ctx: ExceptionContext) => {
    if (ctx.message.startsWith("Cannot accept")) log.acceptErrors.push(ctx.exception);
    else log.errors.push(ctx.exception);
  });
  return () => {
    setExceptionHandler(previous);
  };
}

async function startProtocolServer(opts: TestServerOptions): Promise<TestServer> {
  const log = newLog();
  const transports = new Set<Transport>();
  class Echo implements Protocol {
    #t: Transport | undefined;
    connectionMade(t: Transport): void {
      this.#t = t;
      transports.add(t);
      log.served++;
    }
    dataReceived(data: Buffer): void {
      if (opts.throwOn?.(data)) throw fault();
      this.#t!.write(data);
    }
    eofReceived(): boolean {
      return false; // close once the echoes are out
    }
    pauseWriting(): void {
      this.#t!.pauseReading();
    }
    resumeWriting(): void {
      this.#t!.resumeReading();
    }
    connectionLost(err: Error | null): void {
      transports.delete(this.#t!);
      log.ends.push(err === null ? "close" : codeOf(err));
    }
  }
  const restore = captureReports(log);
  let server: Awaited<ReturnType<typeof createServer>>;
  try {
    server = await createServer(() => new Echo(), "127.0.0.1", 0, {
      backlog: BACKLOG,
      maxConnections: opts.maxConnections,
      idleTimeout: opts.idleTimeout,
    });
  } catch (err) {
    restore();
    throw err;
  }
  const [, port] = server.addresses[0] as [string, number];
  let closing: Promise<void> | undefined;
  return {
    api: "protocols",
    port,
    log,
    live: () => transports.size,
    close() {
      closing ??= (async () => {
        server.close();
        for (const t of transports) t.abort();
        await server.waitClosed();
        restore();
      })();
      return closing;
    },
  };
}

// --- streams -----------------------------------------------------------------------------------

async function startStreamsServer(opts: TestServerOptions): Promise<TestServer> {
  const log = newLog();
  const writers = new Set<{ transport: Transport }>();
  let live = 0;
  const restore = captureReports(log);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(
      async (reader, writer) => {
        live++;
        log.served++;
        writers.add(writer);
        let how = "eof";
        try {
          for (;;) {
            const deadline = opts.lineDeadline;
            const data =
              opts.lineLimit === undefined
                ? await reader.read(65536)
                : await reader.readLine(
                    deadline === undefined ? {} : { signal: AbortSignal.timeout(deadline) },
                  );
            if (data.length === 0) break;
            if (opts.throwOn?.(data)) {
              how = FAULT_CODE;
              throw fault(); // reported through the exception handler; closes this connection
            }
            writer.write(data);
            await writer.drain();
          }
          writer.close();
          await writer.waitClosed().catch(() => {});
        } catch (err) {
          if (!hasCode(err, FAULT_CODE)) {
            how = codeOf(err);
            writer.close();
            return;
          }
          throw err;
        } finally {
          live--;
          writers.delete(writer);
          log.ends.push(how);
        }
      },
      "127.0.0.1",
      0,
      {
        backlog: BACKLOG,
        maxConnections: opts.maxConnections,
        idleTimeout: opts.idleTimeout,
        limit: opts.lineLimit,
      },
    );
  } catch (err) {
    restore();
    throw err;
  }
  const [, port] = server.addresses[0] as [string, number];
  let closing: Promise<void> | undefined;
  return {
    api: "streams",
    port,
    log,
    live: () => live,
    close() {
      closing ??= (async () => {
        server.close();
        for (const w of writers) w.transport.abort();
        await server.waitClosed();
        restore();
      })();
      return closing;
    },
  };
}
