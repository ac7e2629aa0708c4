/**
 * {@link StreamListener} over a native listening socket (TCP or Unix-domain).
 *
 * Accepting runs when the socket polls readable: up to {@link ACCEPTS_PER_EVENT} connections per
 * event, each handed to `onConnection` unstarted. `ECONNABORTED` (a client gone before it was
 * accepted) is skipped. When the process is out of descriptors (`EMFILE`, `ENFILE`) or memory
 * (`ENOBUFS`, `ENOMEM`), the error is reported once through `onAcceptError`, accept polling
 * stops for {@link ACCEPT_RETRY_MS} and then tries again: the waiting clients stay in the
 * kernel's backlog instead of being dropped, and the listener serves them once descriptors free.
 *
 * @module
 */
import { type Address, formatAddress } from "../address.js";
import type { ListenerEvents, StreamListener } from "./backend.js";
import {
  errnoName,
  type HandleOwner,
  type NativeAddon,
  type NativeHandle,
  systemError,
} from "./native-addon.js";
import { NativeStreamConnection } from "./native-stream.js";

/** Connections accepted per readiness event at most (fair to the rest of the loop). */
export const ACCEPTS_PER_EVENT = 64;
/** Pause of accept polling after a resource error. */
export const ACCEPT_RETRY_MS = 100;

const RESOURCE_ERRORS = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);
const SKIPPED_ERRORS = new Set(["ECONNABORTED", "EPROTO", "EPERM", "EINTR"]);

/**
 * A listening socket of the native backend; it is also its own `raw` object.
 *
 * @example
 * ```ts
 * const listener = await getBackend().listen(["127.0.0.1", 0], {}, events);
 * console.log(listener.address); // ["127.0.0.1", 40123]
 * listener.close();
 * ```
 */
export class NativeStreamListener implements StreamListener, HandleOwner {
  readonly backend = "native";
  readonly address: Address;
  readonly #addon: NativeAddon;
  #h: NativeHandle | null;
  #events: ListenerEvents;
  #retry: NodeJS.Timeout | undefined;
  #exhausted = false;

  /** @internal Made by the native backend from a bound, listening handle. */
  constructor(addon: NativeAddon, handle: NativeHandle, address: Address, events: ListenerEvents) {
    this.#addon = addon;
    this.#h = handle;
    this.address = address;
    this.#events = events;
    handle.owner = this;
    const r = handle.setInterest(addon.READABLE);
    if (r < 0) throw systemError(-r, "listen", address);
  }

  get raw(): NativeStreamListener {
    return this;
  }

  get listening(): boolean {
    return this.#h !== null;
  }

  /** The OS descriptor, or -1 once closed. */
  get fd(): number {
    return this.#h?.fd() ?? -1;
  }

  /** @internal Give the listener a new owner (the backend's `adoptListener`). */
  retarget(events: ListenerEvents): void {
    this.#events = events;
  }

  close(): void {
    const h = this.#h;
    if (h === null) return;
    this.#h = null;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#retry = undefined;
    h.owner = undefined;
    h.close();
    setImmediate(() => this.#events.onClose());
  }

  /** @internal */
  onNativeEvent(kind: number, a: unknown): void {
    if (kind === this.#addon.EV_ACCEPT) this.#acceptSome();
    else if (kind === this.#addon.EV_ERROR) {
      // The addon's poll stopped on the error: try again after a pause, never in a tight loop.
      this.#pause();
      this.#events.onAcceptError(systemError(a as number, "accept", this.address));
    }
  }

  #acceptSome(): void {
    const addon = this.#addon;
    for (let i = 0; i < ACCEPTS_PER_EVENT; i++) {
      const h = this.#h;
      if (h === null) return;
      const got = h.accept();
      if (typeof got !== "number") {
        this.#exhausted = false;
        const conn = new NativeStreamConnection(addon, got);
        this.#events.onConnection(conn);
        continue;
      }
      if (got === -addon.EAGAIN) return;
      const code = errnoName(got);
      if (SKIPPED_ERRORS.has(code)) continue;
      if (RESOURCE_ERRORS.has(code)) {
        this.#pause();
        if (!this.#exhausted) {
          this.#exhausted = true;
          this.#events.onAcceptError(
            Object.assign(systemError(-got, "accept", this.address), {
              message: `accept ${code}: cannot accept on ${formatAddress(this.address)}: ${
                code === "EMFILE" || code === "ENFILE" ? "descriptor table full" : "out of memory"
              }; clients wait in the backlog, retrying in ${ACCEPT_RETRY_MS} ms`,
            }),
          );
        }
        return;
      }
      this.#events.onAcceptError(systemError(-got, "accept", this.address));
      return;
    }
  }

  /** Stop accept polling for a while; the timer keeps the process alive as the listener does. */
  #pause(): void {
    const h = this.#h;
    if (h === null || this.#retry !== undefined) return;
    h.setInterest(0);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#h === null) return;
      const r = this.#h.setInterest(this.#addon.READABLE);
      if (r < 0) this.#events.onAcceptError(systemError(-r, "accept", this.address));
    }, ACCEPT_RETRY_MS);
  }
}
