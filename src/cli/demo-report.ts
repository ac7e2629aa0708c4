/**
 * What `asyncore demo` prints: a header saying what is measured and where, one table comparing
 * each API with raw `node:net`, and how to read it.
 *
 * @module
 */
import { cpus, loadavg, release, type } from "node:os";
import { formatFixed, formatInt, formatMs } from "./format.js";
import type { MeasuredResult } from "./measured-run.js";

/** The measurements of one server: its best run, or why it has none. */
export interface DemoRow {
  /** `raw node:net`, `dispatcher`, … */
  label: string;
  /** The best run (highest req/s); `undefined` when every run failed. */
  best: MeasuredResult | undefined;
  /** Runs that completed. */
  runs: number;
  /** Errors plus mismatches summed over every run. */
  errors: number;
  /** Why the server has no figures (start failure, crash). */
  failure?: string;
}

/** How the demo was run, for the header. */
export interface DemoSetup {
  conns: number;
  size: number;
  runs: number;
  durationMs: number;
  pinned: boolean;
  backend: string;
}

/** One line about this machine: CPU model and count, OS, Node, load. */
export function describeMachine(): string {
  const cpuList = cpus();
  const model = cpuList[0]?.model.replace(/\s+/g, " ").trim() || "unknown CPU";
  const load = loadavg()[0];
  const loadText = load !== undefined && load > 0 ? `, load average ${load.toFixed(1)}` : "";
  return `${model} x ${cpuList.length}, ${type()} ${release()}, Node.js ${process.version}${loadText}`;
}

/** The header: what is measured, how, and on which machine. */
export function demoHeader(setup: DemoSetup): string {
  const runs =
    setup.runs === 1
      ? `One run of ${formatSeconds(setup.durationMs)} per server.`
      : `Best of ${setup.runs} runs of ${formatSeconds(setup.durationMs)} per server, runs interleaved.`;
  const placement = setup.pinned
    ? ["pinned to CPU 0;", "the load generator runs in this process, on CPU 1."]
    : ["not pinned;", "the load generator runs in this process."];
  return [
    `asyncore demo: echo round trips on loopback, ${setup.conns} connections x ${formatInt(setup.size)}-byte messages, every byte checked.`,
    `Each server is 'asyncore echo --api <API>' in its own process (raw = plain node:net), ${placement[0]}`,
    `${placement[1]} ${runs}`,
    `Machine: ${describeMachine()}.`,
    `Socket backend of the asyncore-ts servers: ${setup.backend} (raw node:net is node:net either way).`,
  ].join("\n");
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}

/** The comparison table, with ratios against the row labelled `raw node:net` (the first). */
export function demoTable(rows: readonly DemoRow[]): string {
  const raw = rows[0]?.best;
  const header = ["API", "req/s", "MB/s", "p50 ms", "p99 ms", "vs raw", "CPU us/req", "errors"];
  const body = rows.map((row) => {
    const r = row.best;
    if (r === undefined) return [row.label, "-", "-", "-", "-", "-", "-", row.failure ?? "failed"];
    const ratio =
      raw !== undefined && raw.reqPerSec > 0 ? `${(r.reqPerSec / raw.reqPerSec).toFixed(2)}x` : "-";
    return [
      row.label,
      formatInt(r.reqPerSec),
      r.mbPerSec.toFixed(1),
      formatMs(r.latency.p50),
      formatMs(r.latency.p99),
      ratio,
      formatFixed(r.server?.cpuUsPerRequest, 1),
      String(row.errors),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) =>
        i === 0 || i === cells.length - 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!),
      )
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** How to read the table, and where to go next. */
export function demoFooter(): string {
  return [
    "vs raw: requests per second against raw node:net in this same run; CPU us/req: the server's CPU",
    "time per round trip. Figures vary from run to run, and much more on a shared or busy machine:",
    "compare the ratios, not the absolute numbers. Longer runs: 'asyncore bench --spawn <API>' or",
    "'npm run bench' (see docs/benchmarks.md).",
  ].join("\n");
}
