/**
 * One scheduler per socket map: it decides which dispatchers are ready in a loop iteration and
 * runs their handlers, so that an iteration costs in proportion to the dispatchers with activity,
 * not to the size of the map. docs/design.md walks through it phase by phase.
 *
 * - `candidates`: dispatchers that may be ready. A socket event (data, EOF, a connection, the
 *   write buffer draining, a connect finishing or failing) adds its dispatcher; so do `send`,
 *   `close`, `push`; a dispatcher whose handlers made progress stays for the next iteration
 *   (readiness is level-triggered). A candidate found not ready is dropped.
 * - `watched`: dispatchers whose readiness can change without any of that happening — those
 *   with their own `readable()`/`writable()` (a handler may change another dispatcher's
 *   buffer), and those whose last handlers made no progress (a default `handleWrite` that sends
 *   nothing would otherwise spin). They are re-checked by a sweep at most every
 *   {@link SWEEP_INTERVAL_MS}.
 *
 * @module
 */
import { ExitNow } from "../errors.js";
import type { Channel } from "./_channel.js";
import { kChannel } from "./_symbols.js";
import type { Dispatcher } from "./dispatcher.js";
import type { SocketMap } from "./socket-map.js";

/** Changes made outside a dispatcher's own handlers are seen within this many milliseconds. */
export const SWEEP_INTERVAL_MS = 8;

/** Iterations run back to back before the loop lets Node's own I/O in. */
const ITERATIONS_BEFORE_YIELD = 64;

const READ = 1;
const WRITE = 2;

/** Errors that mean "the peer is gone": they close the dispatcher rather than report an error. */
const DISCONNECTED = new Set(["ECONNRESET", "ENOTCONN", "ESHUTDOWN", "ECONNABORTED", "EPIPE", "EBADF"]);

const schedulers = new WeakMap<SocketMap, Scheduler>();

/** The scheduler of `map`, made on first use. */
export function schedulerFor(map: SocketMap): Scheduler {
  let s = schedulers.get(map);
  if (s === undefined) {
    s = new Scheduler(map);
    schedulers.set(map, s);
  }
  return s;
}

export class Scheduler {
  readonly map: SocketMap;
  readonly candidates = new Set<Dispatcher>();
  readonly watched = new Set<Dispatcher>();
  /** Work counters, so tests can pin the cost of an iteration by counting rather than timing. */
  inspected = 0;
  collections = 0;
  sweeps = 0;
  #lastSweep = performance.now();
  #waiter: (() => void) | null = null;
  readonly #extraWaiters: Array<() => void> = [];
  #waitDeadline = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerDue = 0;
  #streak = 0;
  readonly #ready: Dispatcher[] = [];
  readonly #flags: number[] = [];

  constructor(map: SocketMap) {
    this.map = map;
  }

