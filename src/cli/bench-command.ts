/**
 * `asyncore bench`: the ping-pong load generator as a command, against a running echo server or
 * one it starts itself (`--spawn`), with a live progress line, a summary or one JSON object.
 *
 * @module
 */
import {
  type CommandDef,
  choiceOption,
  flagOption,
  intOption,
  type ParsedArgs,
  readCommandLine,
  stringOption,
  usageError,
} from "./args.js";
import { formatTarget, type LoadTarget } from "./connect-target.js";
import { EchoServerProcess } from "./echo-server-process.js";
import { formatBytes, formatFixed, formatInt, formatMs } from "./format.js";
import type { LoadProgress } from "./load-generator.js";
import { LOAD_CLIENTS, type LoadClient } from "./load-socket.js";
import { type MeasuredResult, runMeasured } from "./measured-run.js";
import { canPin, pinProcess } from "./process-stats.js";
import { defaultServerDirs, ECHO_APIS, echoServerCommand } from "./server-scripts.js";

/** Where a command writes; `stdout.isTTY` turns the live progress line on. */
export interface CommandIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

/** The options of `asyncore bench`. */
export const benchCommandDef: CommandDef = {
  name: "bench",
  summary:
    "Ping-pong load against an echo server: each connection sends a message, waits for the whole echo, " +
    "verifies every byte, and goes again until the duration ends.",
  usage:
    "[--host H] [--port P | --unix PATH | --spawn API] [--conns N] [--size BYTES] [--lines] [--duration MS] [--idle N] [--client net|native] [--json]",
  options: {
    host: { type: "string", value: "H", description: "Server host (default 127.0.0.1)" },
    port: { type: "string", short: "p", value: "P", description: "Server TCP port" },
    unix: { type: "string", value: "PATH", description: "Server Unix-domain socket path" },
    conns: { type: "string", short: "c", value: "N", description: "Busy connections (default 10)" },
    size: { type: "string", short: "s", value: "BYTES", description: "Bytes per message (default 1024)" },
    lines: {
      type: "boolean",
      description: 'Send lines: BYTES-1 random bytes without "\\n", then "\\n" (default: any random bytes)',
    },
    duration: { type: "string", short: "d", value: "MS", description: "Measured time in ms (default 5000)" },
    idle: { type: "string", value: "N", description: "Extra idle connections opened first (default 0)" },
    client: {
      type: "string",
      value: "CLIENT",
      description:
        "net|native: what the busy connections run on, node:net (the default: it reads into one " +
        "reused buffer, the cheaper client) or the native backend",
    },
    json: { type: "boolean", description: "Print one JSON object instead of the summary" },
    spawn: {
      type: "string",
      value: "API",
      description: `Start the echo server: ${ECHO_APIS.join("|")} or a script path`,
    },
    servers: { type: "string", value: "DIR", description: "Directory of echo server scripts for --spawn" },
    "no-pin": { type: "boolean", description: "With --spawn: do not pin server and load to CPUs 0 and 1" },
  },
  notes:
    "With --spawn the server runs as a child process (pinned to CPU 0 and this process to CPU 1 when\n" +
    "there are 2+ CPUs and taskset exists) and its CPU time per request and memory are reported;\n" +
    'with --lines it gets CHAT_ECHO_FRAME=lines, so bench/servers/chat-echo.js frames on "\\n".\n' +
    "Idle connections always use node:net. The report gives this process's own CPU use: near 100 % of\n" +
    "a core, the load generator rather than the server sets the pace.\n" +
    "Exit status: 0 all echoes verified, 1 errors or mismatches or failure, 2 bad usage, 130 interrupted.",
};

/** Validated settings of one `asyncore bench` call. */
interface BenchSettings {
  target: LoadTarget | undefined;
  spawn: string | undefined;
  conns: number;
  size: number;
  lines: boolean;
  durationMs: number;
  idle: number;
  client: LoadClient | undefined;
  json: boolean;
  pin: boolean;
  serverDirs: string[];
}

