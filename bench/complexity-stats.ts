/**
 * Statistics of the complexity benchmark: medians, spreads and growth exponents (least-squares
 * slopes on log-log axes), one exponent per repetition so that its spread can be reported.
 *
 * @module
 */

/**
 * A cost measured at several sizes, several times: `samples[i][r]` is repetition `r` at
 * `sizes[i]`. Every size has the same number of repetitions.
 */
export interface Curve {
  sizes: number[];
  samples: number[][];
}

/** A median with the smallest and largest value around it. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** The median of `xs` (NaN for none). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median, minimum and maximum of `xs`. */
export function spread(xs: readonly number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** The least-squares slope of `log y` against `log x` (NaN with fewer than two usable points). */
export function logLogSlope(xs: readonly number[], ys: readonly number[]): number {
  const px: number[] = [];
  const py: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    if (xs[i]! > 0 && ys[i]! > 0) {
      px.push(Math.log(xs[i]!));
      py.push(Math.log(ys[i]!));
    }
  }
  const n = px.length;
  if (n < 2) return Number.NaN;
  const mx = px.reduce((a, b) => a + b, 0) / n;
  const my = py.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (px[i]! - mx) * (py[i]! - my);
    sxx += (px[i]! - mx) ** 2;
  }
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

/**
 * The growth exponent of `curve` over the sizes `from` ≤ size ≤ `to`: the slope fitted to each
 * repetition separately, summarised as median, min and max; plus the slope of the medians.
 */
export function exponent(
  curve: Curve,
  from = Number.NEGATIVE_INFINITY,
  to = Number.POSITIVE_INFINITY,
): Spread & { ofMedians: number } {
  const keep = curve.sizes.map((s, i) => (s >= from && s <= to ? i : -1)).filter((i) => i >= 0);
  const xs = keep.map((i) => curve.sizes[i]!);
  const reps = Math.min(...keep.map((i) => curve.samples[i]!.length));
  const slopes: number[] = [];
  for (let r = 0; r < reps; r++)
    slopes.push(
      logLogSlope(
        xs,
        keep.map((i) => curve.samples[i]![r]!),
      ),
    );
  const medians = keep.map((i) => median(curve.samples[i]!));
  return { ...spread(slopes), ofMedians: logLogSlope(xs, medians) };
}

/** How far the repetitions of one size stray: (max − min) / median. */
export function relativeSpread(xs: readonly number[]): number {
  const s = spread(xs);
  return s.median > 0 ? (s.max - s.min) / s.median : 0;
}
