/**
 * The terminator scanner: asynchat's input framing as a pure class that is fed bytes and
 * never sees a socket.
 *
 * @module
 */
import { toBuffer } from "../address.js";
import { invalidArgType, invalidArgValue } from "../errors.js";
import { borderTable, prefixAtEnd } from "./_prefix-match.js";

/**
 * Where a {@link TerminatorScanner} delivers its input. `AsyncChat` is one: it passes itself.
 * Python: the `collect_incoming_data` / `found_terminator` pair of `asynchat.async_chat`.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * let current = "";
 * const sink: TerminatorSink = {
 *   collectIncomingData: (data) => { current += data.toString(); },
 *   foundTerminator: () => { lines.push(current); current = ""; },
 * };
 * ```
 */
export interface TerminatorSink {
  /** Receives the bytes that precede the terminator (or all bytes when there is none). */
  collectIncomingData(data: Buffer): void;
  /** Runs once the current terminator has been seen (or a byte count has been reached). */
  foundTerminator(): void;
}

/**
 * What {@link TerminatorScanner.setTerminator} accepts: bytes, a byte count, or `null`.
 *
 * @example
 * ```ts
 * chat.setTerminator("\r\n"); // a line end
 * chat.setTerminator(512);    // the next 512 bytes
 * chat.setTerminator(null);   // everything, as it comes
 * ```
 */
export type TerminatorInput = Uint8Array | string | number | null;

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * `buf.indexOf(term, start)`, faster for the usual case: looking for the first byte is several
 * times quicker than a multi-byte search, so try that once, and search for the whole
 * terminator only past a first byte that did not start it.
 */
function indexOfTerminator(buf: Buffer, term: Buffer, start: number): number {
  const first = buf.indexOf(term[0]!, start);
  if (first === -1 || term.length === 1) return first;
  if (first + term.length <= buf.length) {
    let k = 1;
    while (k < term.length && buf[first + k] === term[k]) k++;
    if (k === term.length) return first;
  }
  return buf.indexOf(term, first + 1);
}

/**
 * Splits a byte stream at a terminator exactly as CPython 3.11's
 * `asynchat.async_chat.handle_read` does, where each {@link feed} is one `recv()` result.
 *
 * The terminator is one of:
 * - bytes of any length (a string is UTF-8 encoded): everything before each occurrence goes
 *   to `collectIncomingData`, then `foundTerminator` runs; the terminator itself is dropped;
 * - a byte count `n > 0`: the next `n` bytes go to `collectIncomingData` (in as many calls as
 *   reads), the count goes down as they arrive, and when it reaches `0` the terminator becomes
 *   `0` and `foundTerminator` runs;
 * - `null`, `0` or empty bytes: every byte goes to `collectIncomingData`, nothing is framed.
 *
 * Per feed the calls follow `(collectIncomingData? foundTerminator)* collectIncomingData?`;
 * `collectIncomingData` is never called with zero bytes for a bytes terminator. Both
 * callbacks may call {@link setTerminator} (or {@link discard}); the scanner reads the
 * terminator afresh before each step, so the rest of the same chunk is scanned for the new
 * one, precisely as CPython does. A bytes terminator whose first part ends a chunk is kept
 * (at most `terminator.length - 1` bytes) and scanned again with the next chunk; every other
 * byte is handed on before `feed` returns, so the scanner holds no more than that. If a
 * callback throws, the error propagates out of `feed` and the unprocessed bytes stay
 * buffered for the next feed, as with CPython.
 *
 * A byte count replaced from inside `collectIncomingData` while its bytes are still arriving
 * follows CPython too: a new count `m` becomes `m` minus the bytes of that read, and bytes or
 * `null` make `feed` throw a TypeError (the new terminator stays set).
 *
 * Work is linear: each received byte is searched once (the carried bytes once more), nothing
 * is re-sliced by copying, and a chunk is copied only to join it to carried bytes.
 * `collectIncomingData` receives views (`subarray`) of the fed chunk, valid as long as the
 * feeder does not reuse that memory; copy them to keep them if it does.
 *
 * Python: the input half of `asynchat.async_chat` (`set_terminator`, `get_terminator`,
 * `handle_read`'s loop, the input part of `discard_buffers`).
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * let current = "";
 * const scanner = new TerminatorScanner({
 *   collectIncomingData: (data) => { current += data.toString(); },
 *   foundTerminator: () => { lines.push(current); current = ""; },
 * }, "\r\n");
 * scanner.feed(Buffer.from("HELO a\r"));
 * scanner.feed(Buffer.from("\nQUIT\r\n"));  // lines: ["HELO a", "QUIT"]
 * ```
 */
