/**
 * The byte buffer behind `StreamReader`: a queue of received chunks plus an offset into the
 * first one, so that taking bytes from the front never moves the bytes behind them.
 *
 * Internal to the streams layer; not exported from the package.
 *
 * @module
 */

const EMPTY = Buffer.alloc(0);

/** The chunk array of every empty queue: never pushed to (a real array replaces it first). */
const NONE: Buffer[] = [];

/** Compact the chunk array once this many consumed slots sit at its front. */
const COMPACT_AFTER = 64;

/**
 * A FIFO of `Buffer` chunks. `push` keeps a reference to the chunk (no copy); `take` returns
 * the chunk itself or a view of it when the bytes asked for lie in one chunk, and copies only
 * when they span several. Every operation is O(1) amortised per chunk and per byte taken.
 */
export class ChunkQueue {
  #chunks: Buffer[] = NONE;
  /** Index in `#chunks` of the first live chunk. */
  #head = 0;
  /** Bytes of the first live chunk already taken. */
  #offset = 0;
  #length = 0;

  /** Bytes held. */
  get length(): number {
    return this.#length;
  }

  /** Chunks held (the first one may be partly taken). */
  get chunkCount(): number {
    return this.#chunks.length - this.#head;
  }

  /** Append a chunk without copying it; empty chunks are ignored. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const chunks = this.#chunks;
    if (chunks === NONE) {
      this.#chunks = [chunk];
    } else if (this.#head === 1 && chunks.length === 1) {
      // The emptied one-slot array (see `#dropFirst`) takes the chunk back in place.
      chunks[0] = chunk;
      this.#head = 0;
    } else {
      chunks.push(chunk);
    }
    this.#length += chunk.length;
  }

  /** The `i`-th live chunk, without the part already taken from the first. */
  chunk(i: number): Buffer {
    const c = this.#chunks[this.#head + i]!;
    return i === 0 && this.#offset > 0 ? c.subarray(this.#offset) : c;
  }

  /** The `i`-th live chunk whole, including any part already taken (see `skipped`). */
  rawChunk(i: number): Buffer {
    return this.#chunks[this.#head + i]!;
  }

  /** Bytes already taken from the `i`-th live chunk (only the first one has any). */
  skipped(i: number): number {
    return i === 0 ? this.#offset : 0;
  }

  /** The byte at `pos` from the front, or `undefined` past the end. O(chunks before it). */
  byteAt(pos: number): number | undefined {
    if (pos < 0 || pos >= this.#length) return undefined;
    let p = pos + this.#offset;
    for (let i = this.#head; i < this.#chunks.length; i++) {
      const c = this.#chunks[i]!;
      if (p < c.length) return c[p];
      p -= c.length;
    }
    return undefined;
  }

  /**
   * Remove and return the first `n` bytes (`0 <= n <= length`). Returns the chunk itself when
   * it is exactly what was asked, a view of it when the bytes lie in one chunk, and a new
   * Buffer of exactly `n` bytes otherwise.
   */
  take(n: number): Buffer {
    if (n <= 0) return EMPTY;
    const first = this.#chunks[this.#head]!;
    const avail = first.length - this.#offset;
    if (n < avail) {
      const out = first.subarray(this.#offset, this.#offset + n);
      this.#offset += n;
      this.#length -= n;
      return out;
    }
    if (n === avail) {
      const out = this.#offset === 0 ? first : first.subarray(this.#offset);
      this.#dropFirst();
      return out;
    }
    return this.#takeSpanning(n);
  }

  /** Remove and return everything, as one Buffer (the chunk itself when there is one). */
  takeAll(): Buffer {
    return this.take(this.#length);
  }

  /** Remove and return every chunk as it is (views, no copy). */
  takeChunks(): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < this.chunkCount; i++) out.push(this.chunk(i));
    this.clear();
    return out;
  }

  /** Put chunks back at the front, in order (undoes `takeChunks`). */
  unshiftChunks(chunks: readonly Buffer[]): void {
    const live: Buffer[] = [];
    for (let i = 0; i < this.chunkCount; i++) live.push(this.chunk(i));
    this.#chunks = NONE;
    this.#head = 0;
    this.#offset = 0;
    this.#length = 0;
    for (const c of chunks) this.push(c);
    for (const c of live) this.push(c);
  }

  /** Drop everything. */
  clear(): void {
    this.#chunks = NONE;
    this.#head = 0;
    this.#offset = 0;
    this.#length = 0;
  }

  /** Drop `n` bytes from the front (`0 <= n <= length`) without returning them. */
  discard(n: number): void {
    let left = n;
    while (left > 0) {
      const avail = this.#chunks[this.#head]!.length - this.#offset;
      if (left < avail) {
        this.#offset += left;
        this.#length -= left;
        return;
      }
      left -= avail;
      this.#dropFirst();
    }
  }

  #takeSpanning(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[this.#head]!;
      const want = n - filled;
      const avail = c.length - this.#offset;
      if (want < avail) {
        c.copy(out, filled, this.#offset, this.#offset + want);
        this.#offset += want;
        this.#length -= want;
        return out;
      }
      c.copy(out, filled, this.#offset);
      filled += avail;
      this.#dropFirst();
    }
    return out;
  }

  #dropFirst(): void {
    const c = this.#chunks[this.#head]!;
    this.#length -= c.length - this.#offset;
    this.#chunks[this.#head] = EMPTY;
    this.#head++;
    this.#offset = 0;
    if (this.#head === this.#chunks.length) {
      // A one-slot array is kept, empty (head past its end), for the next push: a queue
      // that gets one chunk at a time and is read empty each time allocates no array.
      if (this.#head > 1) {
        this.#chunks = NONE;
        this.#head = 0;
      }
    } else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}
