import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { LatencyHistogram } from "../../src/cli/latency-histogram.js";

/** The exact nearest-rank percentile of `values`. */
function exactPercentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (p === 0) return sorted[0]!;
  // Integer arithmetic in tenths of a percent, so the rank is exact.
  const rank = Math.max(1, Math.ceil((Math.round(p * 10) * sorted.length) / 1000));
  return sorted[rank - 1]!;
}

describe("LatencyHistogram", () => {
  it("reports zeros when empty", () => {
    const h = new LatencyHistogram();
    assert.equal(h.count, 0);
    assert.equal(h.percentile(50), 0);
    assert.equal(h.percentile(99.9), 0);
    assert.equal(h.min, 0);
    assert.equal(h.max, 0);
    assert.equal(h.mean, 0);
  });

  it("is exact below 1024", () => {
    const h = new LatencyHistogram();
    for (let i = 1000; i >= 1; i--) h.record(i);
    assert.equal(h.count, 1000);
    assert.equal(h.percentile(50), 500);
    assert.equal(h.percentile(99), 990);
    assert.equal(h.percentile(99.9), 999);
    assert.equal(h.percentile(100), 1000);
    assert.equal(h.percentile(0), 1);
    assert.equal(h.min, 1);
    assert.equal(h.max, 1000);
    assert.equal(h.mean, 500.5);
  });

  it("keeps large values within 1/512 above the exact percentile", () => {
    const h = new LatencyHistogram();
    const values: number[] = [];
    for (let i = 1; i <= 10_000; i++) values.push(i * 1_000 + (i % 7));
    for (const v of values) h.record(v);
    for (const p of [50, 90, 99, 99.9]) {
      const exact = exactPercentile(values, p);
      const got = h.percentile(p);
      assert.ok(got >= exact, `p${p}: ${got} < ${exact}`);
      assert.ok(got <= exact * (1 + 1 / 512), `p${p}: ${got} too far above ${exact}`);
    }
    assert.equal(h.percentile(100), 10_000_000 + (10_000 % 7));
  });

  it("matches the exact percentile within its precision on any data", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { minLength: 1, maxLength: 300 }),
        fc.constantFrom(0, 1, 50, 90, 99, 99.9, 100),
        (values, p) => {
          const h = new LatencyHistogram();
          for (const v of values) h.record(v);
          const exact = exactPercentile(values, p);
          const got = h.percentile(p);
          return got >= exact && got <= exact * (1 + 1 / 512) && got <= h.max;
        },
      ),
    );
  });

  it("rounds fractional values and clamps huge ones", () => {
    const h = new LatencyHistogram();
    h.record(2.6);
    h.record(1e18);
    assert.equal(h.min, 3);
    assert.equal(h.max, LatencyHistogram.maxValue);
    assert.equal(h.percentile(100), LatencyHistogram.maxValue);
  });

  it("rejects negative and non-finite values and bad percentiles", () => {
    const h = new LatencyHistogram();
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => h.record(bad), { code: "ERR_INVALID_ARG_VALUE" });
    }
    assert.equal(h.count, 0);
    assert.throws(() => h.percentile(101), { code: "ERR_INVALID_ARG_VALUE" });
    assert.throws(() => h.percentile(-0.5), { code: "ERR_INVALID_ARG_VALUE" });
  });

  it("merges into the same answers as one histogram, and resets", () => {
    const whole = new LatencyHistogram();
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (let i = 0; i < 5000; i++) {
      const v = (i * 7919) % 100_003;
      whole.record(v);
      (i % 2 === 0 ? a : b).record(v);
    }
    a.merge(b);
    for (const p of [0, 50, 99, 99.9, 100]) assert.equal(a.percentile(p), whole.percentile(p));
    assert.equal(a.count, whole.count);
    assert.equal(a.mean, whole.mean);
    a.reset();
    assert.equal(a.count, 0);
    assert.equal(a.percentile(50), 0);
  });
});
