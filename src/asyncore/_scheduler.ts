/**
 * One scheduler per socket map: it decides which dispatchers are ready in a loop iteration and
 * runs their handlers, so that an iteration costs in proportion to the dispatchers with activity,
 * not to the size of the map. docs/design.md walks through it phase by phase.
 *
 * - `candidates`: dispatchers that may be ready. A socket event (data, EOF, a connection, the
 *   write buffer draining, a connect finishing or failing) adds its dispatcher; so do `send`,
 *   `close`, `push`; a dispatcher whose handlers made progress stays for the next iteration
 *   (readiness is level-triggered). A candidate found not ready is dropped. A busy server adds
 *   and drops a dispatcher on every event, so this is a list plus a bit in each channel
 *   (`candidate`) rather than a `Set`, which reallocates its table whenever it empties: a
 *   dispatcher with its bit set has an entry (a second one is harmless: a collection looks at a
 *   dispatcher once), and one dropped otherwise than by a collection (no progress, left the
 *   map) keeps a stale entry, bit clear, until the next collection passes over it.
 * - `watched`: dispatchers whose readiness can change without any of that happening — those
 *   with their own `readable()`/`writable()` (a handler may change another dispatcher's
 *   buffer), and those whose last handlers made no progress (a default `handleWrite` that sends
 *   nothing would otherwise spin). They are re-checked by a sweep every
 *   {@link SWEEP_INTERVAL_MS}, or less often when there are so many that a sweep takes long:
 *   the wait after a sweep is at least {@link SWEEP_COST_RATIO} times the sweep, so sweeping
 *   10,000 idle dispatchers takes a bounded share of a busy server's time.
 *
 * @module
 */
// Imported: the global `performance` is a getter, paid on every access, and an iteration that
// finds nothing reads the clock.
import { performance } from "node:perf_hooks";
import { ExitNow } from "../errors.js";
import type { Channel } from "./_channel.js";
import { kChannel } from "./_symbols.js";
import type { Dispatcher } from "./dispatcher.js";
import type { SocketMap } from "./socket-map.js";

/**
 * Changes made outside a dispatcher's own handlers are seen within this many milliseconds, or
 * {@link SWEEP_COST_RATIO} times a sweep's own duration if that is longer.
 */
export const SWEEP_INTERVAL_MS = 8;

/**
 * The wait after a sweep is at least this many times as long as the sweep took, so sweeps take
 * at most about 1/40 (2.5 %) of the time however many dispatchers they look at. Until a sweep
 * takes 0.2 ms (thousands of watched dispatchers) this is {@link SWEEP_INTERVAL_MS}.
 */
export const SWEEP_COST_RATIO = 40;

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

/** One `loop()` or `poll()` call being served. */
interface Run {
  /** Iterations still to run. */
  left: number;
  /** How long an iteration may wait, ms. */
  readonly timeout: number;
  /** When the current waiting iteration gives up (`performance.now()` time), or NaN. */
  deadline: number;
  /** The current waiting iteration has let Node's event loop turn at least once. */
  turned: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

export class Scheduler {
  readonly map: SocketMap;
  /** The candidates, see the module comment: entries whose channel's `candidate` bit is clear are stale. */
  candidates: Dispatcher[] = [];
  /** The list a collection goes through (the candidates until then); empty between collections. */
  #collecting: Dispatcher[] = [];
  readonly watched = new Set<Dispatcher>();
  /** Work counters, so tests can pin the cost of an iteration by counting rather than timing. */
  inspected = 0;
  collections = 0;
  sweeps = 0;
  /**
   * A sweep is due: set by `#sweepTimer`, {@link SWEEP_INTERVAL_MS} (or longer, see
   * {@link SWEEP_COST_RATIO}) after the last sweep. A flag rather than a clock read, which a busy
   * server with watched dispatchers would pay twice per event.
   */
  #sweepDue = true;
  /** Armed by each sweep (never otherwise: an idle process is not woken for nothing). */
  #sweepTimer: NodeJS.Timeout | undefined;
  /** What `#sweepTimer` is set for, ms. */
  #sweepInterval = SWEEP_INTERVAL_MS;
  /** How long the last sweep took, ms. */
  #lastSweepMs = 0;
  /** Active runs; iterations serve the newest (a loop() nested in a handler runs first). */
  readonly #runs: Run[] = [];
  /** A run is waiting for an event, a sweep or its deadline. */
  #waiting = false;
  #stepQueued = false;
  /** An iteration is running (handlers may be on the stack). */
  #stepping = false;
  #timer: NodeJS.Timeout | undefined;
  #timerDue = 0;
  #streak = 0;
  readonly #ready: Dispatcher[] = [];
  readonly #flags: number[] = [];
  #readyCount = 0;

