/**
 * The envelope's fixed numbers (docs/design/wire.md, "Envelope"). Each protocol numbers its own
 * message types in its folder (membership/messages.ts, election/messages.ts); type numbers are
 * one space across protocols, checked unique when tables are combined (`combineTables`).
 *
 * APPEND ONLY: numbers on the wire are never renumbered or reused.
 */

/** The envelope's first two bytes: ASCII 'S' 'H'. */
export const WIRE_MAGIC = 0x5348;
/** The protocol version this build speaks (envelope byte 2). See wire.md, "Versioning". */
export const PROTOCOL_VERSION = 1;

export { reverseTable } from './bytes.js';
