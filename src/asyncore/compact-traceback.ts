/**
 * A one-line summary of where an error came from.
 *
 * @module
 */

const FRAME = /^\s*at (?:(.*?) \()?(.*?):(\d+):\d+\)?$/;

/**
 * The call path of `err` as `[file|function|line] …`, innermost last, as Python's
 * `asyncore.compact_traceback()` prints it (here: one string rather than a tuple).
 *
 * @example
 * ```ts
 * try { JSON.parse("{"); } catch (err) { console.log(compactTraceback(err)); }
 * // [/app/server.js|handleRead|12] [/app/lib.js|parse|3]
 * ```
 */
export function compactTraceback(err: unknown): string {
  const stack = err instanceof Error && typeof err.stack === "string" ? err.stack : "";
  const frames: string[] = [];
  for (const line of stack.split("\n")) {
    const m = FRAME.exec(line);
    if (m === null) continue;
    const file = m[2]!.replace(/^file:\/\//, "");
    frames.push(`[${file}|${m[1] ?? "<anonymous>"}|${m[3]}]`);
  }
  // V8 lists the innermost frame first; Python's order is outermost first.
  frames.reverse();
  return frames.length > 0 ? frames.join(" ") : "[<unknown>|<unknown>|0]";
}
