/**
 * The complexity benchmark's report: `docs/complexity.md` (the complexity table rebuilt with
 * every measured column, the targets checked, the raw figures) and the loop-turn plot.
 *
 * @module
 */
import {
  type BenchResults,
  bytes,
  decadeTime,
  fits,
  memoryVerdict,
  ROWS,
  type Row,
  type Side,
  time,
  verdict,
} from "./complexity-rows.js";
import { type Curve, median, relativeSpread, type Spread, spread } from "./complexity-stats.js";
import { renderChart, type Series } from "./complexity-svg.js";

const KiB = 1024;

const num = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : "–");
const sizeLabel = (row: Row, x: number): string => (row.size === "n" ? bytes(x) : x.toLocaleString("en-US"));
const expText = (e: Spread): string => `${num(e.median)} [${num(e.min)}, ${num(e.max)}]`;
const tsSides = (r: BenchResults): Side[] => r.sides.filter((s) => s.key !== "cpython");

function endpoints(row: Row, side: Side): string {
  const c = row.curve(side.data);
  return `${time(median(c.samples[0]!))} → ${time(median(c.samples[c.samples.length - 1]!))}`;
}

function fitLabel(row: Row): string {
  return row.fit === "all" ? `all ${row.size}` : `${row.size} ≥ ${sizeLabel(row, row.upperFrom)}`;
}

function summaryTable(r: BenchResults): string[] {
  const head = r.sides.map((s) => s.label);
  const lines = [
    `| operation | cost measured | size | claimed | fitted over | ${head.join(" | ")} | asyncore-ts target |`,
    `| --- | --- | :-: | :-: | :-: | ${head.map(() => "--:").join(" | ")} | --- |`,
  ];
  for (const row of ROWS) {
    const cells = r.sides.map((s) => `**${expText(fits(row, s.data)[row.fit])}**<br>${endpoints(row, s)}`);
    const target = row.target
      ? `${row.target.text}: ${tsSides(r)
          .map((s) => `${verdict(row, s.data)} (${s.key})`)
          .join(", ")}`
      : "";
    lines.push(
      `| ${row.op} | ${row.cost} | ${row.size} | ${row.claimed} | ${fitLabel(row)} | ${cells.join(" | ")} | ${target} |`,
    );
  }
  const mem = r.sides.map((s) => memoryCell(s));
  const verdicts = tsSides(r)
    .map((s) => `${memoryVerdict(s)} (${s.key})`)
    .join(", ");
  lines.push(
    `| idle dispatcher (connected) | RSS growth per dispatcher | m | O(1) space | | ${mem.join(" | ")} | constant: ${verdicts} |`,
  );
  return lines;
}

function memoryCell(side: Side): string {
  return Object.entries(side.data.memory)
    .map(([m, xs]) => `${(median(xs) / KiB).toFixed(2)} KiB at m = ${Number(m).toLocaleString("en-US")}`)
    .join("<br>");
}

function cell(xs: number[], fmt: (v: number) => string): string {
  const s = spread(xs);
  const pct = (v: number) =>
    `${v >= s.median ? "+" : "−"}${Math.abs(((v - s.median) / s.median) * 100).toFixed(0)}`;
  return `${fmt(s.median)} (${pct(s.min)}/${pct(s.max)}%)`;
}

function rawTable(rows: Row[], r: BenchResults, perByte: boolean): string[] {
  const sizes = rows[0]!.curve(r.sides[0]!.data).sizes;
  const fmt = perByte ? (v: number) => `${(v * 1e9).toFixed(2)} ns/B` : time;
  const lines = [
    `| operation | side | ${sizes.map((x) => sizeLabel(rows[0]!, x)).join(" | ")} | exponent: all sizes; large sizes |`,
    `| --- | --- | ${sizes.map(() => "--:").join(" | ")} | --: |`,
  ];
  for (const row of rows) {
    for (const side of r.sides) {
      const c = row.curve(side.data);
      const cells = c.samples.map((xs, i) => cell(perByte ? xs.map((x) => x / c.sizes[i]!) : xs, fmt));
      const f = fits(row, side.data);
      const exps = perByte ? "" : `${expText(f.all)}; ${expText(f.upper)}`;
      lines.push(`| ${row.op} | ${side.label} | ${cells.join(" | ")} | ${exps} |`);
    }
  }
  return lines;
}

