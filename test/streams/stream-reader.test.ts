/**
 * StreamReader, as a pure class: CPython 3.11's test_streams.py StreamReader cases (and 3.13's
 * several-separator cases) ported, each script run over every split of its input; aborts, one
 * read at a time, flow control against a counting fake, async iteration.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import { IncompleteReadError, LimitOverrunError } from "../../src/errors.js";
import { attachFlowControl, isReaderPaused, readerBufferedBytes } from "../../src/streams/_reader-flow.js";
import { StreamReader } from "../../src/streams/stream-reader.js";
import { everySplit, outcome, type ReadOp, runScript, tick } from "../support/reader-script.js";

const DATA = Buffer.from("line1\nline2\nline3\n");
const b = (s: string): Buffer => Buffer.from(s, "latin1");

/** Assert that `p` rejects with an error carrying `code`; the error. */
async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<Error> {
  let caught: unknown;
  await assert.rejects(p, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.equal((caught as { code?: string }).code, code, String(caught));
  return caught as Error;
}

/** Fake flow-control target that records the calls it gets. */
class FlowLog {
  calls: string[] = [];
  pauseReading(): void {
    this.calls.push("pause");
  }
  resumeReading(): void {
    this.calls.push("resume");
  }
}

describe("StreamReader: CPython test_streams cases", () => {
  it("test_feed_empty_data / test_feed_nonempty_data", () => {
    const r = new StreamReader();
    r.feedData(Buffer.alloc(0));
    assert.equal(readerBufferedBytes(r), 0);
    r.feedData(DATA);
    assert.equal(readerBufferedBytes(r), DATA.length);
  });

  it("test_read_zero", async () => {
    const r = new StreamReader();
    r.feedData(DATA);
    assert.deepEqual(await r.read(0), Buffer.alloc(0));
    assert.equal(readerBufferedBytes(r), DATA.length);
  });

  it("test_read: a waiting read(30) gets the chunk fed later", async () => {
    const r = new StreamReader();
    const p = r.read(30);
    await tick();
    r.feedData(DATA);
    assert.deepEqual(await p, DATA);
    assert.equal(readerBufferedBytes(r), 0);
  });

  it("test_read_line_breaks: read(5) stops at 5 bytes", async () => {
    const r = new StreamReader();
    r.feedData(b("line1"));
    r.feedData(b("line2"));
    assert.equal((await r.read(5)).toString(), "line1");
    assert.equal((await r.read(100)).toString(), "line2");
  });

  it("test_read_eof: a waiting read gets an empty Buffer at EOF", async () => {
    const r = new StreamReader();
    const p = r.read(1024);
    await tick();
    r.feedEof();
    assert.equal((await p).length, 0);
    assert.ok(r.atEof());
  });

  it("test_read_until_eof: read() collects every chunk up to EOF", async () => {
    for (const chunks of everySplit(b("chunk1\nchunk2"))) {
      assert.deepEqual(await runScript(chunks, [{ op: "read", n: -1 }]), ["ok:chunk1\nchunk2"]);
    }
  });

  it("test_read_exception", async () => {
    const r = new StreamReader();
    r.feedData(b("line\n"));
    assert.equal((await r.read(2)).toString(), "li");
    const err = new TypeError("boom");
    r.setException(err);
    await assert.rejects(r.read(2), (e) => e === err);
  });

  it("test_invalid_limit", () => {
    for (const limit of [0, -1, Number.NaN]) {
      assert.throws(() => new StreamReader(limit), { code: "ERR_INVALID_ARG_VALUE" });
    }
  });

  it("test_read_limit: read(n) is not bounded by the limit", async () => {
    const r = new StreamReader(3);
    r.feedData(b("chunk"));
    assert.equal((await r.read(5)).toString(), "chunk");
    assert.equal(readerBufferedBytes(r), 0);
  });

  it("test_readline: a line arriving in several chunks", async () => {
    const r = new StreamReader();
    r.feedData(b("chunk1 "));
    const p = r.readLine();
    await tick();
    r.feedData(b("chunk2 "));
    r.feedData(b("chunk3 "));
    r.feedData(b("\n chunk4"));
    assert.equal((await p).toString(), "chunk1 chunk2 chunk3 \n");
    assert.equal(readerBufferedBytes(r), " chunk4".length);
  });

  it("test_readline_limit_with_existing_data", async () => {
    let r = new StreamReader(3);
    r.feedData(b("li"));
    r.feedData(b("ne1\nline2\n"));
    await rejectsWithCode(r.readLine(), "ERR_LIMIT_OVERRUN");
    // The over-long line went through its newline; the next line stays.
    assert.equal(readerBufferedBytes(r), "line2\n".length);

    r = new StreamReader(3);
    r.feedData(b("li"));
    r.feedData(b("ne1"));
    r.feedData(b("li"));
    await rejectsWithCode(r.readLine(), "ERR_LIMIT_OVERRUN");
    // No newline: the whole buffer was discarded.
    assert.equal(readerBufferedBytes(r), 0);
  });

  it("test_at_eof", async () => {
    const r = new StreamReader();
    assert.equal(r.atEof(), false);
    r.feedData(b("some data\n"));
    assert.equal(r.atEof(), false);
    await r.readLine();
    assert.equal(r.atEof(), false);
    r.feedData(b("some data\n"));
    r.feedEof();
    assert.equal(r.atEof(), false);
    await r.readLine();
    assert.equal(r.atEof(), true);
  });

  it("test_readline_limit: chunks fed together after readLine started", async () => {
    let r = new StreamReader(7);
    let p = r.readLine();
    await tick();
    r.feedData(b("chunk1"));
    r.feedData(b("chunk2"));
    r.feedData(b("chunk3\n"));
    r.feedEof();
    const err = await rejectsWithCode(p, "ERR_LIMIT_OVERRUN");
    assert.ok(err instanceof LimitOverrunError);
    assert.equal(readerBufferedBytes(r), 0);

    r = new StreamReader(7);
    p = r.readLine();
    await tick();
    r.feedData(b("chunk1"));
    r.feedData(b("chunk2\n"));
    r.feedData(b("chunk3\n"));
    r.feedEof();
    await rejectsWithCode(p, "ERR_LIMIT_OVERRUN");
    assert.equal((await r.readLine()).toString(), "chunk3\n");

    // The limit is strict: 7 bytes plus the newline pass, 8 do not.
    r = new StreamReader(7);
    r.feedData(b("1234567\n"));
    assert.equal((await r.readLine()).toString(), "1234567\n");
    assert.equal(readerBufferedBytes(r), 0);
    r.feedData(b("12345678\n"));
    await rejectsWithCode(r.readLine(), "ERR_LIMIT_OVERRUN");
    assert.equal(readerBufferedBytes(r), 0);
    r.feedData(b("12345678"));
    await rejectsWithCode(r.readLine(), "ERR_LIMIT_OVERRUN");
    assert.equal(readerBufferedBytes(r), 0);
  });

  it("test_readline_nolimit_nowait", async () => {
    const r = new StreamReader();
    r.feedData(DATA.subarray(0, 6));
    r.feedData(DATA.subarray(6));
    assert.equal((await r.readLine()).toString(), "line1\n");
    assert.equal(readerBufferedBytes(r), "line2\nline3\n".length);
  });

  it("test_readline_eof / test_readline_empty_eof", async () => {
    for (const chunks of everySplit(b("some data"))) {
      assert.deepEqual(await runScript(chunks, [{ op: "readLine" }, { op: "readLine" }]), [
        "ok:some data",
        "ok:",
      ]);
    }
    const r = new StreamReader();
    r.feedEof();
    assert.equal((await r.readLine()).length, 0);
  });

  it("test_readline_read_byte_count", async () => {
    for (const chunks of everySplit(DATA)) {
      const got = await runScript(chunks, [
        { op: "readLine" },
        { op: "readExactly", n: 7 },
        { op: "read", n: -1 },
      ]);
      assert.deepEqual(got, ["ok:line1\n", "ok:line2\nl", "ok:ine3\n"]);
    }
  });

  it("test_readline_exception", async () => {
    const r = new StreamReader();
    r.feedData(b("line\n"));
    assert.equal((await r.readLine()).toString(), "line\n");
    const err = new Error("failed");
    r.setException(err);
    await assert.rejects(r.readLine(), (e) => e === err);
  });

  it("test_readuntil_separator: empty separators are rejected", async () => {
    const r = new StreamReader();
    r.feedData(DATA);
    await rejectsWithCode(r.readUntil(""), "ERR_INVALID_ARG_VALUE");
    await rejectsWithCode(r.readUntil(new Uint8Array(0)), "ERR_INVALID_ARG_VALUE");
    await rejectsWithCode(r.readUntil([""]), "ERR_INVALID_ARG_VALUE");
    await rejectsWithCode(r.readUntil(["\n", ""]), "ERR_INVALID_ARG_VALUE");
    await rejectsWithCode(r.readUntil([]), "ERR_INVALID_ARG_VALUE");
    await rejectsWithCode(r.readUntil(42 as unknown as string), "ERR_INVALID_ARG_TYPE");
    assert.equal(readerBufferedBytes(r), DATA.length);
  });

  it("test_readuntil_multi_chunks", async () => {
    for (const input of ["lineAAA", "lineAAAxxx"]) {
      for (const chunks of everySplit(b(input))) {
        const got = await runScript(chunks, [
          { op: "readUntil", sep: "AAA" },
          { op: "read", n: -1 },
        ]);
        assert.deepEqual(got, ["ok:lineAAA", `ok:${input.slice(7)}`]);
      }
    }
  });

  it("test_readuntil_multi_chunks_1", async () => {
    const cases: [string[], string][] = [
      [["QWEaa", "XYaa", "a"], "QWEaaXYaaa"],
      [["QWEaa", "XYa", "aa"], "QWEaaXYaaa"],
      [["aaa"], "aaa"],
      [["Xaaa"], "Xaaa"],
      [["XXX", "a", "a", "a"], "XXXaaa"],
    ];
    for (const [pieces, want] of cases) {
      const r = new StreamReader();
      for (const piece of pieces) r.feedData(b(piece));
      assert.equal((await r.readUntil("aaa")).toString(), want);
      assert.equal(readerBufferedBytes(r), 0);
      for (const chunks of everySplit(b(pieces.join("")))) {
        assert.deepEqual(await runScript(chunks, [{ op: "readUntil", sep: "aaa" }]), [`ok:${want}`]);
      }
    }
  });

  it("test_readuntil_eof: IncompleteReadError with the whole buffer", async () => {
    const r = new StreamReader();
    r.feedData(b("some dataAA"));
    r.feedEof();
    const err = await rejectsWithCode(r.readUntil("AAA"), "ERR_INCOMPLETE_READ");
    assert.ok(err instanceof IncompleteReadError);
    assert.equal(err.partial.toString(), "some dataAA");
    assert.equal(err.expected, null);
    assert.equal(readerBufferedBytes(r), 0);
    for (const chunks of everySplit(b("some dataAA"))) {
      assert.deepEqual(await runScript(chunks, [{ op: "readUntil", sep: "AAA" }]), [
        "ERR_INCOMPLETE_READ:some dataAA:null",
      ]);
    }
  });

  it("test_readuntil_limit_found_sep: the data stays buffered", async () => {
    const r = new StreamReader(3);
    r.feedData(b("some dataAA"));
    let err = await rejectsWithCode(r.readUntil("AAA"), "ERR_LIMIT_OVERRUN");
    assert.match(err.message, /none found/);
    assert.equal((err as LimitOverrunError).consumed, 9);
    assert.equal(readerBufferedBytes(r), 11);
    r.feedData(b("A"));
    err = await rejectsWithCode(r.readUntil("AAA"), "ERR_LIMIT_OVERRUN");
    assert.match(err.message, /found after 9 bytes/);
    assert.equal((err as LimitOverrunError).consumed, 9);
    assert.equal(readerBufferedBytes(r), 12);
  });

  it("test_readuntil_multi_separator (3.13): the match that ends first wins", async () => {
    for (const chunks of everySplit(b("line 1\nline 2\r"))) {
      const sep = ["\r", "\n"];
      const got = await runScript(chunks, [
        { op: "readUntil", sep },
        { op: "readUntil", sep },
      ]);
      assert.deepEqual(got, ["ok:line 1\n", "ok:line 2\r"]);
    }
    for (const chunks of everySplit(b("ABCDEFG"))) {
      const got = await runScript(chunks, [
        { op: "readUntil", sep: ["DEF", "BCDE"] },
        { op: "read", n: -1 },
      ]);
      assert.deepEqual(got, ["ok:ABCDE", "ok:FG"]);
    }
  });

  it("test_readuntil_multi_separator_limit (3.13): ties go to the shortest separator", async () => {
    const r = new StreamReader(3);
    r.feedData(b("some dataA"));
    // Both end at the last byte; "A" is the shorter, so the match starts at 9 > limit.
    const err = await rejectsWithCode(r.readUntil(["A", "ome dataA"]), "ERR_LIMIT_OVERRUN");
    assert.equal((err as LimitOverrunError).consumed, 9);
    assert.equal(readerBufferedBytes(r), 10);
  });

  it("test_readuntil_multi_separator_negative_offset (3.13)", async () => {
    const r = new StreamReader();
    r.feedData(b("data"));
    const p = r.readUntil(["A", "long sep"]);
    await tick();
    r.feedData(b("Z"));
    await tick();
    r.feedData(b("Aaaa"));
    assert.equal((await p).toString(), "dataZA");
    assert.equal(readerBufferedBytes(r), 3);
  });

  it("test_readuntil_bytearray (3.13): a Uint8Array separator", async () => {
    const r = new StreamReader();
    r.feedData(b("some data\r\n"));
    assert.equal((await r.readUntil(new Uint8Array([13, 10]))).toString(), "some data\r\n");
    assert.equal(readerBufferedBytes(r), 0);
  });

  it("test_readexactly_zero_or_less", async () => {
    const r = new StreamReader();
    r.feedData(DATA);
    assert.equal((await r.readExactly(0)).length, 0);
    await rejectsWithCode(r.readExactly(-1), "ERR_INVALID_ARG_VALUE");
    await rejectsWithCode(r.readExactly(1.5), "ERR_INVALID_ARG_VALUE");
    await rejectsWithCode(r.readExactly("3" as unknown as number), "ERR_INVALID_ARG_TYPE");
    assert.equal(readerBufferedBytes(r), DATA.length);
  });

  it("test_readexactly: waits across chunks, leaves the rest", async () => {
    const input = Buffer.concat([DATA, DATA, DATA]);
    for (const chunks of everySplit(input)) {
      const got = await runScript(chunks, [
        { op: "readExactly", n: 2 * DATA.length },
        { op: "read", n: -1 },
      ]);
      assert.deepEqual(got, [`ok:${DATA}${DATA}`, `ok:${DATA}`]);
    }
  });

  it("test_readexactly_limit: n may exceed the limit", async () => {
    const r = new StreamReader(3);
    r.feedData(b("chunk"));
    assert.equal((await r.readExactly(5)).toString(), "chunk");
    assert.equal(readerBufferedBytes(r), 0);
  });

  it("test_readexactly_eof: IncompleteReadError with what arrived", async () => {
    const r = new StreamReader();
    const n = 2 * DATA.length;
    const p = r.readExactly(n);
    await tick();
    r.feedData(DATA);
    r.feedEof();
    const err = (await rejectsWithCode(p, "ERR_INCOMPLETE_READ")) as IncompleteReadError;
    assert.deepEqual(err.partial, DATA);
    assert.equal(err.expected, n);
    assert.match(err.message, /18 bytes read on a total of 36 expected bytes/);
    assert.equal(readerBufferedBytes(r), 0);
  });

  it("test_readexactly_exception", async () => {
    const r = new StreamReader();
    r.feedData(b("line\n"));
    assert.equal((await r.readExactly(2)).toString(), "li");
    const err = new Error("gone");
    r.setException(err);
    await assert.rejects(r.readExactly(2), (e) => e === err);
  });

  it("test_exception", () => {
    const r = new StreamReader();
    assert.equal(r.exception(), null);
    const err = new Error("x");
    r.setException(err);
    assert.equal(r.exception(), err);
  });

  it("test_exception_waiter: setException rejects the waiting read", async () => {
    const r = new StreamReader();
    const p = r.readLine();
    const err = new Error("reset");
    queueMicrotask(() => r.setException(err));
    await assert.rejects(p, (e) => e === err);
  });

  it("setException between a wake-up and the read running again still ends the read", async () => {
    const r = new StreamReader();
    const p = r.readExactly(10);
    r.feedData(b("abc"));
    const err = new Error("lost");
    r.setException(err);
    await assert.rejects(p, (e) => e === err);
  });

  it("test_exception_cancel: abort, then setException, leaves nothing waiting", async () => {
    const r = new StreamReader();
    const ac = new AbortController();
    const p = r.readLine({ signal: ac.signal });
    await tick();
    ac.abort();
    await assert.rejects(p, { name: "AbortError" });
    const err = new Error("message");
    r.setException(err);
    await assert.rejects(r.readLine(), (e) => e === err);
  });
});

describe("StreamReader: scripts over every split", () => {
  const cases: { name: string; input: string; ops: ReadOp[]; want: string[]; limit?: number }[] = [
    {
      name: "lines, a partial last line, then empty",
      input: "ab\ncd\nef",
      ops: [{ op: "readLine" }, { op: "readLine" }, { op: "readLine" }, { op: "readLine" }],
      want: ["ok:ab\n", "ok:cd\n", "ok:ef", "ok:"],
    },
    {
      name: "CRLF and LF records with several separators",
      input: "a\r\nb\nc\r\r\n",
      ops: [
        { op: "readUntil", sep: ["\r\n", "\n"] },
        { op: "readUntil", sep: ["\r\n", "\n"] },
        { op: "readUntil", sep: ["\r\n", "\n"] },
        { op: "read", n: -1 },
      ],
      want: ["ok:a\r\n", "ok:b\n", "ok:c\r\r\n", "ok:"],
    },
    {
      name: "overlapping separators: earliest end, then shortest",
      input: "xxabcdyyabcz",
      ops: [
        { op: "readUntil", sep: ["abcd", "bc"] },
        { op: "readUntil", sep: ["abcd", "bc", "yab"] },
        { op: "read", n: -1 },
      ],
      want: ["ok:xxabc", "ok:dyyab", "ok:cz"],
    },
    {
      name: "a long separator split over many chunks",
      input: "head--BOUNDARY--tail--BOUND",
      ops: [
        { op: "readUntil", sep: "--BOUNDARY--" },
        { op: "readUntil", sep: "--BOUNDARY--" },
      ],
      want: ["ok:head--BOUNDARY--", "ERR_INCOMPLETE_READ:tail--BOUND:null"],
    },
    {
      name: "readExactly and readLine interleaved",
      input: "12345\nabc\nxyz",
      ops: [
        { op: "readExactly", n: 3 },
        { op: "readLine" },
        { op: "readExactly", n: 2 },
        { op: "readExactly", n: 9 },
      ],
      want: ["ok:123", "ok:45\n", "ok:ab", "ERR_INCOMPLETE_READ:c\nxyz:9"],
    },
    {
      name: "readUntil over the limit keeps the data (then readExactly takes it)",
      input: "abcdefg;hi;",
      limit: 4,
      ops: [
        { op: "readUntil", sep: ";" },
        { op: "readExactly", n: 8 },
        { op: "readUntil", sep: ";" },
      ],
      want: ["ERR_LIMIT_OVERRUN", "ok:abcdefg;", "ok:hi;"],
    },
    {
      name: "on a tie the shortest separator decides the limit check (3.13)",
      input: "abcdX;",
      limit: 4,
      ops: [
        { op: "readUntil", sep: ["X;", ";"] },
        { op: "readExactly", n: 6 },
      ],
      want: ["ERR_LIMIT_OVERRUN", "ok:abcdX;"],
    },
    {
      name: "a separator right at the limit passes",
      input: "abcd;efgh;",
      limit: 4,
      ops: [
        { op: "readUntil", sep: [";", "h;"] },
        { op: "readUntil", sep: [";", "h;"] },
      ],
      want: ["ok:abcd;", "ok:efgh;"],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      let runs = 0;
      for (const chunks of everySplit(b(c.input))) {
        const got = await runScript(chunks, c.ops, c.limit === undefined ? {} : { limit: c.limit });
        assert.deepEqual(got, c.want, `chunks ${JSON.stringify(chunks.map((x) => x.toString("latin1")))}`);
        runs++;
      }
      const burst = await runScript([b(c.input)], c.ops, { limit: c.limit, burst: true });
      assert.deepEqual(burst, c.want);
      assert.ok(runs > c.input.length);
    });
  }

  it("readLine over the limit discards according to what is buffered (asyncio)", async () => {
    // Whole input at once: the long line is found and dropped through its newline.
    assert.deepEqual(
      await runScript([b("abcdefgh\nok\n")], [{ op: "readLine" }, { op: "readLine" }], { limit: 3 }),
      ["ERR_LIMIT_OVERRUN", "ok:ok\n"],
    );
    // Newline not there yet: the buffer is cleared, and the rest of the long line comes next.
    assert.deepEqual(
      await runScript(
        [b("abcde"), b("fgh\nok\n")],
        [{ op: "readLine" }, { op: "readLine" }, { op: "readLine" }],
        {
          limit: 3,
        },
      ),
      ["ERR_LIMIT_OVERRUN", "ok:fgh\n", "ok:ok\n"],
    );
  });
});

