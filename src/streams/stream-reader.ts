/**
 * `StreamReader`: asyncio's buffered reader, as a pure class fed with bytes. It never touches
 * a socket; the streams glue feeds it from a protocol's `dataReceived` / `eofReceived` /
 * `connectionLost`, and attaches the transport for flow control through `_reader-flow.ts`.
 *
 * @module
 */
import { toBuffer } from "../address.js";
import {
  codedError,
  codes,
  IncompleteReadError,
  invalidArgType,
  invalidArgValue,
  LimitOverrunError,
} from "../errors.js";
import { ChunkQueue } from "./_chunk-queue.js";
import { installReaderInternals, type ReadingFlowControl } from "./_reader-flow.js";
import { SeparatorScan } from "./_separator-scan.js";

/** Options of every `StreamReader` method that may wait. */
export interface ReadOptions {
  /** Aborting rejects the pending read with `signal.reason`; no buffered byte is consumed. */
  signal?: AbortSignal;
}

/** What `readUntil` takes: one separator or several (a string is UTF-8 encoded). */
export type Separator = Uint8Array | string | ReadonlyArray<Uint8Array | string>;

const DEFAULT_LIMIT = 65536;
/** The options of a read called without any: one shared object, not a new `{}` per call. */
const NO_OPTIONS: ReadOptions = Object.freeze({});
const EMPTY = Buffer.alloc(0);
const LF = 0x0a;
const NEWLINE: readonly Buffer[] = [Buffer.from("\n")];

/**
 * The buffer of every reader that was never fed: only read from, as a reader makes a queue of
 * its own before adding to it. An idle connection's reader then holds no queue.
 */
const NOTHING_FED = new ChunkQueue();

// The reader's booleans, packed into `#bits`.
const EOF = 1;
const PAUSED = 2;

/** The pending wait of the one read in progress. */
interface Waiter {
  resolve(): void;
  fail(err: unknown): void;
}

/**
 * What a waiting `read(n)` holds in `#waiter`: its gate's resolvers are kept by the reader
 * itself, so the read needs no waiter object of its own.
 */
const GATED: Waiter = {
  resolve() {},
  fail() {},
};

/**
 * Where `new Promise(capture)` leaves the resolvers of a read's gate: the executor is one
 * shared function rather than a closure made per read.
 */
