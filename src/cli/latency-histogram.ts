/**
 * A log-linear latency histogram in the spirit of HdrHistogram: constant memory, O(1) recording
 * and a bounded relative error, so percentiles over millions of samples cost nothing to keep.
 *
 * @module
 */
import { invalidArgValue } from "../errors.js";

/** Bits of resolution inside one power of two: 2^10 sub-buckets, relative error below 1/512. */
const SUB_BITS = 10;
const SUB_COUNT = 1 << SUB_BITS;
const HALF_COUNT = SUB_COUNT >> 1;
/** Largest power of two tracked: 2^43 ns is about 2.4 hours; larger values are clamped. */
const MAX_EXPONENT = 43;
const MAX_VALUE = 2 ** MAX_EXPONENT - 1;
const BUCKETS = SUB_COUNT + (MAX_EXPONENT - SUB_BITS) * HALF_COUNT;
const TWO_32 = 2 ** 32;

/** Index of the highest set bit of a positive integer up to 2^53. */
function highestBit(value: number): number {
  if (value < TWO_32) return 31 - Math.clz32(value);
  return 63 - Math.clz32(Math.floor(value / TWO_32));
}

/** The bucket that holds an integer value in [0, MAX_VALUE]. */
function bucketOf(value: number): number {
  if (value < SUB_COUNT) return value;
  const shift = highestBit(value) - SUB_BITS + 1;
  const sub = Math.floor(value / 2 ** shift);
  return SUB_COUNT + (shift - 1) * HALF_COUNT + (sub - HALF_COUNT);
}

/** The smallest and largest value that fall into a bucket. */
function bucketRange(index: number): [low: number, high: number] {
  if (index < SUB_COUNT) return [index, index];
  const rest = index - SUB_COUNT;
  const shift = Math.floor(rest / HALF_COUNT) + 1;
  const sub = (rest % HALF_COUNT) + HALF_COUNT;
  const scale = 2 ** shift;
  return [sub * scale, (sub + 1) * scale - 1];
}

/**
 * Counts of non-negative integer values (the load generator records nanoseconds) in log-linear
 * buckets: values below 1024 are exact, larger ones fall into buckets whose width is under 1/512
 * of their value. Percentiles report the highest value of the bucket that holds the requested
 * rank (clamped to the largest value seen), as HdrHistogram does, so they never understate.
 *
 * Python has no counterpart; this belongs to the `asyncore bench` tool.
 *
 * @example
 * ```ts
 * const h = new LatencyHistogram();
 * for (let i = 1; i <= 1000; i++) h.record(i * 1000);
 * h.percentile(99); // about 990_000
 * ```
 */
export class LatencyHistogram {
  #counts = new Float64Array(BUCKETS);
  #count = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;
  #sum = 0;

  /** The largest value recorded without clamping. */
  static readonly maxValue = MAX_VALUE;

  /**
   * Record one value, rounded to an integer; values above {@link LatencyHistogram.maxValue}
   * are recorded as that maximum.
   * @throws {RangeError} `ERR_INVALID_ARG_VALUE` for a negative or non-finite value.
   */
  record(value: number): void {
    if (!(value >= 0) || !Number.isFinite(value)) {
      throw invalidArgValue(`Cannot record a latency: value must be a finite number >= 0, got ${value}`);
    }
    const v = Math.min(Math.round(value), MAX_VALUE);
    this.#counts[bucketOf(v)]! += 1;
    this.#count += 1;
    this.#sum += v;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  /** How many values were recorded. */
  get count(): number {
    return this.#count;
  }

  /** The smallest value recorded (0 when empty). */
  get min(): number {
    return this.#count === 0 ? 0 : this.#min;
  }

  /** The largest value recorded (0 when empty). */
  get max(): number {
    return this.#max;
  }

  /** The arithmetic mean of the recorded values (0 when empty). */
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /**
   * The value at or below which `p` percent of the recorded values lie (0 when empty).
   * `percentile(50)` is the median, `percentile(99.9)` the p99.9, `percentile(100)` the maximum.
   * @throws {RangeError} `ERR_INVALID_ARG_VALUE` when `p` is outside [0, 100].
   */
  percentile(p: number): number {
    if (!(p >= 0 && p <= 100)) {
      throw invalidArgValue(`Cannot compute a percentile: p must be within [0, 100], got ${p}`);
    }
    if (this.#count === 0) return 0;
    if (p === 0) return this.#min;
    // Nearest rank; the tiny slack keeps 99.9% of 1000 at rank 999 despite binary rounding.
    const exact = (p / 100) * this.#count;
    const rank = Math.max(1, Math.ceil(exact - exact * 1e-12));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        const high = bucketRange(i)[1];
        return Math.max(this.#min, Math.min(high, this.#max));
      }
    }
    return this.#max;
  }

  /** Add every value recorded in `other` to this histogram. */
  merge(other: LatencyHistogram): void {
    if (other.#count === 0) return;
    for (let i = 0; i < BUCKETS; i++) this.#counts[i]! += other.#counts[i]!;
    this.#count += other.#count;
    this.#sum += other.#sum;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
  }

  /** Forget every recorded value. */
  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#min = Number.POSITIVE_INFINITY;
    this.#max = 0;
  }
}