describe("StreamReader: arguments and states", () => {
  it("feedData after feedEof throws ERR_STREAM_PUSH_AFTER_EOF", () => {
    const r = new StreamReader();
    r.feedEof();
    assert.throws(() => r.feedData(b("x")), { code: "ERR_STREAM_PUSH_AFTER_EOF" });
    assert.throws(() => r.feedData(Buffer.alloc(0)), { code: "ERR_STREAM_PUSH_AFTER_EOF" });
    r.feedEof();
    assert.ok(r.atEof());
  });

  it("feedData rejects what is not bytes", () => {
    const r = new StreamReader();
    assert.throws(() => r.feedData(42 as unknown as Uint8Array), { code: "ERR_INVALID_ARG_TYPE" });
  });

  it("read(n) with a non-integer n rejects", async () => {
    const r = new StreamReader();
    await rejectsWithCode(r.read(2.5), "ERR_INVALID_ARG_VALUE");
    await rejectsWithCode(r.read(Number.NaN), "ERR_INVALID_ARG_VALUE");
  });

  it("readUntil() defaults to a newline and accepts a string", async () => {
    const r = new StreamReader();
    r.feedData(Buffer.from("héllo\nwörld||x"));
    assert.equal((await r.readUntil()).toString(), "héllo\n");
    assert.equal((await r.readUntil("||")).toString(), "wörld||");
  });

  it("readUntil over the limit reports how far it looked and keeps everything", async () => {
    const r = new StreamReader(5);
    const p = r.readUntil("\r\n");
    r.feedData(b("abcd"));
    await tick();
    r.feedData(b("efgh"));
    const err = (await rejectsWithCode(p, "ERR_LIMIT_OVERRUN")) as LimitOverrunError;
    assert.equal(err.consumed, 7);
    assert.equal((await r.read(100)).toString(), "abcdefgh");
  });

  it("returns the fed chunk itself, or a view, without copying when it can", async () => {
    const r = new StreamReader();
    const chunk = b("0123456789");
    r.feedData(chunk);
    assert.equal(await r.readExactly(10), chunk);
    const line = b("line one\nline two\n");
    r.feedData(line);
    const first = await r.readLine();
    assert.equal(first.buffer, line.buffer);
    assert.equal(first.byteOffset, line.byteOffset);
    r.feedData(b("x"));
    const c2 = b("abc");
    r.feedData(c2);
    assert.equal((await r.read(9)).toString(), "line two\n");
    assert.equal((await r.read(1)).toString(), "x");
    assert.equal(await r.read(3), c2);
  });

  it("a record spanning chunks is copied once, exactly", async () => {
    const r = new StreamReader();
    r.feedData(b("ab"));
    r.feedData(b("cd"));
    r.feedData(b("e\nf"));
    const line = await r.readLine();
    assert.equal(line.toString(), "abcde\n");
    assert.equal(line.length, 6);
  });
});

