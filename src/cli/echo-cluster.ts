/**
 * `asyncore echo --workers N`: N worker processes serving one listening address through
 * `node:cluster`.
 *
 * Node 20 has no `SO_REUSEPORT`, so the workers cannot each own a listening socket on the same
 * port. Instead the primary process listens and accepts, and hands each connection to the next
 * worker in turn (`cluster.SCHED_RR`); each worker runs the chosen API's echo server on the
 * connections it is given. Listening goes through `node:net`, so the workers use the `net`
 * backend. The primary prints the one `listening on` line once every worker is ready, and on
 * SIGINT/SIGTERM asks every worker to shut down gracefully and waits for them.
 *
 * @module
 */
import cluster, { type Worker } from "node:cluster";
import { fileURLToPath } from "node:url";
import type { CommandIO } from "./bench-command.js";
import type { EchoSettings } from "./echo-command.js";

/** Set in the environment of the worker processes. */
const WORKER_ENV = "ASYNCORE_ECHO_WORKER";
/** How long workers get to start listening. */
const START_TIMEOUT_MS = 15_000;
/** After the grace period, how long workers get to exit before they are killed. */
const EXIT_MARGIN_MS = 3000;

/** Messages between the primary and its workers. */
type WorkerMessage = { type: "listening"; address: string } | { type: "shutdown" };

/** True in a worker process started by {@link runEchoCluster}. */
export function isEchoWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] === "1";
}

/** In a worker: tell the primary where this worker listens. */
export function workerAnnounce(address: string): void {
  process.send?.({ type: "listening", address } satisfies WorkerMessage);
}

/**
 * In a worker: call `onShutdown` when the primary asks for a shutdown. Returns a function that
 * stops listening. Outside a worker it does nothing.
 */
export function workerShutdownRequests(onShutdown: () => void): () => void {
  if (!isEchoWorker()) return () => {};
  const onMessage = (message: unknown): void => {
    if ((message as Partial<WorkerMessage> | null)?.type === "shutdown") onShutdown();
  };
  process.on("message", onMessage);
  // The primary going away is a shutdown request too.
  process.on("disconnect", onShutdown);
  return () => {
    process.off("message", onMessage);
    process.off("disconnect", onShutdown);
  };
}

/** Resolves with the exit code of `worker` once it has exited. */
function exitOf(worker: Worker): Promise<number> {
  return new Promise((resolve) => {
    if (worker.isDead()) resolve(worker.process.exitCode ?? 1);
    else worker.once("exit", (code, signal) => resolve(signal ? 1 : (code ?? 1)));
  });
}

/** Ask every live worker to shut down (a worker whose channel is gone is signalled instead). */
function askToStop(workers: readonly Worker[]): void {
  for (const worker of workers) {
    if (worker.isDead()) continue;
    if (worker.isConnected()) worker.send({ type: "shutdown" } satisfies WorkerMessage);
    else worker.process.kill("SIGTERM");
  }
}

/** Resolves with `true` once `promise` settles, or `false` after `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * In the primary: fork `settings.workers` workers running `asyncore echo argv`, print
 * `listening on <address>` once all listen, and serve until SIGINT/SIGTERM (or until every
 * worker has died). Resolves with 0 after a clean shutdown, 1 when a worker could not start
 * or workers died on their own.
 */
export async function runEchoCluster(
  argv: readonly string[],
  settings: EchoSettings,
  io: CommandIO,
): Promise<number> {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  cluster.setupPrimary({
    exec: fileURLToPath(new URL("./main.js", import.meta.url)),
    args: ["echo", ...argv],
  });
  const env = { [WORKER_ENV]: "1", ASYNCORE_BACKEND: "net" };
  const workers: Worker[] = [];
  const exits: Promise<number>[] = [];
  for (let i = 0; i < settings.workers; i++) {
    const worker = cluster.fork(env);
    workers.push(worker);
    exits.push(exitOf(worker));
  }

  let stopping = false;
  let stop!: (reason: string) => void;
  const stopped = new Promise<string>((resolve) => {
    stop = resolve;
  });
  const onSignal = (signal: string): void => stop(signal);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let died = 0;
  for (const [i, exit] of exits.entries()) {
    void exit.then((code) => {
      if (stopping) return;
      died++;
      io.stderr.write(`asyncore echo: worker ${workers[i]!.id} exited (code ${code})\n`);
      if (died === workers.length) stop("every worker exited");
    });
  }

  try {
    const address = await allListening(workers, stopped);
    if (address === undefined) {
      io.stderr.write("asyncore echo: the workers did not all start\n");
      return shutdown(workers, exits, settings.graceMs).then(() => 1);
    }
    io.stdout.write(`listening on ${address}\n`);
    const reason = await stopped;
    stopping = true;
    io.stderr.write(`asyncore echo: ${reason}: asking ${settings.workers} workers to shut down\n`);
    const codes = await shutdown(workers, exits, settings.graceMs);
    return died > 0 || codes.some((c) => c !== 0) ? 1 : 0;
  } finally {
    stopping = true;
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/**
 * The address every worker listens on, once all have said so; `undefined` when one exits
 * first, the start times out, or a stop comes first.
 */
function allListening(workers: readonly Worker[], stopped: Promise<string>): Promise<string | undefined> {
  return new Promise((resolve) => {
    let ready = 0;
    let address: string | undefined;
    const timer = setTimeout(() => done(undefined), START_TIMEOUT_MS);
    const listeners: Array<() => void> = [];
    const done = (result: string | undefined): void => {
      clearTimeout(timer);
      for (const off of listeners) off();
      resolve(result);
    };
    for (const worker of workers) {
      const onMessage = (message: unknown): void => {
        const m = message as Partial<WorkerMessage> | null;
        if (m?.type !== "listening" || typeof m.address !== "string") return;
        address ??= m.address;
        if (++ready === workers.length) done(address);
      };
      const onExit = (): void => done(undefined);
      worker.on("message", onMessage);
      worker.once("exit", onExit);
      listeners.push(() => {
        worker.off("message", onMessage);
        worker.off("exit", onExit);
      });
    }
    void stopped.then(() => done(undefined));
  });
}

/** Ask the workers to stop, wait `graceMs` plus a margin, kill the rest; their exit codes. */
async function shutdown(
  workers: readonly Worker[],
  exits: Promise<number>[],
  graceMs: number,
): Promise<number[]> {
  askToStop(workers);
  const all = Promise.all(exits);
  if (!(await within(all, graceMs + EXIT_MARGIN_MS))) {
    for (const worker of workers) if (!worker.isDead()) worker.process.kill("SIGKILL");
  }
  return all;
}
