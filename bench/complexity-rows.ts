/**
 * The complexity benchmark's data model and its table: what one run holds (both sides'
 * figures), the rows of the complexity table (operation, claimed cost, which curve, target)
 * and the formatting of sizes and durations.
 *
 * @module
 */
import type { LoopResult } from "./complexity-loop.js";
import type { ScanResult } from "./complexity-scan.js";
import type { Curve } from "./complexity-stats.js";
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
  };
  params: Record<string, unknown>;
  ts: SideResults;
  cpython: SideResults;
  select: { fd: number; error: string | null };
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
  /** What asyncore-ts should show, checked on the exponent named by `on`. */
  target?: { on: "all" | "upper"; lo: number; hi: number; text: string };
  perByte?: boolean;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const FLAT = { on: "all", lo: Number.NEGATIVE_INFINITY, hi: 0.1, text: "≤ 0.1" } as const;
const LINEAR = { on: "upper", lo: 0.9, hi: 1.1, text: "1.0 ± 0.1 (large n)" } as const;

export const ROWS: Row[] = [
  {
    op: "dispatcher()",
    cost: "one construction",
    size: "m",
    claimed: "O(1)",
    curve: (s) => s.loop.create,
    upperFrom: 100,
  },
  {
    op: "create_socket()",
    cost: "one call",
    size: "m",
    claimed: "O(1)",
    curve: (s) => s.loop.createSocket,
    upperFrom: 100,
  },
  {
    op: "connect(addr)",
    cost: "the call",
    size: "m",
    claimed: "O(1)",
    curve: (s) => s.loop.connectCall,
    upperFrom: 100,
  },
  {
    op: "connect(addr) → handle_connect()",
    cost: "time to connected, loop turns included",
    size: "m",
    claimed: "O(1)",
    curve: (s) => s.loop.connected,
    upperFrom: 100,
  },
  {
    op: "send() + handle_write() → handle_read() + recv(64 KiB)",
    cost: "one transfer of n bytes",
    size: "n",
    claimed: "O(n)",
    curve: (s) => s.transfer[String(64 * KiB)]!,
    upperFrom: 256 * KiB,
    target: LINEAR,
    perByte: true,
  },
  {
    op: "send() + handle_write() → handle_read() + recv(512)",
    cost: "one transfer of n bytes",
    size: "n",
    claimed: "O(n)",
    curve: (s) => s.transfer["512"]!,
    upperFrom: 256 * KiB,
    target: LINEAR,
    perByte: true,
  },
  {
    op: "loop turn, dispatcher_with_send echo",
    cost: "CPU per loop turn, 10 active",
    size: "m",
    claimed: "O(m log m)",
    curve: (s) => s.loop.turn.withSend.cpuPerTurn,
    upperFrom: 100,
    target: FLAT,
  },
  {
    op: "loop turn, echo with its own writable()",
    cost: "CPU per loop turn, 10 active",
    size: "m",
    claimed: "O(m log m)",
    curve: (s) => s.loop.turn.ownWritable.cpuPerTurn,
    upperFrom: 100,
    target: FLAT,
  },
  {
    op: "request, dispatcher_with_send echo",
    cost: "CPU per echoed request, 10 active",
    size: "m",
    claimed: "O(m log m)",
    curve: (s) => s.loop.turn.withSend.cpuPerRequest,
    upperFrom: 100,
    target: FLAT,
  },
  {
    op: "request, echo with its own writable()",
    cost: "CPU per echoed request, 10 active",
    size: "m",
    claimed: "O(m log m)",
    curve: (s) => s.loop.turn.ownWritable.cpuPerRequest,
    upperFrom: 100,
    target: FLAT,
  },
  ...[512, 64 * KiB, MiB].map(
    (read): Row => ({
      op: `asynchat handle_read(), reads of ${bytes(read)}`,
      cost: "scanning n bytes for `\\r\\n`",
      size: "n",
      claimed: "O(n)",
      curve: (s) => s.scan.curves[String(read)]!,
      upperFrom: 256 * KiB,
      target: LINEAR,
      perByte: true,
    }),
  ),
];

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