let capturedResolve: () => void = () => {};
let capturedReject: (err: unknown) => void = () => {};
function capture(resolve: () => void, reject: (err: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * A buffer of received bytes with awaitable reads: lines, separator-terminated records, exact
 * byte counts, or everything up to EOF. Python: `asyncio.StreamReader` (3.11 behaviour, with
 * Python 3.13's several separators for `readUntil`).
 *
 * The producer side (`feedData`, `feedEof`, `setException`) is for the code that owns the
 * connection; the consumer side (`read*`, async iteration) for the application. Only one read
 * may wait at a time. `feedData` keeps the given bytes without copying them: do not modify them
 * afterwards. Results may be views of the fed chunks.
 *
 * `limit` caps the length of what `readLine`/`readUntil` return (not counting the separator)
 * and, doubled, how much is buffered before the attached transport is paused.
 *
 * @example
 * ```ts
 * const server = await startServer(async (r, w) => {
 *   for await (const line of r) w.write(line); // echo line by line
 *   w.close();
 * }, "127.0.0.1", 0);
 * const [host, port] = server.addresses[0] as [string, number];
 * const [reader, writer] = await openConnection(host, port);
 * writer.write("hello\n");
 * console.log((await reader.readLine()).toString()); // "hello\n"
 *
 * // or, without a socket:
 * const r = new StreamReader();
 * r.feedData(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
 * await r.readUntil("\r\n\r\n"); // the whole header block
 * ```
 */
export class StreamReader {
  readonly #limit: number;
  #buffer = NOTHING_FED;
  /** `EOF` (feedEof was called), `PAUSED` (the reader holds its transport paused). */
  #bits = 0;
  #exception: Error | null = null;
  #waiter: Waiter | null = null;
  /** Identity of the read in progress, or null. */
  #current: object | null = null;
  /** The gate of a waiting `read(n)` (see `#waitToRead`): its resolvers and its `n`. */
  #gateResolve: (() => void) | null = null;
  #gateReject: ((err: unknown) => void) | null = null;
  #gateN = 0;
  /**
   * The gate's reaction, made by the first read that waits and kept: the gate then resolves
   * with no value, which the engine settles without looking up a `then` on it.
   */
  #takeFn: (() => Buffer) | null = null;
  /** Chunks already taken by a waiting `read(-1)`; put back if it fails. */
  #claimed: Buffer[] | null = null;
  #flow: ReadingFlowControl | null = null;
  /** The last string separators given to `readUntil`, converted (most calls repeat them). */
  #lastSeps: { key: readonly string[]; seps: readonly Buffer[] } | null = null;

  static {
    installReaderInternals({
      attach: (reader, flow) => reader.#attach(flow),
      bufferedBytes: (reader) => reader.#buffer.length,
      isPaused: (reader) => reader.#paused,
    });
  }

  /**
   * @param limit longest line or record `readLine`/`readUntil` return, without the separator
   *   (default 65536); also half the buffered amount that pauses the transport.
   * @throws RangeError `ERR_INVALID_ARG_VALUE` when `limit <= 0`.
   */
  constructor(limit: number = DEFAULT_LIMIT) {
    if (typeof limit !== "number")
      throw invalidArgType(`Cannot create reader: limit must be a number, got ${typeof limit}`);
    if (!(limit > 0)) throw invalidArgValue(`Cannot create reader: limit must be > 0, got ${limit}`);
    this.#limit = limit;
  }

  get #eof(): boolean {
    return (this.#bits & EOF) !== 0;
  }
  set #eof(on: boolean) {
    this.#bits = on ? this.#bits | EOF : this.#bits & ~EOF;
  }
  get #paused(): boolean {
    return (this.#bits & PAUSED) !== 0;
  }
  set #paused(on: boolean) {
    this.#bits = on ? this.#bits | PAUSED : this.#bits & ~PAUSED;
  }

  /** The error given to `setException`, or null. Python: `StreamReader.exception()`. */
  exception(): Error | null {
    return this.#exception;
  }

  /**
   * Make the pending read and every later read reject with `err` (the connection failed).
   * Buffered bytes stay. Python: `StreamReader.set_exception()`.
   */
  setException(err: Error): void {
    this.#exception = err;
    this.#failWaiter(err);
  }

  /** True once `feedEof` was called and every byte was read. Python: `at_eof()`. */
  atEof(): boolean {
    return this.#eof && this.#buffer.length === 0;
  }

  /**
   * Append received bytes (kept without copying) and wake the waiting read. Pauses the
   * attached transport once more than `2 * limit` bytes are buffered. Python: `feed_data()`.
   *
   * @throws Error `ERR_STREAM_PUSH_AFTER_EOF` after `feedEof()`.
   * @throws TypeError `ERR_INVALID_ARG_TYPE` when `data` is not a Uint8Array.
   */
  feedData(data: Uint8Array): void {
    const chunk = toBuffer(data);
    if (this.#eof) throw codedError(codes.PUSH_AFTER_EOF, "Cannot feed data: feedEof() was already called");
    if (chunk.length === 0) return;
    if (this.#buffer === NOTHING_FED) this.#buffer = new ChunkQueue();
    this.#buffer.push(chunk);
    this.#wakeWaiter();
    if (this.#flow !== null && !this.#paused && this.#buffer.length > 2 * this.#limit) {
      this.#flow.pauseReading();
      this.#paused = true;
    }
  }

  /** Mark the end of the stream and wake the waiting read. Python: `feed_eof()`. */
  feedEof(): void {
    this.#eof = true;
    this.#wakeWaiter();
  }

  /**
   * Read up to `n` bytes: as soon as at least one byte is buffered, what is there (at most
   * `n`). `n < 0` (the default) reads until EOF; `n = 0` gives an empty Buffer at once. At EOF
   * with nothing buffered, an empty Buffer. Not bounded by `limit`. Python: `read(n)`.
   *
   * @throws (rejects) the error given to `setException`; `signal.reason` on abort;
   *   `ERR_READ_IN_PROGRESS` while another read waits; `ERR_INVALID_ARG_VALUE` for a
   *   non-integer `n`.
   */
  read(n = -1, opts: ReadOptions = NO_OPTIONS): Promise<Buffer> {
    // The usual call runs without an async frame: a read that waits holds its gate and its result.
    if (typeof n === "number" && n > 0 && Number.isInteger(n) && opts !== null && opts.signal === undefined) {
      return this.#readSome(n);
    }
    return this.#read(n, opts);
  }

  /** `read(n)` for n > 0 without a signal: what `#read` does, without an async frame. */
  #readSome(n: number): Promise<Buffer> {
    try {
      this.#enter(undefined);
      if (this.#buffer.length > 0 || this.#eof) {
        const data = this.#buffer.take(Math.min(n, this.#buffer.length));
        this.#maybeResume();
        return Promise.resolve(data);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#waitToRead(n);
  }

  /**
   * `#readSome` when nothing is buffered. The read waits on a gate that `feedData`,
   * `feedEof` or `setException` settles at once; the bytes are taken in the gate's reaction,
   * one microtask later, where the frame of an async `read` would have resumed (so bytes fed
   * in the same turn go to this read), and the caller sees the result one microtask after
   * that, as it would from an async function. No closure, no waiter object: the reader holds
   * the gate's resolvers and its reaction.
   */
  #waitToRead(n: number): Promise<Buffer> {
    const gate = new Promise<void>(capture);
    this.#gateResolve = capturedResolve;
    this.#gateReject = capturedReject;
    this.#gateN = n;
    this.#current = GATED;
    this.#waiter = GATED;
    const read = gate.then((this.#takeFn ??= () => this.#takeGated()));
    this.#resumeToWait();
    return read;
  }

  /** Run as the woken `read(n)`: take the bytes; the reader is free again, even on a throw. */
  #takeGated(): Buffer {
    try {
      const data = this.#buffer.take(Math.min(this.#gateN, this.#buffer.length));
      this.#maybeResume();
      return data;
    } finally {
      this.#leave(GATED);
    }
  }

  async #read(n: number, opts: ReadOptions): Promise<Buffer> {
    checkInteger("read", n);
    this.#enter(opts.signal);
    if (n === 0) return EMPTY;
    const op = {};
    try {
      if (n < 0) return await this.#readAll(op, opts.signal);
      if (this.#buffer.length === 0 && !this.#eof) await this.#waitForData(op, opts.signal);
      const data = this.#buffer.take(Math.min(n, this.#buffer.length));
      this.#maybeResume();
      return data;
    } finally {
      this.#leave(op);
    }
  }

  /**
   * Read one line, `\n` included. At EOF, the partial last line (empty once all is read).
   * Python: `readline()`.
   *
   * @throws (rejects) `LimitOverrunError` (`ERR_LIMIT_OVERRUN`) when the line is longer than
   *   `limit`; as asyncio does, the line is then discarded through its `\n` if it is buffered,
   *   else the whole buffer is. Also the errors listed for `read`.
   */
  async readLine(opts: ReadOptions = NO_OPTIONS): Promise<Buffer> {
    this.#enter(opts.signal);
    const op = {};
    try {
      const scan = new SeparatorScan(NEWLINE);
      for (;;) {
        const result = this.#stepUntil(scan);
        if (result instanceof IncompleteReadError) return result.partial;
        if (result instanceof LimitOverrunError) {
          if (this.#buffer.byteAt(result.consumed) === LF) this.#buffer.discard(result.consumed + 1);
          else this.#buffer.clear();
          this.#maybeResume();
          throw result;
        }
        if (result !== null) return result;
        await this.#waitForData(op, opts.signal);
      }
    } finally {
      this.#leave(op);
    }
  }

  /**
   * Read exactly `n` bytes (`n` may exceed `limit`). Python: `readexactly(n)`.
   *
   * @throws (rejects) `IncompleteReadError` (`ERR_INCOMPLETE_READ`) when EOF comes first; its
   *   `partial` holds the bytes that were buffered, which are consumed. `ERR_INVALID_ARG_VALUE`
   *   when `n` is negative or not an integer. Also the errors listed for `read`.
   */
  async readExactly(n: number, opts: ReadOptions = NO_OPTIONS): Promise<Buffer> {
    checkInteger("read exactly", n);
    if (n < 0) throw invalidArgValue(`Cannot read exactly: n must be >= 0, got ${n}`);
    this.#enter(opts.signal);
    if (n === 0) return EMPTY;
    const op = {};
    try {
      while (this.#buffer.length < n) {
        if (this.#eof) throw new IncompleteReadError(this.#buffer.takeAll(), n);
        await this.#waitForData(op, opts.signal);
      }
      const data = this.#buffer.take(n);
      this.#maybeResume();
      return data;
    } finally {
      this.#leave(op);
    }
  }

  /**
   * Read up to and including a separator (default `"\n"`). With several separators, the
   * shortest result that ends with any of them wins: the match that ends first, and on a tie
   * the shortest separator (Python 3.13). Python: `readuntil(separator)`.
   *
   * @throws (rejects) `LimitOverrunError` (`ERR_LIMIT_OVERRUN`) when no separator starts
   *   within `limit` bytes; the data stays buffered. `IncompleteReadError` at EOF without a
   *   separator (`partial` is the whole buffer, consumed; `expected` is null).
   *   `ERR_INVALID_ARG_VALUE` for an empty separator or an empty list. Also the errors listed
   *   for `read`.
   *
   * @example
   * ```ts
   * const record = await reader.readUntil(["\r\n", "\n"]);
   * ```
   */
  async readUntil(separator: Separator = "\n", opts: ReadOptions = NO_OPTIONS): Promise<Buffer> {
    const seps = this.#separators(separator);
    this.#enter(opts.signal);
    const op = {};
    try {
      const scan = new SeparatorScan(seps);
      for (;;) {
        const result = this.#stepUntil(scan);
        if (result instanceof Error) throw result;
        if (result !== null) return result;
        await this.#waitForData(op, opts.signal);
      }
    } finally {
      this.#leave(op);
    }
  }

  /**
   * Lines until EOF (`readLine` until it gives an empty Buffer). Python: `__aiter__`.
   *
   * @example
   * ```ts
   * for await (const line of reader) handle(line);
   * ```
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    for (;;) {
      const line = await this.readLine();
      if (line.length === 0) return;
      yield line;
    }
  }

  /**
   * One step of `readUntil` over what is buffered now: the data (consumed), the error to raise
   * (returned, not thrown, to keep it apart from wait errors), or null to wait for more.
   */
  #stepUntil(scan: SeparatorScan): Buffer | IncompleteReadError | LimitOverrunError | null {
    const match = scan.advance(this.#buffer);
    if (match === null) {
      // No separator can start before this offset any more.
      const offset = Math.max(0, this.#buffer.length + 1 - scan.maxLength);
      if (offset > this.#limit) {
        return new LimitOverrunError(
          `Cannot read until separator: none found in the first ${offset} bytes (limit ${this.#limit})`,
          offset,
        );
      }
      if (this.#eof) return new IncompleteReadError(this.#buffer.takeAll(), null);
      return null;
    }
    if (match.start > this.#limit) {
      return new LimitOverrunError(
        `Cannot read until separator: found after ${match.start} bytes, over the limit of ${this.#limit}`,
        match.start,
      );
    }
    const data = this.#buffer.take(match.end);
    this.#maybeResume();
    return data;
  }

  /** `read(-1)`: take chunks as they come (so flow control sees the buffer drain) until EOF. */
  async #readAll(op: object, signal: AbortSignal | undefined): Promise<Buffer> {
    const claimed: Buffer[] = [];
    this.#claimed = claimed;
    try {
      for (;;) {
        for (const chunk of this.#buffer.takeChunks()) claimed.push(chunk);
        this.#maybeResume();
        if (this.#eof) break;
        await this.#waitForData(op, signal);
      }
    } finally {
      if (this.#claimed === claimed) this.#claimed = null;
    }
    return claimed.length === 1 ? claimed[0]! : Buffer.concat(claimed);
  }

  /** Start a read: reject an aborted signal, a second concurrent read, a failed stream. */
  #enter(signal: AbortSignal | undefined): void {
    if (signal?.aborted) throw signal.reason;
    if (this.#current !== null) {
      throw codedError(codes.READ_IN_PROGRESS, "Cannot read: another read is already waiting on this reader");
    }
    if (this.#exception !== null) throw this.#exception;
  }

  /** End read `op`: the reader is free again (unless a failure already freed it). */
  #leave(op: object): void {
    if (this.#current === op) this.#current = null;
  }

  /**
   * Make read `op` the one in progress until it ends, and wait for `feedData`, `feedEof`,
   * `setException` or an abort; resume a paused transport first.
   */
  #waitForData(op: object, signal: AbortSignal | undefined): Promise<void> {
    this.#current = op;
    const wait = new Promise<void>((resolve, reject) => {
      if (signal === undefined) {
        this.#waiter = { resolve, fail: reject };
        return;
      }
      const onAbort = (): void => this.#failWaiter(signal.reason);
      this.#waiter = {
        resolve: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
        fail: (err) => {
          signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
    if (this.#exception !== null) {
      // Set after this read was woken up and before it ran again: nothing would wake it now.
      this.#failWaiter(this.#exception);
    } else if (signal?.aborted) {
      this.#failWaiter(signal.reason);
    } else {
      this.#resumeToWait();
    }
    return wait;
  }

  /** A read is about to wait: resume a paused transport, as waiting while paused would never end. */
  #resumeToWait(): void {
    // (readExactly(n) with n > limit needs this.)
    if (!this.#paused) return;
    this.#paused = false;
    try {
      this.#flow!.resumeReading();
    } catch (err) {
      this.#failWaiter(err);
    }
  }

  #wakeWaiter(): void {
    const waiter = this.#waiter;
    if (waiter === null) return;
    this.#waiter = null;
    if (waiter === GATED) {
      const resolve = this.#gateResolve!;
      this.#gateResolve = this.#gateReject = null;
      resolve();
    } else {
      waiter.resolve();
    }
  }

  /** Reject the waiting read now, giving back what a `read(-1)` took and freeing the reader. */
  #failWaiter(err: unknown): void {
    const waiter = this.#waiter;
    if (waiter === null) return;
    this.#waiter = null;
    if (this.#claimed !== null) {
      if (this.#buffer === NOTHING_FED) this.#buffer = new ChunkQueue();
      this.#buffer.unshiftChunks(this.#claimed);
      this.#claimed = null;
    }
    this.#current = null;
    if (waiter === GATED) {
      const reject = this.#gateReject!;
      this.#gateResolve = this.#gateReject = null;
      reject(err);
    } else {
      waiter.fail(err);
    }
  }

  /** `separator` as sorted Buffers, reusing the last conversion when the strings repeat. */
  #separators(separator: Separator): readonly Buffer[] {
    if (separator === "\n") return NEWLINE;
    const list = typeof separator === "string" ? [separator] : separator;
    const last = this.#lastSeps;
    if (last !== null && Array.isArray(list) && list.length === last.key.length) {
      let same = true;
      for (let i = 0; i < list.length && same; i++) same = list[i] === last.key[i];
      if (same) return last.seps;
    }
    const seps = toSeparators(separator);
    if (Array.isArray(list) && list.every((s) => typeof s === "string")) {
      this.#lastSeps = { key: [...list] as string[], seps };
    }
    return seps;
  }

  #maybeResume(): void {
    if (this.#paused && this.#buffer.length <= this.#limit) {
      this.#paused = false;
      this.#flow!.resumeReading();
    }
  }

  #attach(flow: ReadingFlowControl): void {
    if (this.#flow !== null)
      throw invalidArgValue("Cannot attach flow control: the reader already has a transport");
    this.#flow = flow;
  }
}

function checkInteger(what: string, n: unknown): asserts n is number {
  if (typeof n !== "number") throw invalidArgType(`Cannot ${what}: n must be a number, got ${typeof n}`);
  if (!Number.isInteger(n)) throw invalidArgValue(`Cannot ${what}: n must be an integer, got ${n}`);
}

/** Separators as Buffers, sorted by length (stable), validated. */
function toSeparators(separator: Separator): Buffer[] {
  const list = typeof separator === "string" || separator instanceof Uint8Array ? [separator] : separator;
  if (!Array.isArray(list))
    throw invalidArgType("Cannot read until separator: expected bytes, a string or an array");
  if (list.length === 0)
    throw invalidArgValue("Cannot read until separator: the list of separators is empty");
  const seps = list.map((s) => toBuffer(s));
  if (seps.some((s) => s.length === 0))
    throw invalidArgValue("Cannot read until separator: a separator is empty");
  return seps.sort((a, b) => a.length - b.length);
}
