/**
 * The multi-user line chat server behind `asyncore chat`, built on `AsyncChat` through the
 * public `asyncore` and `asynchat` modules only.
 *
 * Protocol (lines end in `\n`; a `\r` before it is dropped):
 * - on connecting: `* welcome to asyncore chat: send your nickname`;
 * - the first line is the nickname (or `/nick NAME`): 1–32 letters, digits, `_`, `-`, `.`,
 *   not in use; then `* you are NAME; …` to the user and `* NAME joined` to everyone else;
 * - any other line goes to everyone else as `<NAME> line`;
 * - `/who` answers `* users: a, b`; `/nick NEW` tells everyone `* OLD is now NEW`;
 *   `/quit` answers `* goodbye` and disconnects; everyone else sees `* NAME left`;
 * - a line longer than the limit gets `error: line too long (max N bytes)` and a disconnect,
 *   and no more than the limit is ever held for a line;
 * - a user whose unsent output passes `maxPending` bytes (it does not read) is disconnected;
 * - `shutdown()` tells everyone `* server shutting down` and closes every connection.
 *
 * @module
 */
import * as net from "node:net";
import { AsyncChat } from "../asynchat/index.js";
import { type Address, AF_INET, AF_INET6, Dispatcher, type SocketMap } from "../asyncore/index.js";

/** Options of {@link ChatServer.listen}. */
export interface ChatServerOptions {
  /** Longest line accepted, in bytes without the line end. Default 4096. */
  maxLine?: number;
  /** Unsent output bytes one user may have queued before being disconnected. Default 1 MiB. */
  maxPending?: number;
  /** Where the server's own log lines go (joins, leaves, errors). Default: none. */
  log?: (line: string) => void;
  /** The socket map to run in. Default: a new one (see {@link ChatServer.map}). */
  map?: SocketMap;
}

const NICK = /^[\p{L}\p{N}_.-]{1,32}$/u;
const CR = 13;

/**
 * The chat server: a listening dispatcher that makes a {@link ChatSession} per connection.
 * Everything runs inside `loop({ map: server.map })`.
 *
 * @example
 * ```ts
 * const server = await ChatServer.listen(["127.0.0.1", 0], { maxLine: 1024 });
 * console.log(`listening on port ${(server.addr as [string, number])[1]}`);
 * process.once("SIGINT", () => server.shutdown());
 * await loop({ map: server.map });
 * ```
 */
export class ChatServer extends Dispatcher {
  /** The map the server and its sessions live in. */
  readonly map: SocketMap;
  readonly maxLine: number;
  readonly maxPending: number;
  /** Joined users by nickname, in order of joining. */
  readonly #users = new Map<string, ChatSession>();
  readonly #sessions = new Set<ChatSession>();
  readonly #log: (line: string) => void;
  #stopping = false;

  private constructor(opts: ChatServerOptions) {
    const map = opts.map ?? new Map();
    super(undefined, map);
    this.map = map;
    this.maxLine = opts.maxLine ?? 4096;
    this.maxPending = opts.maxPending ?? 1024 * 1024;
    this.#log = opts.log ?? (() => {});
  }

