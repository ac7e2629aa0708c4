/**
 * What every stream connection shares, whatever its backend: the default water marks, their
 * validation, and the events a connection reports to before its owner starts it.
 *
 * @module
 */
import { invalidArgValue } from "../errors.js";
import type { StreamEvents } from "./backend.js";

/** Default write-buffer high-water mark (asyncio's); the low mark defaults to a quarter of it. */
export const DEFAULT_HIGH_WATER = 64 * 1024;

/**
 * The `[low, high]` water marks for `setWriteBufferLimits(high, low)`, with asyncio's defaults:
 * a missing `high` is `4 × low` (or 64 KiB), a missing `low` is `high / 4`.
 * @throws RangeError `ERR_INVALID_ARG_VALUE` unless `high >= low >= 0`.
 * @example
 * ```ts
 * resolveWriteBufferLimits(1024); // [256, 1024]
 * ```
 */
export function resolveWriteBufferLimits(high?: number, low?: number): [low: number, high: number] {
  const h = high ?? (low !== undefined ? 4 * low : DEFAULT_HIGH_WATER);
  const l = low ?? Math.floor(h / 4);
  if (!(h >= l && l >= 0)) {
    throw invalidArgValue(`Cannot set write buffer limits: high (${h}) must be >= low (${l}) >= 0`);
  }
  return [l, h];
}

/** Events that go nowhere: a connection's owner until `start()`. */
export const noStreamEvents: StreamEvents = {
  onData() {},
  onEnd() {},
  onWritePaused() {},
  onWriteResumed() {},
  onClose() {},
};
