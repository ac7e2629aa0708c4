/**
 * One busy connection of the load generator and the counters all of them share. Written to
 * allocate nothing per message: messages are made once per run (`load-messages.ts`), replies
 * are read into a reused buffer and compared in place.
 *
 * @module
 */
import type net from "node:net";
import { connectSocket, type LoadTarget } from "./connect-target.js";
import type { LatencyHistogram } from "./latency-histogram.js";

/** Bytes read at most per read call on one connection. */
const READ_BUFFER = 64 * 1024;
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
 * round-trip time, then sends the next one, until the run stops.
 */
export class PingPong {
  #state: RunState;
  #target: LoadTarget;
  #index: number;
  #readBuffer = Buffer.allocUnsafe(READ_BUFFER);
  #sock: net.Socket | undefined;
  #seq = 0;
  /** The message in flight. */
  #message: Buffer | undefined;
  #received = 0;
  #sentAt = 0;
  #bad = false;
  #inFlight = false;
  #retry: NodeJS.Timeout | undefined;
  #stopper = new AbortController();

  constructor(state: RunState, target: LoadTarget, index: number) {
    this.#state = state;
    this.#target = target;
    this.#index = index;
  }

  /** Connect; rejects with the connect error, or with an `AbortError` once stopped. */
  async connect(timeoutMs: number): Promise<void> {
    const sock = await connectSocket(this.#target, {
      timeoutMs,
      signal: this.#stopper.signal,
      onread: { buffer: this.#readBuffer, callback: this.#onRead },
    });
    this.#sock = sock;
    let failed = false;
    const fail = (code: string): void => {
      if (failed) return;
      failed = true;
      this.#fail(sock, code);
    };
    sock.on("error", (err: Error & { code?: string }) => fail(err.code ?? "ERR_UNKNOWN"));
    sock.on("end", () => fail("ERR_UNEXPECTED_EOF"));
  }

  /** Send the first message. */
  start(): void {
    this.#send();
  }

  /** Stop for good: cancel a pending reconnect and hand over the socket to be destroyed. */
  stop(into: net.Socket[]): void {
    clearTimeout(this.#retry);
    this.#stopper.abort();
    if (this.#sock) into.push(this.#sock);
    this.#sock = undefined;
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

  #onRead = (nread: number, buf: Uint8Array): boolean => {
    const state = this.#state;
    if (state.stopping) return true;
    if (!this.#inFlight) {
      state.mismatches += 1;
      return true;
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
    return true;
  };

  #fail(sock: net.Socket, code: string): void {
    const state = this.#state;
    state.fault(code);
    sock.destroy();
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
