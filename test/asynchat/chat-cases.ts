/**
 * Shared by the asynchat scanner tests and `scripts/fuzz-asynchat.ts`: random framing cases,
 * a runner for our scanner, a line-by-line model of CPython's `handle_read`, and a runner for
 * CPython's real `asynchat` (through `asynchat_driver.py`).
 *
 * A case is a list of chunks (one per read), an initial terminator, and what the callbacks do
 * on their n-th call. Running it gives a list of events: `c:<hex>` for collectIncomingData,
 * `f` for foundTerminator, `e:<ErrorName>` when a read threw, and after each read
 * `r:<terminator>:<bytes buffered>`.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TerminatorScanner } from "../../src/asynchat/terminator-scanner.js";

/** A terminator as JSON: bytes (hex), a count, or none. */
export type TermSpec = { k: "b"; hex: string } | { k: "n"; n: number } | { k: "none" };
/** What a callback does: set a terminator, discard the input buffer, feed a chunk from inside, or nothing. */
export type Action = { t: TermSpec } | { d: true } | { f: string } | null;

export interface ChatCase {
  chunks: string[];
  initial: TermSpec;
  onFound: Action[];
  onCollect: Action[];
}

/** The operations a case needs from an implementation of asynchat's input side. */
export interface ChatEngine {
  feed(chunk: Buffer): void;
  setTerminator(term: Buffer | number | null): void;
  getTerminator(): Buffer | number | null;
  discard(): void;
  readonly bufferedLength: number;
}

type Sink = { collectIncomingData(data: Buffer): void; foundTerminator(): void };

/** A small seeded generator (mulberry32), so every case can be replayed from its seed. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (rng: () => number, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));

/** Turn a TermSpec into a terminator value. */
export function termValue(spec: TermSpec): Buffer | number | null {
  if (spec.k === "b") return Buffer.from(spec.hex, "hex");
  if (spec.k === "n") return spec.n;
  return null;
}

/** How events print a terminator. */
export function termRepr(term: Buffer | number | null): string {
  if (term === null) return "none";
  if (typeof term === "number") return `n:${term}`;
  return `b:${term.toString("hex")}`;
}

/** Run a case on an engine built by `make` (our scanner or the model). */
export function runCase(
  c: ChatCase,
  make: (sink: Sink, initial: Buffer | number | null) => ChatEngine,
): string[] {
  const events: string[] = [];
  let found = 0;
  let collected = 0;
  const act = (action: Action | undefined): void => {
    if (!action) return;
    if ("t" in action) engine.setTerminator(termValue(action.t));
    else if ("f" in action) engine.feed(Buffer.from(action.f, "hex"));
    else engine.discard();
  };
  const engine = make(
    {
      collectIncomingData(data) {
        events.push(`c:${data.toString("hex")}`);
        act(c.onCollect[collected++]);
      },
      foundTerminator() {
        events.push("f");
        act(c.onFound[found++]);
      },
    },
    termValue(c.initial),
  );
  for (const hex of c.chunks) {
    try {
      engine.feed(Buffer.from(hex, "hex"));
    } catch (err) {
      events.push(`e:${(err as Error).name}`);
    }
    events.push(`r:${termRepr(engine.getTerminator())}:${engine.bufferedLength}`);
  }
  return events;
}

/** Run a case on our scanner. */
export function runScanner(c: ChatCase): string[] {
  return runCase(c, (sink, initial) => new TerminatorScanner(sink, initial));
}

/**
 * A line-by-line model of CPython 3.11 `async_chat.handle_read` (copying slices, concatenating
 * the buffer) used as an oracle when Python is not needed.
 */
