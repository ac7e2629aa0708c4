/**
 * SimpleProducer, as asynchat.simple_producer (test_simple_producer's producer side).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Producer, SimpleProducer } from "../../src/asynchat/producer.js";

/** Call more() until it returns nothing, plus a few more times to check it stays empty. */
function drain(p: Producer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < 10_000; i++) {
    const piece = p.more();
    if (piece.length === 0) break;
    out.push(Buffer.from(piece));
  }
  for (let i = 0; i < 3; i++) assert.equal(p.more().length, 0, "stays exhausted");
  return out;
}

describe("SimpleProducer", () => {
  it("hands out buffer-size pieces, then the rest (test_simple_producer's data)", () => {
    const data = Buffer.from("hello world\nI'm not dead yet!\nQUIT\n");
    const pieces = drain(new SimpleProducer(data, 8));
    assert.deepEqual(
      pieces.map((p) => p.length),
      [8, 8, 8, 8, 3],
    );
    assert.deepEqual(Buffer.concat(pieces), data);
  });

  it("gives data of exactly bufferSize bytes in one piece, and empty data as exhausted", () => {
    assert.deepEqual(drain(new SimpleProducer("abcd", 4)), [Buffer.from("abcd")]);
    assert.deepEqual(drain(new SimpleProducer("abcde", 4)), [Buffer.from("abcd"), Buffer.from("e")]);
    assert.deepEqual(drain(new SimpleProducer("")), []);
  });

  it("defaults to 512-byte pieces and encodes strings as UTF-8", () => {
    const pieces = drain(new SimpleProducer("é".repeat(600)));
    assert.deepEqual(
      pieces.map((p) => p.length),
      [512, 512, 176],
    );
    assert.equal(Buffer.concat(pieces).toString("utf8"), "é".repeat(600));
    assert.ok(pieces.every((p) => Buffer.isBuffer(p)));
  });

  it("accepts plain Uint8Arrays and any object with more() as a Producer", () => {
    assert.deepEqual(drain(new SimpleProducer(new Uint8Array([1, 2, 3]), 2)), [
      Buffer.from([1, 2]),
      Buffer.from([3]),
    ]);
    let left = 2;
    const custom: Producer = { more: () => (left > 0 ? `${left--}` : "") };
    assert.deepEqual(drain(custom).map(String), ["2", "1"]);
  });

  it("rejects a bad buffer size and bad data with coded errors", () => {
    for (const size of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new SimpleProducer("x", size), {
        name: "RangeError",
        code: "ERR_INVALID_ARG_VALUE",
      });
    }
    assert.throws(() => new SimpleProducer(5 as unknown as string), {
      name: "TypeError",
      code: "ERR_INVALID_ARG_TYPE",
    });
  });
});
