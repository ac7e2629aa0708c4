/**
 * Turns the runs of `echo-compare` into medians and a markdown table with ratios against raw
 * `node:net`.
 *
 * @module
 */
import { formatFixed, formatInt, formatMs } from "../src/cli/format.js";
import type { MeasuredResult } from "../src/cli/measured-run.js";

/** One load configuration: message size and idle connections. */
export interface RunConfig {
  size: number;
  idle: number;
}

/** One measured run (or its failure) of one server under one configuration. */
export interface RunRecord {
  /** Label of the server: `raw`, `dispatcher`, …, `raw (repeat)`. */
  server: string;
  config: RunConfig;
  run: number;
  result?: MeasuredResult;
  error?: string;
}

/** Medians over the successful runs of one server under one configuration. */
export interface Summary {
  server: string;
  config: RunConfig;
  runs: number;
  failed: number;
  reqPerSec: number | null;
  mbPerSec: number | null;
  p50: number | null;
  p99: number | null;
  p999: number | null;
  cpuUsPerRequest: number | null;
  /** CPU use of the load generator over the window, % of one core. */
  clientCpuPercent: number | null;
  bytesPerIdleConn: number | null;
  errors: number;
  mismatches: number;
}

/** The median of the numbers that are not `null` (`null` when there is none). */
export function median(values: readonly (number | null | undefined)[]): number | null {
  const xs = values
    .filter((v): v is number => typeof v === "number" && Number.isFinite(v))
    .sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/** Medians of `records` grouped by configuration and server, in first-seen order. */
export function summarize(records: readonly RunRecord[]): Summary[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const key = `${r.config.size}/${r.config.idle}/${r.server}`;
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  return [...groups.values()].map((list) => {
    const ok = list.map((r) => r.result).filter((r): r is MeasuredResult => r !== undefined);
    return {
      server: list[0]!.server,
      config: list[0]!.config,
      runs: ok.length,
      failed: list.length - ok.length,
      reqPerSec: median(ok.map((r) => r.reqPerSec)),
      mbPerSec: median(ok.map((r) => r.mbPerSec)),
      p50: median(ok.map((r) => r.latency.p50)),
      p99: median(ok.map((r) => r.latency.p99)),
      p999: median(ok.map((r) => r.latency.p999)),
      cpuUsPerRequest: median(ok.map((r) => r.server?.cpuUsPerRequest)),
      clientCpuPercent: median(ok.map((r) => r.clientCpuPercent)),
      bytesPerIdleConn: median(ok.map((r) => r.server?.bytesPerIdleConn)),
      errors: ok.reduce((n, r) => n + r.errors, 0),
      mismatches: ok.reduce((n, r) => n + r.mismatches, 0),
    };
  });
}

function ratio(value: number | null, base: number | null): string {
  if (value === null || base === null || base === 0) return "–";
  return `${(value / base).toFixed(2)}×`;
}

function cell(value: number | null, show: (n: number) => string): string {
  return value === null ? "–" : show(value);
}

/**
 * A markdown table of `summaries`: one row per configuration and server, ratios against the
 * `raw` row of the same configuration (req/s: higher is better; CPU and memory: lower is better),
 * and the load generator's own CPU use: near 100 % it, not the server, set the pace.
 */
export function markdownTable(summaries: readonly Summary[]): string {
  const head = [
    "Size (B)",
    "Idle conns",
    "Server",
    "Runs",
    "req/s",
    "req/s ÷ raw",
    "MB/s",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "CPU µs/req",
    "CPU ÷ raw",
    "Load CPU %",
    "KiB/idle conn",
    "Mem ÷ raw",
    "Errors",
    "Mismatches",
  ];
  const rows = summaries.map((s) => {
    const raw = summaries.find(
      (b) => b.server === "raw" && b.config.size === s.config.size && b.config.idle === s.config.idle,
    );
    const kib = (n: number | null): number | null => (n === null ? null : n / 1024);
    return [
      formatInt(s.config.size),
      formatInt(s.config.idle),
      s.server,
      s.failed > 0 ? `${s.runs} (+${s.failed} failed)` : String(s.runs),
      cell(s.reqPerSec, formatInt),
      ratio(s.reqPerSec, raw?.reqPerSec ?? null),
      cell(s.mbPerSec, (n) => n.toFixed(2)),
      cell(s.p50, formatMs),
      cell(s.p99, formatMs),
      cell(s.p999, formatMs),
      cell(s.cpuUsPerRequest, (n) => formatFixed(n, 1)),
      ratio(s.cpuUsPerRequest, raw?.cpuUsPerRequest ?? null),
      cell(s.clientCpuPercent, (n) => formatFixed(n, 0)),
      s.config.idle > 0 ? cell(kib(s.bytesPerIdleConn), (n) => formatFixed(n, 2)) : "–",
      s.config.idle > 0 ? ratio(s.bytesPerIdleConn, raw?.bytesPerIdleConn ?? null) : "–",
      String(s.errors),
      String(s.mismatches),
    ];
  });
  const line = (cells: readonly string[]): string => `| ${cells.join(" | ")} |`;
  const align = head.map((_, i) => (i === 2 ? ":--" : "--:"));
  return [line(head), line(align), ...rows.map(line)].join("\n");
}