function readSettings(args: ParsedArgs): BenchSettings {
  const host = stringOption(args, "host");
  const port = intOption(args, "port", { min: 1, max: 65535 });
  const unix = stringOption(args, "unix");
  const spawn = stringOption(args, "spawn");
  if (spawn !== undefined && (host !== undefined || port !== undefined || unix !== undefined)) {
    throw usageError("--spawn starts its own server: it cannot be combined with --host, --port or --unix");
  }
  if (spawn !== undefined && !spawn.includes("/") && !spawn.endsWith(".js")) {
    choiceOption(args, "spawn", ECHO_APIS);
  }
  if (port !== undefined && unix !== undefined) throw usageError("Give either --port or --unix, not both");
  if (unix !== undefined && host !== undefined)
    throw usageError("--host applies to TCP: it cannot go with --unix");
  if (spawn === undefined && port === undefined && unix === undefined) {
    throw usageError("Missing target: give --port P, --unix PATH or --spawn API");
  }
  const servers = stringOption(args, "servers");
  let target: LoadTarget | undefined;
  if (unix !== undefined) target = { path: unix };
  else if (port !== undefined) target = { host: host ?? "127.0.0.1", port };
  return {
    target,
    spawn,
    conns: intOption(args, "conns", { min: 1, max: 10_000, default: 10 }),
    size: intOption(args, "size", { min: 1, max: 64 * 1024 * 1024, default: 1024 }),
    lines: flagOption(args, "lines"),
    durationMs: intOption(args, "duration", { min: 1, max: 3_600_000, default: 5000 }),
    idle: intOption(args, "idle", { min: 0, max: 1_000_000, default: 0 }),
    client: choiceOption(args, "client", LOAD_CLIENTS),
    json: flagOption(args, "json"),
    pin: !flagOption(args, "no-pin"),
    serverDirs: servers !== undefined ? [servers] : defaultServerDirs(),
  };
}

function progressLine(p: LoadProgress): string {
  if (p.phase === "idle")
    return `opening idle connections: ${formatInt(p.idleOpened)}/${formatInt(p.idleTarget)}`;
  return (
    `${(p.elapsedMs / 1000).toFixed(1)} s  ${formatInt(p.requests)} requests  ${formatInt(p.reqPerSec)} req/s  ` +
    `errors ${p.errors}  mismatches ${p.mismatches}`
  );
}

