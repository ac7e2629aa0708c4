/**
 * `loop()`, `poll()` and `closeAll()`: running and stopping the dispatchers of a map.
 *
 * @module
 */
import { type Scheduler, schedulerFor } from "./_scheduler.js";
import { type SocketMap, socketMap } from "./socket-map.js";

/** Options of {@link loop}. */
export interface LoopOptions {
  /** How long one iteration may wait for an event, in ms. Default 30000. */
  timeout?: number;
  /** Accepted for ported code; there is one mechanism, which scales with activity. */
  usePoll?: boolean;
  /** The map to serve. Default {@link socketMap}. */
  map?: SocketMap;
  /** Stop after this many iterations. Default: until the map is empty. */
  count?: number;
}

/**
 * Run iterations until the map is empty or `count` iterations have run. Rejects with the
 * `ExitNow` a handler threw; an exception from any other handler goes to that dispatcher's
 * `handleError()` and the loop goes on. Python: `asyncore.loop()`.
 *
 * @example
 * ```ts
 * new EchoServer(["127.0.0.1", 0]);
 * await loop({ timeout: 1000 });
 * ```
 */
export async function loop(options: LoopOptions = {}): Promise<void> {
  const map = options.map ?? socketMap;
  const timeout = Math.max(0, options.timeout ?? 30000);
  let left = options.count ?? Number.POSITIVE_INFINITY;
  const scheduler = schedulerFor(map);
  try {
    while (map.size > 0 && left > 0) {
      left--;
      if (scheduler.dispatchReady()) {
        // Level-triggered readiness can keep dispatchers ready: let Node's own I/O in now and then.
        if (scheduler.dueForIo()) await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      await waitAndDispatch(scheduler, timeout);
    }
  } finally {
    scheduler.idle();
  }
}

/** The rest of an iteration that found nothing ready: wait up to `timeout`, then dispatch. */
async function waitAndDispatch(scheduler: Scheduler, timeout: number): Promise<void> {
  const deadline = performance.now() + timeout;
  for (;;) {
    await scheduler.wait(deadline);
    if (scheduler.dispatchReady() || scheduler.map.size === 0 || performance.now() >= deadline) return;
  }
}

/**
 * Run exactly one iteration: dispatch what is ready, waiting up to `timeout` ms (default 0:
 * one turn of Node's event loop) when nothing is. Python: `asyncore.poll()` / `poll2()`.
 */
export async function poll(timeout = 0, map: SocketMap = socketMap): Promise<void> {
  if (map.size === 0) return;
  const scheduler = schedulerFor(map);
  try {
    if (!scheduler.dispatchReady()) await waitAndDispatch(scheduler, Math.max(0, timeout));
    else if (scheduler.dueForIo()) await new Promise<void>((resolve) => setImmediate(resolve));
  } finally {
    scheduler.idle();
  }
}

/**
 * Close every dispatcher of `map` and empty it. Errors from `close()` propagate unless
 * `ignoreAll`; a closed descriptor (`EBADF`) is always ignored. Python: `asyncore.close_all()`.
 */
export function closeAll(map: SocketMap = socketMap, ignoreAll = false): void {
  for (const d of [...map.values()]) {
    try {
      d.close();
    } catch (err) {
      if ((err as { code?: unknown }).code === "EBADF") continue;
      if (!ignoreAll) throw err;
    }
  }
  map.clear();
}