  /**
   * Start a chat server listening on `addr` (`[host, port]`, port 0 for any free port).
   * Resolves once listening; `server.addr` is then the bound address.
   *
   * @throws RangeError `ERR_INVALID_ARG_VALUE` for a `maxLine`/`maxPending` that is not a
   *   positive integer; rejects with the system error (`EADDRINUSE`, …) when it cannot listen.
   */
  static async listen(addr: readonly [string, number], opts: ChatServerOptions = {}): Promise<ChatServer> {
    for (const name of ["maxLine", "maxPending"] as const) {
      const value = opts[name];
      if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0)) {
        throw Object.assign(
          new RangeError(`Cannot start chat: ${name} must be a positive integer, got ${value}`),
          {
            code: "ERR_INVALID_ARG_VALUE",
          },
        );
      }
    }
    const server = new ChatServer(opts);
    server.createSocket(net.isIPv6(addr[0]) ? AF_INET6 : AF_INET);
    void server.bind(addr);
    try {
      await server.listen(128);
    } catch (err) {
      server.close();
      throw err;
    }
    return server;
  }

  /** Nicknames of the joined users, in order of joining. */
  users(): string[] {
    return [...this.#users.keys()];
  }

  /** Connections open now (joined or not). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** True once {@link shutdown} ran. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /**
   * Stop listening, tell every connected user `* server shutting down` and close each
   * connection once that is sent. The loop over {@link map} ends when all are closed.
   */
  shutdown(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.close();
    for (const session of [...this.#sessions]) session.closeWith("* server shutting down\n");
    this.#log(`shutting down, ${this.#sessions.size} connection(s) to close`);
  }

  override handleAccepted(sock: net.Socket, addr: Address): void {
    if (this.#stopping) {
      sock.destroy();
      return;
    }
    sock.setNoDelay(true);
    const session = new ChatSession(sock, this, addr);
    if (session.connected) this.#sessions.add(session);
  }

  override handleError(err: unknown): void {
    this.#log(`listener error: ${describe(err)}`);
    this.close();
  }

  // --- used by ChatSession -------------------------------------------------------------------

  /** @internal */
  logLine(line: string): void {
    this.#log(line);
  }

  /** @internal A nickname is free when no other session holds it. */
  nickTaken(nick: string, by: ChatSession): boolean {
    const holder = this.#users.get(nick);
    return holder !== undefined && holder !== by;
  }

  /** @internal */
  rename(session: ChatSession, from: string | null, to: string): void {
    if (from !== null) this.#users.delete(from);
    this.#users.set(to, session);
  }

  /** @internal A session closed: forget it and tell the others if it had joined. */
  remove(session: ChatSession): void {
    this.#sessions.delete(session);
    const nick = session.nick;
    if (nick === null || this.#users.get(nick) !== session) return;
    this.#users.delete(nick);
    this.#log(`${nick} left`);
    if (!this.#stopping) this.broadcast(session, Buffer.from(`* ${nick} left\n`));
  }

  /** @internal Send `line` to every joined user but `from`; drop users that do not read. */
  broadcast(from: ChatSession | null, line: Buffer): void {
    for (const session of [...this.#users.values()]) {
      if (session === from || !session.connected) continue;
      session.push(line);
      if (session.outBufferSize > this.maxPending) session.drop("output not read");
    }
  }
}

/**
 * One connected user: frames input at `\n`, enforces the line limit while collecting, and
 * acts on each complete line.
 */
export class ChatSession extends AsyncChat {
  /** The nickname once joined, else `null`. */
  nick: string | null = null;
  readonly #server: ChatServer;
  readonly #peer: string;
  /** Bytes of the current line so far (without the `\n`). */
  #lineBytes = 0;
  /** Input is ignored from now on: the session is closing. */
  #done = false;

  constructor(sock: net.Socket, server: ChatServer, addr: Address) {
    super(sock, server.map);
    this.#server = server;
    this.#peer = typeof addr === "string" ? addr || "unix" : `${addr[0]}:${addr[1]}`;
    this.setTerminator("\n");
    this.push("* welcome to asyncore chat: send your nickname\n");
  }

  /** Keep the line while it fits (one byte more is allowed for a `\r` before the `\n`). */
  override collectIncomingData(data: Buffer): void {
    if (this.#done) return;
    this.#lineBytes += data.length;
    if (this.#lineBytes > this.#server.maxLine + 1) {
      this.#tooLong();
      return;
    }
    super.collectIncomingData(data);
  }

  override foundTerminator(): void {
    if (this.#done) return;
    let line = this.getData();
    this.#lineBytes = 0;
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, -1);
    if (line.length > this.#server.maxLine) {
      this.#tooLong();
      return;
    }
    if (line.length === 0) return;
    this.#handleLine(line);
  }

  /** Say `text` (if any), stop reading input and close once everything queued is sent. */
  closeWith(text: string): void {
    if (!this.#done) {
      this.#done = true;
      this.setTerminator(null);
    }
    if (text) this.push(text);
    this.closeWhenDone();
  }

  /** Disconnect now, dropping queued output (a user that does not read). */
  drop(reason: string): void {
    this.#server.logLine(`dropping ${this.nick ?? this.#peer}: ${reason}`);
    this.#done = true;
    this.discardBuffers();
    this.close();
  }

  override close(): void {
    super.close();
    this.#done = true;
    this.#server.remove(this);
  }

  override handleError(err: unknown): void {
    this.#server.logLine(`error on ${this.nick ?? this.#peer}: ${describe(err)}`);
    this.close();
  }

  #tooLong(): void {
    const max = this.#server.maxLine;
    this.#server.logLine(`${this.nick ?? this.#peer}: line over ${max} bytes, disconnecting`);
    this.discardBuffers();
    this.closeWith(`error: line too long (max ${max} bytes)\n`);
  }

  #handleLine(line: Buffer): void {
    if (line[0] === 0x2f /* "/" */) {
      const text = line.toString("utf8");
      const space = text.indexOf(" ");
      const command = space === -1 ? text : text.slice(0, space);
      const arg = space === -1 ? "" : text.slice(space + 1).trim();
      switch (command) {
        case "/who":
          this.push(`* users: ${this.#server.users().join(", ") || "(nobody yet)"}\n`);
          return;
        case "/nick":
          this.#setNick(arg);
          return;
        case "/quit":
          this.closeWith("* goodbye\n");
          return;
        default:
          this.push(`error: unknown command ${command} (try /who, /nick NAME, /quit)\n`);
          return;
      }
    }
    if (this.nick === null) {
      this.#setNick(line.toString("utf8").trim());
      return;
    }
    this.#server.broadcast(this, Buffer.concat([Buffer.from(`<${this.nick}> `), line, Buffer.from("\n")]));
  }

  #setNick(nick: string): void {
    if (!NICK.test(nick)) {
      this.push("error: a nickname is 1-32 letters, digits, '_', '-' or '.'\n");
      return;
    }
    if (this.#server.nickTaken(nick, this)) {
      this.push(`error: nickname ${nick} is taken\n`);
      return;
    }
    const old = this.nick;
    if (old === nick) return;
    this.nick = nick;
    this.#server.rename(this, old, nick);
    if (old === null) {
      this.#server.logLine(`${nick} joined from ${this.#peer}`);
      this.push(`* you are ${nick}; /who lists users, /nick NAME renames, /quit leaves\n`);
      this.#server.broadcast(this, Buffer.from(`* ${nick} joined\n`));
    } else {
      const notice = Buffer.from(`* ${old} is now ${nick}\n`);
      this.push(notice);
      this.#server.broadcast(this, notice);
    }
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${typeof code === "string" ? `${code}: ` : ""}${err.message}`;
  }
  return String(err);
}
