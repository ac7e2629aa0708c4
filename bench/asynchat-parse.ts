/**
 * Micro-benchmark of asynchat's terminator parsing: our TerminatorScanner against CPython
 * 3.11's `async_chat.handle_read` on the same bytes cut into the same reads.
 *
 * The input is lines of 100 bytes ending in `\r\n`; the terminator is `\r\n`; both sinks only
 * count bytes and lines (and must agree). Sizes: 1, 2 and 4 MiB in random reads of 1–4096
 * bytes (linear scaling), and 4 MiB in reads of 64 KiB and of 1 MiB (where CPython's slicing
 * of its buffer after each line degrades). Each run times passes until `--min-ms` has gone by;
 * runs alternate Node, Python, Node, Python…, each run going through every input in turn; the
 * table shows medians, the doubling ratios are medians of ratios taken within one run.
 *
 *   node dist-test/bench/asynchat-parse.js [--runs 5] [--min-ms 300] [--json]
 *
 * Needs `python3` (or `python3.11`, or `ASYNCHAT_PYTHON`) with asynchat, i.e. Python <= 3.11.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { TerminatorScanner } from "../src/asynchat/terminator-scanner.js";

const MiB = 1024 * 1024;
const LINE = 100;

interface Config {
  name: string;
  total: number;
  /** Read size, or `null` for random sizes of 1–4096 bytes. */
  read: number | null;
}

const CONFIGS: Config[] = [
  { name: "1 MiB, reads of 1–4096 B", total: 1 * MiB, read: null },
  { name: "2 MiB, reads of 1–4096 B", total: 2 * MiB, read: null },
  { name: "4 MiB, reads of 1–4096 B", total: 4 * MiB, read: null },
  { name: "4 MiB, reads of 64 KiB", total: 4 * MiB, read: 64 * 1024 },
  { name: "4 MiB, reads of 1 MiB", total: 4 * MiB, read: 1 * MiB },
];

interface Measure {
  secondsPerPass: number;
  passes: number;
  lines: number;
  bytes: number;
}

/** mulberry32: the same sequence on every run. */
function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `total` bytes of 100-byte lines (98 printable bytes, then `\r\n`). */
function makeLines(total: number, rng: () => number): Buffer {
  const data = Buffer.alloc(total);
  for (let i = 0; i < total; i++) {
    const col = i % LINE;
    data[i] = col === LINE - 2 ? 0x0d : col === LINE - 1 ? 0x0a : 0x20 + Math.floor(rng() * 95);
  }
  return data;
}

function makeSizes(total: number, read: number | null, rng: () => number): number[] {
  const sizes: number[] = [];
  for (let left = total; left > 0; ) {
    const size = Math.min(left, read ?? 1 + Math.floor(rng() * 4096));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

/** One untimed pass to warm up, then passes until `minMs` has gone by. */
function measureOurs(reads: Buffer[], minMs: number): Measure {
  let lines = 0;
  let bytes = 0;
  const sink = {
    collectIncomingData: (data: Buffer) => void (bytes += data.length),
    foundTerminator: () => void lines++,
  };
  const pass = (): [number, number] => {
    lines = 0;
    bytes = 0;
    const scanner = new TerminatorScanner(sink, "\r\n");
    for (const read of reads) scanner.feed(read);
    return [lines, bytes];
  };
  const [wantLines, wantBytes] = pass();
  let passes = 0;
  const start = process.hrtime.bigint();
  let elapsedMs = 0;
  do {
    const [l, b] = pass();
    if (l !== wantLines || b !== wantBytes) throw new Error("Benchmark passes disagree");
    passes++;
    elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  } while (elapsedMs < minMs);
  return { secondsPerPass: elapsedMs / 1000 / passes, passes, lines: wantLines, bytes: wantBytes };
}

function pythonExe(): string {
  const candidates = process.env.ASYNCHAT_PYTHON ? [process.env.ASYNCHAT_PYTHON] : ["python3.11", "python3"];
  for (const exe of candidates) {
    const r = spawnSync(exe, ["-c", "import sys; assert sys.version_info < (3, 12)"], { stdio: "ignore" });
    if (r.error === undefined && r.status === 0) return exe;
  }
  throw new Error("Cannot run the benchmark: no python3 <= 3.11 found (set ASYNCHAT_PYTHON)");
}

function pythonScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, "../../bench/asynchat_parse.py"), resolve("bench/asynchat_parse.py")];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`Cannot find asynchat_parse.py: looked in ${candidates.join(", ")}`);
  return found;
}

