/**
 * The transport core: the socket backend in use, and the interface every front end uses.
 *
 * Which backend is active is chosen once, at first use: `ASYNCORE_BACKEND=native` or `=net`
 * picks one; unset, the native readiness backend is used where its addon was built at install
 * time, else `node:net`. Front ends call {@link getBackend} and never import a backend directly.
 *
 * @module
 */
import { codedError, codes, invalidArgValue } from "../errors.js";
import type { SocketBackend } from "./backend.js";
import { addonLoadError } from "./native-addon.js";
import { nativeBackend } from "./native-backend.js";
import { netBackend } from "./net-backend.js";

export type * from "./backend.js";
export { NativeDatagramEndpoint } from "./native-datagram.js";
export { NativeStreamListener } from "./native-listener.js";
export { NativeSocket } from "./native-socket.js";
export { DEFAULT_HIGH_WATER } from "./write-limits.js";

const NAMES = ["net", "native"] as const;
let active: SocketBackend | undefined;

/**
 * The active socket backend.
 *
 * @throws `ERR_INVALID_ARG_VALUE` when `ASYNCORE_BACKEND` names no backend;
 *   `ERR_BACKEND_UNAVAILABLE` when it asks for `native` and the addon is not built or fails to load.
 * @example
 * ```ts
 * const listener = await getBackend().listen(["127.0.0.1", 0], {}, events);
 * ```
 */
export function getBackend(): SocketBackend {
  if (active) return active;
  const wanted = process.env.ASYNCORE_BACKEND || "";
  if (wanted === "net") return (active = netBackend);
  if (wanted === "native") {
    const native = nativeBackend();
    if (native === undefined) {
      throw codedError(
        codes.BACKEND_UNAVAILABLE,
        `Cannot select backend: ASYNCORE_BACKEND=native, but the native addon is unavailable: ${
          addonLoadError()?.message ?? "unknown reason"
        }`,
      );
    }
    return (active = native);
  }
  if (wanted !== "") {
    throw invalidArgValue(
      `Cannot select backend: ASYNCORE_BACKEND must be one of ${NAMES.join(", ")}, got ${wanted}`,
    );
  }
  return (active = nativeBackend() ?? netBackend);
}

/**
 * The name of the active backend: `"native"` or `"net"`.
 *
 * @example
 * ```ts
 * console.log(`sockets on ${backendName()}`);
 * ```
 */
export function backendName(): string {
  return getBackend().name;
}
