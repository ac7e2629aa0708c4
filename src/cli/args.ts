/**
 * Command-line parsing shared by the `asyncore` commands: a declarative option table on top of
 * `node:util`'s `parseArgs`, generated `--help` text, and checked integer and choice options.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type CodedError, codes, invalidArgValue } from "../errors.js";

/** One option of a command. */
export interface OptionDef {
  type: "string" | "boolean";
  short?: string;
  /** Placeholder shown in help, e.g. `N` for `--conns N`. */
  value?: string;
  /** One line for `--help`. */
  description: string;
}

/** A command: its name, what it does, and its options (`--help` is added automatically). */
export interface CommandDef {
  /** e.g. `bench`; shown as `asyncore bench`. */
  name: string;
  /** One line: what the command does. */
  summary: string;
  /** Synopsis after the command name, e.g. `[--port P] [--json]`. */
  usage: string;
  options: Record<string, OptionDef>;
  /** How many positional arguments the command takes at most (default 0). */
  maxPositionals?: number;
  /** Extra paragraphs for `--help`. */
  notes?: string;
  /** How the program is invoked in the help's usage line (default `asyncore <name>`). */
  program?: string;
}

/** What {@link parseCommandArgs} returns. */
export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  /** `--help` or `-h` was given. */
  help: boolean;
}

/**
 * Parse `argv` (the arguments after the command name) against `def`.
 * @throws {TypeError} Node's `ERR_PARSE_ARGS_UNKNOWN_OPTION`, `ERR_PARSE_ARGS_INVALID_OPTION_VALUE`
 * or `ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL` for what `parseArgs` rejects, and
 * `ERR_INVALID_ARG_VALUE` for too many positional arguments.
 * @example
 * ```ts
 * const { values } = parseCommandArgs(benchCommandDef, ["--conns", "4"]);
 * ```
 */
export function parseCommandArgs(def: CommandDef, argv: readonly string[]): ParsedArgs {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, o] of Object.entries(def.options)) {
    options[name] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  }
  const { values, positionals } = parseArgs({
    args: [...argv],
    options,
    allowPositionals: true,
    strict: true,
  });
  const help = values.help === true;
  delete values.help;
  if (!help && positionals.length > (def.maxPositionals ?? 0)) {
    throw usageError(`Unexpected argument: ${positionals[def.maxPositionals ?? 0]}`);
  }
  return { values: values as ParsedArgs["values"], positionals, help };
}

/** The `--help` text of a command. */
export function formatHelp(def: CommandDef): string {
  const rows: [string, string][] = Object.entries(def.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${o.value ? ` ${o.value}` : ""}`;
    return [flag, o.description];
  });
  rows.push(["-h, --help", "Show this help"]);
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  const lines = [
    `Usage: ${def.program ?? `asyncore ${def.name}`} ${def.usage}`.trimEnd(),
    "",
    def.summary,
    "",
    "Options:",
    ...rows.map(([f, d]) => `  ${f.padEnd(width)}${d}`),
  ];
  if (def.notes) lines.push("", def.notes);
  return `${lines.join("\n")}\n`;
}

/** An error about how a command was called (exit status 2). */
export function usageError(message: string): RangeError & CodedError {
  return invalidArgValue(message);
}

/** Where a command writes: help to `stdout`, usage errors to `stderr`. */
export interface UsageIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/**
 * Parse a command line and read its settings, handling `--help` (prints it: exit status 0) and
 * bad usage (prints the error and a hint: exit status 2) the same way for every command.
 * Returns the settings, or `{ exit }` when the command should stop with that status.
 * @example
 * ```ts
 * const read = readCommandLine(benchCommandDef, argv, process, (args) => ({ json: flagOption(args, "json") }));
 * if ("exit" in read) return read.exit;
 * ```
 */
export function readCommandLine<S extends object>(
  def: CommandDef,
  argv: readonly string[],
  io: UsageIO,
  read: (args: ParsedArgs) => S,
): S | { exit: number } {
  try {
    const args = parseCommandArgs(def, argv);
    if (args.help) {
      io.stdout.write(formatHelp(def));
      return { exit: 0 };
    }
    return read(args);
  } catch (err) {
    io.stderr.write(`asyncore ${def.name}: ${(err as Error).message}\nTry 'asyncore ${def.name} --help'.\n`);
    return { exit: 2 };
  }
}

/** True for errors that mean "the command was called wrongly" rather than "it failed". */
export function isUsageError(err: unknown): boolean {
  const code = (err as Partial<CodedError> | undefined)?.code;
  return typeof code === "string" && (code === codes.INVALID_ARG_VALUE || code.startsWith("ERR_PARSE_ARGS_"));
}

/** Bounds and default of {@link intOption}. */
export interface IntRange {
  min: number;
  max: number;
  /** Used when the option is absent; absent and no default gives `undefined`. */
  default?: number;
}

/**
 * A non-negative decimal integer option (`_` allowed as a digit separator: `10_000`).
 * @throws {RangeError} `ERR_INVALID_ARG_VALUE` when it is not an integer within the range.
 */
export function intOption(args: ParsedArgs, name: string, range: IntRange & { default: number }): number;
export function intOption(args: ParsedArgs, name: string, range: IntRange): number | undefined;
export function intOption(args: ParsedArgs, name: string, range: IntRange): number | undefined {
  const raw = args.values[name];
  if (raw === undefined) return range.default;
  return parseInteger(String(raw), `--${name}`, range);
}

/**
 * Parse a non-negative decimal integer (`_` allowed as a digit separator) within a range;
 * `what` names it in the error, e.g. `--size` or `--sizes item`.
 * @throws {RangeError} `ERR_INVALID_ARG_VALUE` when it is not an integer within the range.
 */
export function parseInteger(text: string, what: string, range: { min: number; max: number }): number {
  const n = /^\d[\d_]*$/.test(text) ? Number(text.replaceAll("_", "")) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw usageError(`Invalid ${what}: expected an integer from ${range.min} to ${range.max}, got "${text}"`);
  }
  return n;
}

/** A string option, `undefined` when absent. */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const raw = args.values[name];
  return typeof raw === "string" ? raw : undefined;
}

/** A boolean flag: true when given. */
export function flagOption(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/**
 * A string option restricted to `choices`.
 * @throws {RangeError} `ERR_INVALID_ARG_VALUE` for any other value.
 */
export function choiceOption<T extends string>(
  args: ParsedArgs,
  name: string,
  choices: readonly T[],
): T | undefined {
  const raw = stringOption(args, name);
  if (raw === undefined) return undefined;
  if (!(choices as readonly string[]).includes(raw)) {
    throw usageError(`Invalid --${name}: expected one of ${choices.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}