  constructor(map: SocketMap) {
    this.map = map;
  }

  /** `d` may have become ready: look at it in the next iteration (and wake a waiting loop). */
  mark(d: Dispatcher): void {
    this.#list(d);
    if (this.#waiting) this.#queueStep();
  }

  /**
   * Like {@link mark}, for socket events: they arrive from Node's event loop, outside any
   * handler, so a waiting loop runs its iteration right here instead of in a microtask.
   */
  markFromEvent(d: Dispatcher): void {
    this.#list(d);
    if (this.#waiting && !this.#stepQueued && !this.#stepping) {
      this.#waiting = false;
      this.#step();
    }
  }

  /** Make `d` a candidate unless it is one. */
  #list(d: Dispatcher): void {
    const chan: Channel = d[kChannel];
    if (chan.candidate) return;
    chan.candidate = true;
    this.candidates.push(d);
  }

  /** Start (or stop) sweeping `d` because its readiness predicates are its own. */
  watch(d: Dispatcher, on: boolean): void {
    if (on) this.watched.add(d);
    else this.watched.delete(d);
  }

  /** Forget `d` (it left the map). */
  forget(d: Dispatcher): void {
    // Its bit, unless it belongs to another map's scheduler by now; its entry goes stale.
    const chan: Channel = d[kChannel];
    if (chan.scheduler === this) chan.candidate = false;
    this.watched.delete(d);
    if (this.map.size === 0) {
      // Nothing will collect soon: drop the stale entries, and what they hold, now.
      this.#dropStale();
      // A loop waiting on an empty map ends now rather than at its timeout.
      if (this.#waiting) this.#queueStep();
    }
  }

  /**
   * Serve `count` iterations (or until the map is empty), each waiting up to `timeout` ms when
   * nothing is ready. Resolves when done; rejects with an `ExitNow` a handler threw.
   */
  run(count: number, timeout: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#runs.push({ left: count, timeout, deadline: Number.NaN, turned: false, resolve, reject });
      this.#queueStep();
    });
  }

  #queueStep(): void {
    this.#waiting = false;
    if (this.#stepQueued) return;
    this.#stepQueued = true;
    queueMicrotask(this.#step);
  }

  /**
   * Run iterations for the newest run until it is done or must wait. Iterations that find work
   * run back to back, yielding to Node's event loop every {@link ITERATIONS_BEFORE_YIELD}.
   */
  readonly #step = (): void => {
    this.#stepQueued = false;
    const run = this.#runs.at(-1);
    if (run === undefined) return;
    this.#stepping = true;
    try {
      while (run.left > 0 && this.map.size > 0) {
        if (this.#collect() > 0) {
          run.deadline = Number.NaN;
          run.left--;
          this.#dispatchAll();
          if (++this.#streak >= ITERATIONS_BEFORE_YIELD) {
            this.#streak = 0;
            setImmediate(this.#resume);
            return;
          }
          continue;
        }
        this.#streak = 0;
        if (
          run.left === Number.POSITIVE_INFINITY &&
          run.timeout > 0 &&
          Number.isNaN(run.deadline) &&
          this.#timerDue > 0
        ) {
          // An endless run counts no iterations, so no one needs its deadline: while the timer
          // of an earlier wait is pending (it keeps the process alive and wakes the loop), wait
          // on it without reading the clock, which a busy server would do on every event. The
          // sweep timer wakes it for sweeps.
          this.#waiting = true;
          this.#timer!.ref();
          return;
        }
        const now = performance.now();
        if (Number.isNaN(run.deadline)) {
          run.deadline = now + run.timeout;
          run.turned = false;
        } else if (run.turned && now >= run.deadline) {
          // An iteration that waited its whole timeout and found nothing.
          run.deadline = Number.NaN;
          run.left--;
          continue;
        }
        this.#sleep(run, now);
        return;
      }
    } catch (err) {
      this.#finish(run, err);
      return;
    } finally {
      this.#stepping = false;
    }
    this.#finish(run, undefined);
  };

  readonly #resume = (): void => {
    const run = this.#runs.at(-1);
    if (run !== undefined) run.turned = true;
    this.#queueStep();
  };