function measurePython(python: string, script: string, dataPath: string, sizesPath: string, minMs: number) {
  const r = spawnSync(python, [script, dataPath, sizesPath, String(minMs / 1000)], {
    encoding: "utf8",
    timeout: 300_000,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`Python benchmark failed with status ${r.status}: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as {
    seconds_per_pass: number;
    passes: number;
    lines: number;
    bytes: number;
    python: string;
  };
  return {
    secondsPerPass: out.seconds_per_pass,
    passes: out.passes,
    lines: out.lines,
    bytes: out.bytes,
    version: out.python,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Prepared {
  config: Config;
  reads: Buffer[];
  dataPath: string;
  sizesPath: string;
}

interface Row {
  config: Config;
  reads: number;
  ours: number[];
  cpython: number[];
  oursMedian: number;
  cpythonMedian: number;
}

/** Write each input and its reads to `dir`, for the Python side. */
function prepare(dir: string): Prepared[] {
  return CONFIGS.map((config, i) => {
    const rng = makeRng(0x5eed + config.total + (config.read ?? 0));
    const data = makeLines(config.total, rng);
    const sizes = makeSizes(config.total, config.read, rng);
    const dataPath = join(dir, `data-${i}.bin`);
    const sizesPath = join(dir, `sizes-${i}.bin`);
    writeFileSync(dataPath, data);
    writeFileSync(sizesPath, Buffer.from(new Uint32Array(sizes).buffer));
    const reads: Buffer[] = [];
    let at = 0;
    for (const size of sizes) {
      reads.push(data.subarray(at, at + size));
      at += size;
    }
    return { config, reads, dataPath, sizesPath };
  });
}

function main(): void {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "5" },
      "min-ms": { type: "string", default: "300" },
      json: { type: "boolean", default: false },
    },
  });
  const runs = Math.min(Math.max(3, Number.parseInt(values.runs, 10) || 5), 15);
  const minMs = Math.min(Math.max(50, Number.parseInt(values["min-ms"], 10) || 300), 5000);
  const python = pythonExe();
  const script = pythonScript();
  const dir = mkdtempSync(join(tmpdir(), "asynchat-bench-"));
  let version = "";
  try {
    const inputs = prepare(dir);
    const rows: Row[] = inputs.map((p) => ({
      config: p.config,
      reads: p.reads.length,
      ours: [],
      cpython: [],
      oursMedian: 0,
      cpythonMedian: 0,
    }));
    // Runs alternate Node and Python, and each run goes through every size in turn, so that
    // the doubling ratios compare measurements taken moments apart.
    for (let run = 0; run < runs; run++) {
      for (const [i, p] of inputs.entries()) {
        const ours = measureOurs(p.reads, minMs);
        const theirs = measurePython(python, script, p.dataPath, p.sizesPath, minMs);
        version = theirs.version;
        if (ours.lines !== theirs.lines || ours.bytes !== theirs.bytes) {
          throw new Error(
            `Results differ on ${p.config.name}: ${ours.lines} lines/${ours.bytes} bytes vs CPython ${theirs.lines}/${theirs.bytes}`,
          );
        }
        rows[i]!.ours.push(ours.secondsPerPass);
        rows[i]!.cpython.push(theirs.secondsPerPass);
        if (!values.json) process.stderr.write(".");
      }
    }
    for (const row of rows) {
      row.oursMedian = median(row.ours);
      row.cpythonMedian = median(row.cpython);
    }
    if (!values.json) process.stderr.write("\n");
    report(rows, runs, minMs, version, values.json);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(rows: Row[], runs: number, minMs: number, version: string, json: boolean): void {
  const mbps = (bytes: number, seconds: number) => bytes / 1e6 / seconds;
  // Median over runs of the time ratio between row j and row i measured in the same run.
  const scaling = (i: number, j: number, pick: (r: Row) => number[]) =>
    median(pick(rows[j]!).map((t, run) => t / pick(rows[i]!)[run]!));
  const scale = {
    ours: [scaling(0, 1, (r) => r.ours), scaling(1, 2, (r) => r.ours)],
    cpython: [scaling(0, 1, (r) => r.cpython), scaling(1, 2, (r) => r.cpython)],
  };
  if (json) {
    console.log(JSON.stringify({ runs, minMs, python: version, node: process.version, rows, scale }));
    return;
  }
  console.log(
    `Node ${process.version}, CPython ${version}, ${cpus()[0]?.model ?? "?"} (${cpus().length} CPUs)`,
  );
  console.log(`${runs} alternating runs per row, each timing passes for >= ${minMs} ms; medians.\n`);
  console.log("| input | reads | TerminatorScanner MB/s | CPython asynchat MB/s | ratio |");
  console.log("|---|---:|---:|---:|---:|");
  for (const r of rows) {
    const ours = mbps(r.config.total, r.oursMedian);
    const theirs = mbps(r.config.total, r.cpythonMedian);
    console.log(
      `| ${r.config.name} | ${r.reads} | ${ours.toFixed(1)} | ${theirs.toFixed(1)} | ${(ours / theirs).toFixed(1)}x |`,
    );
  }
  const f = (x: number) => x.toFixed(2);
  console.log(
    "\nTime ratio when the input doubles, median of per-run ratios (linear = 2.00; target <= 2.20):",
  );
  console.log(`- TerminatorScanner: 1→2 MiB ${f(scale.ours[0]!)}, 2→4 MiB ${f(scale.ours[1]!)}`);
  console.log(`- CPython asynchat:  1→2 MiB ${f(scale.cpython[0]!)}, 2→4 MiB ${f(scale.cpython[1]!)}`);
}

main();
