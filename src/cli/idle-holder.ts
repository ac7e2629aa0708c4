/**
 * The idle connection holder: a child process started by `openIdleProcess` that opens idle
 * connections, reports over its IPC channel, and holds them until the parent says `close`, the
 * parent is gone (the channel closes) or its time is up (`openMs` to open them all, `holdMs` to
 * hold them); then closes them all and exits.
 * SIGINT is ignored: a Ctrl-C reaches the whole process group, and the parent, which may want to
 * finish its report, decides when the holder ends.
 *
 * Run as `node idle-holder.js '<HolderConfig JSON>'` with an IPC channel; not a command of its own.
 *
 * @module
 */
import { codedError } from "../errors.js";
import { describeFdLimit } from "./connect-target.js";
import { type IdleConnections, openIdleConnections } from "./idle-connections.js";
import type { HolderConfig, HolderMessage, ParentMessage } from "./idle-process.js";

/** Descriptors a Node process uses besides the connections (stdio, IPC, epoll, libuv, …), kept free. */
const FD_RESERVE = 64;

function send(msg: HolderMessage): void {
  if (process.connected) process.send!(msg);
}

/** Reject a count the open-file limit cannot hold, before opening any connection. */
function checkFdLimit(count: number): void {
  const limit = describeFdLimit();
  const soft = Number(limit.split("/")[0]);
  if (Number.isFinite(soft) && count + FD_RESERVE > soft) {
    throw codedError(
      "EMFILE",
      `Cannot open ${count} idle connections: each takes one file descriptor in the process that ` +
        `holds them and one in the server, and that process may open ${soft} files in all (limit ` +
        `soft/hard ${limit}, ${FD_RESERVE} kept for itself). Raise it with \`ulimit -n <n>\` in the ` +
        "shell that starts both, or ask for fewer idle connections.",
    );
  }
}

/** Resolve when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

async function main(config: HolderConfig): Promise<void> {
  const stop = new AbortController();
  process.on("message", (msg: ParentMessage) => {
    if (msg.type === "close") stop.abort(codedError("ABORT_ERR", "Closed by the parent"));
  });
  process.once("disconnect", () => stop.abort(codedError("ABORT_ERR", "The parent is gone")));
  const expire = (ms: number): NodeJS.Timeout =>
    setTimeout(() => stop.abort(codedError("ETIMEDOUT", `Lifetime over after ${ms} ms`)), ms);
  let deadline = expire(config.openMs);
  let idle: IdleConnections | undefined;
  try {
    checkFdLimit(config.count);
    idle = await openIdleConnections(config.target, {
      count: config.count,
      batchSize: config.batchSize,
      timeoutMs: config.timeoutMs,
      signal: stop.signal,
      onBatch: (opened) => send({ type: "opened", opened }),
      onFault: (code) => send({ type: "fault", code }),
    });
    clearTimeout(deadline);
    deadline = expire(config.holdMs);
    send({ type: "ready", count: idle.count });
    await aborted(stop.signal);
  } catch (err) {
    // Aborted while opening: the parent asked for it or is gone, and nobody waits for an error.
    if (!stop.signal.aborted) {
      const e = err as Error & { code?: string };
      send({ type: "error", code: e.code ?? "ERR_UNKNOWN", message: e.message ?? String(err) });
    }
  } finally {
    clearTimeout(deadline);
    await idle?.close();
  }
  if (process.connected) process.disconnect();
}

process.on("SIGINT", () => {});
main(JSON.parse(process.argv[2] ?? "{}") as HolderConfig).then(
  () => {
    // Everything is closed; a handle that would still keep the process alive must not.
    setTimeout(() => process.exit(0), 2000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
