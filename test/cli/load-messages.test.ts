import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MESSAGE_COUNT, makeMessages } from "../../src/cli/load-messages.js";

describe("makeMessages", () => {
  it("makes views over one random pattern without lines", () => {
    const { messages, lines } = makeMessages(100, false);
    assert.equal(lines, false);
    assert.equal(messages.length, MESSAGE_COUNT);
    for (const m of messages) assert.equal(m.length, 100);
    // Each view starts one byte further on in the same pattern.
    assert.equal(messages[1]!.buffer, messages[0]!.buffer);
    assert.equal(messages[1]!.byteOffset, messages[0]!.byteOffset + 1);
    assert.deepEqual(messages[0]!.subarray(1), messages[1]!.subarray(0, 99));
  });

  it("makes lines: size - 1 bytes without a line end, then one", () => {
    for (const size of [1, 2, 1024, 102_400]) {
      const { messages, lines } = makeMessages(size, true);
      assert.equal(lines, true);
      assert.equal(messages.length, MESSAGE_COUNT);
      for (const m of messages) {
        assert.equal(m.length, size);
        assert.equal(m.indexOf(10), size - 1, `size ${size}: a "\\n" before the end`);
      }
      if (size > 8)
        for (let i = 1; i < messages.length; i++) assert.notDeepEqual(messages[i], messages[i - 1]);
    }
  });

  it("keeps large line messages to 32 MiB in all, at least two, never a multiple of 13", () => {
    assert.equal(makeMessages(1024 * 1024, true).messages.length, 32);
    assert.equal(makeMessages(20 * 1024 * 1024, true).messages.length, 2);
    // 32 MiB / 2.5 MiB = 13 would send each connection the same message every time.
    assert.equal(makeMessages(2.5 * 1024 * 1024, true).messages.length, 12);
  });
});
