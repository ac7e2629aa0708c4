/**
 * One busy connection of the load generator and the counters all of them share. Written to
 * allocate nothing per message: messages are made once per run (`load-messages.ts`), replies
 * are compared in place where they were read (the `net` client reads into a reused buffer).
 *
 * @module
 */
import type { LoadTarget } from "./connect-target.js";
import type { LatencyHistogram } from "./latency-histogram.js";
import { connectLoadSocket, type LoadClient, type LoadSocket } from "./load-socket.js";

/** Pause before a failed connection reconnects. */
const RECONNECT_MS = 20;

/** Counters and message contents shared by every connection of one run. */
export class RunState {
  stopping = false;
  requests = 0;
  bytes = 0;
  errors = 0;
  mismatches = 0;
  readonly errorCodes: Record<string, number> = {};

  constructor(
    /** The messages to send, `size` bytes each, made once. */
    readonly messages: readonly Buffer[],
    readonly size: number,
    readonly histogram: LatencyHistogram,
  ) {}

  /** Count one failure under its code (ignored once the window is over). */
  fault(code: string): void {
    if (this.stopping) return;
    this.errors += 1;
    this.errorCodes[code] = (this.errorCodes[code] ?? 0) + 1;
  }
}

/**
 * A connection that sends a message, waits for all of its echo, verifies it and records the
 * round-trip time, then sends the next one, until the run stops. It runs on either client
 * (`load-socket.ts`): the socket only writes and reports reads and faults.
 */
export class PingPong {
  #state: RunState;
  #target: LoadTarget;
  #index: number;
  #client: LoadClient;
  #sock: LoadSocket | undefined;
  #seq = 0;
  /** The message in flight. */
  #message: Buffer | undefined;
  #received = 0;
  #sentAt = 0;
  #bad = false;
  #inFlight = false;
  #retry: NodeJS.Timeout | undefined;
  #stopper = new AbortController();

  constructor(state: RunState, target: LoadTarget, index: number, client: LoadClient) {
    this.#state = state;
    this.#target = target;
    this.#index = index;
    this.#client = client;
  }

  /** Connect; rejects with the connect error, or with an `AbortError` once stopped. */
  async connect(timeoutMs: number): Promise<void> {
    let sock: LoadSocket | undefined;
    sock = await connectLoadSocket(
      this.#client,
      this.#target,
      { timeoutMs, signal: this.#stopper.signal },
      { onRead: this.#onRead, onFault: (code) => this.#fail(sock!, code) },
    );
    // Stopped while the connect's last step was under way: stop() found no socket to close.
    if (this.#stopper.signal.aborted) {
      void sock.destroy();
      throw this.#stopper.signal.reason;
    }
    this.#sock = sock;
  }

  /** Send the first message. */
  start(): void {
    this.#send();
  }

  /** Stop for good: cancel a pending reconnect and close the socket; resolves once it is closed. */
  stop(): Promise<void> {
    clearTimeout(this.#retry);
    this.#stopper.abort();
    const sock = this.#sock;
    this.#sock = undefined;
    return sock?.destroy() ?? Promise.resolve();
  }

  #send(): void {
    const state = this.#state;
    if (state.stopping || !this.#sock) return;
    this.#seq += 1;
    const message = state.messages[(this.#index * 37 + this.#seq * 13) % state.messages.length]!;
    this.#message = message;
    this.#received = 0;
    this.#bad = false;
    this.#inFlight = true;
    this.#sentAt = performance.now();
    this.#sock.write(message);
  }

  #onRead = (nread: number, buf: Uint8Array): void => {
    const state = this.#state;
    if (state.stopping) return;
    if (!this.#inFlight) {
      state.mismatches += 1;
      return;
    }
    const take = Math.min(nread, state.size - this.#received);
    const from = this.#received;
    if (take < nread || this.#message!.compare(buf, 0, take, from, from + take) !== 0) {
      this.#bad = true;
    }
    this.#received += take;
    if (this.#received === state.size) {
      this.#inFlight = false;
      state.histogram.record((performance.now() - this.#sentAt) * 1e6);
      state.requests += 1;
      state.bytes += state.size;
      if (this.#bad) state.mismatches += 1;
      this.#send();
    }
  };

  #fail(sock: LoadSocket, code: string): void {
    const state = this.#state;
    state.fault(code);
    void sock.destroy();
    if (this.#sock !== sock) return;
    this.#sock = undefined;
    this.#inFlight = false;
    this.#reconnectLater();
  }

  /** Reconnect after a short pause, again and again while it fails and the run goes on. */
  #reconnectLater(): void {
    if (this.#state.stopping) return;
    this.#retry = setTimeout(() => {
      this.connect(1000).then(
        () => this.#send(),
        (err: Error & { code?: string }) => {
          this.#state.fault(err.code ?? "ERR_UNKNOWN");
          this.#reconnectLater();
        },
      );
    }, RECONNECT_MS);
  }
}
