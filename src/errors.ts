/**
 * Every error class and code of asyncore-ts, in one place (listed in docs/errors.md).
 *
 * System errors from the operating system (`ECONNREFUSED`, `ECONNRESET`, `EADDRINUSE`, …) pass
 * through unchanged. The library's own failures use built-in classes where one fits, with a
 * string `code` callers can match on, and own classes only for what callers catch.
 *
 * @module
 */

/** An `Error` that carries a string `code`. */
export interface CodedError extends Error {
  code: string;
}

/** Attach `code` to an error instance and return it typed. */
function withCode<E extends Error>(err: E, code: string): E & CodedError {
  (err as E & CodedError).code = code;
  return err as E & CodedError;
}

/** The library's own error codes. */
export const codes = {
  /** An argument has the right type but an unusable value. */
  INVALID_ARG_VALUE: "ERR_INVALID_ARG_VALUE",
  /** An argument has the wrong type. */
  INVALID_ARG_TYPE: "ERR_INVALID_ARG_TYPE",
  /** A callback of yours returned something unusable, e.g. an empty buffer from `getBuffer()`. */
  INVALID_RETURN_VALUE: "ERR_INVALID_RETURN_VALUE",
  /** Nothing is buffered and the peer has not ended: a non-blocking read would block. */
  WOULD_BLOCK: "EWOULDBLOCK",
  /** The operation needs a connected socket. */
  NOT_CONNECTED: "ENOTCONN",
  /** The socket, transport or writer was closed by this side. */
  SOCKET_CLOSED: "ERR_SOCKET_CLOSED",
  /** The dispatcher has no socket yet, or the operation does not fit its kind of socket. */
  BAD_SOCKET: "ERR_BAD_SOCKET",
  /** The stream ended before the requested bytes arrived. */
  INCOMPLETE_READ: "ERR_INCOMPLETE_READ",
  /** A separator was not found within the reader's limit. */
  LIMIT_OVERRUN: "ERR_LIMIT_OVERRUN",
  /** Another read is already waiting on this reader. */
  READ_IN_PROGRESS: "ERR_READ_IN_PROGRESS",
  /** Bytes were fed to a stream reader after its end was marked. */
  PUSH_AFTER_EOF: "ERR_STREAM_PUSH_AFTER_EOF",
  /** `ExitNow` was raised to end the loop. */
  EXIT_NOW: "ERR_EXIT_NOW",
  /** A server option or state does not allow the operation. */
  SERVER_CLOSED: "ERR_SERVER_CLOSED",
  /** A connection was refused or closed by a server limit (connection count, idle time, input size). */
  LIMIT_REACHED: "ERR_LIMIT_REACHED",
  /** A method meant to be overridden by a subclass was not (Python's `NotImplementedError`). */
  METHOD_NOT_IMPLEMENTED: "ERR_METHOD_NOT_IMPLEMENTED",
  /** `ASYNCORE_BACKEND` asks for a socket backend that is not available here (the native addon is not built). */
  BACKEND_UNAVAILABLE: "ERR_BACKEND_UNAVAILABLE",
} as const;

/** A `TypeError` or `RangeError`-style argument error with `ERR_INVALID_ARG_VALUE`. */
export function invalidArgValue(message: string): RangeError & CodedError {
  return withCode(new RangeError(message), codes.INVALID_ARG_VALUE);
}

/** A `TypeError` with `ERR_INVALID_ARG_TYPE`. */
export function invalidArgType(message: string): TypeError & CodedError {
  return withCode(new TypeError(message), codes.INVALID_ARG_TYPE);
}

/** A `TypeError` with `ERR_INVALID_RETURN_VALUE`: a callback returned something unusable. */
export function invalidReturnValue(message: string): TypeError & CodedError {
  return withCode(new TypeError(message), codes.INVALID_RETURN_VALUE);
}

/** A plain `Error` with the given code and message. */
export function codedError(code: string, message: string, cause?: unknown): Error & CodedError {
  return withCode(new Error(message, cause === undefined ? undefined : { cause }), code);
}

/** The error for writing to something this side already closed. */
export function socketClosed(what: string): Error & CodedError {
  return codedError(codes.SOCKET_CLOSED, `Cannot write: ${what} is closed`);
}

/**
 * Raised by a handler to end `loop()` at once; `loop()` rejects with it.
 * Python: `asyncore.ExitNow`.
 *
 * @example
 * ```ts
 * class Quitter extends Dispatcher { handleRead() { throw new ExitNow("done"); } }
 * ```
 */
export class ExitNow extends Error {
  /** Always `ERR_EXIT_NOW`. */
  readonly code = codes.EXIT_NOW;
  constructor(message = "Exit the loop now") {
    super(message);
    this.name = "ExitNow";
  }
}

/**
 * The stream ended before `expected` bytes (or a separator) arrived.
 * `partial` holds what did arrive; it is no longer buffered in the reader.
 * Python: `asyncio.IncompleteReadError`.
 */
export class IncompleteReadError extends Error {
  /** Always `ERR_INCOMPLETE_READ`. */
  readonly code = codes.INCOMPLETE_READ;
  /** The bytes that did arrive before the end. */
  readonly partial: Buffer;
  /** How many bytes were asked for, or `null` when a separator was awaited. */
  readonly expected: number | null;
  constructor(partial: Buffer, expected: number | null) {
    const want = expected === null ? "undefined" : String(expected);
    super(`Incomplete read: ${partial.length} bytes read on a total of ${want} expected bytes`);
    this.name = "IncompleteReadError";
    this.partial = partial;
    this.expected = expected;
  }
}

/**
 * A separator was not found within the reader's limit. `consumed` says how many bytes would
 * have to be consumed to go on; they are still buffered (except after `readLine`, which
 * discards as asyncio does). Python: `asyncio.LimitOverrunError`.
 */
export class LimitOverrunError extends Error {
  /** Always `ERR_LIMIT_OVERRUN`. */
  readonly code = codes.LIMIT_OVERRUN;
  /** How many bytes would have to be consumed to go on. */
  readonly consumed: number;
  constructor(message: string, consumed: number) {
    super(message);
    this.name = "LimitOverrunError";
    this.consumed = consumed;
  }
}

/** True when `err` is an `Error` with a string `code` equal to `code`. */
export function hasCode(err: unknown, code: string): boolean {
  return err instanceof Error && (err as Partial<CodedError>).code === code;
}

/** Wrap anything thrown into an `Error` with a `code`, keeping real coded errors as they are. */
export function toCodedError(value: unknown): Error & CodedError {
  if (value instanceof Error) {
    if (typeof (value as Partial<CodedError>).code !== "string") withCode(value, "ERR_UNKNOWN");
    return value as Error & CodedError;
  }
  return codedError("ERR_UNKNOWN", `Non-error value thrown: ${String(value)}`);
}
