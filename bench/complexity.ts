/**
 * The asyncore complexity table, measured: every operation's cost against data size (n bytes)
 * and connection count (m dispatchers), for asyncore-ts and, in the same run, for CPython
 * 3.11's asyncore/asynchat (`complexity_asyncore.py`, whose JSON this program reads). Fits a
 * growth exponent to every operation and writes `docs/complexity.md` with the loop-turn plot
 * `docs/complexity-loop-turn.svg`.
 *
 *   node --expose-gc dist-test/bench/complexity.js [--quick] [--out DIR] [--json FILE] [--reps N]
 *
 * - full mode (default): 5 repetitions, n up to 16 MiB, m up to 10,000; writes to `docs/`
 *   unless `--out` says otherwise; a few minutes.
 * - `--quick`: 3 repetitions, n up to 1 MiB, m up to 1,000; prints the table and writes
 *   nothing unless `--out` is given; about a minute.
 * - `--json FILE`: also write every raw figure.
 *
 * Loopback only; every load is bounded in count and time. m = 10,000 needs `ulimit -n` of
 * about 10,300 (the peer process holds the other ends); larger m are dropped, with a note,
 * when the limit is lower. Needs `python3` 3.11 (or `ASYNCORE_PYTHON`).
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { analysis } from "./complexity-analysis.js";
import { type LoopParams, measureLoop } from "./complexity-loop.js";
import { measureMemory } from "./complexity-memory.js";
import { PEER_SCRIPT, PeerClient } from "./complexity-peer-client.js";
import { loopTurnSvg, misses, renderMarkdown, summaryMarkdown } from "./complexity-report.js";
import type { BenchResults, SideResults } from "./complexity-rows.js";
import { measureScan, type ScanParams } from "./complexity-scan.js";
import { measureTransfer, type TransferParams } from "./complexity-transfer.js";

const KiB = 1024;
const SVG_NAME = "complexity-loop-turn.svg";

interface Params {
  transfer: TransferParams;
  scan: ScanParams;
  loop: LoopParams;
  memory: { ms: number[]; reps: number };
}

function powersOf4(from: number, to: number): number[] {
  const out: number[] = [];
  for (let n = from; n <= to; n *= 4) out.push(n);
  return out;
}

function params(quick: boolean, reps: number | undefined): Params {
  const r = reps ?? (quick ? 3 : 5);
  const maxN = quick ? 1024 * KiB : 16 * 1024 * KiB;
  return {
    transfer: { sizes: powersOf4(KiB, maxN), readSizes: [64 * KiB, 512], reps: r, minMs: quick ? 20 : 40 },
    scan: {
      sizes: powersOf4(16 * KiB, maxN),
      readSizes: [512, 64 * KiB, 1024 * KiB],
      reps: r,
      minMs: quick ? 20 : 40,
    },
    loop: {
      ms: quick ? [10, 100, 1000] : [10, 100, 1000, 10_000],
      active: 10,
      size: 64,
      reps: r,
      budgetMs: quick ? 200 : 500,
      batch: quick ? 500 : 1000,
      connects: quick ? 10 : 20,
    },
    memory: { ms: quick ? [1000] : [1000, 10_000], reps: quick ? 1 : 3 },
  };
}

function pythonExe(): string {
  const candidates = process.env.ASYNCORE_PYTHON ? [process.env.ASYNCORE_PYTHON] : ["python3.11", "python3"];
  for (const exe of candidates) {
    const r = spawnSync(exe, ["-c", "import sys; assert sys.version_info < (3, 12)"], { stdio: "ignore" });
    if (r.error === undefined && r.status === 0) return exe;
  }
  throw new Error("Cannot run the benchmark: no python3 <= 3.11 with asyncore found (set ASYNCORE_PYTHON)");
}

function pythonScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    resolve(here, "../../bench/complexity_asyncore.py"),
    resolve("bench/complexity_asyncore.py"),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`Cannot find complexity_asyncore.py: looked in ${candidates.join(", ")}`);
  return found;
}

/** Run one section of the CPython side and parse its JSON. */
function python<T>(exe: string, section: string, p: object): T {
  const r = spawnSync(exe, [pythonScript(), section, JSON.stringify(p)], {
    encoding: "utf8",
    timeout: 1_800_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  if (r.status !== 0)
    throw new Error(`CPython section ${section} failed with status ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

function fdLimit(): number {
  const r = spawnSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" });
  const n = Number.parseInt(r.stdout, 10);
  return Number.isInteger(n) ? n : Number.POSITIVE_INFINITY;
}

/** How this run was started, as an npm command; `--json FILE` left out (it changes nothing measured). */
function commandLine(): string {
  const args = process.argv.slice(2);
  const at = args.indexOf("--json");
  if (at !== -1) args.splice(at, 2);
  return `npm run bench:complexity${args.length > 0 ? ` -- ${args.join(" ")}` : ""}`;
}

/** The 1-minute load average at the start of each section, for the report. */
const sectionLoad: Record<string, number> = {};

function progress(text: string, section?: string): void {
  if (section !== undefined) sectionLoad[section] = loadavg()[0]!;
  process.stderr.write(`[complexity] ${text}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      out: { type: "string" },
      json: { type: "string" },
      reps: { type: "string" },
    },
  });
  const quick = values.quick;
  const reps = values.reps === undefined ? undefined : Math.min(15, Math.max(2, Number(values.reps) || 5));
  const out = values.out ?? (quick ? undefined : "docs");
  const p = params(quick, reps);
  const limit = fdLimit();
  const notes: string[] = [];
  const fits = (m: number) => m + 300 <= limit;
  for (const list of [p.loop.ms, p.memory.ms]) {
    const dropped = list.filter((m) => !fits(m));
    if (dropped.length > 0) notes.push(`m = ${dropped.join(", ")} dropped: ulimit -n is ${limit}`);
    list.splice(0, list.length, ...list.filter(fits));
  }
  const exe = pythonExe();
  const info = python<{ python: string }>(exe, "info", {});
  const started = Date.now();
  const loadStart = loadavg();
  progress(`${quick ? "quick" : "full"} run; CPython ${info.python}; load ${loadStart[0]!.toFixed(2)}`);
  const peerArgs = { node: process.execPath, peer: PEER_SCRIPT };

  progress("terminator scanning", "scan");
  const tsScan = measureScan(p.scan);
  const pyScan = python<SideResults["scan"]>(exe, "scan", p.scan);
  for (const [key, counts] of Object.entries(tsScan.counts)) {
    const theirs = pyScan.counts[key];
    if (theirs === undefined || theirs[0] !== counts[0] || theirs[1] !== counts[1]) {
      throw new Error(`Scanning results differ at ${key}: ${counts} vs CPython ${theirs}`);
    }
  }

  progress("moving n bytes", "transfer");
  const tsTransfer = await measureTransfer(p.transfer);
  const pyTransfer = python<SideResults["transfer"]>(exe, "transfer", p.transfer);

  progress(`m dispatchers: ${p.loop.ms.join(", ")}`, "loop");
  const peer = new PeerClient();
  let tsLoop: SideResults["loop"];
  try {
    tsLoop = await measureLoop(p.loop, peer);
  } finally {
    await peer.close();
  }
  const pyLoop = python<SideResults["loop"]>(exe, "loop", { ...p.loop, ...peerArgs });

  progress(`memory: ${p.memory.ms.join(", ")}`, "memory");
  const tsMemory: Record<string, number[]> = {};
  const tsHeap: Record<string, number[]> = {};
  const pyMemory: Record<string, number[]> = {};
  for (let r = 0; r < p.memory.reps; r++) {
    for (const m of p.memory.ms) {
      const ts = measureMemory(m);
      (tsMemory[m] ??= []).push(ts.rssBytes / m);
      (tsHeap[m] ??= []).push(ts.heapBytes / m);
      const py = python<{ rssBytes: number }>(exe, "memory", { m, ...peerArgs });
      (pyMemory[m] ??= []).push(py.rssBytes / m);
    }
  }
  const select = python<BenchResults["select"]>(exe, "select", {});

  const cpu = cpus();
  const results: BenchResults = {
    mode: quick ? "quick" : "full",
    command: commandLine(),
    startedAt: new Date(started).toISOString().replace(/\.\d+Z$/, "Z"),
    durationS: (Date.now() - started) / 1000,
    machine: {
      node: process.version,
      python: info.python,
      cpu: cpu[0]?.model ?? "unknown CPU",
      cpus: cpu.length,
      memGiB: totalmem() / 1024 ** 3,
      loadStart,
      loadEnd: loadavg(),
      fdLimit: limit,
      loadBySection: { ...sectionLoad },
    },
    params: { ...p, notes },
    ts: { transfer: tsTransfer, scan: tsScan, loop: tsLoop, memory: tsMemory, heap: tsHeap },
    cpython: { transfer: pyTransfer, scan: pyScan, loop: pyLoop, memory: pyMemory },
    select,
  };
  process.stdout.write(summaryMarkdown(results));
  for (const note of notes) process.stdout.write(`\nNote: ${note}\n`);
  const missed = misses(results);
  if (missed.length > 0) process.stdout.write(`\nasyncore-ts misses its target on: ${missed.join("; ")}\n`);
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(results)}\n`);
  if (out !== undefined) {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "complexity.md"), renderMarkdown(results, SVG_NAME, analysis(results)));
    writeFileSync(join(out, SVG_NAME), loopTurnSvg(results));
    progress(`wrote ${join(out, "complexity.md")} and ${join(out, SVG_NAME)}`);
  }
  progress(`done in ${Math.round(results.durationS)} s`);
}

await main();
