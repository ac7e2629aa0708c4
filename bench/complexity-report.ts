/**
 * The complexity benchmark's report: `docs/complexity.md` (the complexity table rebuilt with
 * both measured columns, the targets checked, the raw figures) and the loop-turn plot.
 *
 * @module
 */
import {
  type BenchResults,
  bytes,
  decadeTime,
  ROWS,
  type Row,
  type SideResults,
  time,
} from "./complexity-rows.js";
import { type Curve, exponent, median, relativeSpread, type Spread, spread } from "./complexity-stats.js";
import { renderChart, type Series } from "./complexity-svg.js";

const KiB = 1024;

const num = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : "–");
const sizeLabel = (row: Row, x: number): string => (row.size === "n" ? bytes(x) : x.toLocaleString("en-US"));

function expText(e: Spread): string {
  return `${num(e.median)} [${num(e.min)}, ${num(e.max)}]`;
}

function fits(row: Row, side: SideResults) {
  const c = row.curve(side);
  return { all: exponent(c), upper: exponent(c, row.upperFrom), curve: c };
}

function verdict(row: Row, side: SideResults): string {
  if (row.target === undefined) return "";
  const e = fits(row, side)[row.target.on];
  const inside = (v: number) => v >= row.target!.lo && v <= row.target!.hi;
  if (!inside(e.median)) return "**missed**";
  return inside(e.min) && inside(e.max) ? "met" : "met (median; spread crosses)";
}

function endpoints(row: Row, side: SideResults): string {
  const c = row.curve(side);
  const first = median(c.samples[0]!);
  const last = median(c.samples[c.samples.length - 1]!);
  return `${time(first)} → ${time(last)}`;
}

function summaryTable(r: BenchResults): string[] {
  const lines = [
    "| operation | cost measured | size | claimed | CPython 3.11: exponent, all sizes | large sizes | smallest → largest size | asyncore-ts: exponent, all sizes | large sizes | smallest → largest size | asyncore-ts target |",
    "| --- | --- | :-: | :-: | --: | --: | --: | --: | --: | --: | --- |",
  ];
  for (const row of ROWS) {
    const py = fits(row, r.cpython);
    const ts = fits(row, r.ts);
    const upper = `${row.size} ≥ ${sizeLabel(row, row.upperFrom)}`;
    const target = row.target ? `${row.target.text}: ${verdict(row, r.ts)}` : "";
    lines.push(
      `| ${row.op} | ${row.cost} | ${row.size} | ${row.claimed} | ${expText(py.all)} | ${upper}: ${expText(py.upper)} | ${endpoints(row, r.cpython)} | ${expText(ts.all)} | ${upper}: ${expText(ts.upper)} | ${endpoints(row, r.ts)} | ${target} |`,
    );
  }
  const mem = memoryRow(r);
  lines.push(
    `| idle dispatcher (connected) | RSS growth per dispatcher | m | O(1) space | ${mem.py} | | | ${mem.ts} | | | constant: ${mem.verdict} |`,
  );
  return lines;
}

function memoryRow(r: BenchResults): { py: string; ts: string; verdict: string } {
  const cell = (mem: Record<string, number[]>) =>
    Object.entries(mem)
      .map(([m, xs]) => `m = ${Number(m).toLocaleString("en-US")}: ${(median(xs) / KiB).toFixed(2)} KiB`)
      .join("; ");
  const ms = Object.keys(r.ts.memory).map(Number);
  let verdict = "not checked (one m only)";
  if (ms.length >= 2) {
    const a = median(r.ts.memory[String(Math.min(...ms))]!);
    const b = median(r.ts.memory[String(Math.max(...ms))]!);
    verdict = `${b / a >= 0.75 && b / a <= 1.25 ? "met" : "**missed**"} (ratio ${num(b / a)})`;
  }
  return { py: cell(r.cpython.memory), ts: cell(r.ts.memory), verdict };
}

function cell(xs: number[], fmt: (v: number) => string): string {
  const s = spread(xs);
  const pct = (v: number) =>
    `${v >= s.median ? "+" : "−"}${Math.abs(((v - s.median) / s.median) * 100).toFixed(0)}`;
  return `${fmt(s.median)} (${pct(s.min)}/${pct(s.max)}%)`;
}

