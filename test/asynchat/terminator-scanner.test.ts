/**
 * Pure tests of TerminatorScanner: every split of small inputs against a line-by-line model of
 * CPython's handle_read, terminators changed inside the callbacks, counts, "collect
 * everything" terminators, errors, and the linear-work guarantees.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type TerminatorInput, TerminatorScanner } from "../../src/asynchat/terminator-scanner.js";
import { type Action, type ChatCase, makeRng, runReference, runScanner } from "./chat-cases.js";

const hex = (s: string): string => Buffer.from(s, "latin1").toString("hex");
const bytes = (s: string) => ({ k: "b" as const, hex: hex(s) });

/** Every way of cutting `data` into non-empty reads (2^(n-1) of them). */
function* everySplit(data: string): Generator<string[]> {
  const n = data.length;
  for (let mask = 0; mask < 2 ** Math.max(0, n - 1); mask++) {
    const chunks: string[] = [];
    let from = 0;
    for (let i = 1; i < n; i++) {
      if (mask & (1 << (i - 1))) {
        chunks.push(data.slice(from, i));
        from = i;
      }
    }
    chunks.push(data.slice(from));
    yield chunks;
  }
}

/** All splits into at most three reads, for inputs too long to split every way. */
function* splitsInThree(data: string): Generator<string[]> {
  for (let i = 0; i <= data.length; i++) {
    for (let j = i; j <= data.length; j++) yield [data.slice(0, i), data.slice(i, j), data.slice(j)];
  }
}

/** A recording sink: records (collected data up to each terminator), plus the raw calls. */
class Recorder {
  records: string[] = [];
  current = "";
  calls: string[] = [];
  constructor(private readonly onFound: (self: Recorder) => void = () => {}) {}
  collectIncomingData(data: Buffer): void {
    this.calls.push(`c:${data.toString("latin1")}`);
    this.current += data.toString("latin1");
  }
  foundTerminator(): void {
    this.calls.push("f");
    this.records.push(this.current);
    this.current = "";
    this.onFound(this);
  }
}

function feedAll(scanner: TerminatorScanner, chunks: string[]): void {
  for (const chunk of chunks) scanner.feed(Buffer.from(chunk, "latin1"));
}

/** The same case over every split: exact calls as the model, same records as one read. */
function checkEverySplit(
  data: string,
  initial: ChatCase["initial"],
  onFound: Action[],
  onCollect: Action[] = [],
) {
  const whole = runScanner({ chunks: [hex(data)], initial, onFound, onCollect });
  const splits = data.length <= 12 ? everySplit(data) : splitsInThree(data);
  let count = 0;
  for (const parts of splits) {
    const c: ChatCase = { chunks: parts.map(hex), initial, onFound, onCollect };
    const ours = runScanner(c);
    assert.deepEqual(ours, runReference(c), `split ${JSON.stringify(parts)}`);
    if (onCollect.length === 0) {
      // Framing does not depend on how the input is cut (only the collect calls do).
      const frames = (events: string[]) => events.filter((e) => e === "f").length;
      assert.equal(frames(ours), frames(whole), `split ${JSON.stringify(parts)}`);
    }
    count++;
  }
  assert.ok(count > 1);
}

