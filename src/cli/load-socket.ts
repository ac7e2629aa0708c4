/**
 * The sockets the load generator's busy connections run on, behind one small interface so that
 * one ping-pong loop (`ping-pong.ts`) drives either client:
 *
 * - `net`: a `node:net` socket reading into a reused buffer (`onread`), nothing allocated per read;
 * - `native`: a connection of the core's native backend (`native-load-socket.ts`), whose reads
 *   and writes are direct system calls on the addon's epoll loop. It costs about the same CPU
 *   per 1 KiB message and more per 100 KiB one: each read over 32 KiB comes as a Buffer of its
 *   own, in memory that is new to the cache, where `net` reads into the same hot buffer.
 *
 * @module
 */
import type net from "node:net";
import { codedError, codes, invalidArgValue } from "../errors.js";
import { connectSocket, type LoadTarget } from "./connect-target.js";
import { connectNativeLoadSocket, nativeClientBackend } from "./native-load-socket.js";

/** The clients the load generator can run on. */
export const LOAD_CLIENTS = ["net", "native"] as const;

/** `"net"` (`node:net` sockets) or `"native"` (the native backend's connections). */
export type LoadClient = (typeof LOAD_CLIENTS)[number];

/** Bytes read at most per read call on one `net` connection. */
const READ_BUFFER = 64 * 1024;

/**
 * What a load socket reports. Neither callback runs before the promise of
 * {@link connectLoadSocket} has settled and its reactions have run: both clients report from a
 * later callback of the event loop.
 */
export interface LoadSocketEvents {
  /** `n` bytes arrived at the start of `buf`, which is only valid during the call. */
  onRead(n: number, buf: Uint8Array): void;
  /**
   * The connection broke (`ECONNRESET`, …) or the peer ended it (`ERR_UNEXPECTED_EOF`). At most
   * once, and never after {@link LoadSocket.destroy}.
   */
  onFault(code: string): void;
}

/** One connected socket of the load generator. */
export interface LoadSocket {
  /** Queue `data` for sending; `data` must stay unchanged until sent (messages never change). */
  write(data: Buffer): void;
  /** Close now, dropping unsent bytes; resolves once the socket is closed. */
  destroy(): Promise<void>;
}

/** Options of {@link connectLoadSocket}. */
export interface LoadConnectOptions {
  /** Give up after this many milliseconds (`ETIMEDOUT`). */
  timeoutMs: number;
  /** Close the socket and reject with `signal.reason` on abort (until connected). */
  signal?: AbortSignal;
}

/**
 * The client used when none is asked for: `net`, the cheaper one (see above), so that a
 * benchmark measures its server rather than its load generator.
 *
 * @example
 * ```ts
 * console.log(`load on the ${defaultLoadClient()} client`);
 * ```
 */
export function defaultLoadClient(): LoadClient {
  return "net";
}

/**
 * Check that `client` names a client that can run here.
 *
 * @throws `ERR_INVALID_ARG_VALUE` for a name other than `net` and `native`;
 *   `ERR_BACKEND_UNAVAILABLE` for `native` where the native backend is not in use.
 */
export function checkLoadClient(client: string): LoadClient {
  if (!(LOAD_CLIENTS as readonly string[]).includes(client)) {
    throw invalidArgValue(
      `Cannot run the load: client must be one of ${LOAD_CLIENTS.join(", ")}, got ${client}`,
    );
  }
  if (client === "native" && nativeClientBackend() === undefined) {
    throw codedError(
      codes.BACKEND_UNAVAILABLE,
      "Cannot run the load on the native client: the native backend is not in use here " +
        "(its addon is not built, or ASYNCORE_BACKEND=net); use the net client",
    );
  }
  return client as LoadClient;
}

/**
 * Open one connection on `client` to `target` (Nagle's algorithm off) and resolve once it is
 * connected; `events` then hears of what arrives. The socket is closed before the promise rejects.
 *
 * @throws Rejects with the system error (`ECONNREFUSED`, `EMFILE`, …), `ETIMEDOUT`, or
 * `signal.reason` when aborted.
 * @example
 * ```ts
 * const sock = await connectLoadSocket("native", { port }, { timeoutMs: 5000 }, {
 *   onRead: (n, buf) => console.log(n, buf[0]),
 *   onFault: (code) => console.log(code),
 * });
 * sock.write(Buffer.from("hi"));
 * ```
 */
export function connectLoadSocket(
  client: LoadClient,
  target: LoadTarget,
  opts: LoadConnectOptions,
  events: LoadSocketEvents,
): Promise<LoadSocket> {
  return client === "native"
    ? connectNativeLoadSocket(target, opts, events)
    : connectNetLoadSocket(target, opts, events);
}

async function connectNetLoadSocket(
  target: LoadTarget,
  opts: LoadConnectOptions,
  events: LoadSocketEvents,
): Promise<LoadSocket> {
  const onread = {
    buffer: Buffer.allocUnsafe(READ_BUFFER),
    callback: (n: number, buf: Uint8Array): boolean => {
      events.onRead(n, buf);
      return true;
    },
  };
  const sock = await connectSocket(target, { ...opts, onread });
  let done = false;
  const fault = (code: string): void => {
    if (done) return;
    done = true;
    events.onFault(code);
  };
  sock.on("error", (err: Error & { code?: string }) => fault(err.code ?? "ERR_UNKNOWN"));
  sock.on("end", () => fault("ERR_UNEXPECTED_EOF"));
  return {
    write: (data) => {
      sock.write(data);
    },
    destroy: () => {
      done = true;
      return destroySocket(sock);
    },
  };
}

/** Destroy a `node:net` socket; resolves on its `'close'` event. */
export function destroySocket(sock: net.Socket): Promise<void> {
  if (sock.closed) return Promise.resolve();
  const closed = new Promise<void>((resolve) => sock.once("close", () => resolve()));
  sock.destroy();
  return closed;
}

/** Wait for every promise of `waits`, but for at most `capMs` milliseconds. */
export async function settleWithin(waits: readonly Promise<unknown>[], capMs: number): Promise<void> {
  if (waits.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(waits),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, capMs);
    }),
  ]);
  clearTimeout(timer);
}