function rawTable(rows: Row[], r: BenchResults, perByte: boolean): string[] {
  const sizes = rows[0]!.curve(r.ts).sizes;
  const fmt = perByte ? (v: number) => `${(v * 1e9).toFixed(2)} ns/B` : time;
  const lines = [
    `| operation | side | ${sizes.map((x) => sizeLabel(rows[0]!, x)).join(" | ")} |`,
    `| --- | --- | ${sizes.map(() => "--:").join(" | ")} |`,
  ];
  for (const row of rows) {
    for (const [name, side] of [
      ["CPython", r.cpython],
      ["asyncore-ts", r.ts],
    ] as const) {
      const c = row.curve(side);
      const cells = c.samples.map((xs, i) => cell(perByte ? xs.map((x) => x / c.sizes[i]!) : xs, fmt));
      lines.push(`| ${row.op} | ${name} | ${cells.join(" | ")} |`);
    }
  }
  return lines;
}

function turnsTable(r: BenchResults): string[] {
  const loopOf = (s: SideResults) => s.loop.turn;
  const ms = r.ts.loop.create.sizes;
  const lines = [
    `| handler | side | ${ms.map((m) => `m = ${m.toLocaleString("en-US")}`).join(" | ")} |`,
    `| --- | --- | ${ms.map(() => "--:").join(" | ")} |`,
  ];
  for (const kind of ["withSend", "ownWritable"] as const) {
    for (const [name, side] of [
      ["CPython", r.cpython],
      ["asyncore-ts", r.ts],
    ] as const) {
      const t = loopOf(side)[kind];
      const inspected = t.inspectedPerRequest;
      const cells = ms.map(
        (_, i) =>
          `${num(median(t.turnsPerRequest.samples[i]!))} turns, ${time(median(t.wallPerRequest.samples[i]!))} wall${inspected ? `, ${num(median(inspected.samples[i]!), 1)} inspected` : ""}`,
      );
      lines.push(
        `| ${kind === "withSend" ? "dispatcher_with_send echo" : "own writable()"} | ${name} | ${cells.join(" | ")} |`,
      );
    }
  }
  return lines;
}

/** The loop-turn plot: CPU per loop turn against m, both sides, both handler classes. */
export function loopTurnSvg(r: BenchResults): string {
  const series = (label: string, color: string, dashed: boolean, c: Curve): Series => ({
    label,
    color,
    dashed,
    points: c.sizes.map((x, i) => ({ x, ...spread(c.samples[i]!) })),
  });
  return renderChart({
    title: "CPU time per loop turn, 10 active connections",
    xLabel: "m: dispatchers in the map (m − 10 idle)",
    yLabel: "CPU time per loop turn",
    formatY: decadeTime,
    guideSlope: { slope: 1, label: "∝ m" },
    series: [
      series("CPython with_send", "#d62728", false, r.cpython.loop.turn.withSend.cpuPerTurn),
      series("CPython own writable()", "#ff7f0e", true, r.cpython.loop.turn.ownWritable.cpuPerTurn),
      series("asyncore-ts DispatcherWithSend", "#1f77b4", false, r.ts.loop.turn.withSend.cpuPerTurn),
      series("asyncore-ts own writable()", "#2ca02c", true, r.ts.loop.turn.ownWritable.cpuPerTurn),
    ],
  });
}

/** How noisy the run was: the spread of repetitions over every measured point. */
function noise(r: BenchResults): { median: number; p90: number; max: number; points: number } {
  const spreads: number[] = [];
  for (const row of ROWS) {
    for (const side of [r.ts, r.cpython])
      for (const xs of row.curve(side).samples) spreads.push(relativeSpread(xs));
  }
  const sorted = [...spreads].sort((a, b) => a - b);
  return {
    median: median(spreads),
    p90: sorted[Math.floor(0.9 * (sorted.length - 1))]!,
    max: sorted[sorted.length - 1]!,
    points: spreads.length,
  };
}

