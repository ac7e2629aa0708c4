/**
 * Idle connections held by a child process of their own (`idle-holder.js`), so that what
 * thousands of quiet sockets cost a process (a bigger heap, slower major collections) is not
 * paid by the load generator, whose CPU would otherwise limit the throughput measured. The
 * child inherits this process's CPU affinity (pinned load generator, pinned holder) and its
 * open-file limit.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { codedError } from "../errors.js";
import type { LoadTarget } from "./connect-target.js";
import type { IdleConnections } from "./idle-connections.js";

/** The child script, compiled next to this module. */
const HOLDER_SCRIPT = fileURLToPath(new URL("./idle-holder.js", import.meta.url));

/** What the parent tells the holder on its command line (one JSON argument). */
export interface HolderConfig {
  target: LoadTarget;
  count: number;
  batchSize: number;
  timeoutMs: number;
  /** The holder gives up (closes everything and exits) when not all are open this long after it started… */
  openMs: number;
  /** …and closes everything and exits this long after all are open, whatever happens. */
  holdMs: number;
}

/** Messages from the holder to the parent over the IPC channel. */
export type HolderMessage =
  | { type: "opened"; opened: number }
  | { type: "ready"; count: number }
  | { type: "fault"; code: string }
  | { type: "error"; code: string; message: string };

/** Messages from the parent to the holder. */
export type ParentMessage = { type: "close" };

/** Options of {@link openIdleProcess}. */
export interface IdleProcessOptions {
  /** How many connections to open. */
  count: number;
  /** Connects pending at once (default 200). */
  batchSize?: number;
  /** Give up on one connect after this many milliseconds (default 10000). */
  timeoutMs?: number;
  /**
   * How long the connections may stay open once all are open (default 60000 ms); then the
   * holder closes them and exits even if nobody asked it to. A bound for the case this process
   * hangs; when this process dies the holder ends at once.
   */
  holdMs?: number;
  /** Called after each batch with how many are open so far. */
  onBatch?: (opened: number) => void;
  /**
   * Called when an open idle connection fails (`ERR_UNEXPECTED_EOF`, `ERR_UNEXPECTED_DATA`, a
   * system code), and with `ERR_IDLE_HOLDER` when the holder exits before it was told to close.
   */
  onFault?: (code: string) => void;
  /** Stop opening, close what was opened, end the holder; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** Idle connections held by a child process. */
export interface IdleProcess extends IdleConnections {
  /** The holder's process id. */
  readonly pid: number;
}

const STDERR_TAIL = 4096;
/** Time allowed for Node to start the holder, on top of the connects. */
const START_MS = 10_000;
/** How long the holder gets to close its connections and exit before SIGKILL. */
const EXIT_GRACE_MS = 5000;

function holderError(message: string, cause?: unknown): Error {
  return codedError("ERR_IDLE_HOLDER", message, cause);
}

/** True while `child` has not exited. */
function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolve once `child` has exited: ask it to close, then SIGKILL (by PID) after `graceMs`. */
async function endHolder(child: ChildProcess, exited: Promise<void>, graceMs: number): Promise<void> {
  if (!running(child)) return exited;
  if (child.connected) {
    // A holder that misses this (it is exiting already) is covered by the SIGKILL below.
    child.send({ type: "close" } satisfies ParentMessage, (err) => {
      if (err && running(child)) child.kill("SIGKILL");
    });
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs);
  });
  const timedOut = await Promise.race([exited.then(() => false), late]);
  clearTimeout(timer);
  if (timedOut && running(child)) child.kill("SIGKILL");
  return exited;
}

/**
 * Start a holder process that opens `count` idle connections to `target` (with
 * `openIdleConnections`, in bounded batches) and keeps them open and quiet; resolves once all
 * are open. `close()` tells the holder to close them and resolves once it has exited. The holder
 * ends by itself when this process dies (its IPC channel closes) and `holdMs` after all were
 * open; it ignores SIGINT so that this process decides when it ends.
 *
 * @throws Rejects, after the holder has exited, with the first connect failure (`EMFILE` with
 * advice to raise `ulimit -n`, also when `count` exceeds the holder's open-file limit before any
 * connect; `ECONNREFUSED`, `ETIMEDOUT`, …); with `ERR_IDLE_HOLDER` when the holder cannot be
 * started or exits before it is ready; with `signal.reason` when aborted.
 * @example
 * ```ts
 * const idle = await openIdleProcess({ host: "127.0.0.1", port }, { count: 10_000 });
 * // … measure the server …
 * await idle.close();
 * ```
 */
export function openIdleProcess(target: LoadTarget, opts: IdleProcessOptions): Promise<IdleProcess> {
  const batchSize = Math.max(1, opts.batchSize ?? 200);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const openMs = START_MS + Math.ceil(opts.count / batchSize) * (timeoutMs + 1000);
  const config: HolderConfig = {
    target,
    count: opts.count,
    batchSize,
    timeoutMs,
    openMs,
    holdMs: opts.holdMs ?? 60_000,
  };
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(opts.signal.reason);
      return;
    }
    if (!existsSync(HOLDER_SCRIPT)) {
      reject(holderError(`Cannot start the idle connection holder: ${HOLDER_SCRIPT} does not exist`));
      return;
    }
    const child = spawn(process.execPath, [HOLDER_SCRIPT, JSON.stringify(config)], {
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    // 'close' comes after 'exit' and after the IPC channel closed: every message has arrived.
    const exited = new Promise<void>((res) => child.once("close", () => res()));
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (s: string) => {
      stderr = (stderr + s).slice(-STDERR_TAIL);
    });
    let phase: "opening" | "ready" | "closing" = "opening";
    let count = 0;

    const fail = (err: unknown): void => {
      if (phase !== "opening") return;
      phase = "closing";
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      endHolder(child, exited, EXIT_GRACE_MS).then(() => reject(err), reject);
    };
    const onAbort = (): void => fail(opts.signal!.reason);
    const timer = setTimeout(
      () => fail(codedError("ETIMEDOUT", `The idle connection holder was not ready in ${openMs} ms`)),
      openMs,
    );
    opts.signal?.addEventListener("abort", onAbort, { once: true });

    child.once("error", (err) =>
      fail(holderError(`Cannot start the idle connection holder (${process.execPath}): ${err.message}`, err)),
    );
    child.once("close", (code, signal) => {
      const how = signal ?? `code ${code}`;
      if (phase === "opening") {
        fail(
          holderError(
            `The idle connection holder exited (${how}) before it was ready: ${stderr.trim() || "no output"}`,
          ),
        );
      } else if (phase === "ready") {
        phase = "closing";
        opts.onFault?.("ERR_IDLE_HOLDER");
      }
    });
    child.on("message", (msg: HolderMessage) => {
      switch (msg.type) {
        case "opened":
          if (phase === "opening") opts.onBatch?.(msg.opened);
          break;
        case "fault":
          if (phase === "ready" || phase === "opening") opts.onFault?.(msg.code);
          break;
        case "error":
          fail(codedError(msg.code, msg.message));
          break;
        case "ready":
          if (phase !== "opening") break;
          phase = "ready";
          count = msg.count;
          clearTimeout(timer);
          opts.signal?.removeEventListener("abort", onAbort);
          resolve({
            pid: child.pid!,
            get count() {
              return phase === "ready" ? count : 0;
            },
            close: () => {
              phase = "closing";
              return endHolder(child, exited, EXIT_GRACE_MS);
            },
          });
          break;
      }
    });
  });
}
