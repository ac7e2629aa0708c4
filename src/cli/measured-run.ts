/**
 * A load run with the server's side measured too: CPU time used during the window and resident
 * memory before and after idle connections open.
 *
 * @module
 */
import { probeEcho } from "./connect-target.js";
import { type LoadOptions, type LoadResult, runLoad } from "./load-generator.js";

/** What a measured run needs to know about the server process. */
export interface MeasurableServer {
  readonly pid: number;
  /** CPU time used so far in ms, or `null` when it cannot be read. */
  cpuMs(): number | null;
  /** Resident memory in bytes, or `null` when it cannot be read. */
  rssBytes(): number | null;
}

/** The server's side of a run; a field is `null` where it could not be measured. */
export interface ServerMetrics {
  pid: number;
  /** CPU time (user + system) the server used during the measured window, ms. */
  cpuMs: number | null;
  /** `cpuMs` per completed request, in microseconds. */
  cpuUsPerRequest: number | null;
  /** Resident memory after one probe connection, before any idle connection opened. */
  rssBaseBytes: number | null;
  /** Resident memory once every idle connection was open and accepted (`null` without idle). */
  rssIdleBytes: number | null;
  /** `(rssIdleBytes - rssBaseBytes) / idle` (`null` without idle). */
  bytesPerIdleConn: number | null;
  /** Resident memory right after the window. */
  rssAfterBytes: number | null;
}

/** A {@link LoadResult} with the server's metrics when a server process was given. */
export interface MeasuredResult extends LoadResult {
  server?: ServerMetrics;
}

/**
 * Run {@link runLoad} and, when `server` is given, measure it: one echo probe first (which also
 * checks the server answers), its RSS then (the baseline), its RSS again once the idle
 * connections are open, and its CPU time over exactly the measured window (from /proc).
 *
 * @throws Rejects as {@link runLoad} does, and with the probe's error when the server does not
 * echo (`ETIMEDOUT`, `ERR_UNEXPECTED_EOF`, `ECONNREFUSED`).
 * @example
 * ```ts
 * const server = await EchoServerProcess.start({ argv: [process.execPath, script] });
 * const r = await runMeasured({ ...server.target, conns: 10, size: 1024, durationMs: 1000 }, server);
 * console.log(r.server?.cpuUsPerRequest);
 * ```
 */
export async function runMeasured(load: LoadOptions, server?: MeasurableServer): Promise<MeasuredResult> {
  if (server === undefined) return runLoad(load);
  await probeEcho(load, load.connectTimeoutMs ?? 10_000);
  const rssBaseBytes = server.rssBytes();
  // Written by the callbacks below; an object keeps the types honest across closures.
  const seen: { rssIdle: number | null; cpuStart: number | null; cpuEnd: number | null } = {
    rssIdle: null,
    cpuStart: null,
    cpuEnd: null,
  };
  const result = await runLoad({
    ...load,
    onIdleReady: async (opened) => {
      seen.rssIdle = server.rssBytes();
      await load.onIdleReady?.(opened);
    },
    onWindowStart: () => {
      load.onWindowStart?.();
      seen.cpuStart = server.cpuMs();
    },
    onWindowEnd: () => {
      seen.cpuEnd = server.cpuMs();
      load.onWindowEnd?.();
    },
  });
  const { rssIdle, cpuStart, cpuEnd } = seen;
  const cpuMs = cpuStart !== null && cpuEnd !== null ? cpuEnd - cpuStart : null;
  const idleDelta =
    rssIdle !== null && rssBaseBytes !== null && result.idle > 0
      ? (rssIdle - rssBaseBytes) / result.idle
      : null;
  return {
    ...result,
    server: {
      pid: server.pid,
      cpuMs,
      cpuUsPerRequest: cpuMs !== null && result.requests > 0 ? (cpuMs * 1000) / result.requests : null,
      rssBaseBytes,
      rssIdleBytes: rssIdle,
      bytesPerIdleConn: idleDelta,
      rssAfterBytes: server.rssBytes(),
    },
  };
}
