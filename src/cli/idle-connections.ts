/**
 * Idle connections for the load generator: many sockets that connect and then do nothing, to
 * measure what a server pays for connections that are open but quiet.
 *
 * @module
 */
import type net from "node:net";
import { connectionLimitError, connectSocket, describeFdLimit, type LoadTarget } from "./connect-target.js";
import { destroySocket, settleWithin } from "./load-socket.js";

/** Options of {@link openIdleConnections}. */
export interface IdleOptions {
  /** How many connections to open. */
  count: number;
  /** How many connects may be pending at once (default 200, below Node's listen backlog of 511). */
  batchSize?: number;
  /** Give up on one connect after this many milliseconds (default 10000). */
  timeoutMs?: number;
  /** Called after each batch with how many are open so far. */
  onBatch?: (opened: number) => void;
  /**
   * Called when an open idle connection fails after it was established: the server closed it
   * (`ERR_UNEXPECTED_EOF`), sent data on it (`ERR_UNEXPECTED_DATA`) or it broke (system code).
   */
  onFault?: (code: string) => void;
  /** Stop opening and close what was opened (the promise rejects with `signal.reason`). */
  signal?: AbortSignal;
}

/** A set of open idle connections; `close()` destroys them all. */
export interface IdleConnections {
  /** How many connections are open. */
  readonly count: number;
  /** Destroy every connection and resolve once all are closed (at most ~2 s). */
  close(): Promise<void>;
}

/** Destroy sockets and wait for their `'close'` events, bounded in time. */
export function destroyAll(sockets: Iterable<net.Socket>, capMs = 2000): Promise<void> {
  return settleWithin(Array.from(sockets, destroySocket), capMs);
}

/** Watch an established idle connection for anything that should not happen to it. */
function watchIdle(sock: net.Socket, isClosing: () => boolean, onFault?: (code: string) => void): void {
  let faulted = false;
  const fault = (code: string): void => {
    if (faulted || isClosing()) return;
    faulted = true;
    onFault?.(code);
  };
  sock.on("data", () => fault("ERR_UNEXPECTED_DATA"));
  sock.on("end", () => fault("ERR_UNEXPECTED_EOF"));
  sock.on("error", (err: Error & { code?: string }) => fault(err.code ?? "ERR_UNKNOWN"));
}

/**
 * Open `count` connections to `target` in bounded batches (at most `batchSize` connects pending
 * at once) and keep them open and quiet.
 *
 * @throws Rejects, after destroying every connection it opened, with the first connect failure:
 * `EMFILE`/`ENFILE` (with advice to raise `ulimit -n`), `EADDRNOTAVAIL`, `ECONNREFUSED`,
 * `ETIMEDOUT`; or with `signal.reason` when aborted.
 * @example
 * ```ts
 * const idle = await openIdleConnections({ host: "127.0.0.1", port }, { count: 1000 });
 * await idle.close();
 * ```
 */
export async function openIdleConnections(target: LoadTarget, opts: IdleOptions): Promise<IdleConnections> {
  const batchSize = Math.max(1, opts.batchSize ?? 200);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  describeFdLimit(); // read now: at the limit /proc cannot be opened to explain it
  const sockets: net.Socket[] = [];
  let closing = false;
  const close = async (): Promise<void> => {
    closing = true;
    await destroyAll(sockets);
    sockets.length = 0;
  };
  try {
    while (sockets.length < opts.count) {
      opts.signal?.throwIfAborted();
      const first = sockets.length;
      const n = Math.min(batchSize, opts.count - first);
      const batch = await Promise.allSettled(
        Array.from({ length: n }, () => connectSocket(target, { timeoutMs })),
      );
      let failure: { err: unknown; index: number } | undefined;
      batch.forEach((r, i) => {
        if (r.status === "fulfilled") {
          watchIdle(r.value, () => closing, opts.onFault);
          sockets.push(r.value);
        } else if (failure === undefined) {
          failure = { err: r.reason, index: first + i };
        }
      });
      if (failure !== undefined) throw connectionLimitError(failure.err, failure.index, opts.count);
      opts.onBatch?.(sockets.length);
    }
    opts.signal?.throwIfAborted();
  } catch (err) {
    await close();
    throw err;
  }
  return {
    get count() {
      return sockets.length;
    },
    close,
  };
}
