/**
 * `asyncore chat`: run the multi-user line chat server until SIGINT or SIGTERM.
 *
 * @module
 */
import { closeAll, loop } from "../asyncore/index.js";
import { type CommandDef, intOption, readCommandLine, stringOption } from "./args.js";
import type { CommandIO } from "./bench-command.js";
import { ChatServer } from "./chat-server.js";

/** After a shutdown notice, connections still open this long later are closed at once. */
const SHUTDOWN_GRACE_MS = 2000;

/** The options of `asyncore chat`. */
export const chatCommandDef: CommandDef = {
  name: "chat",
  summary:
    "A multi-user line chat server built on AsyncChat: the first line is your nickname, then every " +
    "line goes to everyone else.",
  usage: "[--host H] [--port P] [--max-line BYTES]",
  options: {
    host: { type: "string", value: "H", description: "Address to listen on (default 127.0.0.1)" },
    port: {
      type: "string",
      short: "p",
      value: "P",
      description: "Port to listen on (default 0: any free port)",
    },
    "max-line": {
      type: "string",
      value: "BYTES",
      description: "Longest line accepted; a longer one disconnects its sender (default 4096)",
    },
  },
  notes:
    "Commands: /who lists users, /nick NAME renames, /quit leaves.\n" +
    "Prints 'listening on HOST:PORT' once ready; SIGINT or SIGTERM tells every user and exits 0.",
};

/**
 * The `asyncore chat` command: parse `argv` (the arguments after `chat`), listen, print
 * `listening on HOST:PORT`, and serve until SIGINT/SIGTERM, which tells every user
 * `* server shutting down`, closes all connections and resolves with 0. Resolves with 2 for
 * bad usage and 1 when it cannot listen; never rejects.
 *
 * @example
 * ```ts
 * process.exitCode = await chatCommand(["--port", "0", "--max-line", "1024"]);
 * ```
 */
export async function chatCommand(argv: readonly string[], io: CommandIO = process): Promise<number> {
  const read = readCommandLine(chatCommandDef, argv, io, (args) => ({
    host: stringOption(args, "host") ?? "127.0.0.1",
    port: intOption(args, "port", { min: 0, max: 65535, default: 0 }),
    maxLine: intOption(args, "max-line", { min: 1, max: 64 * 1024 * 1024, default: 4096 }),
  }));
  if ("exit" in read) return read.exit;
  const { host, port, maxLine } = read;
  let server: ChatServer;
  try {
    server = await ChatServer.listen([host, port], {
      maxLine,
      log: (line) => io.stderr.write(`asyncore chat: ${line}\n`),
    });
  } catch (err) {
    io.stderr.write(`asyncore chat: cannot listen on ${host}:${port}: ${(err as Error).message}\n`);
    return 1;
  }
  const [boundHost, boundPort] = server.addr as readonly [string, number];
  io.stdout.write(`listening on ${boundHost.includes(":") ? `[${boundHost}]` : boundHost}:${boundPort}\n`);

  let grace: NodeJS.Timeout | undefined;
  const stop = (): void => {
    if (server.stopping) return;
    server.shutdown();
    grace = setTimeout(() => closeAll(server.map, true), SHUTDOWN_GRACE_MS);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    await loop({ map: server.map, timeout: 250 });
    return 0;
  } catch (err) {
    io.stderr.write(`asyncore chat: ${(err as Error).message}\n`);
    closeAll(server.map, true);
    return 1;
  } finally {
    clearTimeout(grace);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
