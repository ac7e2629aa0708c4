/**
 * `asyncore-ts/asynchat`: terminator-framed channels on top of the dispatcher model.
 * Python: the `asynchat` module.
 *
 * @module
 */
export type { Address, BytesLike } from "../address.js";
export { AsyncChat } from "./async-chat.js";
export { findPrefixAtEnd } from "./find-prefix-at-end.js";
export { type Producer, SimpleProducer } from "./producer.js";
export { type TerminatorInput, TerminatorScanner, type TerminatorSink } from "./terminator-scanner.js";