describe("StreamReader: abort signals", () => {
  it("an already-aborted signal rejects at once and consumes nothing", async () => {
    const r = new StreamReader();
    r.feedData(DATA);
    const reason = new Error("stop");
    const signal = AbortSignal.abort(reason);
    const settled = await Promise.allSettled([
      r.read(-1, { signal }),
      r.read(3, { signal }),
      r.readLine({ signal }),
      r.readExactly(2, { signal }),
      r.readUntil("\n", { signal }),
    ]);
    for (const s of settled) assert.ok(s.status === "rejected" && s.reason === reason);
    assert.equal(readerBufferedBytes(r), DATA.length);
  });

  it("aborting a waiting readExactly keeps the bytes that came", async () => {
    const r = new StreamReader();
    const ac = new AbortController();
    const p = r.readExactly(10, { signal: ac.signal });
    r.feedData(b("abc"));
    await tick();
    r.feedData(b("def"));
    await tick();
    const reason = Object.assign(new Error("timeout"), { code: "ETIMEDOUT" });
    ac.abort(reason);
    await assert.rejects(p, (e) => e === reason);
    assert.equal(getEventListeners(ac.signal, "abort").length, 0);
    r.feedData(b("ghij"));
    assert.equal((await r.readExactly(10)).toString(), "abcdefghij");
  });

  it("aborting a waiting readUntil/readLine consumes nothing", async () => {
    const r = new StreamReader();
    const ac = new AbortController();
    const p = r.readUntil(["END", "STOP"], { signal: ac.signal });
    r.feedData(b("xxEN"));
    await tick();
    ac.abort();
    await assert.rejects(p, { name: "AbortError" });
    const ac2 = new AbortController();
    const q = r.readLine({ signal: ac2.signal });
    await tick();
    ac2.abort();
    await assert.rejects(q, { name: "AbortError" });
    r.feedData(b("D\n"));
    assert.equal((await r.readUntil(["END", "STOP"])).toString(), "xxEND");
    assert.equal((await r.readLine()).toString(), "\n");
  });

  it("aborting a waiting read() to EOF gives every taken chunk back", async () => {
    const flow = new FlowLog();
    const r = new StreamReader(2);
    attachFlowControl(r, flow);
    const ac = new AbortController();
    const p = r.read(-1, { signal: ac.signal });
    for (const piece of ["one ", "two ", "three "]) {
      r.feedData(b(piece));
      await tick();
    }
    ac.abort();
    await assert.rejects(p, { name: "AbortError" });
    // Put back synchronously: a read started right after the abort sees everything.
    assert.equal(readerBufferedBytes(r), "one two three ".length);
    r.feedData(b("four"));
    r.feedEof();
    assert.equal((await r.read()).toString(), "one two three four");
  });

  it("a new read may start right after an abort, in the same turn", async () => {
    const r = new StreamReader();
    const ac = new AbortController();
    const p = r.readLine({ signal: ac.signal });
    await tick();
    ac.abort();
    const q = r.readLine();
    r.feedData(b("next\n"));
    await assert.rejects(p, { name: "AbortError" });
    assert.equal((await q).toString(), "next\n");
  });

  it("an abort after the read completed changes nothing", async () => {
    const r = new StreamReader();
    const ac = new AbortController();
    const p = r.readLine({ signal: ac.signal });
    r.feedData(b("done\n"));
    ac.abort();
    assert.equal((await p).toString(), "done\n");
    assert.equal(getEventListeners(ac.signal, "abort").length, 0);
  });
});

