/**
 * The internal hook between `StreamReader` and whatever feeds it from a transport: read-side
 * flow control, as asyncio's `StreamReader.set_transport` / `_maybe_resume_transport` do it.
 *
 * Not exported from the package: the protocol glue of the streams layer imports it directly.
 *
 * Rule (asyncio): once `feedData` leaves more than `2 * limit` bytes buffered, the reader calls
 * `pauseReading()`; when a read brings the buffer down to `limit` bytes or fewer, or a read has
 * to wait for data while paused, it calls `resumeReading()`. Calls always alternate, starting
 * with `pauseReading()`.
 *
 * @module
 */
import { invalidArgValue } from "../errors.js";
import type { StreamReader } from "./stream-reader.js";

/** What a reader needs from its transport: asyncio's `pause_reading` / `resume_reading`. */
export interface ReadingFlowControl {
  pauseReading(): void;
  resumeReading(): void;
}

/** Accessors into a reader's private state, installed by the `StreamReader` class itself. */
export interface ReaderInternals {
  attach(reader: StreamReader, flow: ReadingFlowControl): void;
  bufferedBytes(reader: StreamReader): number;
  isPaused(reader: StreamReader): boolean;
}

let internals: ReaderInternals | undefined;

/** Called once, by `StreamReader`'s static initialiser. */
export function installReaderInternals(value: ReaderInternals): void {
  internals = value;
}

function get(): ReaderInternals {
  if (internals === undefined)
    throw invalidArgValue("Cannot reach reader internals: StreamReader is not loaded");
  return internals;
}

/**
 * Attach `flow` (usually the transport) to `reader`; from now on the reader pauses and
 * resumes it. Data fed before is kept; as in asyncio, the pause check first runs on the next
 * `feedData`. Python: `StreamReader.set_transport`.
 *
 * @throws RangeError `ERR_INVALID_ARG_VALUE` when the reader already has one.
 */
export function attachFlowControl(reader: StreamReader, flow: ReadingFlowControl): void {
  get().attach(reader, flow);
}

/** Bytes currently buffered in `reader` (for the glue's accounting and for tests). */
export function readerBufferedBytes(reader: StreamReader): number {
  return get().bufferedBytes(reader);
}

/** True while `reader` holds its transport paused. */
export function isReaderPaused(reader: StreamReader): boolean {
  return get().isPaused(reader);
}
