/**
 * Every number Shoal puts on the wire for a name: message types, update kinds, member states and
 * reject reasons (docs/design/wire.md, "Type table"). A decoder maps an unknown number to
 * ERR_DECODE_UNKNOWN_TYPE (message types) or ERR_DECODE_MALFORMED (enums).
 *
 * APPEND ONLY: these numbers are on the wire. Never renumber, never reuse a retired number; add
 * new entries with the next free number and document them in docs/design/wire.md.
 */
import type { RejectReason, Update, WireMemberState, WireMessage } from './messages.js';

/** The envelope's first two bytes: ASCII 'S' 'H'. */
export const WIRE_MAGIC = 0x5348;
/** The protocol version this build speaks (envelope byte 2). See wire.md, "Versioning". */
export const PROTOCOL_VERSION = 1;

// APPEND ONLY: message type numbers are on the wire. 0 is reserved (never a valid type).
export const MESSAGE_TYPE_NUMBERS = {
  ping: 1,
  ack: 2,
  nack: 3,
  'ping-req': 4,
  gossip: 5,
  'push-pull': 6,
  reject: 7,
  // Leader election (docs/design/election.md).
  heartbeat: 8,
  'vote-request': 9,
  'vote-response': 10,
  'leader-heartbeat': 11,
  'heartbeat-ack': 12,
  'join-cluster': 13,
  'peer-broadcast': 14,
  // 15 is taken by the compressed wrapper (compressed.ts COMPRESSED_MESSAGE_TYPE): it wraps a
  // message rather than being one, so it is not in this table.
  'push-pull-digest': 16,
  // Next free number: 17.
} as const satisfies Record<WireMessage['type'], number>;

// APPEND ONLY: update kind numbers are on the wire. 0 is reserved.
export const UPDATE_KIND_NUMBERS = {
  alive: 1,
  suspect: 2,
  dead: 3,
  left: 4,
} as const satisfies Record<Update['kind'], number>;

// APPEND ONLY: member state numbers are on the wire. 0 is reserved.
export const MEMBER_STATE_NUMBERS = {
  alive: 1,
  suspect: 2,
  dead: 3,
  left: 4,
} as const satisfies Record<WireMemberState, number>;

// APPEND ONLY: reject reason numbers are on the wire. 0 is reserved.
export const REJECT_REASON_NUMBERS = {
  wrong_cluster: 1,
  bad_version: 2,
  config_mismatch: 3,
  too_many_members: 4,
  shutting_down: 5,
} as const satisfies Record<RejectReason, number>;

/** The reverse of a number table: index = wire number, value = name (undefined for unknown). */
export function reverseTable<Name extends string>(table: Record<Name, number>): readonly (Name | undefined)[] {
  const out: (Name | undefined)[] = [];
  for (const name of Object.keys(table) as Name[]) out[table[name]] = name;
  return out;
}
