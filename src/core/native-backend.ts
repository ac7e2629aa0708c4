/**
 * The native readiness backend: TCP (IPv4/IPv6), Unix-domain and UDP sockets made and polled by
 * the addon (`native/socket.cc`) through an epoll instance of its own that libuv's `uv_poll`
 * watches on Node's own loop, behind the same {@link SocketBackend} interface as `node:net`.
 *
 * What stays on Node: TLS. A `connect()`/`listen()` with `tls` options goes to the `node:net`
 * backend (its connections and listeners report `backend: "net"`), and `startTls()` moves a
 * native connection's descriptor to a `net.Socket` first. Node's own socket objects
 * (`net.Socket`, `net.Server`, `dgram.Socket`) given to `adopt*()` are wrapped by the `node:net`
 * backend as well.
 *
 * @module
 */
import * as net from "node:net";
import type { Address } from "../address.js";
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
import { loadAddon, type NativeAddon, systemError } from "./native-addon.js";
import { NativeDatagramEndpoint } from "./native-datagram.js";
import { NativeStreamListener } from "./native-listener.js";
import { resolveTargets } from "./native-resolve.js";
import { NativeSocket } from "./native-socket.js";
import { NativeStreamConnection } from "./native-stream.js";
import { netBackend } from "./net-backend.js";
import { limitListenerEvents } from "./server-limits.js";

/** Node's default listen backlog. */
const DEFAULT_BACKLOG = 511;

/** The backend over `addon`. */
export function createNativeBackend(addon: NativeAddon): SocketBackend {
  return {
    name: "native",

    connect(addr: Address, options: ConnectOptions, events: StreamEvents): StreamConnection {
      if (options.tls) return netBackend.connect(addr, options, events);
      return NativeStreamConnection.connect(addon, addr, options, events);
    },

    async listen(addr: Address, options: ListenOptions, events: ListenerEvents): Promise<StreamListener> {
      if (options.tls) return netBackend.listen(addr, options, events);
      const limited = limitListenerEvents(events, options);
      const targets = await resolveTargets(addon, addr);
      const t = targets[0];
      if (t === undefined) throw systemError(-2, "listen", addr);
      const h = addon.open(t.domain, addon.SOCK_STREAM);
      if (typeof h === "number") throw systemError(-h, "socket", addr);
      let r = 0;
      if (t.domain === addon.AF_INET6 && options.ipv6Only) r = h.setOption("v6only", true);
      if (r === 0) r = h.bind(t.host, t.port);
      if (r === 0) r = h.listen(options.backlog ?? DEFAULT_BACKLOG);
      if (r < 0) {
        h.close();
        throw systemError(-r, "listen", addr);
      }
      const bound = h.sockname() ?? addr;
      try {
        return new NativeStreamListener(addon, h, bound, limited);
      } catch (err) {
        h.close();
        throw err;
      }
    },

    adopt(socket: unknown): StreamConnection {
      if (socket instanceof NativeSocket) return socket.owner as NativeStreamConnection;
      if (socket instanceof net.Socket) return netBackend.adopt(socket);
      throw invalidArgType("Cannot adopt socket: expected a NativeSocket or a net.Socket");
    },

    adoptListener(server: unknown, events: ListenerEvents): StreamListener {
      if (server instanceof NativeStreamListener) {
        server.retarget(events);
        return server;
      }
      return netBackend.adoptListener(server, events);
    },

    adoptDatagram(socket: unknown, events: DatagramEvents): DatagramEndpoint {
      if (socket instanceof NativeDatagramEndpoint) {
        socket.retarget(events);
        return socket;
      }
      return netBackend.adoptDatagram(socket, events);
    },

    datagram(family: 4 | 6, events: DatagramEvents): DatagramEndpoint {
      return new NativeDatagramEndpoint(addon, family, events);
    },
  };
}

let backend: SocketBackend | null | undefined;

/** The native backend, or `undefined` where the addon is not built (see `addonLoadError()`). */
export function nativeBackend(): SocketBackend | undefined {
  if (backend === undefined) {
    const addon = loadAddon();
    backend = addon === undefined ? null : createNativeBackend(addon);
  }
  return backend ?? undefined;
}
