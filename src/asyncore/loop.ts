/**
 * `loop()`, `poll()` and `closeAll()`: running and stopping the dispatchers of a map.
 *
 * @module
 */
import { schedulerFor } from "./_scheduler.js";
import { type SocketMap, socketMap } from "./socket-map.js";

/**
 * Options of {@link loop}.
 *
 * @example
 * ```ts
 * await loop({ map, timeout: 1000, count: 10 }); // at most 10 iterations over `map`
 * ```
 */
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
  if (map.size === 0) return;
  await schedulerFor(map).run(
    options.count ?? Number.POSITIVE_INFINITY,
    Math.max(0, options.timeout ?? 30000),
  );
}

/**
 * Run exactly one iteration: dispatch what is ready, waiting up to `timeout` ms (default 0:
 * one turn of Node's event loop) when nothing is. Python: `asyncore.poll()` / `poll2()`.
 *
 * @example
 * ```ts
 * const client = new HelloClient(["127.0.0.1", port]);
 * while (!client.done) await poll(100); // one iteration at a time, with your own checks between
 * ```
 */
export async function poll(timeout = 0, map: SocketMap = socketMap): Promise<void> {
  if (map.size === 0) return;
  await schedulerFor(map).run(1, Math.max(0, timeout));
}

/**
 * Close every dispatcher of `map` and empty it. Errors from `close()` propagate unless
 * `ignoreAll`; a closed descriptor (`EBADF`) is always ignored. Python: `asyncore.close_all()`.
 *
 * @example
 * ```ts
 * process.once("SIGINT", () => closeAll()); // loop() then ends: its map is empty
 * await loop();
 * ```
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
