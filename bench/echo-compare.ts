/**
 * The echo benchmark: raw `node:net` and each API's echo server under the same ping-pong load,
 * in the same invocation, runs alternating (raw, api, …, raw, api, …; every size and idle
 * configuration within each round of runs), server pinned to CPU 0
 * and this load generator to CPU 1. Prints a markdown table of medians with ratios against raw,
 * and the load generator's own CPU use, under a header that names the client it ran on.
 *
 * Every server of a run gets the very same messages: lines (`size - 1` random bytes without
 * `"\n"`, then `"\n"`) by default, which the chat server frames on `"\n"` (it is started with
 * `CHAT_ECHO_FRAME=lines`) and every other server echoes as bytes; with `--unframed`, random
 * bytes of any value, which the chat server echoes unframed (`CHAT_ECHO_FRAME` empty).
 *
 *   node dist-test/bench/echo-compare.js [--apis dispatcher@net,dispatcher@native,uvloop] [--sizes 1024,102400]
 *       [--runs 3] [--duration 5000] [--conns 10] [--idle 10000] [--client native|net] [--unframed] [--json] [--no-pin]
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus, platform, release } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CommandDef,
  choiceOption,
  flagOption,
  formatHelp,
  intOption,
  parseCommandArgs,
  parseInteger,
  stringOption,
  usageError,
} from "../src/cli/args.js";
import { EchoServerProcess } from "../src/cli/echo-server-process.js";
import { formatFixed, formatInt, formatMs } from "../src/cli/format.js";
import { defaultLoadClient, LOAD_CLIENTS, type LoadClient } from "../src/cli/load-socket.js";
import { runMeasured } from "../src/cli/measured-run.js";
import { canPin, pinProcess } from "../src/cli/process-stats.js";
import { ECHO_APIS, type EchoApi, findServerScript } from "../src/cli/server-scripts.js";
import { markdownTable, type RunConfig, type RunRecord, summarize } from "./compare-report.js";

const scriptPath = fileURLToPath(import.meta.url);
const FRONT_ENDS = ECHO_APIS.filter((a) => a !== "raw");
/**
 * Servers that only this benchmark runs, by API name: a server run with `ECHO_READ_INTO=1`, so
 * that it reads into memory it reuses (the dispatcher with `recvInto()`, the protocol as a
 * `BufferedProtocol`, uvloop's asyncio `BufferedProtocol`). Run when `--apis` names them, not by
 * default (nor by `asyncore bench --spawn`).
 */
const VARIANTS: Readonly<Record<string, "dispatcher" | "protocol" | "uvloop">> = {
  "dispatcher-into": "dispatcher",
  "protocol-into": "protocol",
  "uvloop-into": "uvloop",
};
const READ_INTO_ENV = { ECHO_READ_INTO: "1" };

const def: CommandDef = {
  name: "echo-compare",
  program: `node ${relative(process.cwd(), scriptPath) || scriptPath}`,
  summary:
    "Compare each API's echo server with raw node:net under the same ping-pong load, runs alternating.",
  usage:
    "[--apis LIST] [--sizes LIST] [--runs N] [--duration MS] [--conns N] [--idle N] [--client CLIENT] [--unframed] [--json] [--no-pin]",
  options: {
    apis: {
      type: "string",
      value: "LIST",
      description: `Servers to compare with raw (default all of ${FRONT_ENDS.join(",")} that exist; "raw" = raw again; API@net or API@native picks the backend; uvloop = Python asyncio on uvloop; also ${Object.keys(VARIANTS).join(", ")})`,
    },
    sizes: { type: "string", value: "LIST", description: "Message sizes in bytes (default 1024,102400)" },
    runs: { type: "string", value: "N", description: "Runs per server and configuration (default 3)" },
    duration: { type: "string", value: "MS", description: "Measured time of one run (default 5000)" },
    conns: { type: "string", value: "N", description: "Busy ping-pong connections (default 10)" },
    idle: {
      type: "string",
      value: "N",
      description: "Also run every size with N idle connections (default 0: no)",
    },
    client: {
      type: "string",
      value: "CLIENT",
      description:
        "net|native: what the load generator's busy connections run on (default net, the cheaper client)",
    },
    unframed: {
      type: "boolean",
      description:
        'Send random bytes of any value, the chat server echoing them unframed (default: lines ending in "\\n", the chat server framing on "\\n")',
    },
    servers: {
      type: "string",
      value: "DIR",
      description: "Directory of the *-echo.js servers (default: beside this script)",
    },
    json: { type: "boolean", description: "Print every run and the medians as one JSON object" },
    "no-pin": { type: "boolean", description: "Do not pin the server to CPU 0 and the load to CPU 1" },
  },
  notes:
    "Every run starts a fresh server and stops it by PID; a run is bounded by its duration plus connect timeouts.",
};

interface Plan {
  servers: { label: string; api: string; argv: string[]; env?: Record<string, string> }[];
  skipped: string[];
  configs: RunConfig[];
  runs: number;
  durationMs: number;
  conns: number;
  idle: number;
  /** What the load generator's busy connections run on. */
  client: LoadClient;
  /** Messages are lines and the chat server frames on "\n" (else any bytes, unframed). */
  lines: boolean;
  json: boolean;
  pin: boolean;
  command: string;
}

