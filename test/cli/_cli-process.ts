/**
 * Running `node dist/cli/main.js …` as a real child process in tests: start it, wait for its
 * `listening on` line, collect its output, and kill (by PID) whatever a test left running.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** The checkout holding this test: the nearest package.json named asyncore-ts above the test or cwd. */
function findRepoRoot(): string {
  for (const start of [here, process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      const pkg = join(dir, "package.json");
      if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === "asyncore-ts") return dir;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error(`Cannot find the asyncore-ts checkout above ${here} or ${process.cwd()}`);
}

/** `dist/cli/main.js` of the checkout (built by `npm test` before the tests run). */
export const mainJs = join(findRepoRoot(), "dist/cli/main.js");

/** How a child ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running `asyncore` child process. */
export interface CliProcess {
  child: ChildProcess;
  /** Standard output so far, as UTF-8 text. */
  stdout(): string;
  /** Standard output so far, as bytes. */
  stdoutBytes(): Buffer;
  stderr(): string;
  exited: Promise<Exit>;
}

const running = new Set<CliProcess>();

/** Start `node dist/cli/main.js ...args` with stdin ignored unless `stdin: "pipe"`. */
export function startCli(args: readonly string[], opts: { stdin?: "pipe" | "ignore" } = {}): CliProcess {
  const child = spawn(process.execPath, [mainJs, ...args], {
    stdio: [opts.stdin ?? "ignore", "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  let err = "";
  child.stdout!.on("data", (d: Buffer) => {
    out.push(d);
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  const exited = new Promise<Exit>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  const stdoutBytes = (): Buffer => Buffer.concat(out);
  const proc: CliProcess = {
    child,
    stdout: () => stdoutBytes().toString("utf8"),
    stdoutBytes,
    stderr: () => err,
    exited,
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/** Wait until stdout holds `listening on <address>`; resolves with the address text. */
export async function listeningAddress(proc: CliProcess, ms = 10_000): Promise<string> {
  const deadline = Date.now() + ms;
  let ended = false;
  void proc.exited.then(() => {
    ended = true;
  });
  for (;;) {
    const m = /^listening on (\S+)\n/m.exec(proc.stdout());
    if (m) return m[1]!;
    if (ended || Date.now() > deadline) {
      throw new Error(`no 'listening on' line; stdout: ${proc.stdout()} stderr: ${proc.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `127.0.0.1:PORT` / `[::1]:PORT` → host and port. */
export function parseTcp(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!m) throw new Error(`not a TCP address: ${address}`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** Resolves with the exit, or rejects when the process is still running after `ms`. */
export async function exitWithin(proc: CliProcess, ms: number): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms; stderr: ${proc.stderr()}`)), ms);
  });
  try {
    return await Promise.race([proc.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILL (by PID) every child still running and wait for them: for `afterEach`. */
export async function killAll(): Promise<void> {
  const left = [...running];
  for (const p of left) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  }
  await Promise.all(left.map((p) => p.exited));
}

/** Run `node dist/cli/main.js ...args` to completion (10 s at most). */
export function runCli(
  args: readonly string[],
  opts: { input?: string | Buffer; timeoutMs?: number } = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [mainJs, ...args],
      { timeout: opts.timeoutMs ?? 10_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const status = err ? (err as { code?: unknown }).code : 0;
        if (typeof status !== "number") reject(err);
        else resolve({ status, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}