export class TerminatorScanner {
  readonly #sink: TerminatorSink;
  #terminator: Buffer | number | null = null;
  /** Border table of a long bytes terminator (null for short ones and for counts). */
  #table: Int32Array | null = null;
  /** CPython's `ac_in_buffer` is `#buf[#pos..]`. */
  #buf: Buffer = EMPTY;
  #pos = 0;
  #searched = 0;

  /**
   * @param sink - Receives the data and terminator events; called synchronously from {@link feed}.
   * @param terminator - The initial terminator (default `null`: collect everything).
   * @throws TypeError `ERR_INVALID_ARG_TYPE` when `sink` lacks either method or the terminator
   *   has an unusable type; RangeError `ERR_INVALID_ARG_VALUE` for a bad byte count.
   */
  constructor(sink: TerminatorSink, terminator: TerminatorInput = null) {
    if (
      sink === null ||
      typeof sink !== "object" ||
      typeof sink.collectIncomingData !== "function" ||
      typeof sink.foundTerminator !== "function"
    ) {
      throw invalidArgType("Cannot create scanner: sink must have collectIncomingData and foundTerminator");
    }
    this.#sink = sink;
    this.setTerminator(terminator);
  }

  /**
   * Set the terminator: bytes (a string is UTF-8 encoded), a byte count, or `null`.
   * `null`, `0` and empty bytes all mean "collect everything". Takes effect at once, also when
   * called from inside a callback of this scanner. The bytes are copied.
   * Python: `async_chat.set_terminator`.
   *
   * @throws RangeError `ERR_INVALID_ARG_VALUE` for a negative or non-integer byte count.
   * @throws TypeError `ERR_INVALID_ARG_TYPE` for any other kind of value.
   */
  setTerminator(term: TerminatorInput): void {
    if (term === null) {
      this.#terminator = null;
      this.#table = null;
    } else if (typeof term === "number") {
      if (!Number.isSafeInteger(term)) {
        throw invalidArgValue(`Cannot set terminator: byte count must be an integer, got ${term}`);
      }
      if (term < 0) throw invalidArgValue(`Cannot set terminator: byte count must be >= 0, got ${term}`);
      this.#terminator = term;
      this.#table = null;
    } else if (typeof term === "string" || term instanceof Uint8Array) {
      const bytes = typeof term === "string" ? Buffer.from(term, "utf8") : Buffer.from(term);
      this.#terminator = bytes;
      this.#table = borderTable(bytes);
    } else {
      const kind = typeof term === "object" ? "an object" : typeof term;
      throw invalidArgType(`Cannot set terminator: expected bytes, a string, a number or null, got ${kind}`);
    }
  }

  /**
   * The current terminator as CPython reports it: bytes as a (copied) `Buffer`, a byte count
   * as the number of bytes still to come (`0` once reached), or `null`.
   * Python: `async_chat.get_terminator`.
   */
  getTerminator(): Buffer | number | null {
    const term = this.#terminator;
    return typeof term === "object" && term !== null ? Buffer.from(term) : term;
  }

  /**
   * Scan one more chunk of input (one `recv()` result); calls the sink synchronously, zero or
   * more times, before returning. An empty chunk rescans only the carried bytes.
   * Python: the loop of `async_chat.handle_read`.
   *
   * @throws whatever a callback throws (the unprocessed bytes stay buffered); TypeError
   *   `ERR_INVALID_ARG_TYPE` when `chunk` is not bytes, or when `collectIncomingData` replaces
   *   a partly received byte count by bytes or `null` (CPython fails there too, with the
   *   buffer emptied and the new terminator kept).
   */
  feed(chunk: Uint8Array | string): void {
    this.#append(toBuffer(chunk));
    while (this.#pos < this.#buf.length) {
      const term = this.#terminator;
      if (term === null || term === 0 || (typeof term === "object" && term.length === 0)) {
        this.#collectAll();
      } else if (typeof term === "number") {
        this.#takeCount(term);
      } else if (!this.#searchBytes(term, this.#table)) {
        break;
      }
    }
    this.#compact();
  }