  /**
   * Wait for mark(), the next sweep (the sweep timer wakes the loop) or the deadline. An
   * iteration ends empty only after Node's event loop has turned once (so `poll(0)` sees what
   * the kernel already delivered): short waits use `setImmediate`, longer ones the scheduler's
   * one timer.
   */
  #sleep(run: Run, now: number): void {
    this.#waiting = true;
    const wakeAt = run.deadline;
    // A sweep is due but did not run (the watched set was empty then): run it next turn.
    if (wakeAt - now < 1 || (this.#sweepDue && this.watched.size > 0)) {
      setImmediate(this.#onTurn);
      return;
    }
    // Re-armed only when this wait must end sooner than the timer is set for.
    if (this.#timer === undefined || this.#timerDue > wakeAt || this.#timerDue <= now) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = setTimeout(this.#onTimer, Math.ceil(wakeAt - now));
      this.#timerDue = wakeAt;
    } else {
      this.#timer.ref();
    }
  }

  readonly #onTurn = (): void => {
    const run = this.#runs.at(-1);
    if (run !== undefined) run.turned = true;
    if (this.#waiting) this.#queueStep();
  };

  readonly #onSweepDue = (): void => {
    this.#sweepDue = true;
    if (this.#waiting) this.#queueStep();
  };

  readonly #onTimer = (): void => {
    this.#timerDue = 0;
    if (this.#waiting) this.#queueStep();
  };

  #finish(run: Run, err: unknown): void {
    const i = this.#runs.lastIndexOf(run);
    if (i >= 0) this.#runs.splice(i, 1);
    if (this.#runs.length === 0) {
      this.#waiting = false;
      this.#timer?.unref();
    } else {
      this.#queueStep();
    }
    if (err === undefined) run.resolve();
    else run.reject(err);
  }

