/**
 * The open connections of an echo server, and its graceful shutdown: stop accepting, let every
 * echo in flight finish, close each connection once it is quiet, and drop whatever is still
 * open when the grace period ends.
 *
 * @module
 */

/** A connection as the shutdown sees it, whatever API serves it. */
export interface TrackedConnection {
  /** Bytes received and not yet handed to the kernel: the echoes in flight. */
  pendingBytes(): number;
  /**
   * `performance.now()` when bytes last arrived, or when reading was last held back by
   * backpressure (now, while it is): input may still be waiting in the kernel until reading has
   * gone on unblocked for a while.
   */
  lastActivity(): number;
  /** Close once everything written is sent (the connection leaves the tracker when it ends). */
  closeGracefully(): void;
  /** Close at once, dropping buffered bytes. */
  abort(): void;
}

/** A connection is quiet when nothing is pending and nothing arrived for this long. */
export const QUIET_MS = 50;
/** How often a shutdown looks for connections that became quiet. */
const CHECK_EVERY_MS = 20;
/** After the grace period, how long aborted connections get to report that they ended. */
const ABORT_WAIT_MS = 1000;

/**
 * The set of open connections of one echo server.
 *
 * A shutdown ({@link drain}) closes a connection when nothing it sent is still to be echoed and
 * it has sent nothing for {@link QUIET_MS}: an idle connection closes at once, a busy one as
 * soon as its echoes are out. Closing a quiet connection also avoids the reset a socket closed
 * with unread input would send, which could destroy echoes the peer has not read yet.
 *
 * @example
 * ```ts
 * const tracker = new ConnectionTracker();
 * tracker.add(conn);           // when accepted
 * tracker.delete(conn);        // when it ended
 * await tracker.drain(2000, () => listener.close());
 * ```
 */
export class ConnectionTracker {
  readonly #open = new Set<TrackedConnection>();
  #wake: (() => void) | undefined;
  #draining = false;

  /** Connections open now. */
  get size(): number {
    return this.#open.size;
  }

  /** True once {@link drain} has started: new connections should be refused. */
  get draining(): boolean {
    return this.#draining;
  }

  /** A connection was accepted. */
  add(conn: TrackedConnection): void {
    this.#open.add(conn);
  }

  /** A connection ended (closed by either side, or failed). */
  delete(conn: TrackedConnection): void {
    if (this.#open.delete(conn) && this.#open.size === 0) this.#wake?.();
  }

  /**
   * Shut down: call `stopAccepting`, then close each connection once it is quiet, checking
   * every 20 ms; when `graceMs` have passed, abort the rest. Resolves once every connection
   * has ended (or, for aborted ones that never report it, shortly after the abort).
   *
   * @throws what `stopAccepting` throws or rejects with (connections are still drained).
   */
  async drain(graceMs: number, stopAccepting: () => void | Promise<void>): Promise<void> {
    this.#draining = true;
    let failure: unknown;
    let failed = false;
    try {
      await stopAccepting();
    } catch (err) {
      failure = err;
      failed = true;
    }
    const deadline = performance.now() + Math.max(0, graceMs);
    while (this.#open.size > 0 && performance.now() < deadline) {
      this.#closeQuiet();
      if (this.#open.size === 0) break;
      await this.#sleep(Math.min(CHECK_EVERY_MS, Math.max(1, deadline - performance.now())));
    }
    if (this.#open.size > 0) {
      for (const conn of [...this.#open]) conn.abort();
      if (this.#open.size > 0) await this.#sleep(ABORT_WAIT_MS);
      this.#open.clear();
    }
    if (failed) throw failure;
  }

  #closeQuiet(): void {
    const now = performance.now();
    for (const conn of [...this.#open]) {
      if (conn.pendingBytes() === 0 && now - conn.lastActivity() >= QUIET_MS) conn.closeGracefully();
    }
  }

  /** Sleep `ms`, or less when the last connection ends. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}
