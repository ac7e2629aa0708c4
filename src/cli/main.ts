#!/usr/bin/env node
/**
 * The `asyncore` command: `asyncore <command> [options]`, dispatched through a table of
 * commands. Each command resolves with its exit status.
 *
 * @module
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { benchCommand, type CommandIO } from "./bench-command.js";
import { chatCommand } from "./chat-command.js";
import { connectCommand } from "./connect-command.js";
import { demoCommand } from "./demo-command.js";
import { echoCommand } from "./echo-command.js";

/** One entry of the command table. */
export interface CommandEntry {
  /** One line for `asyncore --help`. */
  summary: string;
  /** Runs the command with the arguments after its name and resolves with its exit status. */
  run: (argv: readonly string[], io: CommandIO) => Promise<number>;
}

/** Every `asyncore` command. */
export const commands: Readonly<Record<string, CommandEntry>> = {
  echo: { summary: "Echo server (--api dispatcher|chat|protocol|streams)", run: echoCommand },
  chat: { summary: "Multi-user line chat server built on AsyncChat", run: chatCommand },
  bench: { summary: "Ping-pong load generator against an echo server", run: benchCommand },
  demo: { summary: "Short side-by-side run of every API and raw node:net", run: demoCommand },
  connect: {
    summary: "Connect to HOST PORT: stdin to the socket, the socket to stdout",
    run: (argv, io) => connectCommand(argv, io),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length)) + 2;
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return [
    "Usage: asyncore <command> [options]",
    "",
    "Commands:",
    ...rows,
    "",
    "Examples:",
    "  asyncore demo --quick                      every API against raw node:net, in 5 seconds",
    "  asyncore echo --api streams --port 8007    an echo server",
    "  asyncore connect 127.0.0.1 8007            talk to it from the terminal",
    "  asyncore bench --port 8007 --duration 3000 load it, and check every echoed byte",
    "",
    "Run 'asyncore <command> --help' for the options of a command.",
    "",
  ].join("\n");
}

/**
 * Run the `asyncore` command line `argv` (without `node` and the script) and resolve with the
 * exit status: 0 success, 1 failure, 2 bad usage.
 *
 * @example
 * ```ts
 * process.exitCode = await main(["bench", "--help"]);
 * ```
 */
export async function main(argv: readonly string[], io: CommandIO = process): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? io.stderr : io.stdout).write(usage());
    return name === undefined ? 2 : 0;
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (entry === undefined) {
    io.stderr.write(`asyncore: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  return entry.run(rest, io);
}

/** True when this file is the program being run (also through an npm bin symlink). */
function isMainModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  main(process.argv.slice(2)).then(
    (status) => {
      process.exitCode = status;
      // Everything is closed by now; should anything still hold the loop, do not hang.
      setTimeout(() => process.exit(status), 2000).unref();
    },
    (err: unknown) => {
      process.stderr.write(`asyncore: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