/** Rows with a target that asyncore-ts misses, for the caller to report. */
export function misses(r: BenchResults): string[] {
  const out = ROWS.filter((row) => row.target && verdict(row, r.ts) === "**missed**").map((row) => row.op);
  if (memoryRow(r).verdict.startsWith("**missed**")) out.push("memory per idle dispatcher");
  return out;
}

/** The summary table alone (what the benchmark prints). */
export function summaryMarkdown(r: BenchResults): string {
  return `${summaryTable(r).join("\n")}\n`;
}

/** `docs/complexity.md`. `analysis` is prose placed after the targets. */
export function renderMarkdown(r: BenchResults, svgName: string, analysis: string): string {
  const m = r.machine;
  const nz = noise(r);
  const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(", ");
  const mRows = ROWS.filter((row) => row.size === "m");
  const transferRows = ROWS.filter((row) => row.op.startsWith("send()"));
  const scanRows = ROWS.filter((row) => row.op.startsWith("asynchat"));
  return [
    "# The asyncore complexity table, measured",
    "",
    "The usual table of asyncore's costs — creating a dispatcher O(1), `create_socket` O(1),",
    "`connect` O(1), `handle_read`/`handle_write` O(n) in the data, one loop turn O(m log m) in",
    "the sockets — with two measured columns beside the claim: CPython 3.11's own `asyncore`",
    "and `asynchat`, and asyncore-ts, both measured on the same machine in the same run.",
    "",
    "_This file and its plot are generated by `bench/complexity.ts`; re-run it rather than edit._",
    "",
    `- Command: \`${r.command}\` (${r.mode} mode; \`--quick\` for a short run), that is \`npx tsc -p tsconfig.test.json && node --expose-gc dist-test/bench/complexity.js\` with the same options`,
    `- Run: ${r.startedAt}, ${Math.round(r.durationS)} s`,
    `- Machine: ${m.cpu} × ${m.cpus}, ${m.memGiB.toFixed(0)} GiB; Node ${m.node}; CPython ${m.python}; \`ulimit -n\` ${m.fdLimit}`,
    `- Load average (1, 5, 15 min) at the start: ${load(m.loadStart)}; at the end: ${load(m.loadEnd)} — the machine was shared, so absolute figures are noisy`,
    `- Load average (1 min) as each section started: ${Object.entries(m.loadBySection)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(", ")}`,
    `- Noise: over ${nz.points} measured points, the repetitions of one point spread (max − min over median) by ${pct(nz.median)} at the median, ${pct(nz.p90)} at the 90th percentile, ${pct(nz.max)} at worst`,
    "",
    "## The table",
    "",
    "Exponent: the least-squares slope of log(cost) against log(size), fitted to each",
    "repetition separately; shown as median [min, max] over the repetitions. 0 means the cost",
    'does not grow with the size, 1 that it grows in proportion. "Large sizes" fits only the',
    "upper sizes, where fixed per-operation costs no longer hide the growth. Sizes: m is the",
    "number of connected dispatchers in the map, n the number of bytes.",
    "",
    ...summaryTable(r),
    "",
    `![CPU time per loop turn against m](${svgName})`,
    "",
    "## Targets",
    "",
    analysis.trim(),
    "",
    "## Raw figures",
    "",
    "Each cell: the median over the repetitions, then how far the fastest and the slowest",
    "repetition lie from it.",
    "",
    "### Against m (dispatchers in the map)",
    "",
    ...rawTable(mRows, r, false),
    "",
    "Per request (ping-pong on 10 connections): loop turns, wall time, and for asyncore-ts the",
    "dispatchers its scheduler inspected (a work counter; CPython's turn inspects all m):",
    "",
    ...turnsTable(r),
    "",
    "### Against n: moving n bytes through one connection",
    "",
    ...rawTable(transferRows, r, false),
    "",
    "Per byte:",
    "",
    ...rawTable(transferRows, r, true),
    "",
    "### Against n: asynchat terminator scanning",
    "",
    ...rawTable(scanRows, r, false),
    "",
    "Per byte:",
    "",
    ...rawTable(scanRows, r, true),
    "",
    "### select()",
    "",
    r.select.error === null
      ? `asyncore.loop() with select() ran with descriptor ${r.select.fd}.`
      : `asyncore.loop(use_poll=False) with a dispatcher on descriptor ${r.select.fd}: \`${r.select.error}\`. Every CPython figure above uses \`use_poll=True\`.`,
    "",
    "## What is measured",
    "",
    METHOD,
    "",
    "Parameters of this run:",
    "",
    "```json",
    JSON.stringify(r.params),
    "```",
    "",
  ].join("\n");
}

