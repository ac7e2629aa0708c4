/**
 * findPrefixAtEnd against CPython's asynchat.find_prefix_at_end, including its edge cases.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { findPrefixAtEnd } from "../../src/asynchat/find-prefix-at-end.js";
import { naivePrefixAtEnd } from "./chat-cases.js";

const b = (s: string): Buffer => Buffer.from(s, "latin1");

describe("findPrefixAtEnd", () => {
  it("ports test_find_prefix_at_end", () => {
    assert.equal(findPrefixAtEnd(b("qwerty\r"), b("\r\n")), 1);
    assert.equal(findPrefixAtEnd(b("qwertydkjf"), b("\r\n")), 0);
  });

  it("keeps CPython's edge cases", () => {
    assert.equal(findPrefixAtEnd(b("abc"), b("")), -1, "empty needle");
    assert.equal(findPrefixAtEnd(b(""), b("")), -1);
    assert.equal(findPrefixAtEnd(b("a"), b("a")), 0, "one-byte needle");
    assert.equal(findPrefixAtEnd(b("qwerty\r\n"), b("\r\n")), 0, "the whole needle is not counted");
    assert.equal(findPrefixAtEnd(b("xaaaa"), b("aaaa")), 3);
    assert.equal(findPrefixAtEnd(b("aa"), b("aaaa")), 2, "haystack shorter than the needle");
    assert.equal(findPrefixAtEnd(b(""), b("\r\n")), 0);
    assert.equal(findPrefixAtEnd(b("\r\n.\r"), b("\r\n.\r\n")), 4);
    assert.equal(findPrefixAtEnd(b("\r\n.\r\n"), b("\r\n.\r\n")), 2);
  });

  it("works on plain Uint8Array views with an offset", () => {
    const backing = new Uint8Array([1, 2, 3, 0x0d, 9, 9]);
    assert.equal(findPrefixAtEnd(backing.subarray(1, 4), new Uint8Array([0x0d, 0x0a])), 1);
    assert.equal(findPrefixAtEnd(backing.subarray(1, 5), new Uint8Array([0x0d, 0x0a])), 0);
  });

  it("equals CPython's definition on short and long needles", () => {
    const bytesOf = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max, min: 97, max: 99 });
    fc.assert(
      fc.property(bytesOf(60), bytesOf(40), (haystack, needle) => {
        assert.equal(findPrefixAtEnd(haystack, needle), naivePrefixAtEnd(haystack, needle));
      }),
      { numRuns: 3000 },
    );
    // Long, highly self-overlapping needles take the border-table path.
    fc.assert(
      fc.property(
        fc.integer({ min: 17, max: 40 }),
        fc.integer({ min: 0, max: 60 }),
        bytesOf(5),
        (len, cut, tail) => {
          const needle = b("ab".repeat(len)).subarray(0, len);
          const haystack = Buffer.concat([tail, b("ab".repeat(40)).subarray(0, cut)]);
          assert.equal(findPrefixAtEnd(haystack, needle), naivePrefixAtEnd(haystack, needle));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("rejects non-bytes with ERR_INVALID_ARG_TYPE", () => {
    assert.throws(() => findPrefixAtEnd("abc" as unknown as Uint8Array, b("c")), {
      name: "TypeError",
      code: "ERR_INVALID_ARG_TYPE",
    });
    assert.throws(() => findPrefixAtEnd(b("abc"), null as unknown as Uint8Array), {
      code: "ERR_INVALID_ARG_TYPE",
    });
  });
});