describe("StreamReader: one read at a time", () => {
  it("a second read while one waits rejects at once with ERR_READ_IN_PROGRESS", async () => {
    const r = new StreamReader();
    const first = r.readLine();
    const seconds = [r.readLine(), r.read(10), r.read(), r.readExactly(1), r.readUntil("x"), r.read(0)].map(
      outcome,
    );
    assert.deepEqual(await Promise.all(seconds), Array(6).fill("ERR_READ_IN_PROGRESS"));
    r.feedData(b("first\nsecond\n"));
    assert.equal((await first).toString(), "first\n");
    assert.equal((await r.readLine()).toString(), "second\n");
  });

  it("reads that need not wait can be started back to back", async () => {
    const r = new StreamReader();
    r.feedData(b("a\nb\nc"));
    const [x, y, z] = await Promise.all([r.readLine(), r.readLine(), r.readExactly(1)]);
    assert.deepEqual([x.toString(), y.toString(), z.toString()], ["a\n", "b\n", "c"]);
  });

  it("the reader is free again after the waiting read ends", async () => {
    const r = new StreamReader();
    const p = r.readExactly(2);
    r.feedData(b("ok"));
    assert.equal((await p).toString(), "ok");
    const q = r.readExactly(1);
    r.feedEof();
    await rejectsWithCode(q, "ERR_INCOMPLETE_READ");
    assert.equal((await r.read()).length, 0);
  });

  it("a waiting read(n) holds the reader until it runs again, and takes what came meanwhile", async () => {
    const r = new StreamReader();
    const p = r.read(100);
    assert.equal(await outcome(r.read(1)), "ERR_READ_IN_PROGRESS");
    r.feedData(b("ab"));
    // Woken, but not run yet: still in progress, and bytes fed now are part of its result.
    const second = r.readLine();
    r.feedData(b("cd"));
    assert.equal((await p).toString(), "abcd");
    assert.equal(await outcome(second), "ERR_READ_IN_PROGRESS");
    r.feedData(b("ef"));
    assert.equal((await r.read(1)).toString(), "e");
  });

  it("a waiting read(n) rejects with the error of setException, and the reader is free again", async () => {
    const r = new StreamReader();
    const p = r.read(10);
    const err = new Error("reset");
    r.setException(err);
    await assert.rejects(p, (e) => e === err);
    await assert.rejects(r.read(10), (e) => e === err);
  });

  it("a waiting read(n) ends with an empty Buffer at EOF", async () => {
    const r = new StreamReader();
    const p = r.read(10);
    r.feedEof();
    assert.equal((await p).length, 0);
  });
});

