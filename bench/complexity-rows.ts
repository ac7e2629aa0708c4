/**
 * The complexity benchmark's data model and its table: what one run holds (every side's
 * figures), the rows of the complexity table (operation, claimed cost, which curve, which fit,
 * target) and the formatting of sizes and durations.
 *
 * @module
 */
import type { LoopResult } from "./complexity-loop.js";
import type { ScanResult } from "./complexity-scan.js";
import { type Curve, exponent, median, type Spread } from "./complexity-stats.js";
import type { TransferResult } from "./complexity-transfer.js";

/** Everything one side measured. */
export interface SideResults {
  transfer: TransferResult;
  scan: ScanResult;
  loop: LoopResult;
  /** m → RSS growth per idle dispatcher, one value per repetition. */
  memory: Record<string, number[]>;
  /** m → V8 heap growth per idle dispatcher (asyncore-ts only). */
  heap?: Record<string, number[]>;
}

/** One measured column: CPython, or asyncore-ts on one socket backend. */
export interface Side {
  key: "cpython" | "net" | "native";
  label: string;
  data: SideResults;
}

/** One run of the benchmark. */
export interface BenchResults {
  mode: "full" | "quick";
  command: string;
  startedAt: string;
  durationS: number;
  machine: {
    node: string;
    python: string;
    cpu: string;
    cpus: number;
    memGiB: number;
    loadStart: number[];
    loadEnd: number[];
    fdLimit: number;
    /** 1-minute load average when each section started. */
    loadBySection: Record<string, number>;
    /** The commit measured, and whether `src/` differed from it. */
    commit: string;
    srcModified: boolean;
  };
  params: Record<string, unknown>;
  /** CPython first, then asyncore-ts per backend. */
  sides: Side[];
  /** Why a backend has no column (e.g. the native addon is not built). */
  missingSides: string[];
  select: { fd: number; error: string | null };
  /** Set when the report was rendered again from the saved figures (`--from-json`). */
  rerendered?: string;
}

/** A row of the complexity table. */
export interface Row {
  op: string;
  cost: string;
  size: "m" | "n";
  claimed: string;
  curve: (s: SideResults) => Curve;
  /** Lower end of the "large sizes" fit. */
  upperFrom: number;
  /** The exponent the table shows (and the target is checked on): all sizes, or large ones. */
  fit: "all" | "upper";
  /** What asyncore-ts should show. */
  target?: { lo: number; hi: number; text: string };
  perByte?: boolean;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const FLAT = { lo: Number.NEGATIVE_INFINITY, hi: 0.1, text: "≤ 0.1" };
const LINEAR = { lo: 0.9, hi: 1.1, text: "1.0 ± 0.1" };

const mRow = (
  op: string,
  cost: string,
  claimed: string,
  curve: Row["curve"],
  target?: Row["target"],
): Row => ({
  op,
  cost,
  size: "m",
  claimed,
  curve,
  upperFrom: 100,
  fit: "all",
  ...(target ? { target } : {}),
});

const nRow = (op: string, cost: string, curve: Row["curve"]): Row => ({
  op,
  cost,
  size: "n",
  claimed: "O(n)",
  curve,
  upperFrom: 256 * KiB,
  fit: "upper",
  target: LINEAR,
  perByte: true,
});

/** The rows of the complexity table, in order. */
export const ROWS: Row[] = [
  mRow("dispatcher()", "one construction", "O(1)", (s) => s.loop.create),
  mRow("create_socket()", "one call", "O(1)", (s) => s.loop.createSocket),
  mRow("connect(addr)", "the call", "O(1)", (s) => s.loop.connectCall),
  mRow(
    "connect(addr) → handle_connect()",
    "time to connected, loop included",
    "O(1)",
    (s) => s.loop.connected,
  ),
  nRow(
    "send() → handle_read() + recv(64 KiB)",
    "one transfer of n bytes",
    (s) => s.transfer[String(64 * KiB)]!,
  ),
  nRow("send() → handle_read() + recv(512)", "one transfer of n bytes", (s) => s.transfer["512"]!),
  mRow(
    "loop turn, dispatcher_with_send echo",
    "CPU per loop turn, 10 active",
    "O(m log m)",
    (s) => s.loop.turn.withSend.cpuPerTurn,
    FLAT,
  ),
  mRow(
    "loop turn, echo with its own writable()",
    "CPU per loop turn, 10 active",
    "O(m log m)",
    (s) => s.loop.turn.ownWritable.cpuPerTurn,
    FLAT,
  ),
  mRow(
    "request, dispatcher_with_send echo",
    "CPU per echoed request, 10 active",
    "O(m log m)",
    (s) => s.loop.turn.withSend.cpuPerRequest,
    FLAT,
  ),
  mRow(
    "request, echo with its own writable()",
    "CPU per echoed request, 10 active",
    "O(m log m)",
    (s) => s.loop.turn.ownWritable.cpuPerRequest,
    FLAT,
  ),
  ...[512, 64 * KiB, MiB].map((read) =>
    nRow(
      `asynchat handle_read(), reads of ${bytes(read)}`,
      "scanning n bytes for `\\r\\n`",
      (s) => s.scan.curves[String(read)]!,
    ),
  ),
];

/** The exponents of `row` on one side: over all sizes, and over the large ones. */
export function fits(row: Row, data: SideResults): { all: Spread; upper: Spread } {
  const c = row.curve(data);
  return { all: exponent(c), upper: exponent(c, row.upperFrom) };
}

/**
 * `met`, `met (median; spread crosses)`, `**missed**`, or "" without a target. A row fitted over
 * all sizes must also meet its target over the large ones (a cost flat up to m = 1,000 that
 * climbs after is not flat).
 */
export function verdict(row: Row, data: SideResults): string {
  if (row.target === undefined) return "";
  const f = fits(row, data);
  const checked = row.fit === "all" ? [f.all, f.upper] : [f.upper];
  const inside = (v: number) => v >= row.target!.lo && v <= row.target!.hi;
  if (!checked.every((e) => inside(e.median))) return "**missed**";
  return checked.every((e) => inside(e.min) && inside(e.max)) ? "met" : "met (median; spread crosses)";
}

/** `1 KiB`, `16 MiB`, `512 B`. */
export function bytes(n: number): string {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} B`;
}

/** A duration in seconds, three significant digits, in ns/µs/ms/s. */
export function time(s: number): string {
  if (!Number.isFinite(s)) return "–";
  const [v, unit] =
    s < 1e-6 ? [s * 1e9, "ns"] : s < 1e-3 ? [s * 1e6, "µs"] : s < 1 ? [s * 1e3, "ms"] : [s, "s"];
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${unit}`;
}

/** A power of ten of seconds as `1 µs`, `10 µs`, `100 µs`, `1 ms`… (axis ticks). */
export function decadeTime(s: number): string {
  const e = Math.round(Math.log10(s));
  const [base, unit] = e >= 0 ? [0, "s"] : e >= -3 ? [-3, "ms"] : e >= -6 ? [-6, "µs"] : [-9, "ns"];
  return `${10 ** (e - base)} ${unit}`;
}

/** Per-dispatcher memory at the largest m over that at the smallest, within ±25 %. */
export function memoryVerdict(side: Side): string {
  const ms = Object.keys(side.data.memory).map(Number);
  if (ms.length < 2) return "not checked (one m only)";
  const a = median(side.data.memory[String(Math.min(...ms))]!);
  const b = median(side.data.memory[String(Math.max(...ms))]!);
  return `${b / a >= 0.75 && b / a <= 1.25 ? "met" : "**missed**"}, ratio ${(b / a).toFixed(2)}`;
}
