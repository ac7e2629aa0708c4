/**
 * Internal helpers for matching a terminator's prefix at the end of received bytes.
 *
 * Shared by {@link findPrefixAtEnd} and the terminator scanner; not part of the public API.
 *
 * @module
 * @internal
 */

/** Needles up to this length are matched by direct comparison; longer ones use a border table. */
const DIRECT_LIMIT = 16;

/**
 * The border table of `needle` (the Knuth–Morris–Pratt failure function): entry `i` is the
 * length of the longest proper prefix of `needle[0..i]` that is also its suffix.
 * Returns `null` for needles short enough to be matched directly.
 *
 * @internal
 */
export function borderTable(needle: Uint8Array): Int32Array | null {
  if (needle.length <= DIRECT_LIMIT + 1) return null;
  const table = new Int32Array(needle.length);
  let k = 0;
  for (let i = 1; i < needle.length; i++) {
    while (k > 0 && needle[i] !== needle[k]) k = table[k - 1]!;
    if (needle[i] === needle[k]) k++;
    table[i] = k;
  }
  return table;
}

/**
 * The length of the longest proper prefix of `needle` that ends `haystack[start..end)`, as
 * CPython's `find_prefix_at_end`: `-1` for an empty needle, else a value in
 * `[0, needle.length - 1]`. Looks at no more than `needle.length - 1` bytes of the haystack,
 * in O(needle.length) time when `table` (from {@link borderTable}) is given.
 *
 * @internal
 */
export function prefixAtEnd(
  haystack: Uint8Array,
  start: number,
  end: number,
  needle: Uint8Array,
  table: Int32Array | null,
): number {
  const longest = needle.length - 1;
  if (longest <= 0) return longest;
  const from = Math.max(start, end - longest);
  if (table === null) return directPrefixAtEnd(haystack, from, end, needle);
  // Run the matcher for needle[0..longest) over the tail: its final state is the answer. The
  // tail has at most `longest` bytes, so the state can reach `longest` only after the last one.
  let state = 0;
  for (let i = from; i < end; i++) {
    const byte = haystack[i];
    while (state > 0 && needle[state] !== byte) state = table[state - 1]!;
    if (needle[state] === byte) state++;
  }
  return state;
}

/** Try every candidate length from the longest down; the tail `[from, end)` is short. */
function directPrefixAtEnd(haystack: Uint8Array, from: number, end: number, needle: Uint8Array): number {
  for (let length = end - from; length > 0; length--) {
    const at = end - length;
    let i = 0;
    while (i < length && haystack[at + i] === needle[i]) i++;
    if (i === length) return length;
  }
  return 0;
}
