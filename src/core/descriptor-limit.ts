/**
 * Seeing descriptor exhaustion on the node:net backend.
 *
 * When `accept()` fails with `EMFILE`, libuv (under Node) closes a reserve descriptor, accepts
 * and drops the pending connections, and reports nothing, so a server never learns why clients
 * are being reset. Descriptors are allocated lowest-first, so an accepted socket that got the
 * highest descriptor the limit allows means the table is now full: the next accept fails. That
 * is reported as `EMFILE`, once per episode.
 *
 * @module
 */
import * as fs from "node:fs";
import { codedError } from "../errors.js";

let softLimit: number | null | undefined;

/** The soft `RLIMIT_NOFILE` of this process (Linux), or null where it cannot be read. */
export function descriptorSoftLimit(): number | null {
  if (softLimit !== undefined) return softLimit;
  softLimit = null;
  try {
    const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync("/proc/self/limits", "utf8"));
    if (m) softLimit = Number(m[1]);
  } catch {
    // Not Linux: no early warning; nothing else changes.
  }
  return softLimit;
}

/** Watches the descriptors of accepted sockets for one listener. */
export class DescriptorWatch {
  #full = false;

  /** The error to report when accepting `socket` filled the table, else null. */
  check(socket: unknown): Error | null {
    const fd = (socket as { _handle?: { fd?: unknown } })._handle?.fd;
    const limit = descriptorSoftLimit();
    if (typeof fd !== "number" || fd < 0 || limit === null) return null;
    if (fd < limit - 1) {
      this.#full = false;
      return null;
    }
    if (this.#full) return null;
    this.#full = true;
    return codedError(
      "EMFILE",
      `Descriptor table full: accepted descriptor ${fd} of a limit of ${limit}; new connections are dropped until descriptors are freed`,
    );
  }
}
