/**
 * Incremental search for the first of several separators in a `ChunkQueue`, as
 * `StreamReader.readUntil` needs it: each received byte is searched once, plus at most
 * `longest separator - 1` bytes carried over from the chunk before.
 *
 * The match rule is Python 3.13's `readuntil`: the match that ends first wins; when several
 * end at the same byte, the shortest separator wins (so the result is the shortest prefix of
 * the data that ends with any separator).
 *
 * Internal to the streams layer; not exported from the package.
 *
 * @module
 */
import type { ChunkQueue } from "./_chunk-queue.js";

const EMPTY = Buffer.alloc(0);

/** First window searched when looking for several separators; windows double after it. */
const FIRST_WINDOW = 256;

/** Where a separator was found, in bytes from the front of the queue. */
export interface SeparatorMatch {
  /** Offset of the first byte of the separator. */
  readonly start: number;
  /** Offset just past its last byte (the length of the data to return). */
  readonly end: number;
}

/**
 * The earliest-ending match of any of `seps` (sorted by length, shortest first) in `hay` from
 * byte `from` on, ties to the shortest; offsets relative to `from`. Several separators are
 * searched in doubling windows so that the cost stays proportional to the distance of the
 * match, not to the length of `hay`.
 */
export function firstMatch(
  hay: Buffer,
  from: number,
  seps: readonly Buffer[],
  maxLength: number,
): SeparatorMatch | null {
  if (seps.length === 1) {
    const sep = seps[0]!;
    const i = hay.indexOf(sep, from);
    return i < 0 ? null : { start: i - from, end: i - from + sep.length };
  }
  let lo = from;
  let width = FIRST_WINDOW;
  while (lo < hay.length) {
    // Every match starting in [lo, lo + width) lies whole in [lo, hi).
    const hi = Math.min(hay.length, lo + width + maxLength - 1);
    const whole = hi === hay.length;
    const view = whole ? hay : hay.subarray(lo, hi);
    const base = whole ? 0 : lo;
    let best: SeparatorMatch | null = null;
    for (const sep of seps) {
      const i = view.indexOf(sep, lo - base);
      if (i < 0) continue;
      const end = base + i + sep.length - from;
      if (best === null || end < best.end) best = { start: base + i - from, end };
    }
    if (best !== null) return best;
    lo += width;
    width *= 2;
  }
  return null;
}

/**
 * The search state of one `readUntil` call. The queue may only grow at its end between two
 * calls of `advance` (nothing is taken while the read waits).
 */
export class SeparatorScan {
  readonly #seps: readonly Buffer[];
  readonly #maxLength: number;
  /** Chunks of the queue already searched. */
  #chunks = 0;
  /** Bytes of the queue already searched. */
  #scanned = 0;
  /** The last `maxLength - 1` bytes searched (or fewer), where a match may begin. */
  #tail: Buffer = EMPTY;

  /** @param seps non-empty separators, sorted by length (shortest first, stable). */
  constructor(seps: readonly Buffer[]) {
    this.#seps = seps;
    this.#maxLength = seps[seps.length - 1]!.length;
  }

  /** Length of the longest separator. */
  get maxLength(): number {
    return this.#maxLength;
  }

  /** Search the chunks not searched yet; the earliest-ending match, or `null`. */
  advance(queue: ChunkQueue): SeparatorMatch | null {
    while (this.#chunks < queue.chunkCount) {
      const i = this.#chunks;
      const match = this.#scanSegment(queue.rawChunk(i), queue.skipped(i));
      if (match !== null) return match;
      this.#chunks++;
    }
    return null;
  }

  /** Search `chunk` from byte `from` on (the part of it not yet taken from the queue). */
  #scanSegment(chunk: Buffer, from: number): SeparatorMatch | null {
    const base = this.#scanned;
    const keep = this.#maxLength - 1;
    const length = chunk.length - from;
    const tail = this.#tail;
    let best: SeparatorMatch | null = null;
    // The carried-over bytes and the start of this segment, where matches may straddle both.
    let seam: Buffer | null = null;
    if (tail.length > 0) {
      seam = Buffer.concat([tail, chunk.subarray(from, from + keep)]);
      const m = firstMatch(seam, 0, this.#seps, this.#maxLength);
      if (m !== null) best = { start: base - tail.length + m.start, end: base - tail.length + m.end };
    }
    // A segment no longer than `keep` lies whole in the seam: nothing more to search.
    if (seam === null || length > keep) {
      const m = firstMatch(chunk, from, this.#seps, this.#maxLength);
      if (m !== null) {
        const start = base + m.start;
        const end = base + m.end;
        // On equal ends the seam match is the same match or a longer separator: keep the shorter.
        if (best === null || end < best.end || (end === best.end && start > best.start))
          best = { start, end };
      }
    }
    if (best !== null) return best;
    this.#scanned = base + length;
    if (keep === 0) this.#tail = EMPTY;
    else if (length >= keep) this.#tail = chunk.subarray(chunk.length - keep);
    else {
      // The seam is the old tail plus this whole segment.
      const joined = seam ?? chunk.subarray(from);
      this.#tail = joined.subarray(Math.max(0, joined.length - keep));
    }
    return null;
  }
}
