/**
 * What every echo server of `src/cli/echo/` shares: the options it is started with, the handle
 * it returns, and the per-connection buffering limit that gives it backpressure.
 *
 * @module
 */
import type { Address } from "../../asyncore/index.js";

/**
 * While more than this many received bytes wait to be sent back on one connection, the server
 * stops reading from it. With the socket layer's own buffers on top, a connection whose peer
 * sends without reading holds well under 1 MiB of the server's memory.
 */
export const DEFAULT_MAX_BUFFERED = 256 * 1024;

/** Bytes asked of a socket per read, where the API lets the server choose. */
export const READ_SIZE = 65536;

/** How a server is asked to listen, once the CLI's options are resolved. */
export interface EchoListenSettings {
  /** `[host, port]` (port 0: any free port) or a Unix-domain socket path. */
  address: Address;
  /** Listen backlog (default 1024). */
  backlog?: number;
  /** Received bytes waiting to be echoed on one connection before reading stops. */
  maxBuffered?: number;
  /** Where the server reports connection failures other than resets (default: stderr). */
  log?: (line: string) => void;
}

/** A running echo server, whatever API it is built on. */
export interface RunningEchoServer {
  /** The address it listens on: `[host, port]` with the real port, or the socket path. */
  readonly address: Address;
  /** Connections open now. */
  connections(): number;
  /**
   * Graceful shutdown: stop accepting, let every echo in flight finish, close each connection
   * once it is quiet, and after `graceMs` (default 2000) drop whatever is still open. Resolves
   * once everything is closed. Idempotent: a second call returns the same promise.
   */
  close(graceMs?: number): Promise<void>;
  /**
   * Resolves once the server has stopped after {@link close}; rejects when it stopped by
   * itself on a fatal error (which is also logged).
   */
  readonly finished: Promise<void>;
}

/** Connection resets and broken pipes are how clients hang up: not worth a log line. */
export function isHangUp(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ECONNRESET" || code === "EPIPE" || code === "ECONNABORTED" || code === "ERR_SOCKET_CLOSED";
}

/** Does a dispatcher's `socket` say it is gone? (`destroyed` on both backends' sockets.) */
export function socketDestroyed(socket: unknown): boolean {
  return (socket as { destroyed?: boolean } | undefined)?.destroyed === true;
}

/** `ECONNRESET: read ECONNRESET`-style one-line description of an error. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/** The default log: one line to stderr. */
export function logToStderr(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * `127.0.0.1:8007`, `[::1]:8007`, or the socket path: the address as `listening on` prints it.
 *
 * @example
 * ```ts
 * formatListenAddress(["::1", 8007]); // "[::1]:8007"
 * ```
 */
export function formatListenAddress(address: Address): string {
  if (typeof address === "string") return address;
  const [host, port] = address;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A promise that settles once, from outside (the `finished` of a server). */
export class Settled {
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Whoever awaits `finished` sees the failure; it is logged in any case, so an unobserved
    // rejection is not lost.
    this.promise.catch(() => {});
  }
}
