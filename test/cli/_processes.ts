/**
 * What the tests read about child processes from Linux's /proc: this process's children, whether
 * a PID still exists, and one line of a process's limits or status.
 */
import { existsSync, readFileSync } from "node:fs";

const childrenFile = `/proc/${process.pid}/task/${process.pid}/children`;

/** Why child processes cannot be listed here, or false. */
export const noChildList: string | false = existsSync(childrenFile)
  ? false
  : "/proc/<pid>/task/<tid>/children is missing here";

/** The PIDs of this process's children (started from the main thread). */
export function childPids(): number[] {
  return readFileSync(childrenFile, "utf8")
    .trim()
    .split(/\s+/)
    .filter((s) => s !== "")
    .map(Number);
}

/** True while a process with this PID exists (and is not a zombie waiting to be reaped). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

/** The line of `/proc/<pid>/<file>` that starts with `prefix` (e.g. "Max open files"), values only. */
export function procLine(pid: number, file: "limits" | "status", prefix: string): string {
  const line = readFileSync(`/proc/${pid}/${file}`, "utf8")
    .split("\n")
    .find((l) => l.startsWith(prefix));
  if (line === undefined) throw new Error(`No "${prefix}" line in /proc/${pid}/${file}`);
  return line.slice(prefix.length).trim().replace(/\s+/g, " ");
}