  /** `d` may have become ready: look at it in the next iteration (and wake a waiting loop). */
  mark(d: Dispatcher): void {
    this.candidates.add(d);
    if (this.#waiter !== null) this.#wake();
  }

  /** Start (or stop) sweeping `d` because its readiness predicates are its own. */
  watch(d: Dispatcher, on: boolean): void {
    if (on) this.watched.add(d);
    else this.watched.delete(d);
  }

  /** Forget `d` (it left the map). */
  forget(d: Dispatcher): void {
    this.candidates.delete(d);
    this.watched.delete(d);
    // A loop waiting on an empty map ends now rather than at its timeout.
    if (this.map.size === 0 && this.#waiter !== null) this.#wake();
  }

  /**
   * Dispatch what is ready now (phases 1–3 of an iteration). Returns false, having dispatched
   * nothing, when no dispatcher is ready.
   */
  dispatchReady(): boolean {
    if (this.#collect() === 0) {
      this.#streak = 0;
      return false;
    }
    this.#dispatchAll();
    return true;
  }

  /**
   * True once every {@link ITERATIONS_BEFORE_YIELD} iterations that ran back to back without
   * waiting: the caller then lets Node's own I/O in before the next one.
   */
  dueForIo(): boolean {
    if (++this.#streak < ITERATIONS_BEFORE_YIELD) return false;
    this.#streak = 0;
    return true;
  }

  /**
   * Wait until a dispatcher may have become ready, a sweep is due, or `deadline`
   * (a `performance.now()` time) has passed; at least one turn of Node's event loop.
   */
  wait(deadline: number): Promise<void> {
    this.#waitDeadline = deadline;
    const promise = new Promise<void>(this.#takeResolver);
    const now = performance.now();
    const wakeAt = this.watched.size > 0 ? Math.min(deadline, this.#lastSweep + SWEEP_INTERVAL_MS) : deadline;
    if (wakeAt - now < 1) {
      setImmediate(this.#onTimer);
    } else {
      this.#armTimer(wakeAt, now);
    }
    return promise;
  }

  /** The loop is done with this map for now: let the process exit. */
  idle(): void {
    this.#timer?.unref();
  }

  readonly #takeResolver = (resolve: () => void): void => {
    if (this.#waiter === null) this.#waiter = resolve;
    else this.#extraWaiters.push(resolve);
  };

  #wake(): void {
    const waiter = this.#waiter;
    if (waiter === null) return;
    this.#waiter = null;
    waiter();
    if (this.#extraWaiters.length > 0) for (const w of this.#extraWaiters.splice(0)) w();
  }

  /**
   * One timer per scheduler, re-armed only when a wait must end sooner than it is set for, and
   * unref'd while nobody waits: waiting costs no timer operations on the hot path.
   */
  #armTimer(wakeAt: number, now: number): void {
    if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#onTimer, Math.ceil(wakeAt - now));
      this.#timerDue = wakeAt;
      return;
    }
    if (this.#timerDue > wakeAt || this.#timerDue < now) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(this.#onTimer, Math.ceil(wakeAt - now));
      this.#timerDue = wakeAt;
    } else {
      this.#timer.ref();
    }
  }

  readonly #onTimer = (): void => {
    if (this.#waiter === null) return;
    const now = performance.now();
    const sweepDue = this.watched.size > 0 && now - this.#lastSweep >= SWEEP_INTERVAL_MS;
    if (sweepDue || now >= this.#waitDeadline - 0.5) {
      this.#timer?.unref();
      this.#wake();
      return;
    }
    const wakeAt =
      this.watched.size > 0
        ? Math.min(this.#waitDeadline, this.#lastSweep + SWEEP_INTERVAL_MS)
        : this.#waitDeadline;
    this.#timerDue = 0;
    this.#armTimer(wakeAt, now);
  };

  /** Phases 1–2: sweep if due, then keep the candidates that are ready. Returns how many. */
  #collect(): number {
    const ready = this.#ready;
    const flags = this.#flags;
    ready.length = 0;
    flags.length = 0;
    this.collections++;
    if (this.watched.size > 0) {
      const now = performance.now();
      if (now - this.#lastSweep >= SWEEP_INTERVAL_MS) {
        this.#lastSweep = now;
        this.sweeps++;
        for (const d of this.watched) this.candidates.add(d);
      }
    }
    for (const d of this.candidates) {
      this.inspected++;
      const f = this.#readiness(d);
      if (f === 0) this.candidates.delete(d);
      else {
        ready.push(d);
        flags.push(f);
      }
    }
    return ready.length;
  }

  #readiness(d: Dispatcher): number {
    if (this.map.get(d.fileno()) !== d) return 0;
    const chan: Channel = d[kChannel];
    let f = 0;
    try {
      if (chan.readPending() && d.readable()) f = READ;
      if (!d.accepting && chan.writeReady() && d.writable()) f |= WRITE;
    } catch (err) {
      this.#fail(d, err);
      return 0;
    }
    return f;
  }

  /** Phase 3: run the handlers of every ready dispatcher, one at a time. */
  #dispatchAll(): void {
    const ready = this.#ready;
    const flags = this.#flags;
    const n = ready.length;
    for (let i = 0; i < n; i++) this.#dispatch(ready[i]!, flags[i]!);
    ready.length = 0;
    flags.length = 0;
  }

  #dispatch(d: Dispatcher, f: number): void {
    const key = d.fileno();
    if (this.map.get(key) !== d) return;
    const chan: Channel = d[kChannel];
    const before = chan.progress;
    try {
      if (f & READ) d.handleReadEvent();
      if (f & WRITE && this.map.get(key) === d) d.handleWriteEvent();
    } catch (err) {
      this.#fail(d, err);
    }
    if (chan.progress === before) {
      // Nothing changed: do not spin on it; the next event or sweep looks again.
      this.candidates.delete(d);
      if (this.map.get(key) === d) this.watched.add(d);
    } else if (!chan.ownPredicates) {
      this.watched.delete(d);
    }
  }

  /** A handler threw: asyncore's rules, and the loop never dies from one dispatcher. */
  #fail(d: Dispatcher, err: unknown): void {
    if (err instanceof ExitNow) throw err;
    const code = (err as { code?: unknown } | null)?.code;
    guarded(d, () => {
      if (typeof code === "string" && DISCONNECTED.has(code)) d.handleClose();
      else d.handleError(err);
    });
  }
}

/** Run a handler's error path; if that throws too, report it and close the dispatcher. */
function guarded(d: Dispatcher, fn: () => void): void {
  try {
    fn();
  } catch (again) {
    if (again instanceof ExitNow) throw again;
    try {
      d.logInfo(`error handler failed, closing channel ${safeString(d)}: ${describe(again)}`, "error");
    } catch (logErr) {
      process.emitWarning(`asyncore: error handler and logInfo failed: ${describe(logErr)}`);
    }
    try {
      d.close();
    } catch (closeErr) {
      process.emitWarning(`asyncore: close() failed after a handler error: ${describe(closeErr)}`);
    }
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function safeString(d: Dispatcher): string {
  try {
    return String(d);
  } catch {
    return "<dispatcher whose toString() failed>";
  }
}
