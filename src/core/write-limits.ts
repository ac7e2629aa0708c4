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
  const [l, h] = sharedWriteBufferLimits(high, low);
  return [l, h];
}

/** The default `[low, high]` water marks, as one pair every connection can share. */
export const DEFAULT_WRITE_LIMITS: readonly [low: number, high: number] = Object.freeze([
  DEFAULT_HIGH_WATER / 4,
  DEFAULT_HIGH_WATER,
] as const);

/** The pair {@link sharedWriteBufferLimits} gave last. */
let lastLimits = DEFAULT_WRITE_LIMITS;

/**
 * As {@link resolveWriteBufferLimits}, as a frozen pair shared with the previous call when it
 * gave the same marks: the thousands of connections a server sets alike hold one pair between
 * them, and setting them allocates nothing.
 * @throws RangeError `ERR_INVALID_ARG_VALUE` unless `high >= low >= 0`.
 * @example
 * ```ts
 * sharedWriteBufferLimits(1024) === sharedWriteBufferLimits(1024, 256); // true
 * ```
 */
export function sharedWriteBufferLimits(high?: number, low?: number): readonly [low: number, high: number] {
  const h = high ?? (low !== undefined ? 4 * low : DEFAULT_HIGH_WATER);
  const l = low ?? Math.floor(h / 4);
  if (!(h >= l && l >= 0)) {
    throw invalidArgValue(`Cannot set write buffer limits: high (${h}) must be >= low (${l}) >= 0`);
  }
  if (!Object.is(l, lastLimits[0]) || !Object.is(h, lastLimits[1]))
    lastLimits = Object.freeze([l, h] as const);
  return lastLimits;
}

/** Events that go nowhere: a connection's owner until `start()`. */
export const noStreamEvents: StreamEvents = {
  onData() {},
  onEnd() {},
  onWritePaused() {},
  onWriteResumed() {},
  onClose() {},
};