describe("TerminatorScanner: every split of small inputs", () => {
  it("bytes terminators of 1 to 4 bytes, with overlapping partial matches", () => {
    checkEverySplit("ab\nc\n\nd", bytes("\n"), []);
    checkEverySplit("a\r\rb\r\n\r\n", bytes("\r\n"), []);
    checkEverySplit("xqqxqqqyqqq", bytes("qqq"), []);
    checkEverySplit("aabaaabaab", bytes("aab"), []);
    checkEverySplit("..\r\n.\r\r\n.\r\n", bytes("\r\n.\r"), []);
  });

  it("a long terminator (matched with a border table) carried across reads", () => {
    const term = "abababababababababac"; // 20 bytes, many self-overlaps
    const data = `xx${term.slice(0, 19)}${term}yy${term.slice(0, 7)}`;
    checkEverySplit(data, bytes(term), []);
  });

  it("terminators switched inside foundTerminator", () => {
    checkEverySplit("3\nabc\n2\nxy", bytes("\n"), [
      { t: { k: "n", n: 3 } },
      { t: bytes("\n") },
      { t: { k: "n", n: 2 } },
    ]);
    checkEverySplit("a;b::c;;d", bytes(";"), [{ t: bytes("::") }, { t: bytes(";;") }, { t: { k: "none" } }]);
    checkEverySplit("ab\r\ncd\r\nef", bytes("\r\n"), [{ t: { k: "n", n: 0 } }]);
    checkEverySplit("abcdefgh", { k: "n", n: 2 }, [{ t: { k: "n", n: 3 } }, { t: bytes("g") }, { d: true }]);
  });

  it("terminators switched inside collectIncomingData", () => {
    checkEverySplit(
      "abcdefghij",
      { k: "n", n: 6 },
      [],
      [{ t: { k: "n", n: 3 } }, null, { t: { k: "n", n: 1 } }],
    );
    checkEverySplit("ab;cd;ef;", bytes(";"), [], [{ t: bytes("d;") }, { t: { k: "none" } }]);
    checkEverySplit("aaaa;b", { k: "n", n: 9 }, [], [{ t: bytes(";") }]);
  });

  it("ports test_line_terminator1/2/3: reads of 1, 2 and 3 bytes", () => {
    for (const term of ["\n", "\r\n", "qqq"]) {
      const data = `hello world${term}I'm not dead yet!${term}`;
      for (const size of [1, 2, 3]) {
        const sink = new Recorder();
        const scanner = new TerminatorScanner(sink, term);
        for (let at = 0; at < data.length; at += size) scanner.feed(data.slice(at, at + size));
        assert.deepEqual(sink.records, ["hello world", "I'm not dead yet!"]);
      }
    }
  });

  it("ports test_empty_line: an empty record between two terminators", () => {
    const data = "hello world\n\nI'm not dead yet!\n";
    for (const parts of splitsInThree(data)) {
      const sink = new Recorder();
      feedAll(new TerminatorScanner(sink, "\n"), parts);
      assert.deepEqual(sink.records, ["hello world", "", "I'm not dead yet!"]);
      assert.ok(!sink.calls.includes("c:"), "no empty collectIncomingData for a bytes terminator");
    }
  });
});

describe("TerminatorScanner: byte counts", () => {
  it("ports test_numeric_terminator1/2: one frame, then everything is collected", () => {
    const data = "hello world, I'm not dead yet!\n";
    for (const n of [1, 6]) {
      for (const parts of splitsInThree(data)) {
        const sink = new Recorder();
        const scanner = new TerminatorScanner(sink, n);
        feedAll(scanner, parts);
        assert.deepEqual(sink.records, [data.slice(0, n)]);
        assert.equal(sink.current, data.slice(n));
        assert.equal(scanner.getTerminator(), 0);
      }
    }
  });

  it("counts down across reads and reports the remaining count", () => {
    const sink = new Recorder();
    const scanner = new TerminatorScanner(sink, 10);
    scanner.feed("abc");
    assert.equal(scanner.getTerminator(), 7);
    scanner.feed("defg");
    assert.equal(scanner.getTerminator(), 3);
    scanner.feed("hij");
    assert.equal(scanner.getTerminator(), 0);
    assert.deepEqual(sink.calls, ["c:abc", "c:defg", "c:hij", "f"]);
  });

  it("a count reached exactly at a read's end, then switched from foundTerminator", () => {
    const sink = new Recorder((r) => r.records.length === 1 && scanner.setTerminator("\n"));
    const scanner = new TerminatorScanner(sink, 4);
    scanner.feed("abcd");
    scanner.feed("e\nf");
    assert.deepEqual(sink.calls, ["c:abcd", "f", "c:e", "f", "c:f"]);
  });
});