describe("StreamReader: flow control", () => {
  it("pauses above 2 x limit and resumes at limit or below", async () => {
    const flow = new FlowLog();
    const r = new StreamReader(10);
    attachFlowControl(r, flow);
    r.feedData(Buffer.alloc(20));
    assert.deepEqual(flow.calls, []);
    r.feedData(Buffer.alloc(1));
    assert.deepEqual(flow.calls, ["pause"]);
    assert.ok(isReaderPaused(r));
    r.feedData(Buffer.alloc(5));
    assert.deepEqual(flow.calls, ["pause"]);
    await r.read(15); // 11 left
    assert.deepEqual(flow.calls, ["pause"]);
    await r.read(1); // 10 left
    assert.deepEqual(flow.calls, ["pause", "resume"]);
    assert.equal(isReaderPaused(r), false);
  });

  it("readExactly(n) with n above the buffer cap resumes while it waits", async () => {
    const flow = new FlowLog();
    const r = new StreamReader(4);
    attachFlowControl(r, flow);
    const p = r.readExactly(30);
    for (let i = 0; i < 6; i++) {
      r.feedData(Buffer.alloc(5, 0x61 + i));
      await tick();
    }
    const got = await p;
    assert.equal(got.length, 30);
    // Paused each time the buffer passed 8 bytes; resumed each time the read had to wait on,
    // and once more when it took the 30 bytes.
    assert.deepEqual(flow.calls, Array(5).fill(["pause", "resume"]).flat());
    assert.equal(isReaderPaused(r), false);
  });

  it("readLine over the limit discards, which resumes reading", async () => {
    const flow = new FlowLog();
    const r = new StreamReader(4);
    attachFlowControl(r, flow);
    r.feedData(b("0123456789"));
    assert.deepEqual(flow.calls, ["pause"]);
    await rejectsWithCode(r.readLine(), "ERR_LIMIT_OVERRUN");
    assert.deepEqual(flow.calls, ["pause", "resume"]);
  });

  it("readUntil over the limit leaves the transport paused", async () => {
    const flow = new FlowLog();
    const r = new StreamReader(4);
    attachFlowControl(r, flow);
    r.feedData(b("0123456789"));
    await rejectsWithCode(r.readUntil(";"), "ERR_LIMIT_OVERRUN");
    assert.deepEqual(flow.calls, ["pause"]);
    await r.readExactly(6);
    assert.deepEqual(flow.calls, ["pause", "resume"]);
  });

  it("data fed before attaching is kept; the check runs on the next feed", async () => {
    const flow = new FlowLog();
    const r = new StreamReader(2);
    r.feedData(b("abcdef"));
    attachFlowControl(r, flow);
    assert.deepEqual(flow.calls, []);
    r.feedData(b("g"));
    assert.deepEqual(flow.calls, ["pause"]);
    assert.equal((await r.read(100)).toString(), "abcdefg");
    assert.deepEqual(flow.calls, ["pause", "resume"]);
    assert.throws(() => attachFlowControl(r, flow), { code: "ERR_INVALID_ARG_VALUE" });
  });

  it("read() to EOF drains the buffer as it goes, so reading resumes", async () => {
    const flow = new FlowLog();
    const r = new StreamReader(2);
    attachFlowControl(r, flow);
    const p = r.read();
    r.feedData(b("12345"));
    assert.deepEqual(flow.calls, ["pause"]);
    await tick();
    assert.deepEqual(flow.calls, ["pause", "resume"]);
    r.feedData(b("67"));
    r.feedEof();
    assert.equal((await p).toString(), "1234567");
  });

  it("a 10 MiB line against a 64 KiB limit: LIMIT_OVERRUN, discarded, memory bounded", async () => {
    const limit = 64 * 1024;
    const chunkSize = 16 * 1024;
    const total = 10 * 1024 * 1024;
    const flow = { paused: false, pauses: 0, pauseReading: () => {}, resumeReading: () => {} };
    flow.pauseReading = () => {
      flow.paused = true;
      flow.pauses++;
    };
    flow.resumeReading = () => {
      flow.paused = false;
    };
    const r = new StreamReader(limit);
    attachFlowControl(r, flow);
    const chunk = Buffer.alloc(chunkSize, 0x78);
    let fed = 0;
    let maxBuffered = 0;
    let overruns = 0;
    // Each pending readLine is wrapped at once, so its rejection is always handled.
    let line: Promise<string> | null = outcome(r.readLine());
    while (fed < total) {
      if (flow.paused) {
        // A paused transport delivers nothing until a read makes room.
        line ??= outcome(r.readLine());
        await tick();
        assert.equal(flow.paused, false, "the read should have made room");
      }
      r.feedData(chunk);
      fed += chunkSize;
      maxBuffered = Math.max(maxBuffered, readerBufferedBytes(r));
      await tick();
      if (line !== null) {
        const settled: string = await Promise.race([line, tick().then(() => "pending")]);
        if (settled !== "pending") {
          assert.equal(settled, "ERR_LIMIT_OVERRUN");
          overruns++;
          line = null;
          // As in asyncio, the discard cleared the buffer (no newline was there).
          assert.ok(readerBufferedBytes(r) <= chunkSize);
        }
      }
    }
    assert.ok(overruns >= 1);
    assert.ok(flow.pauses >= 1);
    assert.ok(maxBuffered <= 2 * limit + chunkSize, `buffered up to ${maxBuffered}`);
    // The end of the long line comes with a short one: after at most an overrun and the rest of
    // the long line (how much of it was discarded depends on timing, as in asyncio), the short
    // line is read whole.
    line ??= outcome(r.readLine());
    r.feedData(b("tail\nnext line\n"));
    const rest = [await line];
    while (rest.length < 3 && rest.at(-1) !== "ok:next line\n") rest.push(await outcome(r.readLine()));
    assert.equal(rest.at(-1), "ok:next line\n");
    for (const got of rest.slice(0, -1)) {
      assert.ok(got === "ERR_LIMIT_OVERRUN" || got.endsWith("tail\n"), got.slice(-20));
    }
  });
});

