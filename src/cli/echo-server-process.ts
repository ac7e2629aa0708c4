/**
 * An echo server run as a child process for benchmarking: started (optionally pinned to a CPU),
 * found through the `listening on <address>` line it prints, measured through /proc, and stopped
 * by PID.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { codedError } from "../errors.js";
import type { LoadTarget } from "./connect-target.js";
import { pinnedCommand, readCpuMs, readRssBytes } from "./process-stats.js";

/** Options of {@link EchoServerProcess.start}. */
export interface EchoServerOptions {
  /** The command to run, e.g. `[process.execPath, "dist-test/bench/servers/raw-net-echo.js"]`. */
  argv: readonly string[];
  /** Pin the server to this CPU with `taskset -c` when possible. */
  pinCore?: number;
  /** How long to wait for the `listening on` line (default 10000 ms). */
  startTimeoutMs?: number;
  /** Variables added to this process's environment for the server, e.g. `{ ASYNCORE_BACKEND: "native" }`. */
  env?: Readonly<Record<string, string>>;
}

/**
 * The address in a `listening on 127.0.0.1:8080` / `listening on [::1]:8080` /
 * `listening on /tmp/echo.sock` line, or `undefined` when the line is not one of those.
 */
export function parseListeningLine(line: string): LoadTarget | undefined {
  const m = /listening on (\S+)\s*$/.exec(line);
  if (!m) return undefined;
  const addr = m[1]!;
  const tcp = /^\[?([^\]]*?)\]?:(\d+)$/.exec(addr);
  if (tcp && !addr.startsWith("/")) return { host: tcp[1]!, port: Number(tcp[2]) };
  return addr.startsWith("/") || addr.startsWith(".") ? { path: addr } : undefined;
}

const live = new Set<EchoServerProcess>();
let exitHookInstalled = false;

/** Kill (SIGKILL, by PID) every server still running when this process exits. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const s of live) s.killNow();
  });
}

const TAIL = 4096;

/**
 * A running echo server child process. Its stdout and stderr are drained all along (so it never
 * blocks on a full pipe); the last 4 KiB of stderr are kept for error messages.
 *
 * @example
 * ```ts
 * const server = await EchoServerProcess.start({ argv: [process.execPath, "raw-net-echo.js"] });
 * console.log(server.target, server.cpuMs());
 * await server.stop();
 * ```
 */
export class EchoServerProcess {
  readonly pid: number;
  /** Where the server said it listens. */
  readonly target: LoadTarget;
  #child: ChildProcess;
  #stderr: { text: string };
  #exited: Promise<void>;

  private constructor(
    child: ChildProcess,
    target: LoadTarget,
    stderr: { text: string },
    exited: Promise<void>,
  ) {
    this.pid = child.pid!;
    this.#child = child;
    this.target = target;
    this.#stderr = stderr;
    this.#exited = exited;
  }

  /**
   * Start the server and resolve once it printed its `listening on` line.
   * @throws Rejects with `ERR_SERVER_START` when the command cannot run or exits first, and with
   * `ETIMEDOUT` when no such line comes in time (the child is killed first).
   */
  static start(opts: EchoServerOptions): Promise<EchoServerProcess> {
    const argv = pinnedCommand(opts.argv, opts.pinCore);
    const timeoutMs = opts.startTimeoutMs ?? 10_000;
    installExitHook();
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), {
        stdio: ["ignore", "pipe", "pipe"],
        env: opts.env ? { ...process.env, ...opts.env } : process.env,
      });
      const stderr = { text: "" };
      let stdout = "";
      let settled = false;
      const exited = new Promise<void>((res) => child.once("close", () => res()));
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          process.kill(child.pid, "SIGKILL");
        }
        reject(err);
      };
      const timer = setTimeout(
        () => fail(codedError("ETIMEDOUT", `Echo server printed no "listening on" line in ${timeoutMs} ms`)),
        timeoutMs,
      );
      child.once("error", (err) =>
        fail(codedError("ERR_SERVER_START", `Cannot start ${argv.join(" ")}: ${err.message}`, err)),
      );
      child.once("exit", (code, signal) =>
        fail(
          codedError(
            "ERR_SERVER_START",
            `Echo server exited (${signal ?? `code ${code}`}) before listening: ${stderr.text.trim() || "no output"}`,
          ),
        ),
      );
      child.stderr!.setEncoding("utf8");
      child.stderr!.on("data", (s: string) => {
        stderr.text = (stderr.text + s).slice(-TAIL);
      });
      child.stdout!.setEncoding("utf8");
      child.stdout!.on("data", (s: string) => {
        if (settled) return;
        stdout = (stdout + s).slice(-TAIL);
        for (const line of stdout.split("\n")) {
          const target = parseListeningLine(line);
          if (target === undefined) continue;
          settled = true;
          clearTimeout(timer);
          const server = new EchoServerProcess(child, target, stderr, exited);
          live.add(server);
          exited.then(() => live.delete(server));
          resolve(server);
          return;
        }
      });
    });
  }

  /** True once the process has exited. */
  get exited(): boolean {
    return this.#child.exitCode !== null || this.#child.signalCode !== null;
  }

  /** CPU time (user + system) used so far in ms, or `null` where /proc is missing. */
  cpuMs(): number | null {
    return readCpuMs(this.pid);
  }

  /** Resident memory in bytes, or `null` where /proc is missing. */
  rssBytes(): number | null {
    return readRssBytes(this.pid);
  }

  /** The last 4 KiB the server wrote to stderr. */
  stderrTail(): string {
    return this.#stderr.text;
  }

  /** Send SIGKILL by PID at once (for exit hooks). */
  killNow(): void {
    if (!this.exited) {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch (err) {
        // ESRCH: it exited meanwhile; anything else (EPERM) cannot be helped in an exit hook.
        if ((err as NodeJS.ErrnoException).code !== "ESRCH")
          process.stderr.write(`Cannot kill ${this.pid}: ${err}\n`);
      }
    }
  }

  /**
   * Stop the server: SIGTERM by PID, then SIGKILL if it is still running after `graceMs`
   * (default 3000). Resolves once the process has exited.
   */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.exited) {
      try {
        process.kill(this.pid, "SIGTERM");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
      }
      if (!(await this.#waitExit(graceMs))) {
        this.killNow();
        await this.#waitExit(5000);
      }
    }
    live.delete(this);
  }

  async #waitExit(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const result = await Promise.race([this.#exited.then(() => true), timedOut]);
    clearTimeout(timer);
    return result;
  }
}
