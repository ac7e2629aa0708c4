/**
 * `Dispatcher`: asyncore's socket wrapper, whose handlers the loop calls when its socket is
 * ready. Python: `asyncore.dispatcher`.
 *
 * @module
 */
import * as dgram from "node:dgram";
import * as net from "node:net";
import { type Address, type BytesLike, formatAddress, toBuffer } from "../address.js";
import { DIRECT_READ_MAX, type DirectStream, type StreamConnection } from "../core/backend.js";
import { getBackend, NativeDatagramEndpoint, NativeSocket, NativeStreamListener } from "../core/index.js";
import { checkServerLimits, type ServerLimitOptions } from "../core/server-limits.js";
import { type CodedError, codedError, codes, invalidArgType, invalidArgValue } from "../errors.js";
import { ACCEPT_QUEUE_MIN, Channel, SEND_BUFFER_HIGH, SEND_BUFFER_LOW } from "./_channel.js";
import { isDisconnect, schedulerFor } from "./_scheduler.js";
import { acceptedConnections, kChannel, selfReportingPredicates } from "./_symbols.js";
import { compactTraceback } from "./compact-traceback.js";
import { AF_INET, AF_INET6, AF_UNIX, SOCK_DGRAM, SOCK_STREAM } from "./constants.js";
import { type SocketMap, socketMap } from "./socket-map.js";

/** The Node object a dispatcher can wrap. */
export type DispatcherSocket =
  | net.Socket
  | net.Server
  | dgram.Socket
  | NativeSocket
  | NativeStreamListener
  | NativeDatagramEndpoint;

/**
 * A connected stream socket as `accept()` gives it: a `net.Socket` on the `node:net` backend, a
 * {@link NativeSocket} on the native one (see `backendName()`).
 */
export type StreamSocket = net.Socket | NativeSocket;

let nextFileno = 1;
const EMPTY = Buffer.alloc(0);

/**
 * What only some dispatchers set: a map of their own, their own log filter, or the family,
 * bind address and bind promise of a socket they make themselves. Made on first need, so the
 * thousands of dispatchers over accepted sockets hold none.
 */
interface Rare {
  /** The map given to the constructor (`socketMap` when none was). */
  map: SocketMap;
  ignoreLogTypes: Set<string> | undefined;
  family: number;
  bindAddr: Address | undefined;
  bound: Deferred<Address> | undefined;
}

/**
 * A non-blocking socket whose events are delivered to overridable handlers by {@link loop}.
 *
 * Handlers run only inside `loop()`/`poll()` over the map that holds the dispatcher, one at a
 * time. In each iteration a dispatcher gets `handleReadEvent()` when `readable()` is true and
 * data, EOF, a connection or an error waits, and `handleWriteEvent()` when `writable()` is true
 * and its socket can take more (or a connect just finished).
 *
 * @example
 * ```ts
 * class EchoHandler extends Dispatcher {
 *   handleRead() { const data = this.recv(8192); if (data.length) this.send(data); }
 *   writable() { return false; }
 * }
 * class EchoServer extends Dispatcher {
 *   constructor() { super(); this.createSocket(); this.listen(5); }
 *   handleAccepted(sock: net.Socket) { new EchoHandler(sock); }
 * }
 * const server = new EchoServer();
 * await server.bind(["127.0.0.1", 0]);   // resolves once listening
 * await loop();
 * ```
 */
export class Dispatcher {
  /** When true, `DispatcherWithSend.send()` logs what it sends. Python: `debug`. */
  debug = false;
  /** The socket is connected (set just after `handleConnect()`). Python: `connected`. */
  connected = false;
  /** The socket is listening for connections. Python: `accepting`. */
  accepting = false;
  /** A non-blocking connect is in progress. Python: `connecting`. */
  connecting = false;
  /** Free for subclasses to mark a closing channel, as asynchat's users do. Python: `closing`. */
  closing = false;
  /** Peer address (connected) or bound address (listening). */
  addr: Address | undefined = undefined;
  /** @internal */
  readonly [kChannel]: Channel;
  readonly #fileno = nextFileno++;
  #rare: Rare | undefined;