export class ReferenceChat implements ChatEngine {
  #sink: Sink;
  #term: Buffer | number | null;
  #buf = Buffer.alloc(0);
  constructor(sink: Sink, initial: Buffer | number | null) {
    this.#sink = sink;
    this.#term = initial;
  }
  get bufferedLength(): number {
    return this.#buf.length;
  }
  setTerminator(term: Buffer | number | null): void {
    if (typeof term === "number" && term < 0) throw new RangeError("negative");
    this.#term = term;
  }
  getTerminator(): Buffer | number | null {
    return this.#term;
  }
  discard(): void {
    this.#buf = Buffer.alloc(0);
  }
  feed(data: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, data]);
    while (this.#buf.length > 0) {
      const lb = this.#buf.length;
      const t = this.#term;
      if (t === null || t === 0 || (typeof t !== "number" && t.length === 0)) {
        this.#sink.collectIncomingData(Buffer.from(this.#buf));
        this.#buf = Buffer.alloc(0);
      } else if (typeof t === "number") {
        if (lb < t) {
          this.#sink.collectIncomingData(Buffer.from(this.#buf));
          this.#buf = Buffer.alloc(0);
          const now = this.#term;
          if (typeof now !== "number") throw new TypeError("unsupported operand");
          this.#term = now - lb;
        } else {
          this.#sink.collectIncomingData(Buffer.from(pySlice(this.#buf, 0, t)));
          this.#buf = Buffer.from(pySlice(this.#buf, t, undefined));
          this.#term = 0;
          this.#sink.foundTerminator();
        }
      } else {
        const index = this.#buf.indexOf(t);
        if (index !== -1) {
          if (index > 0) this.#sink.collectIncomingData(Buffer.from(this.#buf.subarray(0, index)));
          this.#buf = Buffer.from(pySlice(this.#buf, index + t.length, undefined));
          this.#sink.foundTerminator();
        } else {
          const prefix = naivePrefixAtEnd(this.#buf, t);
          if (prefix) {
            if (prefix !== lb) {
              this.#sink.collectIncomingData(Buffer.from(pySlice(this.#buf, 0, -prefix)));
              this.#buf = Buffer.from(pySlice(this.#buf, -prefix, undefined));
            }
            break;
          }
          this.#sink.collectIncomingData(Buffer.from(this.#buf));
          this.#buf = Buffer.alloc(0);
        }
      }
    }
  }
}

/** Python's `b[start:end]` for one-sided negative indices. */
function pySlice(b: Buffer, start: number, end: number | undefined): Buffer {
  const norm = (i: number): number => (i < 0 ? Math.max(0, b.length + i) : Math.min(i, b.length));
  return b.subarray(norm(start), end === undefined ? b.length : norm(end));
}

/** CPython's `find_prefix_at_end`, word for word. */
export function naivePrefixAtEnd(haystack: Uint8Array, needle: Uint8Array): number {
  let l = needle.length - 1;
  const hay = Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength);
  while (l !== 0) {
    const part = needle.subarray(0, l < 0 ? Math.max(0, needle.length + l) : l);
    const ends = part.length <= hay.length && hay.subarray(hay.length - part.length).equals(part);
    if (ends) break;
    l -= 1;
  }
  return l;
}

/** Run a case on the model. */
export function runReference(c: ChatCase): string[] {
  return runCase(c, (sink, initial) => new ReferenceChat(sink, initial));
}

// ---------------------------------------------------------------- random cases

const ALPHABETS = ["ab", "ab\r\n", "abc", "a\n", "qab"];

function randomTerm(rng: () => number, alphabet: string, longOk: boolean): TermSpec {
  const r = rng();
  if (r < 0.5) {
    const long = longOk && rng() < 0.08;
    const len = long ? int(rng, 17, 22) : int(rng, 1, 4);
    let s = "";
    for (let i = 0; i < len; i++) s += alphabet[int(rng, 0, alphabet.length - 1)];
    return { k: "b", hex: Buffer.from(s, "latin1").toString("hex") };
  }
  if (r < 0.8) return { k: "n", n: rng() < 0.15 ? 0 : int(rng, 1, 12) };
  if (r < 0.93) return { k: "none" };
  return { k: "b", hex: "" };
}

function randomBytes(rng: () => number, alphabet: string, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[int(rng, 0, alphabet.length - 1)];
  return Buffer.from(s, "latin1").toString("hex");
}

function randomActions(
  rng: () => number,
  alphabet: string,
  n: number,
  pSet: number,
  pDiscard: number,
): Action[] {
  const out: Action[] = [];
  for (let i = 0; i < n; i++) {
    const r = rng();
    if (r < pSet) out.push({ t: randomTerm(rng, alphabet, true) });
    else if (r < pSet + pDiscard) out.push({ d: true });
    else if (r < pSet + pDiscard + 0.03) out.push({ f: randomBytes(rng, alphabet, int(rng, 0, 6)) });
    else out.push(null);
  }
  return out;
}

