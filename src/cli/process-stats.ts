/**
 * What the benchmark reads about a server process, from Linux's /proc: CPU time and resident
 * memory; and CPU pinning with `taskset`. Every reader returns `null` where /proc is missing.
 *
 * @module
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ), asked once from `getconf`. */
let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8", timeout: 2000 });
    const n = Number.parseInt(r.stdout ?? "", 10);
    ticksPerSecond = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return ticksPerSecond;
}

/**
 * The user + system CPU time a process has used so far, in milliseconds (resolution one clock
 * tick, usually 10 ms), or `null` when /proc/<pid>/stat cannot be read.
 *
 * @example
 * ```ts
 * const before = readCpuMs(child.pid!);
 * ```
 */
export function readCpuMs(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return ((utime + stime) * 1000) / clockTicks();
}

/** A process's resident set size in bytes (`VmRSS` of /proc/<pid>/status), or `null`. */
export function readRssBytes(pid: number): number | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

let pinnable: boolean | undefined;

/**
 * True when there are 2 or more CPUs and the `taskset` tool runs. Asked once and remembered:
 * once this process is pinned to one CPU (`pinProcess`), `availableParallelism()` says 1, and a
 * later answer of false would start the server unpinned, on this process's CPU.
 */
export function canPin(): boolean {
  if (pinnable === undefined) {
    pinnable =
      availableParallelism() >= 2 &&
      spawnSync("taskset", ["-p", String(process.pid)], { stdio: "ignore", timeout: 2000 }).status === 0;
  }
  return pinnable;
}

/**
 * Pin every thread of process `pid` to CPU `core` with `taskset -a -p -c`. Returns false (and
 * changes nothing) when pinning is not possible here.
 */
export function pinProcess(pid: number, core: number): boolean {
  if (!canPin()) return false;
  try {
    execFileSync("taskset", ["-a", "-p", "-c", String(core), String(pid)], {
      stdio: "ignore",
      timeout: 2000,
    });
    return true;
  } catch {
    return false;
  }
}

/** The command and arguments that run `argv` pinned to CPU `core` (unchanged when not possible). */
export function pinnedCommand(argv: readonly string[], core: number | undefined): string[] {
  if (core === undefined || !canPin()) return [...argv];
  return ["taskset", "-c", String(core), ...argv];
}