function turnsTable(r: BenchResults): string[] {
  const ms = r.sides[0]!.data.loop.create.sizes;
  const lines = [
    `| handler | side | ${ms.map((m) => `m = ${m.toLocaleString("en-US")}`).join(" | ")} |`,
    `| --- | --- | ${ms.map(() => "--:").join(" | ")} |`,
  ];
  for (const kind of ["withSend", "ownWritable"] as const) {
    for (const side of r.sides) {
      const t = side.data.loop.turn[kind];
      const inspected = t.inspectedPerRequest;
      const cells = ms.map(
        (_, i) =>
          `${num(median(t.turnsPerRequest.samples[i]!))} turns, ${time(median(t.wallPerRequest.samples[i]!))} wall${inspected ? `, ${num(median(inspected.samples[i]!), 1)} inspected` : ""}`,
      );
      const name = kind === "withSend" ? "dispatcher_with_send echo" : "own writable()";
      lines.push(`| ${name} | ${side.label} | ${cells.join(" | ")} |`);
    }
  }
  return lines;
}

const COLORS: Record<Side["key"], [string, string]> = {
  cpython: ["#d62728", "#ff7f0e"],
  net: ["#1f77b4", "#17becf"],
  native: ["#2ca02c", "#9467bd"],
};

/** The loop-turn plot: CPU per loop turn against m, every side, both handler classes. */
export function loopTurnSvg(r: BenchResults): string {
  const series = (label: string, color: string, dashed: boolean, c: Curve): Series => ({
    label,
    color,
    dashed,
    points: c.sizes.map((x, i) => ({ x, ...spread(c.samples[i]!) })),
  });
  const all: Series[] = [];
  for (const side of r.sides) {
    const [solid, dashed] = COLORS[side.key];
    all.push(series(`${side.label}, with_send`, solid, false, side.data.loop.turn.withSend.cpuPerTurn));
    all.push(
      series(`${side.label}, own writable()`, dashed, true, side.data.loop.turn.ownWritable.cpuPerTurn),
    );
  }
  return renderChart({
    title: "CPU time per loop turn, 10 active connections",
    xLabel: "m: dispatchers in the map (m − 10 idle)",
    yLabel: "CPU time per loop turn",
    formatY: decadeTime,
    guideSlope: { slope: 1, label: "∝ m" },
    series: all,
  });
}

/** How noisy the run was: the spread of repetitions over every measured point. */
function noise(r: BenchResults): { median: number; p90: number; max: number; points: number } {
  const spreads: number[] = [];
  for (const row of ROWS) {
    for (const side of r.sides)
      for (const xs of row.curve(side.data).samples) spreads.push(relativeSpread(xs));
  }
  const sorted = [...spreads].sort((a, b) => a - b);
  return {
    median: median(spreads),
    p90: sorted[Math.floor(0.9 * (sorted.length - 1))]!,
    max: sorted[sorted.length - 1]!,
    points: spreads.length,
  };
}

/** Rows whose target an asyncore-ts side misses, for the caller to report. */
export function misses(r: BenchResults): string[] {
  const out: string[] = [];
  for (const side of tsSides(r)) {
    for (const row of ROWS) if (verdict(row, side.data) === "**missed**") out.push(`${row.op} (${side.key})`);
    if (memoryVerdict(side).startsWith("**missed**")) out.push(`memory per idle dispatcher (${side.key})`);
  }
  return out;
}

/** The summary table alone (what the benchmark prints). */
export function summaryMarkdown(r: BenchResults): string {
  return `${summaryTable(r).join("\n")}\n`;
}