  /**
   * Phases 1–2: sweep if due, then keep the candidates that are ready. Returns how many. The
   * sweep looks at watched dispatchers where they are and makes only the ready ones candidates;
   * a stamp keeps a dispatcher from being looked at twice in one collection. The candidates so
   * far are gone through from a list of their own, and those still candidates afterwards (the
   * ready ones, and any marked meanwhile) go to a new list, the one emptied last time.
   */
  #collect(): number {
    let n = 0;
    const stamp = ++this.collections;
    const pending = this.candidates;
    const next = this.#collecting;
    this.candidates = next;
    this.#collecting = pending;
    let i = 0;
    try {
      if (this.#sweepDue && this.watched.size > 0) {
        this.#sweepDue = false;
        this.sweeps++;
        const start = performance.now();
        try {
          for (const d of this.watched) n = this.#examine(d, stamp, next, n);
        } finally {
          this.#armSweep(performance.now() - start);
        }
      }
      for (; i < pending.length; i++) {
        const d = pending[i]!;
        const chan: Channel = d[kChannel];
        // Stale (dropped, or now in another map), or looked at already in this collection.
        if (!chan.candidate || chan.scheduler !== this || chan.seen === stamp) continue;
        n = this.#examine(d, stamp, next, n);
      }
    } finally {
      // Only an ExitNow from an error handler gets here early: what was not looked at stays.
      for (; i < pending.length; i++) next.push(pending[i]!);
      // pop() rather than `length = 0`, a runtime call: one step per entry pushed.
      while (pending.length > 0) pending.pop();
    }
    this.#readyCount = n;
    return n;
  }

  /**
   * Set the sweep timer after a sweep that took `took` ms. The shorter of the last two sweeps
   * counts, so that one sweep a garbage collection paused does not put off the next one.
   */
  #armSweep(took: number): void {
    const cost = Math.min(took, this.#lastSweepMs);
    this.#lastSweepMs = took;
    const interval = Math.max(SWEEP_INTERVAL_MS, Math.ceil(cost * SWEEP_COST_RATIO));
    if (this.#sweepTimer !== undefined && interval === this.#sweepInterval) {
      this.#sweepTimer.refresh();
      return;
    }
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    this.#sweepInterval = interval;
    // Unreferenced: a waiting loop's own timer keeps the process alive.
    this.#sweepTimer = setTimeout(this.#onSweepDue, interval);
    this.#sweepTimer.unref();
  }

  /**
   * Look at `d` once in collection `stamp`: ready, it stays a candidate (in `next`) and takes
   * slot `n` of the ready list; not ready, it is dropped. Returns the ready count after it.
   */
  #examine(d: Dispatcher, stamp: number, next: Dispatcher[], n: number): number {
    const chan: Channel = d[kChannel];
    chan.seen = stamp;
    this.inspected++;
    const f = this.#readiness(d);
    if (f === 0) {
      chan.candidate = false;
      return n;
    }
    chan.candidate = true;
    next.push(d);
    this.#ready[n] = d;
    this.#flags[n] = f;
    return n + 1;
  }

  /** Drop the entries of dispatchers that are no longer candidates here. */
  #dropStale(): void {
    const list = this.candidates;
    let kept = 0;
    for (let i = 0; i < list.length; i++) {
      const d = list[i]!;
      const chan: Channel = d[kChannel];
      if (chan.candidate && chan.scheduler === this) list[kept++] = d;
    }
    while (list.length > kept) list.pop();
  }

  #readiness(d: Dispatcher): number {
    if (this.map.get(d.fileno()) !== d) return 0;
    const chan: Channel = d[kChannel];
    let f = 0;
    try {
      if (chan.io !== undefined) {
        // Readiness mode: both predicates are asked every time, as they are the poll interest.
        const read = d.readable();
        const write = d.writable();
        if (read && chan.readPending()) f = READ;
        if (write && chan.writeReady()) f |= WRITE;
        chan.poll(read, write);
      } else {
        if (chan.readPending() && d.readable()) f = READ;
        if (!d.accepting && chan.writeReady() && d.writable()) f |= WRITE;
      }
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
    const n = this.#readyCount;
    this.#readyCount = 0;
    try {
      for (let i = 0; i < n; i++) this.#dispatch(ready[i]!, flags[i]!);
    } finally {
      // Drop references so closed dispatchers can be collected.
      for (let i = 0; i < n; i++) ready[i] = undefined as unknown as Dispatcher;
    }
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
      if (chan.scheduler === this) chan.candidate = false;
      if (chan.io !== undefined && f & READ) chan.ignoredRead();
      if (this.map.get(key) === d) this.watched.add(d);
    } else if (!chan.ownPredicates && this.watched.size > 0) {
      this.watched.delete(d);
    }
  }

  /** A handler threw: asyncore's rules, and the loop never dies from one dispatcher. */
  #fail(d: Dispatcher, err: unknown): void {
    if (err instanceof ExitNow) throw err;
    guarded(d, () => {
      if (isDisconnect(err)) d.handleClose();
      else d.handleError(err);
    });
  }
}

/** `err` says the peer is gone (`ECONNRESET`, `EPIPE` …): asyncore closes rather than reports. */
export function isDisconnect(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && DISCONNECTED.has(code);
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
