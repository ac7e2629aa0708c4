/**
 * Differential test: our TerminatorScanner against CPython 3.11's real asynchat.async_chat,
 * on random seeded cases (streams over small alphabets, terminators switched inside the
 * callbacks, random reads). Set ASYNCHAT_SEED to replay a run, ASYNCHAT_PYTHON to pick the
 * interpreter (default python3.11, else python3). Skipped only when there is no python3.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type ChatCase,
  findPython,
  makeRng,
  randomCase,
  runPython,
  runReference,
  runScanner,
} from "./chat-cases.js";

const CASES = 400;
const seed = process.env.ASYNCHAT_SEED
  ? Number(process.env.ASYNCHAT_SEED)
  : (Date.now() ^ (process.pid << 8)) >>> 0;
const python = findPython();
const skip = python ? false : "python3 not found: differential test against CPython asynchat skipped";

/** Compare event lists, with a message that replays the failing case. */
function assertSame(actual: string[], expected: string[], c: ChatCase, index: number, who: string): void {
  assert.deepEqual(
    actual,
    expected,
    `${who} differs from CPython in case ${index} (ASYNCHAT_SEED=${seed}): ${JSON.stringify(c)}`,
  );
}

describe("TerminatorScanner matches CPython asynchat", { skip }, () => {
  it(`agrees on ${CASES} random cases (seed ${seed})`, () => {
    const rng = makeRng(seed);
    const cases = Array.from({ length: CASES }, () => randomCase(rng));
    const expected = runPython(cases, python!);
    let found = 0;
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      assertSame(runScanner(c), expected[i]!, c, i, "TerminatorScanner");
      assertSame(runReference(c), expected[i]!, c, i, "The model of handle_read");
      found += expected[i]!.filter((e) => e === "f").length;
    }
    // The cases must really frame data, not only collect it.
    assert.ok(found > CASES, `only ${found} terminators were found in ${CASES} cases (seed ${seed})`);
  });

  it("agrees on hand-picked cases: counts, switches, carried prefixes, errors", () => {
    const hex = (s: string) => Buffer.from(s, "latin1").toString("hex");
    const b = (s: string) => ({ k: "b" as const, hex: hex(s) });
    const cases: ChatCase[] = [
      // test_line_terminator*: one-, two- and three-byte terminators, reads of 1, 2, 3 bytes
      ...["\n", "\r\n", "qqq"].flatMap((t) =>
        [1, 2, 3].map((size) => {
          const data = Buffer.from(`hello world${t}I'm not dead yet!${t}QUIT\n`, "latin1");
          const chunks: string[] = [];
          for (let at = 0; at < data.length; at += size)
            chunks.push(data.subarray(at, at + size).toString("hex"));
          return { chunks, initial: b(t), onFound: [], onCollect: [] };
        }),
      ),
      // a count reached inside one read, then everything collected under the 0 terminator
      {
        chunks: [hex("hello world, I'm not dead yet!\n")],
        initial: { k: "n", n: 6 },
        onFound: [],
        onCollect: [],
      },
      // a count switched to bytes inside foundTerminator, in the same read
      {
        chunks: [hex("abcdXYline\r\nrest")],
        initial: { k: "n", n: 4 },
        onFound: [{ t: b("\r\n") }],
        onCollect: [],
      },
      // collectIncomingData lowers a partly received count (CPython subtracts the read)
      {
        chunks: [hex("ab"), hex("cdefgh")],
        initial: { k: "n", n: 5 },
        onFound: [],
        onCollect: [{ t: { k: "n", n: 1 } }],
      },
      // collectIncomingData replaces a partly received count by bytes: CPython raises TypeError
      {
        chunks: [hex("ab"), hex("cd;ef")],
        initial: { k: "n", n: 5 },
        onFound: [],
        onCollect: [{ t: b(";") }],
      },
      // a terminator set in foundTerminator whose first byte ends the read: carried, then found
      { chunks: [hex("x;a"), hex("b;y;")], initial: b(";"), onFound: [{ t: b("ab;") }, null], onCollect: [] },
      // a read fed from inside foundTerminator (handle_read called again from the callback)
      { chunks: [hex("a\nb\r"), hex("\nc")], initial: b("\n"), onFound: [{ f: hex("z\r") }], onCollect: [] },
      // discard inside foundTerminator drops the rest of the read
      { chunks: [hex("a\nb\nc\n"), hex("d\n")], initial: b("\n"), onFound: [{ d: true }], onCollect: [] },
    ];
    const expected = runPython(cases, python!);
    for (const [i, c] of cases.entries()) assertSame(runScanner(c), expected[i]!, c, i, "TerminatorScanner");
    assert.ok(
      expected.some((events) => events.includes("e:TypeError")),
      "the TypeError case must be covered",
    );
  });
});
