/**
 * The envelope's fixed numbers (docs/design/wire.md, "Envelope"). Each protocol numbers its own
 * message types in its folder (membership/messages.ts, election/messages.ts); type numbers are
 * one space across protocols, checked unique when tables are combined (`combineTables`).
 *
 * APPEND ONLY: numbers on the wire are never renumbered or reused.
 */

/** The envelope's first two bytes: ASCII 'S' 'H'. */
export const WIRE_MAGIC = 0x5348;
/**
 * The protocol version this build speaks (envelope byte 2). See wire.md, "Versioning". Version 2
 * (issue 12): membership records and accusations are signed, so updates, member records and
 * ping-req changed layout; a version 1 node is refused with a readable `bad_version`.
 */
export const PROTOCOL_VERSION = 2;

export { reverseTable } from './bytes.js';