/** `docs/complexity.md`. `analysis` is prose placed after the table. */
export function renderMarkdown(r: BenchResults, svgName: string, analysis: string): string {
  const m = r.machine;
  const nz = noise(r);
  const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(", ");
  const mRows = ROWS.filter((row) => row.size === "m");
  const transferRows = ROWS.filter((row) => row.op.startsWith("send()"));
  const scanRows = ROWS.filter((row) => row.op.startsWith("asynchat"));
  const notes = [...r.missingSides, ...((r.params.notes as string[] | undefined) ?? [])];
  return [
    "# The asyncore complexity table, measured",
    "",
    "The usual table of asyncore's costs — creating a dispatcher O(1), `create_socket` O(1),",
    "`connect` O(1), `handle_read`/`handle_write` O(n) in the data, one loop turn O(m log m) in",
    "the sockets — with measured columns beside the claim: CPython 3.11's own `asyncore` and",
    "`asynchat`, and asyncore-ts on each of its socket backends, all measured on the same",
    "machine in the same run.",
    "",
    "_This file and its plot are generated by `bench/complexity.ts`; re-run it rather than edit._",
    "",
    `- Command: \`${r.command}\` (${r.mode} mode; \`--quick\` for a short run), that is \`npx tsc -p tsconfig.test.json && node --expose-gc dist-test/bench/complexity.js\` with the same options`,
    `- Code: commit ${m.commit}${m.srcModified ? " with local changes under `src/`" : ""}; Node ${m.node}; CPython ${m.python}`,
    `- Run: ${r.startedAt}, ${Math.round(r.durationS)} s; machine: ${m.cpu} × ${m.cpus}, ${m.memGiB.toFixed(0)} GiB, \`ulimit -n\` ${m.fdLimit}`,
    `- Load average (1, 5, 15 min) at the start: ${load(m.loadStart)}; at the end: ${load(m.loadEnd)}; (1 min) as each section started: ${Object.entries(
      m.loadBySection,
    )
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(", ")}. The two cores were shared with other work, so absolute figures are noisy.`,
    `- Noise: over ${nz.points} measured points, the repetitions of one point spread (max − min over median) by ${pct(nz.median)} at the median, ${pct(nz.p90)} at the 90th percentile, ${pct(nz.max)} at worst`,
    ...notes.map((n) => `- Note: ${n}`),
    ...(r.rerendered
      ? [
          `- Report rendered again on ${r.rerendered} from this run's saved figures (\`--from-json\`); nothing was measured again`,
        ]
      : []),
    "",
    "## The table",
    "",
    "Each measured cell: the growth exponent in bold — the least-squares slope of log(cost)",
    "against log(size), fitted to each repetition separately, as median [min, max] over the",
    "repetitions — then the cost at the smallest and at the largest size (medians). 0 means",
    "the cost does not grow with the size, 1 that it grows in proportion. Costs against the",
    "data (n bytes) are fitted over n ≥ 256 KiB, where a transfer's fixed cost no longer hides",
    "the growth; the raw figures below give both fits. m is the number of connected",
    "dispatchers in the map; a target against m must hold both over all m and over m ≥ 100.",
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
    "(The scanner never touches a socket, so both asyncore-ts columns measure the same code: how",
    "far they differ shows the noise.)",
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

const METHOD = `Every side runs the same procedure (\`bench/complexity-*.ts\` for asyncore-ts,
\`bench/complexity_asyncore.py\` for CPython, each section written step by step the same way),
each in a child process of its own per section, one after the other (asyncore-ts on each
backend, then CPython), so that they do not compete for the two cores. asyncore-ts runs once
per socket backend (\`ASYNCORE_BACKEND=net\`, and \`=native\` where the addon is built).
Setup (opening and accepting connections) is never timed. CPython's sockets get
\`TCP_NODELAY\`, as asyncore-ts's have by default. Timers: \`process.hrtime\` and
\`time.perf_counter\`; CPU time: \`process.cpuUsage()\` (all threads of the Node process) and
\`time.process_time()\`.

- **Against m.** m connections are opened from a separate peer process
  (\`bench/complexity-peer.ts\`, the same program for every side) and accepted (by a listening
  dispatcher in a map of its own for asyncore-ts, by a plain socket for CPython); each becomes
  an echo dispatcher in a fresh map, so the measured process holds one
  descriptor per dispatcher. With the map at size m: \`dispatcher()\` and \`create_socket()\`
  are timed over a batch (the created ones are closed again); \`connect()\` to a listener in
  the peer is timed as the call, and from the call until \`handle_connect()\` runs inside the
  loop, for a row of connects (median of the row). asyncore-ts's \`createSocket\` makes no
  socket yet: \`connect()\` does (with \`node:net\`, its \`socket()\` and \`connect()\`
  system calls run on the next tick, so they count in the time to connected); CPython's
  \`create_socket\` makes the socket and its \`connect\` makes the system call. By the time
  \`dispatcher()\` is timed, the base class's constructor has already run for several
  subclasses, as in any program with more than one handler class; V8 then initialises its
  fields on a generic path, several times slower than in a process that only ever constructs
  one class.
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
  untimed (the same on every side; for asyncore-ts it lets the JIT compile every path). A
  repetition goes through all sizes before the next starts (for m, with fresh connections each
  time), so that a change of load on the machine bends one repetition's curve rather than
  shifting one size against the others. Each repetition yields a whole curve, hence its own
  slope; exponents are shown as the median and the range of those slopes.`;
