/**
 * The `node:net` / `node:tls` / `node:dgram` socket backend.
 *
 * @module
 */
import * as dgram from "node:dgram";
import * as net from "node:net";
import * as tls from "node:tls";
import { type Address, fromAddressInfo } from "../address.js";
import { invalidArgType } from "../errors.js";
import type {
  ConnectOptions,
  DatagramEndpoint,
  DatagramEvents,
  ListenerEvents,
  ListenOptions,
  SocketBackend,
  StreamConnection,
  StreamEvents,
  StreamListener,
} from "./backend.js";
import { DescriptorWatch } from "./descriptor-limit.js";
import { NetDatagramEndpoint } from "./net-datagram.js";
import { NetStreamConnection } from "./net-stream.js";
import { limitListenerEvents } from "./server-limits.js";

class NetStreamListener implements StreamListener {
  readonly backend = "net";
  readonly address: Address;
  readonly raw: net.Server;
  constructor(server: net.Server, address: Address) {
    this.raw = server;
    this.address = address;
  }
  get listening(): boolean {
    return this.raw.listening;
  }
  close(): void {
    if (this.raw.listening) this.raw.close();
  }
}

/** The backend on Node's own sockets. */
export const netBackend: SocketBackend = {
  name: "net",

  connect(addr: Address, options: ConnectOptions, events: StreamEvents): StreamConnection {
    let sock: net.Socket;
    let conn: NetStreamConnection;
    if (options.tls) {
      const tlsOptions: tls.ConnectionOptions = options.tls === true ? {} : options.tls;
      const target =
        typeof addr === "string"
          ? { path: addr }
          : { host: addr[0], port: addr[1], servername: tlsServername(addr[0]) };
      sock = tls.connect({ ...localOf(options.localAddr), ...target, ...tlsOptions });
      conn = new NetStreamConnection(sock, true, typeof addr === "string" ? addr : undefined);
    } else {
      sock = new net.Socket({ allowHalfOpen: true });
      conn = new NetStreamConnection(sock, true, typeof addr === "string" ? addr : undefined);
      if (typeof addr === "string") sock.connect({ path: addr });
      else sock.connect({ host: addr[0], port: addr[1], ...localOf(options.localAddr) });
    }
    conn.start(events);
    return conn;
  },

  listen(addr: Address, options: ListenOptions, events: ListenerEvents): Promise<StreamListener> {
    events = limitListenerEvents(events, options);
    const server = options.tls
      ? tls.createServer({ ...options.tls, ...serverOptions(true) })
      : net.createServer(serverOptions(false));
    attachConnections(server, events);
    return new Promise<StreamListener>((resolve, reject) => {
      const onStartupError = (err: Error): void => {
        server.close();
        reject(err);
      };
      server.once("error", onStartupError);
      const listenOptions: net.ListenOptions =
        typeof addr === "string"
          ? { path: addr, backlog: options.backlog }
          : { host: addr[0], port: addr[1], backlog: options.backlog, ipv6Only: options.ipv6Only };
      server.listen(listenOptions, () => {
        server.off("error", onStartupError);
        // After start-up, server errors come from accept(): reported, never fatal.
        server.on("error", (err: Error) => events.onAcceptError(err));
        server.on("close", () => events.onClose());
        const bound = fromAddressInfo(server.address()) ?? addr;
        resolve(new NetStreamListener(server, bound));
      });
    });
  },

  adopt(socket: unknown): StreamConnection {
    if (!(socket instanceof net.Socket)) throw invalidArgType("Cannot adopt socket: expected a net.Socket");
    return new NetStreamConnection(socket, socket.connecting);
  },

  adoptListener(server: unknown, events: ListenerEvents): StreamListener {
    if (!(server instanceof net.Server)) throw invalidArgType("Cannot adopt listener: expected a net.Server");
    // Both are read by Node at each accept, so setting them on a live server takes effect.
    Object.assign(server, serverOptions(server instanceof tls.Server));
    attachConnections(server, events);
    server.on("error", (err: Error) => events.onAcceptError(err));
    server.on("close", () => events.onClose());
    return new NetStreamListener(server, fromAddressInfo(server.address()) ?? "");
  },

  adoptDatagram(socket: unknown, events: DatagramEvents): DatagramEndpoint {
    if (!(socket instanceof dgram.Socket))
      throw invalidArgType("Cannot adopt datagram socket: expected a dgram.Socket");
    return new NetDatagramEndpoint(socket, events);
  },

  datagram(family: 4 | 6, events: DatagramEvents): DatagramEndpoint {
    return new NetDatagramEndpoint(dgram.createSocket({ type: family === 6 ? "udp6" : "udp4" }), events);
  },
};

/**
 * Accepted sockets start paused. Plain ones stay half-open after the peer's EOF. TLS ones do
 * not: TLS cannot half-close, and with `allowHalfOpen` Node never reports a client that sends
 * FIN before its handshake is done (e.g. one that rejected our certificate), so that socket
 * would stay open for ever and keep the server from closing.
 */
function serverOptions(isTls: boolean): { allowHalfOpen: boolean; pauseOnConnect: boolean } {
  return { allowHalfOpen: !isTls, pauseOnConnect: true };
}

/** Hand every accepted socket to `events`, paused, as a connection. */
function attachConnections(server: net.Server, events: ListenerEvents): void {
  const watch = new DescriptorWatch();
  const accepted = (sock: net.Socket): void => {
    events.onConnection(new NetStreamConnection(sock));
    const full = watch.check(sock);
    if (full !== null) events.onAcceptError(full);
  };
  if (server instanceof tls.Server) {
    server.on("secureConnection", accepted);
    // A failed handshake concerns that one client only.
    server.on("tlsClientError", (_err: Error, sock: net.Socket) => sock.destroy());
  } else {
    server.on("connection", accepted);
  }
}

function localOf(localAddr: Address | undefined): { localAddress?: string; localPort?: number } {
  if (localAddr === undefined || typeof localAddr === "string") return {};
  return { localAddress: localAddr[0], localPort: localAddr[1] };
}

/** SNI must be a host name, never an IP literal. */
function tlsServername(host: string): string | undefined {
  return net.isIP(host) === 0 ? host : undefined;
}