/**
 * The command of the uvloop server (`uvloop-echo.py` in the servers directory, else in the
 * checkout's `bench/servers/`, run by `UVLOOP_PYTHON` or /usr/bin/python3, where Debian's
 * python3-uvloop installs), or why there is none.
 */
function uvloopCommand(dir: string): string[] | string {
  const script = [dir, join(dirname(scriptPath), "..", "..", "bench", "servers")]
    .map((d) => join(d, "uvloop-echo.py"))
    .find((f) => existsSync(f));
  if (script === undefined) return `no uvloop-echo.py in ${dir} or the checkout`;
  const python = process.env.UVLOOP_PYTHON ?? "/usr/bin/python3";
  const probe = spawnSync(python, ["-c", "import uvloop"], { stdio: "ignore", timeout: 10_000 });
  if (probe.status !== 0) return `${python} cannot import uvloop: apt-get install python3-uvloop`;
  return [python, script];
}

function parseList(text: string, name: string): string[] {
  const items = text.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) throw usageError(`Invalid --${name}: empty item in "${text}"`);
  return items;
}

function makePlan(argv: readonly string[]): Plan | undefined {
  const args = parseCommandArgs(def, argv);
  if (args.help) return undefined;
  const dir = stringOption(args, "servers") ?? join(dirname(scriptPath), "servers");
  const sizes = parseList(stringOption(args, "sizes") ?? "1024,102400", "sizes").map((s) =>
    parseInteger(s, "--sizes item", { min: 1, max: 64 * 1024 * 1024 }),
  );
  const runs = intOption(args, "runs", { min: 1, max: 50, default: 3 });
  const durationMs = intOption(args, "duration", { min: 100, max: 600_000, default: 5000 });
  const conns = intOption(args, "conns", { min: 1, max: 10_000, default: 10 });
  const idle = intOption(args, "idle", { min: 0, max: 1_000_000, default: 0 });
  const apisText = stringOption(args, "apis");
  const wanted = apisText === undefined ? FRONT_ENDS : parseList(apisText, "apis");
  const client = choiceOption(args, "client", LOAD_CLIENTS) ?? defaultLoadClient();
  const lines = !flagOption(args, "unframed");
  // Set either way, so that a value inherited from the shell cannot disagree with the load.
  const frameEnv = { CHAT_ECHO_FRAME: lines ? "lines" : "" };
  const raw = findServerScript("raw", [dir]);
  if (raw === undefined) throw usageError(`No raw-net-echo.js in ${dir}: build bench/ first`);
  const servers: Plan["servers"] = [
    { label: "raw", api: "raw", argv: [process.execPath, raw], env: frameEnv },
  ];
  const skipped: string[] = [];
  for (const item of wanted) {
    // `api@backend` runs the API's server with ASYNCORE_BACKEND=backend (net or native).
    const [name = "", backend, extra] = item.split("@");
    if (extra !== undefined || (backend !== undefined && backend !== "net" && backend !== "native")) {
      throw usageError(`Invalid --apis: "${item}" (a backend after @ is net or native)`);
    }
    const variant = Object.hasOwn(VARIANTS, name) ? VARIANTS[name]! : undefined;
    const base = variant ?? name;
    let env: Record<string, string> =
      backend === undefined ? frameEnv : { ...frameEnv, ASYNCORE_BACKEND: backend };
    if (variant !== undefined) env = { ...env, ...READ_INTO_ENV };
    if (base === "uvloop") {
      const found = uvloopCommand(dir);
      if (typeof found === "string") skipped.push(`${name} (${found})`);
      else servers.push({ label: name, api: item, argv: found, env });
      continue;
    }
    if (!(ECHO_APIS as readonly string[]).includes(base)) {
      throw usageError(
        `Invalid --apis: unknown "${name}" (expected ${[...ECHO_APIS, ...Object.keys(VARIANTS), "uvloop"].join(", ")})`,
      );
    }
    const script = findServerScript(base as EchoApi, [dir]);
    if (script === undefined) skipped.push(`${name} (no ${base}-echo.js in ${dir})`);
    else {
      const label = name === "raw" && backend === undefined ? "raw (repeat)" : item;
      servers.push({ label, api: item, argv: [process.execPath, script], env });
    }
  }
  const configs = sizes.map((size) => ({ size, idle: 0 }));
  if (idle > 0) configs.push(...sizes.map((size) => ({ size, idle })));
  const json = flagOption(args, "json");
  const pin = !flagOption(args, "no-pin");
  const command = [
    def.program,
    `--apis ${
      servers.length > 1
        ? servers
            .slice(1)
            .map((s) => s.api)
            .join(",")
        : "raw"
    }`,
    `--sizes ${sizes.join(",")} --runs ${runs} --duration ${durationMs} --conns ${conns} --idle ${idle}`,
    `--client ${client}`,
    lines ? "" : "--unframed",
    json ? "--json" : "",
    pin ? "" : "--no-pin",
  ]
    .filter((s) => s !== "")
    .join(" ");
  return { servers, skipped, configs, runs, durationMs, conns, idle, client, lines, json, pin, command };
}

