/**
 * `asyncore echo`: an echo server on the API of your choice, with backpressure and a graceful
 * shutdown on SIGINT/SIGTERM; `--workers N` serves on N processes through `node:cluster`.
 *
 * @module
 */
import cluster from "node:cluster";
import {
  type CommandDef,
  choiceOption,
  intOption,
  type ParsedArgs,
  readCommandLine,
  stringOption,
  usageError,
} from "./args.js";
import type { CommandIO } from "./bench-command.js";
import {
  DEFAULT_MAX_BUFFERED,
  ECHO_SERVER_APIS,
  type EchoServerApi,
  formatListenAddress,
  type RunningEchoServer,
  startEchoServer,
} from "./echo/index.js";
import { isEchoWorker, runEchoCluster, workerAnnounce, workerShutdownRequests } from "./echo-cluster.js";

const APIS: readonly EchoServerApi[] = [...ECHO_SERVER_APIS, "raw"];

/** The options of `asyncore echo`. */
export const echoCommandDef: CommandDef = {
  name: "echo",
  summary: "An echo server: every byte a client sends comes back to it.",
  usage: "[--host H] [--port P] [--unix PATH] [--api API] [--workers N] [--grace MS] [--max-buffer BYTES]",
  options: {
    host: {
      type: "string",
      value: "H",
      description: "Address to listen on (default 127.0.0.1; ::1 for IPv6)",
    },
    port: { type: "string", short: "p", value: "P", description: "TCP port (default 0: any free port)" },
    unix: { type: "string", value: "PATH", description: "Listen on a Unix-domain socket instead of TCP" },
    api: {
      type: "string",
      short: "a",
      value: "API",
      description: `${APIS.join("|")} (default dispatcher; raw = plain node:net)`,
    },
    workers: {
      type: "string",
      short: "w",
      value: "N",
      description: "Serve on N processes through node:cluster (default 1; TCP only)",
    },
    grace: {
      type: "string",
      value: "MS",
      description: "On SIGINT/SIGTERM, time left for echoes in flight (default 2000)",
    },
    "max-buffer": {
      type: "string",
      value: "BYTES",
      description: `Stop reading a connection while this much waits to be sent back (default ${DEFAULT_MAX_BUFFERED}; not raw)`,
    },
  },
  notes:
    "Prints one line 'listening on <address>' once ready (127.0.0.1:PORT, [::1]:PORT or the path).\n" +
    "A client that sends without reading is no longer read from: each connection holds a bounded\n" +
    "amount of memory. On SIGINT or SIGTERM the server stops accepting, lets echoes in flight finish,\n" +
    "closes quiet connections, drops the rest after the grace period, and exits 0.\n" +
    "\n" +
    "--workers N: Node 20 has no SO_REUSEPORT, so the first process accepts every connection and\n" +
    "hands them round-robin to N worker processes (node:cluster). The workers use the node:net\n" +
    "backend. Not with --unix: every worker would re-create the socket file.\n" +
    "\n" +
    "Exit status: 0 after a clean shutdown, 1 when it cannot listen or fails, 2 bad usage.",
};

/** Validated settings of one `asyncore echo` call. */
export interface EchoSettings {
  api: EchoServerApi;
  host: string;
  port: number | undefined;
  unix: string | undefined;
  workers: number;
  graceMs: number;
  maxBuffered: number;
}

function readSettings(args: ParsedArgs): EchoSettings {
  const host = stringOption(args, "host");
  const port = intOption(args, "port", { min: 0, max: 65535 });
  const unix = stringOption(args, "unix");
  if (unix !== undefined && (host !== undefined || port !== undefined)) {
    throw usageError("--unix listens on a socket file: it cannot go with --host or --port");
  }
  if (unix === "") throw usageError("Invalid --unix: expected a path");
  const workers = intOption(args, "workers", { min: 1, max: 256, default: 1 });
  if (workers > 1 && unix !== undefined) {
    throw usageError("--workers is for TCP: with --unix every worker would re-create the socket file");
  }
  return {
    api: choiceOption(args, "api", APIS) ?? "dispatcher",
    host: host ?? "127.0.0.1",
    port,
    unix,
    workers,
    graceMs: intOption(args, "grace", { min: 0, max: 600_000, default: 2000 }),
    maxBuffered: intOption(args, "max-buffer", {
      min: 1024,
      max: 1024 * 1024 * 1024,
      default: DEFAULT_MAX_BUFFERED,
    }),
  };
}

/**
 * The `asyncore echo` command: parse `argv` (the arguments after `echo`), listen, print
 * `listening on <address>`, and serve until SIGINT/SIGTERM, then shut down gracefully and
 * resolve with 0. Resolves with 2 for bad usage and 1 when it cannot listen or the server
 * fails; never rejects.
 *
 * @example
 * ```ts
 * process.exitCode = await echoCommand(["--api", "streams", "--port", "0"]);
 * ```
 */
export async function echoCommand(argv: readonly string[], io: CommandIO = process): Promise<number> {
  const settings: EchoSettings | { exit: number } = readCommandLine(echoCommandDef, argv, io, readSettings);
  if ("exit" in settings) return settings.exit;
  if (settings.workers > 1 && cluster.isPrimary) return runEchoCluster(argv, settings, io);
  return serveEcho(settings, io);
}

/** Where the server listens, for messages. */
function where(settings: EchoSettings): string {
  if (settings.unix !== undefined) return settings.unix;
  return formatListenAddress([settings.host, settings.port ?? 0]);
}

/** Run one echo server in this process until a stop signal (or the primary) ends it. */
async function serveEcho(settings: EchoSettings, io: CommandIO): Promise<number> {
  const prefix = isEchoWorker() ? `asyncore echo [worker ${cluster.worker?.id}]` : "asyncore echo";
  let server: RunningEchoServer;
  try {
    server = await startEchoServer(settings.api, {
      host: settings.host,
      ...(settings.port !== undefined && { port: settings.port }),
      ...(settings.unix !== undefined && { unix: settings.unix }),
      maxBuffered: settings.maxBuffered,
      log: (line) => io.stderr.write(`${prefix}: ${line}\n`),
    });
  } catch (err) {
    io.stderr.write(`${prefix}: cannot listen on ${where(settings)}: ${(err as Error).message}\n`);
    return 1;
  }
  const address = formatListenAddress(server.address);
  if (isEchoWorker()) workerAnnounce(address);
  else io.stdout.write(`listening on ${address}\n`);

  const stop = await untilStopped(server);
  if (stop !== "failure") {
    io.stderr.write(
      `${prefix}: ${stop}: closing ${server.connections()} connection(s), grace ${settings.graceMs} ms\n`,
    );
  }
  await server.close(settings.graceMs);
  if (isEchoWorker()) process.disconnect?.();
  return stop === "failure" ? 1 : 0;
}

/**
 * Wait for SIGINT, SIGTERM, a shutdown request from the cluster primary, or the server failing
 * by itself (`"failure"`; it has logged why). Resolves with what happened.
 */
function untilStopped(server: RunningEchoServer): Promise<string> {
  return new Promise<string>((resolve) => {
    let offPrimary = (): void => {};
    const finish = (reason: string): void => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      offPrimary();
      resolve(reason);
    };
    const onSignal = (signal: string): void => finish(signal);
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    offPrimary = workerShutdownRequests(() => finish("shutdown requested"));
    server.finished.then(
      () => finish("stopped"),
      () => finish("failure"),
    );
  });
}
