/**
 * Complexity benchmark, asyncore-ts side: asynchat's terminator scanning, with no socket.
 *
 * What is timed: a fresh `TerminatorScanner` with terminator `\r\n` is fed an input of n bytes
 * cut into reads of `readSize` bytes (the last one shorter), the way `AsyncChat.handleRead`
 * feeds it each `recv()` result. The input is lines of 100 bytes (98 printable bytes, then
 * `\r\n`); the sink only counts. Each measurement times as many passes as fit in `minMs` (at
 * least one) and divides. The CPython side feeds the same bytes in the same reads through
 * `async_chat.handle_read`.
 *
 * @module
 */
import { TerminatorScanner } from "../src/asynchat/terminator-scanner.js";
import type { Curve } from "./complexity-stats.js";

/** Parameters of {@link measureScan}. */
export interface ScanParams {
  /** Input sizes in bytes. */
  sizes: number[];
  /** Read sizes: one curve each. */
  readSizes: number[];
  reps: number;
  minMs: number;
}

/** Seconds per input, one curve per read size, and the lines/bytes found (to compare sides). */
export interface ScanResult {
  curves: Record<string, Curve>;
  /** `"<readSize>/<size>"` → `[lines, bytes collected]`. */
  counts: Record<string, [number, number]>;
}

const LINE = 100;

/**
 * The benchmark's input: lines of 98 printable bytes and `\r\n`, repeating every 100 lines.
 * `complexity_asyncore.py` builds the same bytes.
 */
export function makeLines(total: number): Buffer {
  const block = Buffer.alloc(LINE * LINE);
  for (let j = 0; j < LINE; j++) {
    for (let k = 0; k < LINE - 2; k++) block[j * LINE + k] = 0x20 + ((j * 31 + k * 7) % 95);
    block[j * LINE + LINE - 2] = 0x0d;
    block[j * LINE + LINE - 1] = 0x0a;
  }
  const data = Buffer.alloc(total);
  for (let at = 0; at < total; at += block.length)
    block.copy(data, at, 0, Math.min(block.length, total - at));
  return data;
}

function cut(data: Buffer, readSize: number): Buffer[] {
  const reads: Buffer[] = [];
  for (let at = 0; at < data.length; at += readSize) reads.push(data.subarray(at, at + readSize));
  return reads;
}

function onePass(reads: Buffer[]): [number, number] {
  let lines = 0;
  let bytes = 0;
  const scanner = new TerminatorScanner(
    {
      collectIncomingData: (d) => void (bytes += d.length),
      foundTerminator: () => void lines++,
    },
    "\r\n",
  );
  for (const r of reads) scanner.feed(r);
  return [lines, bytes];
}

function timePasses(reads: Buffer[], k: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < k; i++) onePass(reads);
  return Number(process.hrtime.bigint() - t0) / 1e9 / k;
}

/** Measure every read size and input size; see the module comment for what is timed. */
export function measureScan(p: ScanParams): ScanResult {
  const data = makeLines(Math.max(...p.sizes));
  const curves: Record<string, Curve> = {};
  const counts: Record<string, [number, number]> = {};
  for (const readSize of p.readSizes) {
    const inputs = p.sizes.map((n) => cut(data.subarray(0, n), readSize));
    const passes = inputs.map((reads, i) => {
      counts[`${readSize}/${p.sizes[i]}`] = onePass(reads);
      const t = timePasses(reads, 1);
      return Math.min(100_000, Math.max(1, Math.ceil(p.minMs / 1000 / t)));
    });
    for (const [i, reads] of inputs.entries()) timePasses(reads, passes[i]!);
    const samples: number[][] = p.sizes.map(() => []);
    for (let r = 0; r < p.reps; r++) {
      for (const [i, reads] of inputs.entries()) samples[i]!.push(timePasses(reads, passes[i]!));
    }
    curves[String(readSize)] = { sizes: p.sizes, samples };
  }
  return { curves, counts };
}
