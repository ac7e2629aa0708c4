/**
 * The ping-pong load generator behind `asyncore bench`: `conns` connections each send a message,
 * wait for its full echo, check every byte and go again, for a fixed time.
 *
 * @module
 */
import { invalidArgValue } from "../errors.js";
import { connectionLimitError, type LoadTarget, normalizeTarget, probeEcho } from "./connect-target.js";
import { type IdleProcess, openIdleProcess } from "./idle-process.js";
import { LatencyHistogram } from "./latency-histogram.js";
import { makeMessages } from "./load-messages.js";
import { checkLoadClient, defaultLoadClient, type LoadClient, settleWithin } from "./load-socket.js";
import { PingPong, RunState } from "./ping-pong.js";

/** Options of {@link runLoad}: a target (TCP `host`/`port` or Unix `path`) and the load. */
export interface LoadOptions extends LoadTarget {
  /** Busy connections doing ping-pong, 1..10000. */
  conns: number;
  /** Bytes per message, 1..64 MiB. */
  size: number;
  /**
   * Send lines: each message is `size - 1` random bytes that are never `"\n"`, then `"\n"`, so
   * a line-framed echo server (an `AsyncChat` with terminator `"\n"`) answers every message.
   * Default false: `size` random bytes of any value, which only an unframed echo server answers
   * whole. Any byte echo server answers both.
   */
  lines?: boolean;
  /** Length of the measured window in milliseconds (1..86400000). */
  durationMs: number;
  /**
   * Extra connections opened first that stay connected and quiet (default 0); always `node:net`,
   * held by a child process (`openIdleProcess`) so that they cost this process nothing while it
   * drives the load. It runs on this process's CPUs and dies with it.
   */
  idle?: number;
  /**
   * What the busy connections run on: `"net"`, `node:net` sockets (the default, see
   * `defaultLoadClient()`), or `"native"`, the native backend's connections.
   */
  client?: LoadClient;
  /** Called every `progressIntervalMs` while idle connections open and while the load runs. */
  onProgress?: (progress: LoadProgress) => void;
  /** Default 250. */
  progressIntervalMs?: number;
  /**
   * Awaited once every idle connection is open and a probe shows the server has accepted them
   * all, before the busy connections connect (a good moment to read the server's memory).
   */
  onIdleReady?: (opened: number) => void | Promise<void>;
  /** Called synchronously just before the measured window starts. */
  onWindowStart?: () => void;
  /** Called synchronously just after the measured window ends. */
  onWindowEnd?: () => void;
  /** Give up on one connect after this many milliseconds (default 10000). */
  connectTimeoutMs?: number;
  /** Idle connects pending at once (default 200). */
  idleBatchSize?: number;
  /** Abort the run: everything is closed and the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** What {@link LoadOptions.onProgress} receives. */
export interface LoadProgress {
  /** `"idle"` while idle connections open, `"run"` during the measured window. */
  phase: "idle" | "run";
  /** Milliseconds since the measured window started (0 in the idle phase). */
  elapsedMs: number;
  requests: number;
  bytes: number;
  /** Requests per second since the previous progress report. */
  reqPerSec: number;
  errors: number;
  mismatches: number;
  idleOpened: number;
  idleTarget: number;
}

/** Latency percentiles of one run, in milliseconds. */
export interface LatencySummary {
  p50: number;
  p99: number;
  p999: number;
  min: number;
  max: number;
  mean: number;
}

/** The outcome of {@link runLoad}. */
export interface LoadResult {
  /** Round trips completed inside the window. */
  requests: number;
  /** Echoed payload bytes received for those round trips (one direction). */
  bytes: number;
  /** Length of the measured window in seconds. */
  seconds: number;
  reqPerSec: number;
  /** `bytes / seconds / 1e6` (decimal megabytes, one direction). */
  mbPerSec: number;
  latency: LatencySummary;
  /** Connections that failed (reset, closed by the server, connect errors on reconnect). */
  errors: number;
  /** Round trips whose echo differed from what was sent, plus unsolicited bytes. */
  mismatches: number;
  /** `errors` broken down by code (`ECONNRESET`, `ERR_UNEXPECTED_EOF`, …). */
  errorCodes: Record<string, number>;
  conns: number;
  size: number;
  /** The messages were lines ({@link LoadOptions.lines}). */
  lines: boolean;
  /** Idle connections that were open during the window. */
  idle: number;
  /** The client the busy connections ran on. */
  client: LoadClient;
  /** CPU time (user + system) this process used during the window, in ms. */
  clientCpuMs: number;
  /** `clientCpuMs` as a percentage of one core over the window (100 = one core busy). */
  clientCpuPercent: number;
}

const MAX_SIZE = 64 * 1024 * 1024;
/** Time the idle holder waits beyond the window and the busy connects: probe, `onIdleReady`, teardown. */
const HOLD_MARGIN_MS = 60_000;

function checkInt(name: string, value: number | undefined, min: number, max: number): void {
  if (!Number.isInteger(value) || value! < min || value! > max) {
    throw invalidArgValue(
      `Cannot run the load: ${name} must be an integer in [${min}, ${max}], got ${value}`,
    );
  }
}

/** Sleep that rejects with `signal.reason` on abort. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Connect every busy connection (bounded batches); on a failure close them all and throw. */
async function connectAll(pingers: PingPong[], timeoutMs: number): Promise<void> {
  for (let first = 0; first < pingers.length; first += 200) {
    const batch = pingers.slice(first, first + 200);
    const results = await Promise.allSettled(batch.map((p) => p.connect(timeoutMs)));
    const bad = results.findIndex((r) => r.status === "rejected");
    if (bad >= 0) {
      throw connectionLimitError((results[bad] as PromiseRejectedResult).reason, first + bad, pingers.length);
    }
  }
}

/**
 * Run a ping-pong load against an echo server and measure it. First `idle` quiet connections
 * open (in bounded batches, in a child process of their own), then `conns` connections connect; when all are connected the
 * window of `durationMs` starts and each connection repeatedly sends a `size`-byte message
 * (different content each time; a line ending in `"\n"` with `lines`), waits for all `size`
 * echoed bytes, checks every byte and records
 * the round-trip time. The window ends on time even if the server hangs; then every connection
 * is destroyed. A connection that fails during the window is counted in `errors` and reconnects
 * after 20 ms. The busy connections run on `opts.client`; the CPU time this process used during the
 * window is reported with the result, so a load generator near 100 % of its core shows itself.
 *
 * No Python counterpart: this is the engine of the `asyncore bench` command.
 *
 * @throws Rejects with `ERR_INVALID_ARG_VALUE` for bad options; with `ERR_BACKEND_UNAVAILABLE`
 * for the `native` client where the native backend is not in use; with the connect error
 * (`ECONNREFUSED`, `EMFILE` with advice to raise `ulimit -n`, `ETIMEDOUT`, …) when a connection
 * cannot be opened before the window; with `ERR_IDLE_HOLDER` when the idle connections' process
 * cannot be started; with `signal.reason` when aborted.
 * @example
 * ```ts
 * const r = await runLoad({ port, conns: 10, size: 1024, durationMs: 1000, lines: true });
 * console.log(r.reqPerSec, r.latency.p99);
 * ```
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const target = normalizeTarget(opts);
  checkInt("conns", opts.conns, 1, 10_000);
  checkInt("size", opts.size, 1, MAX_SIZE);
  checkInt("durationMs", opts.durationMs, 1, 86_400_000);
  const idleTarget = opts.idle ?? 0;
  checkInt("idle", idleTarget, 0, 1_000_000);
  const timeoutMs = opts.connectTimeoutMs ?? 10_000;
  const intervalMs = Math.max(10, opts.progressIntervalMs ?? 250);
  const client = opts.client === undefined ? defaultLoadClient() : checkLoadClient(opts.client);
  opts.signal?.throwIfAborted();

  const lines = opts.lines === true;
  const { messages } = makeMessages(opts.size, lines);
  const state = new RunState(messages, opts.size, new LatencyHistogram());
  const progress = (
    phase: "idle" | "run",
    elapsedMs: number,
    reqPerSec: number,
    idleOpened: number,
  ): void => {
    opts.onProgress?.({
      phase,
      elapsedMs,
      requests: state.requests,
      bytes: state.bytes,
      reqPerSec,
      errors: state.errors,
      mismatches: state.mismatches,
      idleOpened,
      idleTarget,
    });
  };

  let idle: IdleProcess | undefined;
  const pingers: PingPong[] = [];
  let ticker: NodeJS.Timeout | undefined;
  try {
    if (idleTarget > 0) {
      idle = await openIdleProcess(target, {
        count: idleTarget,
        timeoutMs,
        holdMs: opts.durationMs + HOLD_MARGIN_MS + timeoutMs * Math.ceil(opts.conns / 200),
        ...(opts.idleBatchSize !== undefined && { batchSize: opts.idleBatchSize }),
        ...(opts.signal && { signal: opts.signal }),
        onBatch: (opened) => progress("idle", 0, 0, opened),
        onFault: (code) => state.fault(code),
      });
      await probeEcho(target, timeoutMs);
      await opts.onIdleReady?.(idle.count);
    }
    for (let i = 0; i < opts.conns; i++) pingers.push(new PingPong(state, target, i, client));
    await connectAll(pingers, timeoutMs);
    opts.signal?.throwIfAborted();

    opts.onWindowStart?.();
    const cpuAtStart = process.cpuUsage();
    const started = performance.now();
    for (const p of pingers) p.start();
    let lastAt = started;
    let lastRequests = 0;
    ticker = setInterval(() => {
      const now = performance.now();
      const rate = ((state.requests - lastRequests) * 1000) / Math.max(1, now - lastAt);
      lastAt = now;
      lastRequests = state.requests;
      progress("run", now - started, rate, idle?.count ?? 0);
    }, intervalMs);
    await sleep(opts.durationMs, opts.signal);
    state.stopping = true;
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuAtStart);
    opts.onWindowEnd?.();
    const run = { seconds, conns: opts.conns, size: opts.size, lines, idle: idle?.count ?? 0, client };
    return summarize(state, run, (cpu.user + cpu.system) / 1000);
  } finally {
    state.stopping = true;
    clearInterval(ticker);
    await Promise.all([
      settleWithin(
        pingers.map((p) => p.stop()),
        2000,
      ),
      idle?.close(),
    ]);
  }
}

/** How a run was made, as the result reports it. */
type RunShape = Pick<LoadResult, "seconds" | "conns" | "size" | "lines" | "idle" | "client">;

function summarize(state: RunState, run: RunShape, cpuMs: number): LoadResult {
  const { seconds } = run;
  const h = state.histogram;
  const ms = (ns: number): number => ns / 1e6;
  return {
    requests: state.requests,
    bytes: state.bytes,
    seconds,
    reqPerSec: state.requests / seconds,
    mbPerSec: state.bytes / seconds / 1e6,
    latency: {
      p50: ms(h.percentile(50)),
      p99: ms(h.percentile(99)),
      p999: ms(h.percentile(99.9)),
      min: ms(h.min),
      max: ms(h.max),
      mean: ms(h.mean),
    },
    errors: state.errors,
    mismatches: state.mismatches,
    errorCodes: { ...state.errorCodes },
    conns: run.conns,
    size: run.size,
    lines: run.lines,
    idle: run.idle,
    client: run.client,
    clientCpuMs: cpuMs,
    clientCpuPercent: (cpuMs / (seconds * 1000)) * 100,
  };
}
