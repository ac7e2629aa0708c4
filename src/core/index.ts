/**
 * The transport core: the socket backend in use, and the interface every front end uses.
 *
 * Which backend is active is chosen once, at first use: `ASYNCORE_BACKEND=net` (or unset)
 * picks `node:net`. Front ends call {@link getBackend} and never import a backend directly.
 *
 * @module
 */
import { invalidArgValue } from "../errors.js";
import type { SocketBackend } from "./backend.js";
import { netBackend } from "./net-backend.js";

export type * from "./backend.js";
export { DEFAULT_HIGH_WATER } from "./net-stream.js";

const backends = new Map<string, SocketBackend>([["net", netBackend]]);
let active: SocketBackend | undefined;

/** The active socket backend. */
export function getBackend(): SocketBackend {
  if (active) return active;
  const wanted = process.env.ASYNCORE_BACKEND || "net";
  const found = backends.get(wanted);
  if (!found) {
    throw invalidArgValue(
      `Cannot select backend: ASYNCORE_BACKEND must be one of ${[...backends.keys()].join(", ")}, got ${wanted}`,
    );
  }
  active = found;
  return found;
}

/** The name of the active backend (`"net"` or `"native"`). */
export function backendName(): string {
  return getBackend().name;
}
