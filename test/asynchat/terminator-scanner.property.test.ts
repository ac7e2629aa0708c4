/**
 * Property tests of TerminatorScanner with fast-check: for any input, any initial terminator,
 * any terminator changes made from `foundTerminator`, and any split of the input into reads,
 * - the calls are exactly those of the line-by-line model of CPython's `handle_read` for that
 *   split, and
 * - the framing does not depend on the split: merging consecutive `collectIncomingData` calls
 *   gives the same sequence of data and `foundTerminator` calls as feeding it in one read.
 * (Changes made from `collectIncomingData` depend on how the input is cut in CPython too, so
 * they are checked against the model only.)
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type Action, type ChatCase, runReference, runScanner, type TermSpec } from "./chat-cases.js";

const hex = (s: string): string => Buffer.from(s, "latin1").toString("hex");

/** Tokens that make terminators, their prefixes and near misses frequent. */
const token = fc.constantFrom("a", "b", "\n", "\r", "\r\n", ";", "ab", "aab", "\r\r\n", "x".repeat(70));
const input = fc.array(token, { maxLength: 40 }).map((t) => t.join(""));

const termSpec: fc.Arbitrary<TermSpec> = fc.oneof(
  fc
    .constantFrom("\n", "\r\n", ";", "ab", "aab", "\r\n\r\n", "b;a")
    .map((s): TermSpec => ({ k: "b", hex: hex(s) })),
  fc.integer({ min: 0, max: 9 }).map((n): TermSpec => ({ k: "n", n })),
  fc.constant<TermSpec>({ k: "none" }),
);
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: termSpec.map((t): Action => ({ t })) },
  { weight: 2, arbitrary: fc.constant<Action>(null) },
);
const cutPoints = fc.array(fc.nat(), { maxLength: 12 });

/** Cut `data` at the given points (taken modulo its length), in order. */
function split(data: string, points: number[]): string[] {
  const cuts = [...new Set(points.map((p) => (data.length === 0 ? 0 : p % (data.length + 1))))].sort(
    (a, b) => a - b,
  );
  const parts: string[] = [];
  let from = 0;
  for (const c of cuts) {
    parts.push(data.slice(from, c));
    from = c;
  }
  parts.push(data.slice(from));
  return parts;
}

/** The framing: collect calls merged, read markers dropped. */
function framing(events: string[]): string[] {
  const out: string[] = [];
  let data = "";
  for (const e of events) {
    if (e.startsWith("c:")) data += e.slice(2);
    else if (e === "f") {
      out.push(`d:${data}`, "f");
      data = "";
    } else if (e.startsWith("e:")) out.push(e);
  }
  if (data !== "") out.push(`d:${data}`);
  return out;
}

test("any split: the same calls as CPython's handle_read model, and the same framing as one read", () => {
  fc.assert(
    fc.property(
      input,
      termSpec,
      fc.array(action, { maxLength: 12 }),
      cutPoints,
      (data, initial, onFound, cuts) => {
        const whole: ChatCase = { chunks: [hex(data)], initial, onFound, onCollect: [] };
        const parts: ChatCase = { chunks: split(data, cuts).map(hex), initial, onFound, onCollect: [] };
        const ours = runScanner(parts);
        assert.deepEqual(ours, runReference(parts));
        assert.deepEqual(framing(ours), framing(runScanner(whole)));
      },
    ),
    { numRuns: 400 },
  );
});

test("byte by byte: the same framing as one read", () => {
  fc.assert(
    fc.property(input, termSpec, fc.array(action, { maxLength: 12 }), (data, initial, onFound) => {
      const bytes = [...data].map(hex);
      const ours = runScanner({ chunks: bytes, initial, onFound, onCollect: [] });
      const whole = runScanner({ chunks: [hex(data)], initial, onFound, onCollect: [] });
      assert.deepEqual(framing(ours), framing(whole));
    }),
    { numRuns: 200 },
  );
});

test("terminators changed from collectIncomingData: the same calls as the model for any split", () => {
  fc.assert(
    fc.property(
      input,
      termSpec,
      fc.array(action, { maxLength: 8 }),
      fc.array(action, { maxLength: 8 }),
      cutPoints,
      (data, initial, onFound, onCollect, cuts) => {
        const c: ChatCase = { chunks: split(data, cuts).map(hex), initial, onFound, onCollect };
        assert.deepEqual(runScanner(c), runReference(c));
      },
    ),
    { numRuns: 300 },
  );
});
