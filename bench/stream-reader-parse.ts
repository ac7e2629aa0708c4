/**
 * Micro-benchmark of `StreamReader`'s parsing: `readLine` (and `readUntil` with two
 * separators) over N MiB of 100-byte lines, fed in random chunk sizes by a fake transport that
 * honours the reader's flow control (it stops feeding when paused, goes on when resumed).
 * Prints the best time of several runs, MB/s, and the time ratio of each size to the one
 * before: doubling the input should double the time (linear work for any split).
 *
 * Run: `npm run build:test && node dist-test/bench/stream-reader-parse.js [--quick]`
 *
 * @module
 */
import { attachFlowControl } from "../src/streams/_reader-flow.js";
import { StreamReader } from "../src/streams/stream-reader.js";

const MiB = 1024 * 1024;
const LINE = 100;

/** A small deterministic PRNG (mulberry32), so every run feeds the same chunks. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `bytes` of 100-byte lines (99 printable bytes and `\n`), cut into chunks of 1..maxChunk bytes. */
function makeChunks(bytes: number, maxChunk: number, seed: number): Buffer[] {
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) data[i] = i % LINE === LINE - 1 ? 0x0a : 0x61 + (i % 26);
  const rand = prng(seed);
  const chunks: Buffer[] = [];
  // Copies, as a socket hands out fresh Buffers.
  for (let at = 0; at < bytes; ) {
    const n = Math.min(bytes - at, 1 + Math.floor(rand() * maxChunk));
    chunks.push(Buffer.from(data.subarray(at, at + n)));
    at += n;
  }
  return chunks;
}

type Mode = "readLine" | "readUntil2";

/** Feed `chunks` under flow control while one consumer reads records; the elapsed ms. */
async function run(chunks: readonly Buffer[], mode: Mode, expectRecords: number): Promise<number> {
  const reader = new StreamReader();
  let paused = false;
  let wake: (() => void) | null = null;
  attachFlowControl(reader, {
    pauseReading: () => {
      paused = true;
    },
    resumeReading: () => {
      paused = false;
      wake?.();
      wake = null;
    },
  });
  const start = performance.now();
  const consumer = (async () => {
    let records = 0;
    for (;;) {
      const rec =
        mode === "readLine"
          ? await reader.readLine()
          : await reader.readUntil(["\r\n", "\n"]).catch(eofToEmpty);
      if (rec.length === 0) break;
      if (rec.length !== LINE) throw new Error(`Bad record length ${rec.length}`);
      records++;
    }
    return records;
  })();
  for (const chunk of chunks) {
    if (paused) await new Promise<void>((resolve) => (wake = resolve));
    reader.feedData(chunk);
  }
  reader.feedEof();
  const records = await consumer;
  const ms = performance.now() - start;
  if (records !== expectRecords) throw new Error(`Read ${records} records, expected ${expectRecords}`);
  return ms;
}

function eofToEmpty(err: unknown): Buffer {
  if ((err as { code?: string }).code === "ERR_INCOMPLETE_READ") return Buffer.alloc(0);
  throw err;
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const sizes = quick ? [4, 8] : [4, 8, 16];
  const repeats = quick ? 3 : 7;
  const setups: { label: string; mode: Mode; maxChunk: number }[] = [
    { label: "readLine, chunks 1..64 KiB", mode: "readLine", maxChunk: 64 * 1024 },
    { label: "readLine, chunks 1..512 B", mode: "readLine", maxChunk: 512 },
    { label: 'readUntil(["\\r\\n", "\\n"]), chunks 1..64 KiB', mode: "readUntil2", maxChunk: 64 * 1024 },
  ];
  // The best of several runs: the least disturbed by other work on the machine.
  console.log(`node ${process.version}, best of ${repeats} runs per cell`);
  console.log("| setup | input | time (ms) | MB/s | time ÷ previous size |");
  console.log("|---|---:|---:|---:|---:|");
  for (const setup of setups) {
    // Warm up the code paths once.
    const warm = MiB - (MiB % LINE);
    await run(makeChunks(warm, setup.maxChunk, 99), setup.mode, warm / LINE);
    let previous: number | null = null;
    for (const mib of sizes) {
      const bytes = mib * MiB - ((mib * MiB) % LINE);
      const chunks = makeChunks(bytes, setup.maxChunk, mib);
      const times: number[] = [];
      for (let i = 0; i < repeats; i++) times.push(await run(chunks, setup.mode, bytes / LINE));
      const ms = Math.min(...times);
      const mbps = bytes / MiB / (ms / 1000);
      const ratio = previous === null ? "" : (ms / previous).toFixed(2);
      console.log(`| ${setup.label} | ${mib} MiB | ${ms.toFixed(1)} | ${mbps.toFixed(0)} | ${ratio} |`);
      previous = ms;
    }
  }
}

await main();