/** Changes inside collectIncomingData: often small counts, which CPython subtracts from. */
function collectActions(rng: () => number, alphabet: string, n: number): Action[] {
  return randomActions(rng, alphabet, n, 0.25, 0.1).map((a) =>
    a === null && rng() < 0.2 ? { t: { k: "n", n: int(rng, 0, 3) } } : a,
  );
}

/** Split `data` into reads: small, tiny (with empty reads), medium, or all at once. */
export function randomSplit(rng: () => number, data: Buffer): Buffer[] {
  const mode = rng();
  if (mode < 0.1) return [data];
  const [lo, hi] = mode < 0.55 ? [1, 8] : mode < 0.75 ? [0, 3] : [1, 40];
  const out: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const size = int(rng, lo, hi);
    out.push(data.subarray(at, at + size));
    at += size;
  }
  if (rng() < 0.2) out.push(Buffer.alloc(0));
  return out;
}

/** One random case: stream bytes drawn so that the case's terminators actually occur. */
export function randomCase(rng: () => number): ChatCase {
  const alphabet = ALPHABETS[int(rng, 0, ALPHABETS.length - 1)]!;
  const initial = randomTerm(rng, alphabet, true);
  const onFound = randomActions(rng, alphabet, int(rng, 0, 16), 0.6, 0.04);
  const onCollect = rng() < 0.35 ? collectActions(rng, alphabet, int(rng, 0, 10)) : [];
  const specs = [initial, ...[...onFound, ...onCollect].map((a) => (a !== null && "t" in a ? a.t : null))];
  const pool = specs.flatMap((t) =>
    t !== null && t.k === "b" && t.hex !== "" ? [Buffer.from(t.hex, "hex")] : [],
  );
  const length = rng() < 0.1 ? int(rng, 0, 400) : int(rng, 0, 120);
  const parts: Buffer[] = [];
  let size = 0;
  while (size < length) {
    let part: Buffer;
    if (pool.length > 0 && rng() < 0.25) {
      const term = pool[int(rng, 0, pool.length - 1)]!;
      part = rng() < 0.7 ? term : term.subarray(0, int(rng, 1, term.length));
    } else {
      part = Buffer.from(alphabet[int(rng, 0, alphabet.length - 1)]!, "latin1");
    }
    parts.push(part);
    size += part.length;
  }
  const chunks = randomSplit(rng, Buffer.concat(parts)).map((b) => b.toString("hex"));
  return { chunks, initial, onFound, onCollect };
}

// ---------------------------------------------------------------- CPython

/** Where `asynchat_driver.py` is: next to the test source, found from the repo or the build. */
export function driverPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [
    path.resolve(here, "asynchat_driver.py"),
    path.resolve(here, "../../../test/asynchat/asynchat_driver.py"),
    path.resolve(process.cwd(), "test/asynchat/asynchat_driver.py"),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`Cannot find asynchat_driver.py: looked in ${candidates.join(", ")}`);
  return found;
}

/**
 * The Python to compare with: `ASYNCHAT_PYTHON`, else `python3.11`, else `python3`; `null`
 * when none of them runs. asynchat exists up to Python 3.11 only.
 */
export function findPython(): string | null {
  const candidates = process.env.ASYNCHAT_PYTHON ? [process.env.ASYNCHAT_PYTHON] : ["python3.11", "python3"];
  for (const exe of candidates) {
    const r = spawnSync(exe, ["-c", "pass"], { stdio: "ignore", timeout: 20_000 });
    if (r.error === undefined && r.status === 0) return exe;
  }
  return null;
}

/** Run all cases through CPython's asynchat in one python3 process. */
export function runPython(cases: ChatCase[], python = findPython() ?? "python3"): string[][] {
  const r = spawnSync(python, [driverPath()], {
    input: JSON.stringify(cases),
    maxBuffer: 512 * 1024 * 1024,
    timeout: 120_000,
    encoding: "utf8",
  });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    const hint = r.stderr.includes("No module named 'asynchat'")
      ? " (asynchat was removed in Python 3.12: set ASYNCHAT_PYTHON to a Python 3.11)"
      : "";
    throw new Error(`Python driver failed with status ${r.status}${hint}: ${r.stderr}`);
  }
  const out = JSON.parse(r.stdout) as string[][];
  if (out.length !== cases.length)
    throw new Error(`Python driver returned ${out.length} of ${cases.length} cases`);
  return out;
}
