/**
 * The asyncore complexity table, measured: every operation's cost against data size (n bytes)
 * and connection count (m dispatchers), for asyncore-ts on each socket backend that loads
 * (`complexity-side.js` with `ASYNCORE_BACKEND=net`, then `=native`) and, in the same run, for
 * CPython 3.11's asyncore/asynchat (`complexity_asyncore.py`). Each side runs as a child process
 * per section and prints JSON, which this program reads. Fits a growth exponent to every
 * operation and writes `docs/complexity.md` with the loop-turn plot
 * `docs/complexity-loop-turn.svg`.
 *
 *   node --expose-gc dist-test/bench/complexity.js [--quick] [--out DIR] [--json FILE] [--reps N]
 *                                                [--from-json FILE]
 *
 * - full mode (default): 5 repetitions, n up to 16 MiB, m up to 10,000; writes to `docs/`
 *   unless `--out` says otherwise; about five minutes.
 * - `--quick`: 3 repetitions, n up to 1 MiB, m up to 1,000; prints the table and writes
 *   nothing unless `--out` is given; about a minute.
 * - `--json FILE`: also write every raw figure.
 * - `--from-json FILE`: measure nothing; render the report of a run saved with `--json`
 *   (to `docs/` unless `--out` says otherwise).
 *
 * Loopback only; every load is bounded in count and time. m = 10,000 needs `ulimit -n` of
 * about 10,300 (the peer process holds the other ends); larger m are dropped, with a note,
 * when the limit is lower. Needs `python3` 3.11 (or `ASYNCORE_PYTHON`).
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { analysis } from "./complexity-analysis.js";
import type { LoopParams } from "./complexity-loop.js";
import { PEER_SCRIPT } from "./complexity-peer-client.js";
import { loopTurnSvg, misses, renderMarkdown, summaryMarkdown } from "./complexity-report.js";
import type { BenchResults, Side, SideResults } from "./complexity-rows.js";
import type { ScanParams } from "./complexity-scan.js";
import type { TransferParams } from "./complexity-transfer.js";

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

/** A column of the report: who measures it and how. */
interface Runner {
  key: Side["key"];
  label: string;
  run<T>(section: string, params: object): T;
}

/** asyncore-ts on `backend`, one child process per section. */
function tsRunner(backend: "net" | "native"): Runner {
  const script = join(dirname(fileURLToPath(import.meta.url)), "complexity-side.js");
  return {
    key: backend,
    label: `asyncore-ts (${backend === "net" ? "node:net" : "native"})`,
    run<T>(section: string, params: object): T {
      const r = spawnSync(process.execPath, ["--expose-gc", script, section, JSON.stringify(params)], {
        encoding: "utf8",
        timeout: 1_800_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, ASYNCORE_BACKEND: backend },
      });
      if (r.error) throw r.error;
      if (r.status !== 0) {
        throw new Error(
          `asyncore-ts (${backend}) section ${section} failed with status ${r.status}: ${r.stderr}`,
        );
      }
      return JSON.parse(r.stdout) as T;
    },
  };
}

function pythonRunner(exe: string): Runner {
  return { key: "cpython", label: "CPython 3.11", run: (section, params) => python(exe, section, params) };
}

