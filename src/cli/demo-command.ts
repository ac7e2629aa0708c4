/**
 * `asyncore demo` (what `npm start` runs): every API's echo server and raw `node:net`, side by
 * side on loopback under the same ping-pong load, in about 30 seconds (`--quick`: about 5), as
 * one table.
 *
 * Why child processes: a server and the load generator sharing one process would share one
 * event loop and one core, and every figure would measure both. Here each server is an
 * `asyncore echo --api <API>` process of its own (pinned to CPU 0 when the machine allows), the
 * load generator runs in this process (CPU 1), and runs of the different servers are
 * interleaved so that a machine getting busier hits them all alike.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { backendName } from "../index.js";
import { type CommandDef, flagOption, intOption, readCommandLine } from "./args.js";
import type { CommandIO } from "./bench-command.js";
import { type DemoRow, demoFooter, demoHeader, demoTable } from "./demo-report.js";
import type { EchoServerApi } from "./echo/index.js";
import { EchoServerProcess } from "./echo-server-process.js";
import { runLoad } from "./load-generator.js";
import { runMeasured } from "./measured-run.js";
import { canPin, pinProcess } from "./process-stats.js";

/** The servers compared, baseline first. */
const SERVERS: readonly { label: string; api: EchoServerApi }[] = [
  { label: "raw node:net", api: "raw" },
  { label: "dispatcher", api: "dispatcher" },
  { label: "chat", api: "chat" },
  { label: "protocol", api: "protocol" },
  { label: "streams", api: "streams" },
];

/** Runs per server, measured window and unmeasured warm-up of each run, per mode. */
const MODES = {
  full: { runs: 2, durationMs: 2500, warmMs: 250 },
  quick: { runs: 1, durationMs: 600, warmMs: 100 },
} as const;

/** The options of `asyncore demo`. */
export const demoCommandDef: CommandDef = {
  name: "demo",
  summary:
    "Every API's echo server and raw node:net side by side on loopback under the same load, " +
    "in about 30 seconds, printed as one table.",
  usage: "[--quick] [--conns N] [--size BYTES] [--no-pin]",
  options: {
    quick: { type: "boolean", short: "q", description: "About 5 seconds: one short run per server" },
    conns: { type: "string", short: "c", value: "N", description: "Busy connections (default 10)" },
    size: { type: "string", short: "s", value: "BYTES", description: "Bytes per message (default 1024)" },
    "no-pin": { type: "boolean", description: "Do not pin servers to CPU 0 and the load to CPU 1" },
  },
  notes:
    "Each server runs as 'asyncore echo --api <API>' in a process of its own; this process is the\n" +
    "load generator (asyncore bench's engine). Exit status: 0 when every echo was verified, 1 when\n" +
    "a server failed or an echo was wrong, 2 bad usage, 130 interrupted.",
};

/** The command that starts the echo server of `api` from this build. */
function serverArgv(api: EchoServerApi): string[] {
  const main = fileURLToPath(new URL("./main.js", import.meta.url));
  return [process.execPath, main, "echo", "--api", api, "--host", "127.0.0.1", "--port", "0"];
}

function failureText(err: unknown, server: EchoServerProcess | undefined): string {
  const message = err instanceof Error ? err.message : String(err);
  const tail = server?.stderrTail().trim().split("\n").at(-1);
  return `failed: ${message}${tail ? ` (${tail})` : ""}`;
}

/**
 * The `asyncore demo` command: start every server, measure each under the same load, print the
 * header, the table and how to read it. Resolves with the exit status; never rejects.
 *
 * @example
 * ```ts
 * process.exitCode = await demoCommand(["--quick"]);
 * ```
 */
export async function demoCommand(argv: readonly string[], io: CommandIO = process): Promise<number> {
  const read = readCommandLine(demoCommandDef, argv, io, (args) => ({
    mode: flagOption(args, "quick") ? MODES.quick : MODES.full,
    conns: intOption(args, "conns", { min: 1, max: 1000, default: 10 }),
    size: intOption(args, "size", { min: 1, max: 16 * 1024 * 1024, default: 1024 }),
    pin: !flagOption(args, "no-pin"),
  }));
  if ("exit" in read) return read.exit;
  const { mode, conns, size, pin } = read;

  const pinned = pin && canPin() && pinProcess(process.pid, 1);
  const seconds = Math.round(
    (SERVERS.length * mode.runs * (mode.durationMs + mode.warmMs + 150) + 700) / 1000,
  );
  io.stderr.write(`asyncore demo: measuring ${SERVERS.length} echo servers, about ${seconds} s...\n`);
  const controller = new AbortController();
  const onSignal = (): void =>
    controller.abort(Object.assign(new Error("Interrupted"), { code: "ABORT_ERR" }));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const servers: (EchoServerProcess | undefined)[] = [];
  const rows: DemoRow[] = SERVERS.map((s) => ({ label: s.label, best: undefined, runs: 0, errors: 0 }));
  try {
    const started = await Promise.allSettled(
      SERVERS.map((s) => EchoServerProcess.start({ argv: serverArgv(s.api), ...(pinned && { pinCore: 0 }) })),
    );
    for (const [i, result] of started.entries()) {
      if (result.status === "fulfilled") servers[i] = result.value;
      else rows[i]!.failure = failureText(result.reason, undefined);
    }
    const load = { conns, size, signal: controller.signal };
    for (let round = 0; round < mode.runs; round++) {
      for (const [i, server] of servers.entries()) {
        const row = rows[i]!;
        if (server === undefined || row.failure !== undefined) continue;
        try {
          await runLoad({ ...server.target, ...load, durationMs: mode.warmMs });
          const result = await runMeasured(
            { ...server.target, ...load, durationMs: mode.durationMs },
            server,
          );
          row.runs++;
          row.errors += result.errors + result.mismatches;
          if (row.best === undefined || result.reqPerSec > row.best.reqPerSec) row.best = result;
        } catch (err) {
          if (controller.signal.aborted) throw err;
          row.failure = failureText(err, server);
          row.best = undefined;
        }
      }
    }
  } catch (err) {
    if (controller.signal.aborted) {
      io.stderr.write("asyncore demo: interrupted\n");
      return 130;
    }
    io.stderr.write(`asyncore demo: ${(err as Error).message}\n`);
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await Promise.all(servers.map((s) => s?.stop()));
  }

  const setup = { conns, size, runs: mode.runs, durationMs: mode.durationMs, pinned, backend: backendName() };
  io.stdout.write(`${demoHeader(setup)}\n\n${demoTable(rows)}\n\n${demoFooter()}\n`);
  return rows.every((r) => r.best !== undefined && r.errors === 0) ? 0 : 1;
}