  constructor(sock?: DispatcherSocket, map?: SocketMap) {
    if (map !== undefined) (this.#rare ??= newRare()).map = map;
    this[kChannel] = new Channel(this);
    if (sock !== undefined) {
      this.setSocket(sock, map);
      if (sock instanceof net.Socket || sock instanceof NativeSocket) {
        const state = sock.readyState;
        this.connected = state === "open" || state === "readOnly" || state === "writeOnly";
        this.connecting = state === "opening";
        // An accepted Unix-domain socket has an unnamed peer: "" as in Python.
        if (this.connected) this.addr = this[kChannel].conn?.remoteAddress ?? "";
      }
    }
  }

  /** Log types `logInfo` does not print. Default: `new Set(["warning"])` (made on first use). */
  get ignoreLogTypes(): Set<string> {
    const rare = (this.#rare ??= newRare());
    return (rare.ignoreLogTypes ??= new Set(["warning"]));
  }
  /** Replace the set of log types `logInfo` does not print. */
  set ignoreLogTypes(types: Set<string>) {
    (this.#rare ??= newRare()).ignoreLogTypes = types;
  }

  /** The Node object underneath, once there is one. */
  get socket(): DispatcherSocket | undefined {
    const chan = this[kChannel];
    return (chan.conn?.raw ?? chan.listener?.raw ?? chan.datagram?.raw) as DispatcherSocket | undefined;
  }

  /** Stable key of this dispatcher in its map. Python: `fileno()`. */
  fileno(): number {
    return this.#fileno;
  }

  /**
   * Prepare a socket of the given family and type and register in the map. A stream socket is
   * made by `connect()` or `listen()`; a datagram socket at once. Python: `create_socket()`.
   */
  createSocket(family: number = AF_INET, type: number = SOCK_STREAM): void {
    if (family !== AF_INET && family !== AF_INET6 && family !== AF_UNIX) {
      throw invalidArgValue(`Cannot create socket: unknown family ${family}`);
    }
    if (type !== SOCK_STREAM && type !== SOCK_DGRAM)
      throw invalidArgValue(`Cannot create socket: unknown type ${type}`);
    if (type === SOCK_DGRAM && family === AF_UNIX) {
      throw codedError(
        codes.BAD_SOCKET,
        "Cannot create socket: Unix datagram sockets are not supported on Node.js",
      );
    }
    (this.#rare ??= newRare()).family = family;
    if (type === SOCK_DGRAM) {
      this[kChannel].datagram = getBackend().datagram(family === AF_INET6 ? 6 : 4, this[kChannel]);
    }
    this.addChannel();
  }

  /** Wrap an existing Node socket and register in `map`. Python: `set_socket()`. */
  setSocket(sock: DispatcherSocket, map?: SocketMap): void {
    const chan = this[kChannel];
    const backend = getBackend();
    if (sock instanceof net.Socket || sock instanceof NativeSocket) {
      const conn: StreamConnection = acceptedConnections.get(sock) ?? backend.adopt(sock);
      acceptedConnections.delete(sock);
      setSendLimits(conn);
      chan.adopt(conn);
    } else if (sock instanceof net.Server || sock instanceof NativeStreamListener) {
      chan.listener = backend.adoptListener(sock, chan);
      this.accepting = sock.listening;
    } else if (sock instanceof dgram.Socket || sock instanceof NativeDatagramEndpoint) {
      chan.datagram = backend.adoptDatagram(sock, chan);
    } else {
      throw codedError(
        codes.BAD_SOCKET,
        "Cannot set socket: expected a net.Socket, net.Server, dgram.Socket or a native backend socket",
      );
    }
    this.addChannel(map);
  }

  /** Register in `map` (default: the dispatcher's own). Python: `add_channel()`. */
  addChannel(map?: SocketMap): void {
    const target = map ?? this.#rare?.map ?? socketMap;
    const chan = this[kChannel];
    const inMap = chan.scheduler?.map;
    if (inMap !== undefined && inMap !== target) this.delChannel(inMap);
    target.set(this.#fileno, this);
    const scheduler = schedulerFor(target);
    chan.scheduler = scheduler;
    chan.ownPredicates =
      !selfReportingPredicates.has(this.readable) || !selfReportingPredicates.has(this.writable);
    if (chan.ownPredicates) scheduler.watch(this, true);
    scheduler.mark(this);
  }

  /** Leave `map` (default: the one it is in). Python: `del_channel()`. */
  delChannel(map?: SocketMap): void {
    const chan = this[kChannel];
    // The map it is in is its scheduler's.
    const inMap = chan.scheduler?.map;
    const target = map ?? inMap ?? this.#rare?.map ?? socketMap;
    if (target.get(this.#fileno) === this) target.delete(this.#fileno);
    schedulerFor(target).forget(this);
    if (target === inMap) chan.scheduler = undefined;
  }

  /** Listening TCP sockets on Node always reuse addresses; kept for ported code. Python: `set_reuse_addr()`. */
  setReuseAddr(): void {}

  /**
   * Bind to `addr`. A datagram socket binds at once; a stream socket binds when `listen()` runs,
   * and the promise resolves then, with the bound address. A failure also reaches `handleError`.
   */
  bind(addr: Address): Promise<Address> {
    this.addr = addr;
    const datagram = this[kChannel].datagram;
    if (datagram !== undefined) {
      return reportFailure(
        this,
        datagram.bind(addr).then((bound) => {
          this.addr = bound;
          return bound;
        }),
      );
    }
    const rare = (this.#rare ??= newRare());
    rare.bindAddr = addr;
    rare.bound ??= deferred<Address>();
    return rare.bound.promise;
  }

  /**
   * Listen for connections (stream sockets). Resolves once listening, with the bound address;
   * a failure (`EADDRINUSE`, `EACCES`) rejects and also reaches `handleError`. Python: `listen()`.
   *
   * `limits` (not in Python): `maxConnections` closes a connection accepted while that many
   * are open (refusals reach `handleAcceptError` as `ERR_LIMIT_REACHED`, at most once a
   * second); `idleTimeout` (ms) closes a connection whose peer sent nothing for that long (its
   * dispatcher sees EOF: `handleClose()`). Both default to no limit. Input is bounded without
   * an option: reading pauses while more than 64 KiB wait for `recv()`.
   *
   * @throws `ERR_INVALID_ARG_VALUE`/`ERR_INVALID_ARG_TYPE` for a bad limit.
   */
  listen(backlog: number, limits: ServerLimitOptions = {}): Promise<Address> {
    checkServerLimits(limits, "listen");
    const chan = this[kChannel];
    if (chan.datagram !== undefined) {
      return reportFailure(
        this,
        Promise.reject(codedError(codes.BAD_SOCKET, "Cannot listen: datagram socket")),
      );
    }
    const rare = (this.#rare ??= newRare());
    if (rare.family === AF_UNIX && rare.bindAddr === undefined) {
      return reportFailure(
        this,
        Promise.reject(codedError(codes.BAD_SOCKET, "Cannot listen: bind a Unix socket to a path first")),
      );
    }
    this.accepting = true;
    const addr = rare.bindAddr ?? (rare.family === AF_INET6 ? ["::", 0] : ["0.0.0.0", 0]);
    const bound = (rare.bound ??= deferred<Address>());
    chan.queues().acceptLimit = Math.max(backlog, ACCEPT_QUEUE_MIN);
    const listening = getBackend()
      .listen(
        addr,
        {
          backlog,
          ipv6Only: rare.family === AF_INET6,
          maxConnections: limits.maxConnections,
          idleTimeout: limits.idleTimeout,
        },
        chan,
      )
      .then((listener) => {
        chan.listener = listener;
        this.addr = listener.address;
        bound.resolve(listener.address);
        return listener.address;
      });
    listening.catch((err: Error) => bound.reject(err));
    return reportFailure(this, listening);
  }

  /** The local address. Python: `getsockname()`. */
  getsockname(): Address | undefined {
    const chan = this[kChannel];
    return chan.conn?.localAddress ?? chan.listener?.address ?? chan.datagram?.localAddress;
  }

  /**
   * Start connecting (non-blocking). `handleConnect()` runs when it completes; a failure
   * (`ECONNREFUSED`, …) reaches `handleError(err)`. Python: `connect()`.
   */
  connect(addr: Address): void {
    const chan = this[kChannel];
    this.connected = false;
    this.connecting = true;
    this.addr = addr;
    chan.progress++;
    if (chan.datagram !== undefined) {
      const datagram = chan.datagram;
      const backlog = chan.queues();
      backlog.datagramConnecting = true;
      datagram.connect(addr).then(
        () => {
          backlog.datagramConnecting = false;
          chan.scheduler?.mark(this);
        },
        (err: Error) => {
          backlog.datagramConnecting = false;
          chan.failure = err;
          chan.scheduler?.mark(this);
        },
      );
      return;
    }
    if (chan.conn !== undefined || chan.listener !== undefined) {
      throw codedError("EISCONN", "Cannot connect: the socket is already in use");
    }
    if (chan.scheduler === undefined) this.addChannel();
    const conn = getBackend().connect(addr, {}, chan);
    setSendLimits(conn);
    chan.conn = conn;
    chan.io = conn.direct?.(chan);
  }

  /**
   * Take one pending connection: `[socket, peerAddress]`, or `null` when none waits. Accept
   * failures (`EMFILE`, …) go to `handleAcceptError()` and the listener keeps listening.
   * Python: `accept()`.
   */
  accept(): [StreamSocket, Address] | null {
    const conn = takeAccepted(this);
    return conn === null ? null : [conn.raw as StreamSocket, conn.remoteAddress ?? ""];
  }

  /**
   * Give the socket as many bytes as it takes now and return that count: 0 when its write
   * buffer is full or it is still connecting. When the peer is gone it calls `handleClose()`
   * and returns 0. The bytes of a Buffer are sent later, not copied: do not change them after.
   * Python: `send()`.
   */
  send(data: BytesLike): number {
    const chan = this[kChannel];
    chan.progress++;
    const datagram = chan.datagram;
    if (datagram !== undefined) {
      const buf = toBuffer(data);
      datagram.send(buf);
      return buf.length;
    }
    const conn = chan.conn;
    if (conn === undefined || chan.gone || !conn.writable) {
      if (conn?.connecting) return 0;
      this.handleClose();
      return 0;
    }
    if (conn.connecting) return 0;
    if (chan.io !== undefined) return sendNow(this, chan.io, toBuffer(data));
    const room = SEND_BUFFER_HIGH - conn.writeBufferSize;
    if (room <= 0) return 0;
    const buf = toBuffer(data);
    if (buf.length <= room) {
      conn.write(buf);
      chan.scheduler?.mark(this);
      return buf.length;
    }
    conn.write(buf.subarray(0, room));
    chan.scheduler?.mark(this);
    return room;
  }

  /**
   * Up to `bufferSize` received bytes. At EOF (or after a reset) returns an empty Buffer and
   * calls `handleClose()`. @throws `EWOULDBLOCK` when nothing is buffered yet. Python: `recv()`.
   */
  recv(bufferSize: number): Buffer {
    if (!(bufferSize >= 0))
      throw invalidArgValue(`Cannot receive: buffer size must be >= 0, got ${bufferSize}`);
    const chan = this[kChannel];
    chan.progress++;
    if (chan.datagram !== undefined) {
      const next = this.recvfrom(bufferSize);
      if (next === null) throw wouldBlock();
      return next[0];
    }
    if (bufferSize === 0) return EMPTY;
    if (chan.queued > 0) return chan.take(bufferSize);
    if (chan.io !== undefined && !chan.eof) return recvNow(this, chan.io, bufferSize);
    nothingQueued(this);
    return EMPTY;
  }

  /**
   * `recv()` into the start of your own `buffer`: copies up to `nbytes` received bytes (default
   * and 0: `buffer.length`) and returns their count. A busy connection then reads without
   * allocating a Buffer per read; on the native backend the kernel copies straight into your
   * memory. At EOF (or after a reset) returns 0 and calls `handleClose()`. A datagram socket
   * copies the next datagram, cut to `nbytes` (the rest of it is lost, as on UDP).
   *
   * `send()` does not copy: while bytes sent from `buffer` wait to be sent (`DispatcherWithSend`
   * queues them by reference), do not read into it again.
   *
   * @example
   * ```ts
   * class Counter extends Dispatcher {
   *   readonly buf = Buffer.alloc(65536);
   *   total = 0;
   *   handleRead() { this.total += this.recvInto(this.buf); }
   * }
   * ```
   * @throws `EWOULDBLOCK` when nothing is buffered yet; `ERR_INVALID_ARG_TYPE` when `buffer`
   * is not a Uint8Array, `ERR_INVALID_ARG_VALUE` when `nbytes` is not in 0..buffer.length.
   * Python: `socket.recv_into()`.
   */
  recvInto(buffer: Uint8Array, nbytes = 0): number {
    if (!(buffer instanceof Uint8Array))
      throw invalidArgType("Cannot receive: the buffer must be a Uint8Array");
    if (typeof nbytes !== "number") throw invalidArgType("Cannot receive: nbytes must be a number");
    if (!Number.isInteger(nbytes) || nbytes < 0 || nbytes > buffer.length) {
      throw invalidArgValue(
        `Cannot receive: nbytes must be an integer in 0..${buffer.length} (the buffer's length), got ${nbytes}`,
      );
    }
    const chan = this[kChannel];
    chan.progress++;
    const target = nbytes === 0 || nbytes === buffer.length ? buffer : buffer.subarray(0, nbytes);
    if (chan.datagram !== undefined) {
      const next = this.recvfrom(target.length);
      if (next === null) throw wouldBlock();
      target.set(next[0]);
      return next[0].length;
    }
    if (target.length === 0) return 0;
    if (chan.queued > 0) return chan.takeInto(target);
    if (chan.io !== undefined && !chan.eof) return recvIntoNow(this, chan.io, target);
    nothingQueued(this);
    return 0;
  }

  /** Send one datagram to `addr`; returns its length. Python: `socket.sendto()`. */
  sendto(data: BytesLike, addr: Address): number {
    const datagram = this[kChannel].datagram;
    if (datagram === undefined)
      throw codedError(codes.BAD_SOCKET, "Cannot send a datagram: not a SOCK_DGRAM socket");
    this[kChannel].progress++;
    const buf = toBuffer(data);
    datagram.send(buf, addr);
    return buf.length;
  }

  /**
   * The next datagram (cut to `bufferSize` bytes) and its sender, or `null` when none waits.
   * @throws a pending send/receive error (`ECONNREFUSED`, …). Python: `socket.recvfrom()`.
   */
  recvfrom(bufferSize: number): [Buffer, Address] | null {
    const chan = this[kChannel];
    if (chan.datagram === undefined)
      throw codedError(codes.BAD_SOCKET, "Cannot receive a datagram: not a SOCK_DGRAM socket");
    chan.progress++;
    if (chan.failure !== null) {
      const failure = chan.failure;
      chan.failure = null;
      throw failure;
    }
    const next = chan.backlog?.datagrams.shift();
    if (next === undefined) return null;
    const [data, from] = next;
    return [data.length > bufferSize ? data.subarray(0, bufferSize) : data, from];
  }

  /** Close the socket (buffered output is still sent) and leave the map. Python: `close()`. */
  close(): void {
    this.connected = false;
    this.accepting = false;
    this.connecting = false;
    this.delChannel();
    const chan = this[kChannel];
    chan.progress++;
    chan.conn?.close();
    chan.listener?.close();
    chan.datagram?.close();
    chan.gone = true;
    chan.release();
  }

  /** Whether to watch for reading. Python: `readable()`. */
  readable(): boolean {
    return true;
  }

  /** Whether to watch for writing. Python: `writable()`. */
  writable(): boolean {
    return true;
  }

  /** Python: `handle_read_event()`. */
  handleReadEvent(): void {
    if (this.accepting) {
      this.handleAccept();
    } else if (!this.connected) {
      if (this.connecting) this.handleConnectEvent();
      this.handleRead();
    } else {
      this.handleRead();
    }
  }

  /** Raise a failed connect, else `handleConnect()` then mark connected. Python: `handle_connect_event()`. */
  handleConnectEvent(): void {
    const chan = this[kChannel];
    if (chan.failure !== null) {
      const failure = chan.failure;
      chan.failure = null;
      throw failure;
    }
    this.handleConnect();
    this.connected = true;
    this.connecting = false;
    const peer = chan.conn?.remoteAddress;
    if (peer !== undefined) this.addr = peer;
  }

  /** Python: `handle_write_event()`. */
  handleWriteEvent(): void {
    if (this.accepting) return;
    if (!this.connected && this.connecting) this.handleConnectEvent();
    this.handleWrite();
  }

  /** An error is pending: close; else `handleExpt()`. Python: `handle_expt_event()`. */
  handleExptEvent(): void {
    const chan = this[kChannel];
    if (chan.failure !== null) this.handleClose();
    else this.handleExpt();
  }

  /** Data, EOF or an error waits: usually `recv()` here. Default: log a warning. Python: `handle_read()`. */
  handleRead(): void {
    this.logInfo("unhandled read event", "warning");
  }
  /** The socket can take more: usually `send()` here. Default: log a warning. Python: `handle_write()`. */
  handleWrite(): void {
    this.logInfo("unhandled write event", "warning");
  }
  /** Out-of-band data (never raised on Node). Default: log a warning. Python: `handle_expt()`. */
  handleExpt(): void {
    this.logInfo("unhandled incoming priority event", "warning");
  }
  /** The connect finished; `connected` becomes true just after. Default: log a warning. Python: `handle_connect()`. */
  handleConnect(): void {
    this.logInfo("unhandled connect event", "warning");
  }

  /** Default: `accept()`, then `handleAccepted(sock, addr)`. Python: `handle_accept()`. */
  handleAccept(): void {
    if (this.accept !== Dispatcher.prototype.accept) {
      const pair = this.accept();
      if (pair !== null) this.handleAccepted(pair[0], pair[1]);
      return;
    }
    // What accept() does, without the pair it would make only to be taken apart.
    const conn = takeAccepted(this);
    if (conn !== null) this.handleAccepted(conn.raw as StreamSocket, conn.remoteAddress ?? "");
  }

  /** Default: close the socket and log a warning. Python: `handle_accepted()`. */
  handleAccepted(sock: StreamSocket, _addr: Address): void {
    sock.destroy();
    this.logInfo("unhandled accepted event", "warning");
  }

  /**
   * Accepting a connection failed (`EMFILE`, `ENFILE`, …); the listener keeps listening.
   * Default: log it as an error. Not in Python, where such a failure closed the server.
   */
  handleAcceptError(err: Error): void {
    this.logInfo(
      `accept failed on ${this}: ${(err as Partial<CodedError>).code ?? err.name}: ${err.message}`,
      "error",
    );
  }

  /** Default: `close()`. Python: `handle_close()`. */
  handleClose(): void {
    this.logInfo("unhandled close event", "warning");
    this.close();
  }

  /** Default: log a compact trace as an error, then `handleClose()`. Python: `handle_error()`. */
  handleError(err: unknown): void {
    let self: string;
    try {
      self = String(this);
    } catch {
      self = `<toString() failed for dispatcher #${this.#fileno}>`;
    }
    const kind = err instanceof Error ? err.name : typeof err;
    const message = err instanceof Error ? err.message : String(err);
    this.logInfo(
      `uncaptured exception, closing channel ${self} (${kind}:${message} ${compactTraceback(err)})`,
      "error",
    );
    this.handleClose();
  }

  /** Write `log: message` to stderr. Python: `log()`. */
  log(message: string): void {
    process.stderr.write(`log: ${message}\n`);
  }

  /** Print `type: message` unless `type` is in `ignoreLogTypes`. Python: `log_info()`. */
  logInfo(message: string, type = "info"): void {
    if (!this.ignoreLogTypes.has(type)) console.log(`${type}: ${message}`);
  }

  /** e.g. `<EchoHandler connected 127.0.0.1:51234 at #7>`. Python: `__repr__`. */
  toString(): string {
    const status = [this.constructor.name];
    if (this.accepting && this.addr !== undefined) status.push("listening");
    else if (this.connected) status.push("connected");
    if (this.addr !== undefined) status.push(formatAddress(this.addr));
    return `<${status.join(" ")} at #${this.#fileno}>`;
  }
}

/**
 * `send()` in readiness mode: one system call; the kernel's count. A peer gone calls
 * `handleClose()` and gives 0, as Python's `send()` does.
 */
function sendNow(d: Dispatcher, io: DirectStream, buf: Buffer): number {
  const chan = d[kChannel];
  let n: number;
  try {
    n = io.send(buf);
  } catch (err) {
    if (!isDisconnect(err)) throw err;
    chan.eof = true;
    d.handleClose();
    return 0;
  }
  // A short send means the kernel's buffer is full: poll for room from now on.
  if (n < buf.length) chan.full();
  return n;
}

/**
 * `recv()` in readiness mode: one system call. Readability stays known only while the kernel
 * may hold more: after a read that filled what was asked, one `FIONREAD` tells.
 */
function recvNow(d: Dispatcher, io: DirectStream, bufferSize: number): Buffer {
  let data: Buffer | null;
  try {
    data = io.recv(bufferSize);
  } catch (err) {
    readFailed(d, err);
    return EMPTY;
  }
  return afterRead(d, io, bufferSize, data === null ? null : data.length) === 0 ? EMPTY : data!;
}

/** `recvInto()` in readiness mode: as {@link recvNow}, into `target`. */
function recvIntoNow(d: Dispatcher, io: DirectStream, target: Uint8Array): number {
  let n: number | null;
  try {
    n = io.recvInto(target);
  } catch (err) {
    readFailed(d, err);
    return 0;
  }
  return afterRead(d, io, target.length, n);
}

/**
 * A readiness-mode read of `asked` bytes gave `got` (`null`: none wait, 0: EOF): what
 * `recv()`/`recvInto()` return. @throws `EWOULDBLOCK` when none waited.
 */
function afterRead(d: Dispatcher, io: DirectStream, asked: number, got: number | null): number {
  const chan = d[kChannel];
  if (got === null) {
    chan.drained();
    throw wouldBlock();
  }
  if (got === 0) {
    peerGone(d);
    return 0;
  }
  if (got < Math.min(asked, DIRECT_READ_MAX) || io.unread() === 0) chan.drained();
  return got;
}

/** A readiness-mode read failed: a disconnect reads as EOF. @throws any other error. */
function readFailed(d: Dispatcher, err: unknown): void {
  if (!isDisconnect(err)) {
    d[kChannel].drained();
    throw err;
  }
  peerGone(d);
}

/** EOF or a reset: nothing more to read, and `handleClose()`, as Python's `recv()` does. */
function peerGone(d: Dispatcher): void {
  const chan = d[kChannel];
  chan.drained();
  chan.eof = true;
  d.handleClose();
}

/**
 * A stream `recv()`/`recvInto()` with nothing queued to take: at EOF calls `handleClose()` (the
 * caller returns nothing). @throws `ENOTCONN` with no connection, else `EWOULDBLOCK`.
 */
function nothingQueued(d: Dispatcher): void {
  const chan = d[kChannel];
  if (chan.eof) {
    d.handleClose();
    return;
  }
  if (chan.conn === undefined)
    throw codedError(codes.NOT_CONNECTED, "Cannot receive: the socket is not connected");
  throw wouldBlock();
}

/** A dispatcher's {@link Rare} state before anything is set. */
function newRare(): Rare {
  return {
    map: socketMap,
    ignoreLogTypes: undefined,
    family: AF_INET,
    bindAddr: undefined,
    bound: undefined,
  };
}

/**
 * `accept()` but for the pair: the next accepted connection (its socket registered for
 * `setSocket` to find), or null; accept errors go to `handleAcceptError()` first.
 * @throws the pending listen failure.
 */
function takeAccepted(d: Dispatcher): StreamConnection | null {
  const chan = d[kChannel];
  chan.progress++;
  if (chan.failure !== null) {
    const failure = chan.failure;
    chan.failure = null;
    throw failure;
  }
  const backlog = chan.backlog;
  if (backlog === undefined) return null;
  while (backlog.acceptErrors.length > 0) d.handleAcceptError(backlog.acceptErrors.shift()!);
  const conn = backlog.takeAccepted();
  if (conn === undefined) return null;
  acceptedConnections.set(conn.raw as StreamSocket, conn);
  return conn;
}

/** A bind/listen failure reaches handleError in the loop; the promise is marked handled. */
function reportFailure<T>(d: Dispatcher, promise: Promise<T>): Promise<T> {
  promise.catch((err: Error) => {
    const chan = d[kChannel];
    chan.failure = err;
    chan.scheduler?.mark(d);
  });
  return promise;
}

selfReportingPredicates.add(Dispatcher.prototype.readable);
selfReportingPredicates.add(Dispatcher.prototype.writable);

/**
 * The socket "can take more" while fewer than SEND_BUFFER_HIGH bytes wait: the transport pauses
 * one byte below, so a send() that fills the buffer also ends write readiness until it drains
 * to SEND_BUFFER_LOW.
 */
function setSendLimits(conn: StreamConnection): void {
  conn.setWriteBufferLimits(SEND_BUFFER_HIGH - 1, SEND_BUFFER_LOW);
}

function wouldBlock(): Error {
  return codedError(codes.WOULD_BLOCK, "Cannot receive: no data is buffered yet");
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // The failure also reaches handleError(): an ignored promise must not be an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}
