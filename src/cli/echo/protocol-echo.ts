/**
 * The echo server on asyncio's protocols: `dataReceived` writes each chunk back, and the
 * transport's flow control is passed on to reading (`pauseWriting` → `pauseReading`,
 * `resumeWriting` → `resumeReading`).
 *
 * @module
 */
import {
  type Address,
  createServer,
  createUnixServer,
  type Protocol,
  type Server,
  type Transport,
} from "../../protocols/index.js";
import { ConnectionTracker, type TrackedConnection } from "./connection-tracker.js";
import {
  DEFAULT_MAX_BUFFERED,
  describeError,
  type EchoListenSettings,
  isHangUp,
  logToStderr,
  type RunningEchoServer,
} from "./echo-server.js";

/**
 * One connection. The transport's high-water mark is set to `maxBuffered`: above it the
 * transport calls `pauseWriting()` and reading stops until it drains to the low mark. At the
 * peer's EOF `eofReceived()` returns false, so the transport closes once the echoes are sent.
 */
class EchoProtocol implements Protocol, TrackedConnection {
  #transport: Transport | undefined;
  #lastActivity = performance.now();
  /** Reading is paused because the write buffer is over its high-water mark. */
  #held = false;
  readonly #tracker: ConnectionTracker;
  readonly #maxBuffered: number;
  readonly #log: (line: string) => void;

  constructor(tracker: ConnectionTracker, maxBuffered: number, log: (line: string) => void) {
    this.#tracker = tracker;
    this.#maxBuffered = maxBuffered;
    this.#log = log;
  }

  connectionMade(transport: Transport): void {
    this.#transport = transport;
    if (this.#tracker.draining) {
      transport.abort();
      return;
    }
    transport.setWriteBufferLimits(this.#maxBuffered);
    this.#tracker.add(this);
  }

  dataReceived(data: Buffer): void {
    this.#lastActivity = performance.now();
    this.#transport!.write(data);
  }

  eofReceived(): boolean {
    return false;
  }

  pauseWriting(): void {
    this.#held = true;
    this.#transport!.pauseReading();
  }

  resumeWriting(): void {
    this.#held = false;
    this.#lastActivity = performance.now();
    this.#transport!.resumeReading();
  }

  connectionLost(err: Error | null): void {
    this.#tracker.delete(this);
    if (err !== null && !isHangUp(err)) {
      this.#log(`echo (protocol): connection ${String(this.#peer())}: ${describeError(err)}`);
    }
  }

  pendingBytes(): number {
    return this.#transport?.getWriteBufferSize() ?? 0;
  }

  lastActivity(): number {
    return this.#held ? performance.now() : this.#lastActivity;
  }

  closeGracefully(): void {
    this.#transport?.close();
  }

  abort(): void {
    this.#transport?.abort();
  }

  #peer(): unknown {
    return this.#transport?.getExtraInfo("peername", "?");
  }
}

/**
 * Start the protocols echo server.
 *
 * @throws (rejects) the system error when it cannot listen (`EADDRINUSE`, `EACCES`, …).
 * @example
 * ```ts
 * const server = await startProtocolEcho({ address: ["127.0.0.1", 0] });
 * await server.close(2000);
 * ```
 */
export async function startProtocolEcho(settings: EchoListenSettings): Promise<RunningEchoServer> {
  const tracker = new ConnectionTracker();
  const maxBuffered = settings.maxBuffered ?? DEFAULT_MAX_BUFFERED;
  const log = settings.log ?? logToStderr;
  const factory = (): EchoProtocol => new EchoProtocol(tracker, maxBuffered, log);
  const { address } = settings;
  const options = { backlog: settings.backlog ?? 1024 };
  const server: Server =
    typeof address === "string"
      ? await createUnixServer(factory, address, options)
      : await createServer(factory, address[0], address[1], options);
  return serverHandle(server, tracker);
}

/** The {@link RunningEchoServer} of a protocols-layer `Server` (shared with the streams echo). */
export function serverHandle(server: Server, tracker: ConnectionTracker): RunningEchoServer {
  const address: Address = server.addresses[0]!;
  let closing: Promise<void> | undefined;
  let stopped!: () => void;
  const finished = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  return {
    address,
    connections: () => tracker.size,
    finished,
    close(graceMs = 2000) {
      closing ??= tracker
        .drain(graceMs, () => server.close())
        .then(() => server.waitClosed())
        .finally(stopped);
      return closing;
    },
  };
}