function summary(r: MeasuredResult, where: string, spawn: string | undefined): string {
  const lines = [
    `asyncore bench: ${where}${spawn ? ` (${spawn})` : ""}, ${r.conns} connections x ${formatInt(r.size)} B` +
      `${r.lines ? " lines" : ""}, ` +
      `${r.seconds.toFixed(2)} s, ${formatInt(r.idle)} idle, ${r.client} client`,
    `  requests    ${formatInt(r.requests)}  (${formatInt(r.reqPerSec)} req/s)`,
    `  throughput  ${r.mbPerSec.toFixed(2)} MB/s echoed (one direction)`,
    `  latency     p50 ${formatMs(r.latency.p50)} ms  p99 ${formatMs(r.latency.p99)} ms  ` +
      `p99.9 ${formatMs(r.latency.p999)} ms  (max ${formatMs(r.latency.max)} ms)`,
    `  errors      ${r.errors}${r.errors > 0 ? ` ${JSON.stringify(r.errorCodes)}` : ""}  mismatches ${r.mismatches}`,
    `  client      ${r.client}: CPU ${formatFixed(r.clientCpuMs, 0)} ms = ${formatFixed(r.clientCpuPercent, 0)} % of one core`,
  ];
  const s = r.server;
  if (s) {
    lines.push(
      `  server      pid ${s.pid}: CPU ${formatFixed(s.cpuMs, 0)} ms = ${formatFixed(s.cpuUsPerRequest, 1)} us/request, ` +
        `RSS ${formatBytes(s.rssBaseBytes)} before, ${formatBytes(s.rssAfterBytes)} after`,
    );
    if (r.idle > 0) {
      lines.push(
        `  idle memory ${formatInt(r.idle)} connections: RSS ${formatBytes(s.rssIdleBytes)}, ` +
          `${formatBytes(s.bytesPerIdleConn)} per connection`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

/** Run the load with SIGINT/SIGTERM wired to an abort. */
async function runInterruptible(
  settings: BenchSettings,
  target: LoadTarget,
  server: EchoServerProcess | undefined,
  io: CommandIO,
): Promise<MeasuredResult> {
  const controller = new AbortController();
  const onSignal = (): void =>
    controller.abort(Object.assign(new Error("Interrupted"), { code: "ABORT_ERR" }));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const live = io.stdout.isTTY === true && !settings.json;
  try {
    return await runMeasured(
      {
        ...target,
        conns: settings.conns,
        size: settings.size,
        lines: settings.lines,
        durationMs: settings.durationMs,
        idle: settings.idle,
        ...(settings.client !== undefined && { client: settings.client }),
        signal: controller.signal,
        ...(live && { onProgress: (p: LoadProgress) => io.stdout.write(`\r\x1b[K${progressLine(p)}`) }),
      },
      server,
    );
  } finally {
    if (live) io.stdout.write("\r\x1b[K");
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/**
 * Start the `--spawn` server, pinned when asked and possible (this process then goes to CPU 1).
 * With `--lines` the server's environment says so (`CHAT_ECHO_FRAME=lines`): the chat echo
 * server then frames on `"\n"`; servers that echo bytes ignore it.
 */
async function startServer(settings: BenchSettings): Promise<{ server: EchoServerProcess; pinned: boolean }> {
  const argv = echoServerCommand(settings.spawn!, settings.serverDirs);
  if (argv === undefined) {
    throw usageError(
      `Cannot --spawn ${settings.spawn}: no server script in ${settings.serverDirs.join(", ")} (build bench/ first)`,
    );
  }
  const pinned = settings.pin && canPin() && pinProcess(process.pid, 1);
  const server = await EchoServerProcess.start({
    argv,
    ...(pinned && { pinCore: 0 }),
    ...(settings.lines && { env: { CHAT_ECHO_FRAME: "lines" } }),
  });
  return { server, pinned };
}

/**
 * The `asyncore bench` command: parse `argv` (the arguments after `bench`), run the load and
 * report. Resolves with the exit status; never rejects (failures are printed to `io.stderr`).
 *
 * @example
 * ```ts
 * const status = await benchCommand(["--port", String(port), "--duration", "1000", "--json"]);
 * ```
 */
export async function benchCommand(argv: readonly string[], io: CommandIO = process): Promise<number> {
  const settings: BenchSettings | { exit: number } = readCommandLine(benchCommandDef, argv, io, readSettings);
  if ("exit" in settings) return settings.exit;
  let server: EchoServerProcess | undefined;
  try {
    let pinned = false;
    if (settings.spawn !== undefined) ({ server, pinned } = await startServer(settings));
    const target = server?.target ?? settings.target!;
    const result = await runInterruptible(settings, target, server, io);
    if (settings.json) {
      const out = { target: formatTarget(target), spawn: settings.spawn ?? null, pinned, ...result };
      io.stdout.write(`${JSON.stringify(out)}\n`);
    } else {
      io.stdout.write(summary(result, formatTarget(target), settings.spawn));
    }
    return result.errors > 0 || result.mismatches > 0 || result.requests === 0 ? 1 : 0;
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === "ABORT_ERR") {
      io.stderr.write("asyncore bench: interrupted\n");
      return 130;
    }
    const tail = server?.stderrTail().trim();
    io.stderr.write(`asyncore bench: ${e.message}${tail ? `\nserver stderr:\n${tail}` : ""}\n`);
    return e.code === "ERR_INVALID_ARG_VALUE" ? 2 : 1;
  } finally {
    await server?.stop();
  }
}
