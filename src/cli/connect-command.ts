/**
 * `asyncore connect HOST PORT`: a netcat-like client on the protocols API. Standard input goes
 * to the socket and the socket to standard output, with flow control both ways; at the end of
 * standard input the socket's write side is shut (half-close); the command ends when the peer
 * closes.
 *
 * @module
 */
import { createConnection, createUnixConnection, type Protocol, type Transport } from "../protocols/index.js";
import {
  type CommandDef,
  intOption,
  type ParsedArgs,
  parseInteger,
  readCommandLine,
  stringOption,
  usageError,
} from "./args.js";
import type { CommandIO } from "./bench-command.js";

/** The options of `asyncore connect`. */
export const connectCommandDef: CommandDef = {
  name: "connect",
  summary:
    "Connect to HOST PORT (or a Unix socket): standard input goes to the socket, the socket to " +
    "standard output.",
  usage: "HOST PORT | --unix PATH [--timeout MS]",
  maxPositionals: 2,
  options: {
    unix: { type: "string", value: "PATH", description: "Connect to a Unix-domain socket instead" },
    timeout: { type: "string", value: "MS", description: "Give up connecting after MS ms (default 10000)" },
  },
  notes:
    "At the end of standard input the socket's write side is shut (half-close) and output goes on\n" +
    "until the peer closes. Exit status: 0 when the peer closed, 1 when the connection failed or was\n" +
    "reset, 2 bad usage. Example: echo hello | asyncore connect 127.0.0.1 8007",
};

/** Where to connect. */
type Target = { host: string; port: number } | { path: string };

function readTarget(args: ParsedArgs): Target {
  const unix = stringOption(args, "unix");
  const [host, port] = args.positionals;
  if (unix !== undefined) {
    if (host !== undefined) throw usageError("Give either HOST PORT or --unix PATH, not both");
    if (unix === "") throw usageError("Invalid --unix: expected a path");
    return { path: unix };
  }
  if (host === undefined || port === undefined) throw usageError("Missing HOST and PORT (or --unix PATH)");
  if (host === "") throw usageError("Invalid HOST: expected a host name or address");
  return { host, port: parseInteger(port, "PORT", { min: 1, max: 65535 }) };
}

function describe(target: Target): string {
  if ("path" in target) return target.path;
  return target.host.includes(":") ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

/** Words for the system errors a user is most likely to meet. */
const EXPLAINED: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOENT: "no such socket file",
  EACCES: "permission denied",
};

function explain(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code in EXPLAINED) return `${EXPLAINED[code]} (${code})`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Bridges the connection and the standard streams: received bytes go to `output`, pausing the
 * transport while `output` is full; `pauseWriting`/`resumeWriting` pause and resume `input`.
 */
class StdioBridge implements Protocol {
  readonly done: Promise<Error | null>;
  #finish!: (err: Error | null) => void;
  #transport: Transport | undefined;
  readonly #input: NodeJS.ReadableStream;
  readonly #output: NodeJS.WritableStream;

  constructor(input: NodeJS.ReadableStream, output: NodeJS.WritableStream) {
    this.#input = input;
    this.#output = output;
    this.done = new Promise((resolve) => {
      this.#finish = resolve;
    });
  }

  connectionMade(transport: Transport): void {
    this.#transport = transport;
    // Output closed under us (`| head`): nothing more can be delivered, so stop.
    this.#output.once("error", () => transport.abort());
  }

  dataReceived(data: Buffer): void {
    if (!this.#output.write(data)) {
      this.#transport!.pauseReading();
      this.#output.once("drain", () => {
        if (!this.#transport!.isClosing()) this.#transport!.resumeReading();
      });
    }
  }

  /** The peer is done: close (what we still have to send goes first) and finish. */
  eofReceived(): boolean {
    return false;
  }

  pauseWriting(): void {
    this.#input.pause();
  }

  resumeWriting(): void {
    this.#input.resume();
  }

  connectionLost(err: Error | null): void {
    this.#finish(err);
  }

  /** Start copying `input` to the connection; its end shuts the write side. */
  pipeInput(): void {
    const transport = this.#transport!;
    const input = this.#input;
    input.on("data", (chunk: Buffer | string) => {
      if (!transport.isClosing()) transport.write(chunk);
    });
    input.once("end", () => {
      if (!transport.isClosing() && transport.canWriteEof()) transport.writeEof();
    });
    input.on("error", (err: Error) => {
      process.stderr.write(`asyncore connect: standard input: ${err.message}\n`);
      transport.close();
    });
    input.resume();
  }
}

/** Resolves once everything written to `output` so far has been flushed. */
function flushed(output: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => output.write("", () => resolve()));
}

/**
 * The `asyncore connect` command: parse `argv` (the arguments after `connect`), connect, copy
 * `stdin` to the socket and the socket to `io.stdout` until the peer closes. Resolves with 0
 * when the peer closed, 1 when the connection failed or broke (a clear message on `io.stderr`),
 * 2 for bad usage; never rejects.
 *
 * @example
 * ```ts
 * process.exitCode = await connectCommand(["127.0.0.1", "8007"]);
 * ```
 */
export async function connectCommand(
  argv: readonly string[],
  io: CommandIO = process,
  stdin: NodeJS.ReadableStream & { destroy?: () => void } = process.stdin,
): Promise<number> {
  const read = readCommandLine(connectCommandDef, argv, io, (args) => ({
    target: readTarget(args),
    timeoutMs: intOption(args, "timeout", { min: 1, max: 3_600_000, default: 10_000 }),
  }));
  if ("exit" in read) return read.exit;
  const { target, timeoutMs } = read;

  const bridge = new StdioBridge(stdin, io.stdout);
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    if ("path" in target) await createUnixConnection(() => bridge, target.path, { signal });
    else await createConnection(() => bridge, target.host, target.port, { signal });
  } catch (err) {
    const why = signal.aborted ? `no answer in ${timeoutMs} ms` : explain(err);
    io.stderr.write(`asyncore connect: cannot connect to ${describe(target)}: ${why}\n`);
    return 1;
  }
  bridge.pipeInput();
  const err = await bridge.done;
  stdin.pause();
  stdin.destroy?.();
  await flushed(io.stdout);
  if (err !== null) {
    io.stderr.write(`asyncore connect: ${describe(target)}: ${explain(err)}\n`);
    return 1;
  }
  return 0;
}
