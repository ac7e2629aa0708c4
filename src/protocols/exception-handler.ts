/**
 * Where the protocol layer reports errors that have no caller to go to: a protocol callback
 * that threw, a protocol factory that threw on an incoming connection, an `accept()` failure.
 *
 * There is one handler for the whole process, like asyncio's per-loop exception handler.
 * The default prints the message and the error to stderr; replace it to log elsewhere or to
 * collect errors in tests. Reporting never replaces the error's other effects: a callback that
 * threw still has its connection aborted and the error passed to `connectionLost(err)`.
 *
 * @module
 */
import type { DatagramProtocol, DatagramTransport, Protocol, Transport } from "./protocol.js";

/** What is reported. Python: the `context` dict of `loop.call_exception_handler()`. */
export interface ExceptionContext {
  /** What failed, e.g. `"Exception in Protocol.dataReceived()"`. */
  message: string;
  /** The error (anything thrown is turned into an `Error` with a `code`). */
  exception: Error;
  /** The transport concerned, if any. */
  transport?: Transport | DatagramTransport;
  /** The protocol concerned, if any. */
  protocol?: Protocol | DatagramProtocol;
}

/** A replacement reporter. Python: the handler of `loop.set_exception_handler()`. */
export type ExceptionHandler = (context: ExceptionContext) => void;

let current: ExceptionHandler | null = null;

/**
 * The default report: the message and the error (with its stack) on stderr.
 * Python: `loop.default_exception_handler()`.
 *
 * @example
 * ```ts
 * setExceptionHandler((ctx) => {
 *   if (ctx.exception.code !== "ECONNRESET") defaultExceptionHandler(ctx);
 * });
 * ```
 */
export function defaultExceptionHandler(context: ExceptionContext): void {
  console.error(context.message, context.exception);
}

/**
 * Replace the reporter (`null` restores the default). Returns the handler that was set before
 * (`null` for the default). Python: `loop.set_exception_handler()`.
 *
 * @example
 * ```ts
 * const seen: Error[] = [];
 * const previous = setExceptionHandler((ctx) => seen.push(ctx.exception));
 * // ... later
 * setExceptionHandler(previous);
 * ```
 */
export function setExceptionHandler(handler: ExceptionHandler | null): ExceptionHandler | null {
  const previous = current;
  current = handler;
  return previous;
}

/**
 * The handler set by {@link setExceptionHandler}, or `null`. Python: `loop.get_exception_handler()`.
 *
 * @example
 * ```ts
 * const previous = getExceptionHandler();
 * setExceptionHandler((ctx) => errors.push(ctx.exception));
 * // ... later
 * setExceptionHandler(previous);
 * ```
 */
export function getExceptionHandler(): ExceptionHandler | null {
  return current;
}

/**
 * Report an error through the current handler. A handler that throws is itself reported
 * through the default one, so nothing is lost and nothing propagates.
 * Python: `loop.call_exception_handler()`.
 *
 * @example
 * ```ts
 * callExceptionHandler({ message: "Cannot refresh cache", exception: new Error("boom") });
 * ```
 */
export function callExceptionHandler(context: ExceptionContext): void {
  const handler = current;
  if (handler === null) {
    defaultExceptionHandler(context);
    return;
  }
  try {
    handler(context);
  } catch (err) {
    defaultExceptionHandler({ message: "Unhandled error in the exception handler", exception: asError(err) });
    defaultExceptionHandler(context);
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