  /**
   * Drop the buffered input (the carried part of a terminator, or whatever a callback that
   * threw left unprocessed). The terminator is kept. Safe to call from inside a callback:
   * the rest of the chunk being scanned is then dropped too.
   * Python: the input part of `async_chat.discard_buffers`.
   */
  discard(): void {
    this.#buf = EMPTY;
    this.#pos = 0;
  }

  /** Bytes the scanner holds between feeds: at most `terminator.length - 1` after a normal feed. */
  get bufferedLength(): number {
    return this.#buf.length - this.#pos;
  }

  /**
   * Bytes the terminator search has looked at so far, counting bytes carried over from one
   * feed to the next again. Stays within the bytes fed plus `terminator.length - 1` per feed:
   * nothing is ever searched twice otherwise. (The check for a partial terminator at the end
   * of a chunk looks only at the last `terminator.length - 1` bytes searched.)
   */
  get bytesSearched(): number {
    return this.#searched;
  }

  /** `ac_in_buffer = ac_in_buffer + data`, without copying when nothing is buffered. */
  #append(data: Buffer): void {
    if (data.length === 0) return;
    if (this.#pos >= this.#buf.length) {
      this.#buf = data;
    } else {
      this.#buf = Buffer.concat([this.#buf.subarray(this.#pos), data]);
    }
    this.#pos = 0;
  }

  /** No terminator: hand everything on. */
  #collectAll(): void {
    this.#sink.collectIncomingData(this.#buf.subarray(this.#pos));
    this.#buf = EMPTY;
    this.#pos = 0;
  }

  /** A byte count (negative only when a callback replaced a count, as CPython allows). */
  #takeCount(count: number): void {
    const buf = this.#buf;
    const start = this.#pos;
    const available = buf.length - start;
    if (available < count) {
      this.#sink.collectIncomingData(buf.subarray(start));
      this.#buf = EMPTY;
      this.#pos = 0;
      // CPython: `self.terminator = self.terminator - lb`, read after the callback.
      const now = this.#terminator;
      if (typeof now !== "number") {
        throw invalidArgType(
          "Cannot update terminator: a byte count was replaced by bytes or null while its data was collected",
        );
      }
      this.#terminator = now - available;
      return;
    }
    const cut = count >= 0 ? count : Math.max(0, available + count);
    this.#sink.collectIncomingData(buf.subarray(start, start + cut));
    if (count >= 0) this.#pos = Math.min(this.#pos + count, this.#buf.length);
    else this.#pos = Math.max(this.#pos, this.#buf.length + count);
    this.#terminator = 0;
    this.#table = null;
    this.#sink.foundTerminator();
  }

  /** A bytes terminator. Returns false when the rest is a partial terminator to carry. */
  #searchBytes(term: Buffer, table: Int32Array | null): boolean {
    const buf = this.#buf;
    const start = this.#pos;
    const end = buf.length;
    const index = indexOfTerminator(buf, term, start);
    if (index !== -1) {
      this.#searched += index + term.length - start;
      if (index > start) this.#sink.collectIncomingData(buf.subarray(start, index));
      this.#pos = Math.min(this.#pos + (index - start) + term.length, this.#buf.length);
      this.#sink.foundTerminator();
      return true;
    }
    this.#searched += end - start;
    const partial = prefixAtEnd(buf, start, end, term, table);
    if (partial === 0) {
      this.#collectAll();
      return true;
    }
    if (partial !== end - start) {
      this.#sink.collectIncomingData(buf.subarray(start, end - partial));
      this.#pos = Math.max(this.#pos, this.#buf.length - partial);
    }
    return false;
  }

  /** Keep only a private copy of what is left: a large chunk is not retained, a reused one not read later. */
  #compact(): void {
    if (this.#pos >= this.#buf.length) {
      this.#buf = EMPTY;
      this.#pos = 0;
    } else {
      this.#buf = Buffer.from(this.#buf.subarray(this.#pos));
      this.#pos = 0;
    }
  }
}
