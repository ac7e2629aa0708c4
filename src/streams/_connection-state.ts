/**
 * The writer-facing state of one stream connection, kept by `StreamReaderProtocol` and read
 * by `StreamWriter`: whether writing is paused (the transport's write buffer is over its
 * high-water mark), whether the connection is lost and why, and the promises waiting on
 * either (`drain()`, `waitClosed()`). Python: `asyncio.streams.FlowControlMixin` with the
 * close waiter of `StreamReaderProtocol`.
 *
 * Not exported from the package. Waiters are plain callbacks held in sets, never a stored
 * rejected promise, so a connection that fails while nobody waits leaves no unhandled
 * rejection behind.
 *
 * @module
 */
import { codedError, invalidArgType } from "../errors.js";
import type { StreamReaderProtocol } from "./stream-reader-protocol.js";

/** Reads a protocol's state; installed by `StreamReaderProtocol`'s static initialiser. */
let stateOf: ((protocol: unknown) => ConnectionState | undefined) | undefined;

/** Called once, by `StreamReaderProtocol`'s static initialiser. */
export function installStateAccessor(accessor: (protocol: unknown) => ConnectionState | undefined): void {
  stateOf = accessor;
}

/**
 * The {@link ConnectionState} of `protocol`.
 * @throws TypeError `ERR_INVALID_ARG_TYPE` when `protocol` is not a `StreamReaderProtocol`.
 */
export function connectionStateOf(protocol: StreamReaderProtocol): ConnectionState {
  const state = stateOf?.(protocol);
  if (state === undefined) {
    throw invalidArgType("Cannot make a stream writer: the protocol must be a StreamReaderProtocol");
  }
  return state;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

// The state's booleans, packed into `#bits`.
const SERVER_SIDE = 1;
const WRITE_PAUSED = 2;
const LOST = 4;

/**
 * Write flow control and the end of one connection, with their waiters. The waiter sets are
 * made by the first wait: an idle connection holds none.
 */
export class ConnectionState {
  #bits: number;
  #lostError: Error | null = null;
  #drainWaiters: Set<Waiter> | undefined;
  #lostWaiters: Set<Waiter> | undefined;

  constructor(serverSide: boolean) {
    this.#bits = serverSide ? SERVER_SIDE : 0;
  }

  /** The connection was accepted by a server (`startTls` then defaults to the server side). */
  get serverSide(): boolean {
    return (this.#bits & SERVER_SIDE) !== 0;
  }

  /** True between `pauseWriting()` and `resumeWriting()` (or the end of the connection). */
  get writePaused(): boolean {
    return (this.#bits & (WRITE_PAUSED | LOST)) === WRITE_PAUSED;
  }

  /** True once `connectionLost` ran. */
  get lost(): boolean {
    return (this.#bits & LOST) !== 0;
  }

  /** What `connectionLost` was given (null after a clean close). */
  get lostError(): Error | null {
    return this.#lostError;
  }

  /** The transport's write buffer rose above its high-water mark. */
  pauseWriting(): void {
    this.#bits |= WRITE_PAUSED;
  }

  /** The write buffer fell to its low-water mark: every waiting `drain()` resolves. */
  resumeWriting(): void {
    this.#bits &= ~WRITE_PAUSED;
    settle(this.#drainWaiters, (w) => w.resolve());
  }

  /**
   * The connection ended: waiting drains reject (with `err`, or `ECONNRESET` after a clean
   * close, as asyncio's `ConnectionResetError('Connection lost')`), waiting `waitClosed()`s
   * settle (rejecting with `err` when there is one).
   */
  connectionLost(err: Error | null): void {
    if (this.#bits & LOST) return;
    this.#bits |= LOST;
    this.#lostError = err;
    const drainError = err ?? connectionLostError("drain");
    settle(this.#drainWaiters, (w) => w.reject(drainError));
    settle(this.#lostWaiters, (w) => (err === null ? w.resolve() : w.reject(err)));
  }

  /** Reject every waiting `drain()` with `err` (the writer was closed). */
  rejectDrains(err: Error): void {
    settle(this.#drainWaiters, (w) => w.reject(err));
  }

  /** Resolves at the next `resumeWriting()`; rejects at `connectionLost`, `rejectDrains` or abort. */
  waitDrained(signal: AbortSignal | undefined): Promise<void> {
    return wait((this.#drainWaiters ??= new Set()), signal);
  }

  /**
   * Resolves once the connection is lost cleanly, rejects with its error otherwise (at once
   * when that already happened), or with `signal.reason` on abort.
   */
  waitLost(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#bits & LOST)
      return this.#lostError === null ? Promise.resolve() : Promise.reject(this.#lostError);
    return wait((this.#lostWaiters ??= new Set()), signal);
  }
}

/** The error for an operation that finds the connection lost after a clean close. */
export function connectionLostError(action: string): Error {
  return codedError("ECONNRESET", `Cannot ${action}: the connection was lost`);
}

function wait(set: Set<Waiter>, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      set.delete(waiter);
      reject(signal!.reason);
    };
    const waiter: Waiter = {
      resolve: () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      reject: (err) => {
        signal?.removeEventListener("abort", onAbort);
        reject(err);
      },
    };
    set.add(waiter);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Take every waiter out of `set`, then call `fn` on each (so `fn` may add new ones). */
function settle(set: Set<Waiter> | undefined, fn: (w: Waiter) => void): void {
  if (set === undefined || set.size === 0) return;
  const waiters = [...set];
  set.clear();
  for (const w of waiters) fn(w);
}
