/**
 * Where the benchmark finds an echo server to start for each API: the scripts of `bench/servers/`
 * (compiled next to the tests), falling back to `asyncore echo --api <api>` (which serves raw
 * `node:net` too), so an installed package without `bench/` can still `--spawn` every API.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The APIs the benchmark compares: raw `node:net` and the four front ends. */
export const ECHO_APIS = ["raw", "dispatcher", "chat", "protocol", "streams"] as const;

/** One of {@link ECHO_APIS}. */
export type EchoApi = (typeof ECHO_APIS)[number];

/** File name of the echo server script for each API, inside a servers directory. */
export const SERVER_FILES: Readonly<Record<EchoApi, string>> = {
  raw: "raw-net-echo.js",
  dispatcher: "dispatcher-echo.js",
  chat: "chat-echo.js",
  protocol: "protocol-echo.js",
  streams: "streams-echo.js",
};

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Directories searched for server scripts when none is given: `bench/servers` beside this build
 * (`dist-test/src/cli` → `dist-test/bench/servers`) and the test build of a checkout
 * (`dist/cli` → `dist-test/bench/servers`).
 */
export function defaultServerDirs(): string[] {
  return [resolve(here, "../../bench/servers"), resolve(here, "../../dist-test/bench/servers")];
}

/** The script of `api` in the first of `dirs` that has it, or `undefined`. */
export function findServerScript(api: EchoApi, dirs: readonly string[]): string | undefined {
  for (const dir of dirs) {
    const file = join(dir, SERVER_FILES[api]);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** True when `value` names a script file rather than an API. */
function looksLikeScript(value: string): boolean {
  return value.endsWith(".js") || value.endsWith(".mjs") || value.includes("/") || isAbsolute(value);
}

/**
 * The command (`[node, script, ...]`) that starts the echo server for `spawn`, which is an API
 * name or the path of a script following the server contract (prints `listening on HOST:PORT`,
 * exits on SIGTERM). An API without a script in `dirs` runs `asyncore echo --api <api>` of
 * this build (`undefined` only for a name that is neither a script nor an API).
 *
 * @example
 * ```ts
 * echoServerCommand("streams", defaultServerDirs());
 * // [node, ".../dist-test/bench/servers/streams-echo.js"], or
 * // [node, ".../dist/cli/main.js", "echo", "--api", "streams", "--host", "127.0.0.1", "--port", "0"]
 * ```
 */
export function echoServerCommand(spawn: string, dirs: readonly string[]): string[] | undefined {
  if (looksLikeScript(spawn)) return [process.execPath, resolve(spawn)];
  if (!(ECHO_APIS as readonly string[]).includes(spawn)) return undefined;
  const api = spawn as EchoApi;
  const script = findServerScript(api, dirs);
  if (script !== undefined) return [process.execPath, script];
  return [
    process.execPath,
    join(here, "main.js"),
    "echo",
    "--api",
    api,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
  ];
}
