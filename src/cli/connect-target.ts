/**
 * Where the load generator connects, and the small connection helpers it is built from:
 * a bounded connect, a one-byte echo probe, and errors that say what to do about a resource limit.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import { type CodedError, codedError, invalidArgValue } from "../errors.js";

/** A TCP `host`/`port` or a Unix-domain socket `path` (exactly one of `port` and `path`). */
export interface LoadTarget {
  /** TCP host; default `127.0.0.1`. Ignored when `path` is given. */
  host?: string;
  /** TCP port. */
  port?: number;
  /** Unix-domain socket path. */
  path?: string;
}

/**
 * Check a target and return it with defaults applied.
 * @throws {RangeError} `ERR_INVALID_ARG_VALUE` when neither or both of `port` and `path` are
 * given, or the port is not an integer in [1, 65535].
 */
export function normalizeTarget(target: LoadTarget): LoadTarget {
  const hasPath = typeof target.path === "string" && target.path !== "";
  if (hasPath === (target.port !== undefined)) {
    throw invalidArgValue("Cannot connect: give exactly one of a TCP port and a Unix socket path");
  }
  if (hasPath) return { path: target.path! };
  const port = target.port!;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidArgValue(`Cannot connect: port must be an integer in [1, 65535], got ${port}`);
  }
  return { host: target.host ?? "127.0.0.1", port };
}

/** `127.0.0.1:8080`, `[::1]:8080` or the socket path, for messages. */
export function formatTarget(target: LoadTarget): string {
  if (target.path) return target.path;
  const host = target.host ?? "127.0.0.1";
  return host.includes(":") ? `[${host}]:${target.port}` : `${host}:${target.port}`;
}

/** Options of {@link connectSocket}. */
export interface ConnectSocketOptions {
  /** Give up after this many milliseconds (`ETIMEDOUT`). */
  timeoutMs: number;
  /** Read into a reused buffer instead of emitting `'data'` (node:net's `onread`). */
  onread?: net.OnReadOpts;
  /** Destroy the socket and reject with `signal.reason` on abort. */
  signal?: AbortSignal;
}

/**
 * Open one TCP or Unix connection and resolve once it is connected (with Nagle's algorithm
 * off). The socket is destroyed before the promise rejects.
 *
 * @throws Rejects with the system error (`ECONNREFUSED`, `EMFILE`, …), `ETIMEDOUT`, or
 * `signal.reason` when aborted.
 * @example
 * ```ts
 * const sock = await connectSocket({ host: "127.0.0.1", port }, { timeoutMs: 5000 });
 * ```
 */
export function connectSocket(target: LoadTarget, opts: ConnectSocketOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const base = opts.onread ? { onread: opts.onread } : {};
    const sock = target.path
      ? net.connect({ ...base, path: target.path })
      : net.connect({ ...base, host: target.host ?? "127.0.0.1", port: target.port!, noDelay: true });
    const timer = setTimeout(
      () =>
        onError(
          codedError(
            "ETIMEDOUT",
            `Cannot connect to ${formatTarget(target)}: no answer in ${opts.timeoutMs} ms`,
          ),
        ),
      opts.timeoutMs,
    );
    const onAbort = (): void => onError(opts.signal!.reason);
    const onError = (err: unknown): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      sock.destroy();
      reject(err);
    };
    sock.once("error", onError);
    sock.once("connect", () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      sock.off("error", onError);
      resolve(sock);
    });
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Send one byte, `"\n"`, over a fresh connection and wait for its echo; resolves with the
 * round-trip time in milliseconds. A line end is a whole line to a line-framed echo server and
 * just a byte to any other, so every echo server answers it. Because a server accepts in order,
 * a successful probe also shows that every connection opened before it has been accepted.
 *
 * @throws Rejects with the connect error, `ETIMEDOUT`, or `ERR_UNEXPECTED_EOF` when the server
 * closes without echoing.
 */
export async function probeEcho(target: LoadTarget, timeoutMs: number): Promise<number> {
  const started = performance.now();
  const sock = await connectSocket(target, { timeoutMs });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            codedError("ETIMEDOUT", `Echo probe to ${formatTarget(target)}: no echo in ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      const done = (err?: Error): void => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      sock.once("data", () => done());
      sock.once("error", done);
      sock.once("end", () =>
        done(
          codedError("ERR_UNEXPECTED_EOF", `Echo probe to ${formatTarget(target)}: closed without an echo`),
        ),
      );
      sock.write("\n");
    });
  } finally {
    sock.destroy();
  }
  return performance.now() - started;
}

let fdLimit: string | undefined;

/**
 * The process's open-file limit as `soft/hard`, read from /proc on Linux ("?" elsewhere). The
 * first answer is kept, so call it once before opening many files: once the limit is reached,
 * /proc cannot be opened any more.
 */
export function describeFdLimit(): string {
  if (fdLimit !== undefined) return fdLimit;
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const parts = line?.trim().split(/\s+/) ?? [];
    fdLimit = parts.length >= 5 ? `${parts[3]}/${parts[4]}` : "?";
  } catch {
    return "?";
  }
  return fdLimit;
}

/**
 * Wrap a failure to open connection number `index` (0-based) of `wanted` into an error that
 * says what to do: raise `ulimit -n` for `EMFILE`/`ENFILE`, widen the ephemeral port range for
 * `EADDRNOTAVAIL`. The original code is kept and the original error is the `cause`.
 */
export function connectionLimitError(err: unknown, index: number, wanted: number): Error & CodedError {
  const code = (err as Partial<CodedError>)?.code ?? "ERR_UNKNOWN";
  const what = `Cannot open connection ${index + 1} of ${wanted}`;
  if (code === "EMFILE" || code === "ENFILE") {
    return codedError(
      code,
      `${what}: too many open files (${code}). Each connection takes one file descriptor here and ` +
        `one in the server; the open-file limit (soft/hard) is ${describeFdLimit()}. ` +
        "Raise it with `ulimit -n <n>` in the shell that starts both, or ask for fewer connections.",
      err,
    );
  }
  if (code === "EADDRNOTAVAIL") {
    return codedError(
      code,
      `${what}: no free local port (EADDRNOTAVAIL). Widen net.ipv4.ip_local_port_range, wait for ` +
        "TIME_WAIT sockets to expire, or ask for fewer connections.",
      err,
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return codedError(code, `${what}: ${message}`, err);
}
