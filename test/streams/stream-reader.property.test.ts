/**
 * Property tests of StreamReader: for any input and any split of it into chunks, a script of
 * readLine / readUntil (several separators) / readExactly gives the same results as the whole
 * input fed at once, and the same as a plain model of asyncio 3.13 working on one flat string.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { cut, type ReadOp, runScript } from "../support/reader-script.js";

/** What the script gives when every byte is there from the start (asyncio 3.13's rules). */
function model(input: string, ops: readonly ReadOp[], limit: number, eof: boolean): string[] {
  let buf = input;
  const out: string[] = [];
  const take = (n: number): string => {
    const s = buf.slice(0, n);
    buf = buf.slice(n);
    return s;
  };
  for (const op of ops) {
    let result: string | null = null; // null: the read would wait for more
    if (op.op === "readExactly") {
      if (buf.length >= op.n) result = `ok:${take(op.n)}`;
      else if (eof) result = `ERR_INCOMPLETE_READ:${take(buf.length)}:${op.n}`;
    } else if (op.op === "read") {
      if (eof) result = `ok:${take(buf.length)}`;
    } else {
      const seps = op.op === "readLine" ? ["\n"] : [op.sep].flat().sort((a, b) => a.length - b.length);
      let best: { start: number; end: number } | null = null;
      for (const sep of seps) {
        const i = buf.indexOf(sep);
        if (i >= 0 && (best === null || i + sep.length < best.end)) best = { start: i, end: i + sep.length };
      }
      const maxLength = seps.at(-1)!.length;
      const overrun = best !== null ? best.start > limit : Math.max(0, buf.length + 1 - maxLength) > limit;
      if (overrun) {
        result = "ERR_LIMIT_OVERRUN";
        if (op.op === "readLine") buf = best === null ? "" : buf.slice(best.end);
      } else if (best !== null) result = `ok:${take(best.end)}`;
      else if (eof) {
        const rest = take(buf.length);
        result = op.op === "readLine" ? `ok:${rest}` : `ERR_INCOMPLETE_READ:${rest}:null`;
      }
    }
    if (result === null) {
      // The run ends the waiting read, and every later one, with an error.
      while (out.length < ops.length) out.push("TEST_END");
      return out;
    }
    out.push(result);
  }
  return out;
}

const token = fc.constantFrom("a", "b", "\n", "\r", ";", "X", "ab", "\r\n", "a".repeat(300));
const input = fc.array(token, { maxLength: 40 }).map((t) => t.join(""));
const separator = fc.constantFrom("\n", "\r\n", ";", "ab", "b;", "X\n", "aXb", "aaaa;");
const separators = fc.array(separator, { minLength: 1, maxLength: 3 });
const readUntilOp = separators.map((sep): ReadOp => ({ op: "readUntil", sep }));
const readExactlyOp = fc.integer({ min: 0, max: 12 }).map((n): ReadOp => ({ op: "readExactly", n }));
const readLineOp = fc.constant<ReadOp>({ op: "readLine" });
const cutPoints = fc.array(fc.nat(), { maxLength: 8 });

/** Run `ops` over `data` cut at `points` (taken modulo its length), then fed whole at once. */
async function splitAndWhole(
  data: string,
  points: number[],
  ops: ReadOp[],
  limit: number,
  eof: boolean,
): Promise<[string[], string[]]> {
  const bytes = Buffer.from(data, "latin1");
  const sorted = points.map((p) => p % (bytes.length + 1)).sort((x, y) => x - y);
  const split = await runScript(cut(bytes, sorted), ops, { limit, eof });
  const whole = await runScript([bytes], ops, { limit, eof, burst: true });
  return [split, whole];
}

describe("StreamReader properties", () => {
  it("any split gives the same lines, records and exact reads (no limit hit)", async () => {
    await fc.assert(
      fc.asyncProperty(
        input,
        cutPoints,
        fc.array(fc.oneof(readLineOp, readUntilOp, readExactlyOp), { maxLength: 8 }),
        fc.boolean(),
        async (data, points, ops, eof) => {
          const script: ReadOp[] = [...ops, { op: "read", n: -1 }];
          const [split, whole] = await splitAndWhole(data, points, script, 1 << 20, eof);
          assert.deepEqual(split, whole);
          assert.deepEqual(whole, model(data, script, 1 << 20, eof));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("any split gives the same results with a small limit (readUntil overruns keep the data)", async () => {
    await fc.assert(
      fc.asyncProperty(
        input,
        cutPoints,
        fc.array(fc.oneof(readUntilOp, readExactlyOp), { maxLength: 8 }),
        fc.integer({ min: 1, max: 12 }),
        async (data, points, ops, limit) => {
          const script: ReadOp[] = [...ops, { op: "read", n: -1 }];
          const [split, whole] = await splitAndWhole(data, points, script, limit, true);
          assert.deepEqual(split, whole);
          assert.deepEqual(whole, model(data, script, limit, true));
        },
      ),
      { numRuns: 300 },
    );
  });
});
