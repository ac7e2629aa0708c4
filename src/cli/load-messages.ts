/**
 * The messages the load generator sends: made once per run, so that sending one allocates
 * nothing. Either random bytes of any value, or lines that a line-framed echo server (an
 * `AsyncChat` with terminator `"\n"`) can frame.
 *
 * @module
 */
import { randomFillSync } from "node:crypto";

/** How many distinct messages there are at most; a prime. */
export const MESSAGE_COUNT = 251;

/** Line-framed messages are stored one after another: at most this many bytes for all of them. */
const LINE_MESSAGES_BYTES = 32 * 1024 * 1024;

const NEWLINE = 0x0a;

/** What {@link makeMessages} returns. */
export interface LoadMessages {
  /** Every message, `size` bytes each; consecutive ones differ (unless `size` is 1 with lines). */
  readonly messages: readonly Buffer[];
  /** Each message is `size - 1` bytes other than `"\n"`, then `"\n"`. */
  readonly lines: boolean;
}

/**
 * Make the messages of one run, `size` bytes each.
 *
 * - Without `lines`: {@link MESSAGE_COUNT} views over one random pattern of `size + 251` bytes,
 *   each starting one byte further on; their bytes may take any value, `"\n"` included.
 * - With `lines`: each message is `size - 1` random bytes that are never `"\n"` followed by
 *   `"\n"`, so that a line-framed echo server sees exactly one line per message. Views cannot
 *   share one pattern then (the `"\n"` must end every one), so the messages lie one after
 *   another: {@link MESSAGE_COUNT} of them, fewer for large sizes (32 MiB in all, but at least
 *   2), never a multiple of 13 so that a connection stepping 13 messages at a time never sends
 *   the same one twice in a row.
 *
 * @example
 * ```ts
 * const { messages } = makeMessages(1024, true);
 * messages[0]!.at(-1); // 10 ("\n"), and messages[0]!.indexOf(10) === 1023
 * ```
 */
export function makeMessages(size: number, lines: boolean): LoadMessages {
  if (!lines) {
    const pattern = randomFillSync(Buffer.allocUnsafe(size + MESSAGE_COUNT));
    const messages = Array.from({ length: MESSAGE_COUNT }, (_, i) => pattern.subarray(i, i + size));
    return { messages, lines };
  }
  let count = Math.min(MESSAGE_COUNT, Math.max(2, Math.floor(LINE_MESSAGES_BYTES / size)));
  if (count % 13 === 0) count -= 1;
  const all = randomFillSync(Buffer.allocUnsafe(count * size));
  for (let i = all.indexOf(NEWLINE); i !== -1; i = all.indexOf(NEWLINE, i + 1)) all[i] = NEWLINE ^ 0x80;
  const messages = Array.from({ length: count }, (_, k) => {
    all[(k + 1) * size - 1] = NEWLINE;
    return all.subarray(k * size, (k + 1) * size);
  });
  return { messages, lines };
}
