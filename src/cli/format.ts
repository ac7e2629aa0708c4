/**
 * Number formatting for the command-line reports (fixed `en-US` grouping so output is stable).
 *
 * @module
 */

const grouped = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** `1234567.8` → `"1,234,568"`. */
export function formatInt(n: number): string {
  return grouped.format(Math.round(n));
}

/** A number with `digits` decimals, or `"n/a"` for `null`/non-finite values. */
export function formatFixed(n: number | null | undefined, digits: number): string {
  return n === null || n === undefined || !Number.isFinite(n) ? "n/a" : n.toFixed(digits);
}

/** Bytes as `512 B`, `3.2 KiB`, `41.0 MiB`, `1.20 GiB` (`"n/a"` for `null`). */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "n/a";
  const abs = Math.abs(n);
  if (abs < 1024) return `${Math.round(n)} B`;
  if (abs < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (abs < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** A latency in ms with 3 significant-ish decimals: `0.042`, `1.27`, `153`. */
export function formatMs(ms: number): string {
  if (ms < 1) return ms.toFixed(3);
  if (ms < 100) return ms.toFixed(2);
  return ms.toFixed(0);
}
