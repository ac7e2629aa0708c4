/**
 * Symbols that let the asyncore modules reach each other's internals without exposing them.
 *
 * @module
 */

/** A dispatcher's {@link Channel}. */
export const kChannel: unique symbol = Symbol("asyncore.channel");

/**
 * `readable()`/`writable()` implementations whose result changes only through the library's
 * own methods (`send`, `push`, `close` …), which report the change themselves; dispatchers
 * using only these need no sweep.
 */
export const selfReportingPredicates = new WeakSet<Function>();

/** Accepted connections handed out by `accept()`, so that adopting the socket reuses them. */
export const acceptedConnections = new WeakMap<object, import("../core/backend.js").StreamConnection>();