const METHOD = `Both sides run the same procedure (\`bench/complexity-*.ts\` for asyncore-ts,
\`bench/complexity_asyncore.py\` for CPython, each section written step by step the same way),
one section after the other: asyncore-ts first, then CPython, so that they do not compete for
the two cores. Setup (opening and accepting connections) is never timed. CPython's sockets get
\`TCP_NODELAY\`, as asyncore-ts's have by default. Timers: \`process.hrtime\` and
\`time.perf_counter\`; CPU time: \`process.cpuUsage()\` (all threads of the Node process) and
\`time.process_time()\`.

- **Against m.** m connections are opened from a separate peer process
  (\`bench/complexity-peer.ts\`, the same program for both sides) and accepted with plain
  sockets; each becomes an echo dispatcher in a fresh map, so the measured process holds one
  descriptor per dispatcher. With the map at size m: \`dispatcher()\` and \`create_socket()\`
  are timed over a batch (the created ones are closed again); \`connect()\` to a listener in
  the peer is timed as the call, and from the call until \`handle_connect()\` runs inside the
  loop, for a row of connects (median of the row). asyncore-ts's \`createSocket\` makes no
  socket yet (Node creates it in \`connect()\`, and the \`socket()\` and \`connect()\` system
  calls run on the next tick, so they count in the time to connected); CPython's
  \`create_socket\` makes the socket and its \`connect\` makes the system call.
- **Loop turn.** Ten of the m connections play ping-pong with the peer (64-byte messages, one
  outstanding per connection) while the others sit idle; the loop runs until R echoes were sent
  (a handler raises \`ExitNow\`), R chosen from a warm-up so that one repetition lasts about the
  budget. Recorded: this process's CPU time per loop turn and per request, and wall time per
  request. A loop turn is one \`poll2()\` call for CPython (\`asyncore.loop(use_poll=True)\`),
  one collection of ready dispatchers for asyncore-ts. Two handler classes: an echo on
  \`dispatcher_with_send\`/\`DispatcherWithSend\`, and an echo with its own \`writable()\`
  (which asyncore-ts cannot see change, so its 8 ms sweep re-checks every such dispatcher).
- **Moving n bytes.** A \`dispatcher_with_send\`/\`DispatcherWithSend\` sender calls
  \`send()\` with all n bytes at once; a sink dispatcher in the same map reads with
  \`recv(64 KiB)\` (or \`recv(512)\`) and raises \`ExitNow\` at the n-th byte. One transfer is
  the time from the \`send()\` call to that \`ExitNow\`: all \`handle_write\`s and
  \`handle_read\`s of the n bytes and the loop turns between them. Transfers are repeated back
  to back until a measurement lasts at least \`minMs\`.
- **Terminator scanning.** Lines of 100 bytes ending in \`\\r\\n\`, terminator \`\\r\\n\`, cut
  into reads of a fixed size; asyncore-ts feeds \`TerminatorScanner\` (what
  \`AsyncChat.handleRead\` does with each \`recv()\`), CPython calls \`async_chat.handle_read\`
  on an \`async_chat\` whose \`recv()\` returns the next read. Both sinks only count, and both
  sides must find the same lines and bytes.
- **Memory.** A fresh process per measurement opens m idle connections as
  \`dispatcher_with_send\` echoes (after a warm-up of 10); the growth of its resident set size
  between before and after (garbage collected both times), divided by m.
- **Repetitions and exponents.** Before the timed repetitions, every measurement runs once
  untimed (the same for both sides; for asyncore-ts it lets the JIT compile every path). For n,
  a repetition goes through all sizes before the next starts; for m, the connections are set
  up once per m and handler class and the repetitions run back to back. Either way each
  repetition yields a whole curve, hence its own slope; the exponents are shown as the median
  and the range of those slopes.`;