describe("TerminatorScanner: no terminator", () => {
  for (const term of [null, 0, "", new Uint8Array(0)] as TerminatorInput[]) {
    it(`${JSON.stringify(term)} collects every byte in one call per read, and never frames`, () => {
      const sink = new Recorder();
      const scanner = new TerminatorScanner(sink, term);
      scanner.feed("hello\r\n");
      scanner.feed("");
      scanner.feed("world");
      assert.deepEqual(sink.calls, ["c:hello\r\n", "c:world"]);
      assert.equal(scanner.bufferedLength, 0);
    });
  }

  it("ports test_none_terminator: all data collected, no frame", () => {
    const data = "hello world, I'm not dead yet!\n";
    const sink = new Recorder();
    feedAll(new TerminatorScanner(sink, null), [data.slice(0, 5), data.slice(5)]);
    assert.deepEqual(sink.records, []);
    assert.equal(sink.current, data);
  });
});

describe("TerminatorScanner: setTerminator and getTerminator", () => {
  it("returns bytes as a copied Buffer, counts as numbers, and null", () => {
    const scanner = new TerminatorScanner(new Recorder());
    assert.equal(scanner.getTerminator(), null);
    const source = Buffer.from("\r\n");
    scanner.setTerminator(source);
    source[0] = 0x41;
    const got = scanner.getTerminator() as Buffer;
    assert.deepEqual(got, Buffer.from("\r\n"));
    got[0] = 0x42;
    assert.deepEqual(scanner.getTerminator(), Buffer.from("\r\n"));
    scanner.setTerminator("é.");
    assert.deepEqual(scanner.getTerminator(), Buffer.from([0xc3, 0xa9, 0x2e]));
    scanner.setTerminator(0);
    assert.equal(scanner.getTerminator(), 0);
    scanner.setTerminator("");
    assert.deepEqual(scanner.getTerminator(), Buffer.alloc(0));
  });

  it("ports test_disallow_negative_terminator: RangeError ERR_INVALID_ARG_VALUE, terminator kept", () => {
    const scanner = new TerminatorScanner(new Recorder(), "\n");
    assert.throws(() => scanner.setTerminator(-1), {
      name: "RangeError",
      code: "ERR_INVALID_ARG_VALUE",
      message: "Cannot set terminator: byte count must be >= 0, got -1",
    });
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => scanner.setTerminator(bad), { name: "RangeError", code: "ERR_INVALID_ARG_VALUE" });
    }
    assert.throws(() => new TerminatorScanner(new Recorder(), -5), { code: "ERR_INVALID_ARG_VALUE" });
    assert.deepEqual(scanner.getTerminator(), Buffer.from("\n"));
  });

  it("rejects other kinds of terminators and sinks with ERR_INVALID_ARG_TYPE", () => {
    const scanner = new TerminatorScanner(new Recorder());
    for (const bad of [undefined, true, {}, [10]]) {
      assert.throws(() => scanner.setTerminator(bad as unknown as TerminatorInput), {
        name: "TypeError",
        code: "ERR_INVALID_ARG_TYPE",
      });
    }
    assert.throws(() => new TerminatorScanner({} as Recorder), { code: "ERR_INVALID_ARG_TYPE" });
    assert.throws(() => scanner.feed(42 as unknown as Buffer), { code: "ERR_INVALID_ARG_TYPE" });
  });

  it("throws TypeError when collectIncomingData replaces a partly received count by bytes (as CPython)", () => {
    const sink = { collectIncomingData: () => scanner.setTerminator(";"), foundTerminator: () => {} };
    const scanner = new TerminatorScanner(sink, 5);
    assert.throws(() => scanner.feed("ab"), { name: "TypeError", code: "ERR_INVALID_ARG_TYPE" });
    assert.deepEqual(scanner.getTerminator(), Buffer.from(";"));
    assert.equal(scanner.bufferedLength, 0);
  });
});