describe("StreamReader: async iteration", () => {
  it("yields lines until EOF, over every split", async () => {
    for (const chunks of everySplit(b("a\nbb\n\nccc"))) {
      const r = new StreamReader();
      const lines: string[] = [];
      const done = (async () => {
        for await (const line of r) lines.push(line.toString());
      })();
      for (const c of chunks) {
        r.feedData(c);
        await tick();
      }
      r.feedEof();
      await done;
      assert.deepEqual(lines, ["a\n", "bb\n", "\n", "ccc"]);
    }
  });

  it("breaking out leaves the rest buffered", async () => {
    const r = new StreamReader();
    r.feedData(b("one\ntwo\nthree\n"));
    for await (const line of r) {
      assert.equal(line.toString(), "one\n");
      break;
    }
    assert.equal((await r.readLine()).toString(), "two\n");
  });

  it("an error set on the reader ends iteration with that error", async () => {
    const r = new StreamReader();
    r.feedData(b("one\n"));
    const err = Object.assign(new Error("reset"), { code: "ECONNRESET" });
    const seen: string[] = [];
    const done = (async () => {
      for await (const line of r) seen.push(line.toString());
    })();
    await tick();
    r.setException(err);
    await assert.rejects(done, (e) => e === err);
    assert.deepEqual(seen, ["one\n"]);
  });
});