/** The asyncore-ts backends that load here, and a note for each that does not. */
function backends(): [Runner[], string[]] {
  const runners: Runner[] = [];
  const missing: string[] = [];
  for (const backend of ["net", "native"] as const) {
    const runner = tsRunner(backend);
    try {
      const info = runner.run<{ backend: string }>("info", {});
      if (info.backend !== backend) throw new Error(`it runs on ${info.backend}`);
      runners.push(runner);
    } catch (err) {
      missing.push(`no column for the ${backend} backend: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  return [runners, missing];
}

function gitState(): { commit: string; srcModified: boolean } {
  const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" });
  const status = spawnSync("git", ["status", "--porcelain", "--", "src"], { encoding: "utf8" });
  return { commit: head.stdout?.trim() || "unknown", srcModified: (status.stdout ?? "").trim() !== "" };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      out: { type: "string" },
      json: { type: "string" },
      reps: { type: "string" },
      "from-json": { type: "string" },
    },
  });
  if (values["from-json"] !== undefined) {
    // Re-render a saved run (its --json output) with this program's report; nothing is measured.
    const saved = JSON.parse(readFileSync(values["from-json"], "utf8")) as BenchResults;
    saved.rerendered = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    report(saved, values.out ?? "docs", undefined);
    return;
  }
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
  const [tsRunners, missingSides] = backends();
  if (tsRunners.length === 0) throw new Error(`Cannot run the benchmark: ${missingSides.join("; ")}`);
  const runners = [...tsRunners, pythonRunner(exe)];
  const git = gitState();
  const started = Date.now();
  const loadStart = loadavg();
  progress(
    `${quick ? "quick" : "full"} run; ${runners.map((r) => r.label).join(", ")}; load ${loadStart[0]!.toFixed(2)}`,
  );
  const peerArgs = { node: process.execPath, peer: PEER_SCRIPT };
  const data = new Map<Side["key"], Partial<SideResults>>(runners.map((r) => [r.key, {}]));
  const each = (text: string, section: string, fn: (runner: Runner, into: Partial<SideResults>) => void) => {
    progress(text, section);
    for (const runner of runners) fn(runner, data.get(runner.key)!);
  };

  each("terminator scanning", "scan", (runner, into) => {
    into.scan = runner.run<SideResults["scan"]>("scan", p.scan);
  });
  const reference = data.get(runners[0]!.key)!.scan!.counts;
  for (const runner of runners) {
    for (const [key, counts] of Object.entries(reference)) {
      const theirs = data.get(runner.key)!.scan!.counts[key];
      if (theirs === undefined || theirs[0] !== counts[0] || theirs[1] !== counts[1]) {
        throw new Error(`Scanning results differ at ${key}: ${counts} vs ${runner.label} ${theirs}`);
      }
    }
  }
  each("moving n bytes", "transfer", (runner, into) => {
    into.transfer = runner.run<SideResults["transfer"]>("transfer", p.transfer);
  });
  each(`m dispatchers: ${p.loop.ms.join(", ")}`, "loop", (runner, into) => {
    into.loop = runner.run<SideResults["loop"]>("loop", { ...p.loop, ...peerArgs });
  });
  progress(`memory: ${p.memory.ms.join(", ")}`, "memory");
  for (let r = 0; r < p.memory.reps; r++) {
    for (const m of p.memory.ms) {
      for (const runner of runners) {
        const into = data.get(runner.key)!;
        const sample = runner.run<{ rssBytes: number; heapBytes?: number }>("memory", { m, ...peerArgs });
        ((into.memory ??= {})[m] ??= []).push(sample.rssBytes / m);
        if (sample.heapBytes !== undefined) ((into.heap ??= {})[m] ??= []).push(sample.heapBytes / m);
      }
    }
  }
  const select = python<BenchResults["select"]>(exe, "select", {});

  const cpu = cpus();
  const sides: Side[] = [...runners.slice(-1), ...runners.slice(0, -1)].map((r) => ({
    key: r.key,
    label: r.label,
    data: data.get(r.key) as SideResults,
  }));
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
      ...git,
    },
    params: { ...p, notes },
    sides,
    missingSides,
    select,
  };
  report(results, out, values.json);
  progress(`done in ${Math.round(results.durationS)} s`);
}

/** Print the table and what misses its target; write the raw JSON and the docs when asked. */
function report(results: BenchResults, out: string | undefined, json: string | undefined): void {
  process.stdout.write(summaryMarkdown(results));
  const notes = (results.params.notes as string[] | undefined) ?? [];
  for (const note of [...results.missingSides, ...notes]) process.stdout.write(`\nNote: ${note}\n`);
  const missed = misses(results);
  if (missed.length > 0) process.stdout.write(`\nasyncore-ts misses its target on: ${missed.join("; ")}\n`);
  if (json !== undefined) writeFileSync(json, `${JSON.stringify(results)}\n`);
  if (out !== undefined) {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "complexity.md"), renderMarkdown(results, SVG_NAME, analysis(results)));
    writeFileSync(join(out, SVG_NAME), loopTurnSvg(results));
    progress(`wrote ${join(out, "complexity.md")} and ${join(out, SVG_NAME)}`);
  }
}

await main();
