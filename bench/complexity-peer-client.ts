/**
 * Drives `complexity-peer.js` from the asyncore-ts side of the complexity benchmark: spawns it,
 * sends one command at a time and waits for its reply line. The CPython side has its own copy
 * of this in `complexity_asyncore.py`.
 *
 * @module
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";

/** Where the compiled peer script lives: next to this file. */
export const PEER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "complexity-peer.js");

/** A reply of the peer: `ok` plus whatever the command returns. */
export interface PeerReply {
  ok: boolean;
  error?: string;
  port?: number;
  ms?: number;
  opened?: number;
}

/**
 * The peer process. `request()` sends a command and resolves with its reply (rejects on
 * `ok: false`, on the peer's exit, or after `timeoutMs`). `close()` ends its stdin and waits
 * for it to exit (killing it by PID after 5 s).
 */
export class PeerClient {
  readonly #child: ChildProcessByStdio<Writable, Readable, null>;
  readonly #lines: Interface;
  readonly #waiting: Array<(line: string | null) => void> = [];
  #exited = false;

  constructor() {
    this.#child = spawn(process.execPath, [PEER_SCRIPT], { stdio: ["pipe", "pipe", "inherit"] });
    this.#lines = createInterface({ input: this.#child.stdout });
    this.#lines.on("line", (line) => this.#waiting.shift()?.(line));
    this.#child.on("exit", () => {
      this.#exited = true;
      for (const w of this.#waiting.splice(0)) w(null);
    });
  }

  /** Send `cmd` and wait for its reply. */
  request(cmd: object, timeoutMs = 120_000): Promise<PeerReply> {
    if (this.#exited) return Promise.reject(new Error("the peer process has exited"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`peer: no reply to ${JSON.stringify(cmd)}`)),
        timeoutMs,
      );
      this.#waiting.push((line) => {
        clearTimeout(timer);
        if (line === null) return reject(new Error("the peer process exited"));
        const r = JSON.parse(line) as PeerReply;
        if (!r.ok) reject(new Error(`peer: ${r.error ?? "failed"}`));
        else resolve(r);
      });
      this.#child.stdin.write(`${JSON.stringify(cmd)}\n`);
    });
  }

  /** End the peer and wait for it to exit. */
  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
    this.#lines.close();
  }
}
