/**
 * The listening half shared by the echo servers on the dispatcher model (`dispatcher` and
 * `chat`): a listening `Dispatcher` in a socket map of its own, `loop()` over that map, and the
 * graceful shutdown.
 *
 * @module
 */
import type * as net from "node:net";
import {
  type Address,
  AF_INET,
  AF_INET6,
  AF_UNIX,
  closeAll,
  Dispatcher,
  loop,
  type SocketMap,
} from "../../asyncore/index.js";
import { ConnectionTracker, type TrackedConnection } from "./connection-tracker.js";
import {
  DEFAULT_MAX_BUFFERED,
  describeError,
  type EchoListenSettings,
  logToStderr,
  type RunningEchoServer,
  Settled,
} from "./echo-server.js";

/** What a connection handler of a loop server gets to know about its server. */
export interface LoopServerContext {
  /** The map the connection must join. */
  readonly map: SocketMap;
  /** Where it adds itself on creation and deletes itself on close. */
  readonly tracker: ConnectionTracker;
  /** Stop reading while more than this many bytes wait to be sent. */
  readonly maxBuffered: number;
  /** Reports failures other than resets. */
  readonly report: (line: string) => void;
}

/** Makes the handler of one accepted connection (it joins `context.map`). */
export type HandlerFactory = (sock: net.Socket, context: LoopServerContext) => TrackedConnection;

/** The listening dispatcher: a handler per accepted connection, none once draining. */
class EchoListener extends Dispatcher implements LoopServerContext {
  readonly map: SocketMap;
  readonly tracker = new ConnectionTracker();
  readonly maxBuffered: number;
  readonly report: (line: string) => void;
  readonly #label: string;
  readonly #create: HandlerFactory;

  constructor(map: SocketMap, settings: EchoListenSettings, label: string, create: HandlerFactory) {
    super(undefined, map);
    this.map = map;
    this.maxBuffered = settings.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    this.report = settings.log ?? logToStderr;
    this.#label = label;
    this.#create = create;
  }

  override handleAccepted(sock: net.Socket, _addr: Address): void {
    if (this.tracker.draining) {
      sock.destroy();
      return;
    }
    this.tracker.add(this.#create(sock, this));
  }

  override handleError(err: unknown): void {
    this.report(`echo (${this.#label}): listener: ${describeError(err)}`);
  }
}

/**
 * Listen on `settings.address`, make a handler with `create` for each connection, and run
 * `loop()` over the server's own map until {@link RunningEchoServer.close} has drained it.
 * `label` names the server in log lines.
 *
 * @throws (rejects) the system error when it cannot listen (`EADDRINUSE`, `EACCES`, …).
 * @example
 * ```ts
 * const server = await startLoopServer(settings, "dispatcher", (sock, ctx) => new EchoHandler(sock, ctx));
 * ```
 */
export async function startLoopServer(
  settings: EchoListenSettings,
  label: string,
  create: HandlerFactory,
): Promise<RunningEchoServer> {
  const map: SocketMap = new Map();
  const listener = new EchoListener(map, settings, label, create);
  const { address } = settings;
  listener.createSocket(
    typeof address === "string" ? AF_UNIX : address[0].includes(":") ? AF_INET6 : AF_INET,
  );
  listener.bind(address).catch(() => {}); // the same failure rejects listen() below
  let listening: Address;
  try {
    listening = await listener.listen(settings.backlog ?? 1024);
  } catch (err) {
    closeAll(map, true);
    throw err;
  }

  const finished = new Settled();
  loop({ map, timeout: 1000 }).then(finished.resolve, (err: unknown) => {
    listener.report(`echo (${label}): the loop stopped: ${describeError(err)}`);
    closeAll(map, true);
    finished.reject(err);
  });

  let closing: Promise<void> | undefined;
  return {
    address: listening,
    connections: () => listener.tracker.size,
    finished: finished.promise,
    close(graceMs = 2000) {
      closing ??= listener.tracker
        .drain(graceMs, () => listener.close())
        .then(() => {
          closeAll(map, true);
          return finished.promise.catch(() => {});
        });
      return closing;
    },
  };
}
