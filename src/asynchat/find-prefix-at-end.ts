/**
 * `findPrefixAtEnd`: how much of a terminator has already arrived at the end of some bytes.
 *
 * @module
 */
import { invalidArgType } from "../errors.js";
import { borderTable, prefixAtEnd } from "./_prefix-match.js";

/**
 * The length of the longest proper prefix of `needle` with which `haystack` ends: the part of
 * a terminator that has arrived when the rest may still come.
 *
 * Exactly CPython's `asynchat.find_prefix_at_end(haystack, needle)`, including its edge
 * cases: the whole needle is never counted (a haystack ending with all of `needle` gives the
 * length of a shorter prefix, often `0`), a one-byte needle always gives `0`, and an empty
 * needle gives `-1`. Runs in time linear in `needle.length` and looks at no more than
 * `needle.length - 1` bytes of the haystack.
 *
 * @param haystack - The bytes received so far.
 * @param needle - The terminator.
 * @returns A number from `0` to `needle.length - 1`, or `-1` when `needle` is empty.
 * @throws TypeError with code `ERR_INVALID_ARG_TYPE` when either argument is not a `Uint8Array`.
 *
 * @example
 * ```ts
 * findPrefixAtEnd(Buffer.from("qwerty\r"), Buffer.from("\r\n"));    // 1
 * findPrefixAtEnd(Buffer.from("qwertydkjf"), Buffer.from("\r\n")); // 0
 * ```
 */
export function findPrefixAtEnd(haystack: Uint8Array, needle: Uint8Array): number {
  if (!(haystack instanceof Uint8Array)) {
    throw invalidArgType(`Cannot find prefix: haystack must be a Uint8Array, got ${typeof haystack}`);
  }
  if (!(needle instanceof Uint8Array)) {
    throw invalidArgType(`Cannot find prefix: needle must be a Uint8Array, got ${typeof needle}`);
  }
  return prefixAtEnd(haystack, 0, haystack.length, needle, borderTable(needle));
}