/** Start a fresh server, measure one run against it, stop it by PID whatever happens. */
async function measureOne(
  plan: Plan,
  server: Plan["servers"][number],
  config: RunConfig,
  run: number,
  pinned: boolean,
  signal: AbortSignal,
): Promise<RunRecord> {
  const record: RunRecord = { server: server.label, config, run };
  let child: EchoServerProcess | undefined;
  try {
    child = await EchoServerProcess.start({
      argv: server.argv,
      ...(pinned ? { pinCore: 0 } : {}),
      ...(server.env ? { env: server.env } : {}),
    });
    record.result = await runMeasured(
      {
        ...child.target,
        conns: plan.conns,
        size: config.size,
        lines: plan.lines,
        durationMs: plan.durationMs,
        idle: config.idle,
        client: plan.client,
        signal,
      },
      child,
    );
  } catch (err) {
    if (signal.aborted) throw err;
    const tail = child?.stderrTail().trim();
    record.error = `${(err as Error).message}${tail ? ` (server stderr: ${tail.slice(-300)})` : ""}`;
  } finally {
    await child?.stop();
  }
  return record;
}

function describeRun(r: RunRecord): string {
  const what = `size ${r.config.size}, idle ${r.config.idle}, ${r.server}, run ${r.run}`;
  if (r.result === undefined) return `${what}: FAILED ${r.error}`;
  const res = r.result;
  const idle =
    r.config.idle > 0
      ? `, ${formatFixed((res.server?.bytesPerIdleConn ?? Number.NaN) / 1024, 2)} KiB/idle`
      : "";
  return (
    `${what}: ${formatInt(res.reqPerSec)} req/s, p99 ${formatMs(res.latency.p99)} ms, ` +
    `CPU ${formatFixed(res.server?.cpuUsPerRequest, 1)} µs/req${idle}, load CPU ${formatFixed(res.clientCpuPercent, 0)} %, ` +
    `errors ${res.errors}, mismatches ${res.mismatches}`
  );
}

function header(plan: Plan, pinned: boolean): string {
  const cpu = cpus();
  return [
    `## Echo comparison: ping-pong, ${plan.conns} connections`,
    "",
    `Command: \`${plan.command}\``,
    "",
    `Machine: ${cpu[0]?.model ?? "?"} × ${cpu.length}, ${platform()} ${release()}, Node.js ${process.version}; ` +
      (pinned ? "server pinned to CPU 0, load generator to CPU 1." : "no CPU pinning."),
    `Load generator: the ${plan.client} client (${
      plan.client === "native" ? "the native backend's connections" : "node:net sockets"
    }); "Load CPU %" is its own CPU use over the window, % of one core.`,
    `Each cell is the median of ${plan.runs} run(s) of ${plan.durationMs} ms; runs alternate ` +
      `${plan.servers.map((s) => s.label).join(", ")}, each against a fresh server, and every ` +
      `configuration (size, idle connections) runs once per round.`,
    plan.lines
      ? "Messages are lines (size − 1 random bytes without `\\n`, then `\\n`); the chat server frames on `\\n`."
      : "Messages are random bytes of any value; the chat server echoes them unframed.",
  ].join("\n");
}

async function main(argv: readonly string[]): Promise<number> {
  let plan: Plan | undefined;
  try {
    plan = makePlan(argv);
  } catch (err) {
    process.stderr.write(`echo-compare: ${(err as Error).message}\nTry '${def.program} --help'.\n`);
    return 2;
  }
  if (plan === undefined) {
    process.stdout.write(formatHelp(def));
    return 0;
  }
  const pinned = plan.pin && canPin() && pinProcess(process.pid, 1);
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new Error("Interrupted"));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const records: RunRecord[] = [];
  const total = plan.configs.length * plan.runs * plan.servers.length;
  try {
    // Run-major, so that a slow spell of the machine hits every server and configuration alike.
    for (let run = 1; run <= plan.runs; run++) {
      for (const config of plan.configs) {
        for (const server of plan.servers) {
          const r = await measureOne(plan, server, config, run, pinned, controller.signal);
          records.push(r);
          process.stderr.write(`[${records.length}/${total}] ${describeRun(r)}\n`);
        }
      }
    }
  } catch (err) {
    process.stderr.write(`echo-compare: ${(err as Error).message}\n`);
    return 130;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  const summaries = summarize(records);
  if (plan.json) {
    const out = {
      command: plan.command,
      pinned,
      client: plan.client,
      lines: plan.lines,
      summaries,
      runs: records,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    const lines = [header(plan, pinned), "", markdownTable(summaries), ""];
    if (plan.skipped.length > 0) lines.push(`Skipped: ${plan.skipped.join("; ")}.`, "");
    const failed = records.filter((r) => r.error !== undefined);
    for (const f of failed) lines.push(`- failed: ${describeRun(f)}`);
    process.stdout.write(`${lines.join("\n")}\n`);
  }
  return records.some((r) => r.error !== undefined) ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (err: unknown) => {
    process.stderr.write(
      `echo-compare: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