describe("TerminatorScanner: errors and discard", () => {
  it("keeps unprocessed bytes when a callback throws, and goes on from them", () => {
    let fail = true;
    const sink = new Recorder(() => {
      if (fail) {
        fail = false;
        throw new Error("boom");
      }
    });
    const scanner = new TerminatorScanner(sink, "\n");
    assert.throws(() => scanner.feed("a\nb\nc"), { message: "boom" });
    assert.equal(scanner.bufferedLength, 3);
    scanner.feed("\n");
    assert.deepEqual(sink.records, ["a", "b", "c"]);
    const c: ChatCase = {
      chunks: [hex("a\nb\nc"), hex("\n")],
      initial: bytes("\n"),
      onFound: [],
      onCollect: [],
    };
    assert.deepEqual(runScanner(c), runReference(c));
  });

  it("discard() drops a carried partial terminator, and the rest of a read from a callback", () => {
    const sink = new Recorder();
    const scanner = new TerminatorScanner(sink, "\r\n");
    scanner.feed("abc\r");
    assert.equal(scanner.bufferedLength, 1);
    scanner.discard();
    scanner.feed("\nd\r\n");
    assert.deepEqual(sink.records, ["abc\nd"]);
    const dropper = new Recorder(() => scanner2.discard());
    const scanner2 = new TerminatorScanner(dropper, "\n");
    scanner2.feed("one\ntwo\nthree\n");
    scanner2.feed("four\n");
    assert.deepEqual(dropper.records, ["one", "four"]);
  });
});

describe("TerminatorScanner: linear work", () => {
  it("searches each byte once, plus at most terminator.length - 1 carried bytes per read", () => {
    const rng = makeRng(20240611);
    for (const term of ["\n", "\r\n", "abab", "abababababababababac"]) {
      const sink = { collectIncomingData() {}, foundTerminator() {} };
      const scanner = new TerminatorScanner(sink, term);
      let fed = 0;
      let feeds = 0;
      for (let i = 0; i < 3000; i++) {
        const size = 1 + Math.floor(rng() * 64);
        let chunk = "";
        for (let j = 0; j < size; j++) chunk += "ab\r\nc"[Math.floor(rng() * 5)];
        if (rng() < 0.05) chunk += term;
        scanner.feed(chunk);
        fed += chunk.length;
        feeds++;
        assert.ok(scanner.bufferedLength <= term.length - 1, `holds ${scanner.bufferedLength} bytes`);
      }
      const bound = fed + feeds * (term.length - 1);
      assert.ok(scanner.bytesSearched <= bound, `searched ${scanner.bytesSearched} > ${bound} for ${term}`);
      assert.ok(scanner.bytesSearched >= fed - term.length, "every byte was searched");
    }
  });

  it("one byte per read over a long unterminated line stays linear", () => {
    const term = "0123456789abcdefghij";
    const scanner = new TerminatorScanner({ collectIncomingData() {}, foundTerminator() {} }, term);
    const line = "0123456789abcdefghi".repeat(500);
    for (const ch of line) scanner.feed(ch);
    assert.ok(scanner.bytesSearched <= line.length * term.length);
    assert.ok(scanner.bufferedLength <= term.length - 1);
  });

  it("100 MiB without a terminator, in 1 MiB reads: holds at most terminator.length - 1 bytes", () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    chunk[chunk.length - 1] = 0x0d; // every read ends with a partial "\r\n"
    let collected = 0;
    let found = 0;
    const scanner = new TerminatorScanner(
      { collectIncomingData: (d) => void (collected += d.length), foundTerminator: () => void found++ },
      "\r\n",
    );
    let fed = 0;
    for (let i = 0; i < 100; i++) {
      scanner.feed(chunk);
      fed += chunk.length;
      assert.equal(scanner.bufferedLength, 1);
      assert.equal(collected + scanner.bufferedLength, fed);
    }
    assert.equal(found, 0);
    assert.ok(scanner.bytesSearched <= fed + 100);
    const counted = new TerminatorScanner(
      { collectIncomingData: (d) => void (collected += d.length), foundTerminator() {} },
      2 ** 40,
    );
    collected = 0;
    for (let i = 0; i < 100; i++) counted.feed(chunk);
    assert.equal(counted.bufferedLength, 0);
    assert.equal(counted.getTerminator(), 2 ** 40 - 100 * chunk.length);
    assert.equal(collected, 100 * chunk.length);
  });
});
