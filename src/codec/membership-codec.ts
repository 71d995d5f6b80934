/**
 * Field layouts of the SWIM/Lifeguard payload pieces (docs/design/wire.md, "Updates", "Member
 * records", "Labels"): membership updates, push-pull member records, labels and addresses.
 *
 * Canonical form: labels are written sorted by key and a decoder requires strictly increasing
 * keys, which also refuses duplicates (a duplicate would otherwise silently drop one value).
 */
import { splitAddress, type Address } from '../base/address.js';
import { assert, assertNever } from '../base/assert.js';
import { toHex } from '../base/hex.js';
import { DecodeFailure, type FieldLimits, type Reader, type Writer } from './bytes.js';
import type { Labels, MemberRecord, Update, WireMemberState } from './messages.js';
import { MEMBER_STATE_NUMBERS, UPDATE_KIND_NUMBERS, reverseTable } from './wire-numbers.js';

const UPDATE_KIND_BY_NUMBER = reverseTable(UPDATE_KIND_NUMBERS);
const MEMBER_STATE_BY_NUMBER = reverseTable(MEMBER_STATE_NUMBERS);

/** Smallest encodings, for Reader.count's "can this many fit" check (see wire.md). */
export const UPDATE_BYTES_MIN = 18;
export const MEMBER_RECORD_BYTES_MIN = 24;
const LABEL_ENTRY_BYTES_MIN = 2;

/** Generous for any host:port; a longer address is refused as oversized. */
export const ADDRESS_BYTES_MAX = 255;

export function writeAddress(w: Writer, address: Address): void {
  w.string(address, ADDRESS_BYTES_MAX);
}

/**
 * Addresses already validated, so a push-pull of N records does not run the host:port parser N
 * times for addresses it has seen (decoded strings are interned, so the lookup hashes nothing new).
 * Bounded: cleared when it reaches VALIDATED_ADDRESSES_MAX.
 */
export const VALIDATED_ADDRESSES_MAX = 65_536;
const validatedAddresses = new Set<string>();

export function readAddress(r: Reader, what: string): Address {
  const text = r.string(what, ADDRESS_BYTES_MAX);
  if (validatedAddresses.has(text)) return text as Address;
  if (splitAddress(text) === undefined) throw new DecodeFailure('ERR_DECODE_MALFORMED', `${what}: ${JSON.stringify(text)} is not host:port`);
  if (validatedAddresses.size >= VALIDATED_ADDRESSES_MAX) validatedAddresses.clear();
  validatedAddresses.add(text);
  return text as Address;
}

/** A 64-bit digest (push-pull-digest): 16 lowercase hex characters on our side, 8 raw bytes on the wire. */
export const DIGEST_BYTES = 8;
const DIGEST_PATTERN = /^[0-9a-f]{16}$/;

export function writeDigest(w: Writer, digest: string): void {
  assert(DIGEST_PATTERN.test(digest), `not a 64-bit hex digest: ${JSON.stringify(digest)}`);
  for (let i = 0; i < 2 * DIGEST_BYTES; i += 2) w.u8(parseInt(digest.slice(i, i + 2), 16));
}

/** Every 8-byte string is a valid digest, and reads back as the one hex text that writes it (canonical). */
export function readDigest(r: Reader, what: string): string {
  return toHex(r.bytes(DIGEST_BYTES, what));
}

/** A single-byte enum from a reverse table; unknown numbers are malformed. */
export function readEnum<Name extends string>(r: Reader, table: readonly (Name | undefined)[], what: string): Name {
  const n = r.u8(what);
  const name = table[n];
  if (name === undefined) throw new DecodeFailure('ERR_DECODE_MALFORMED', `${what}: unknown value ${n}`);
  return name;
}

export function writeLabels(w: Writer, labels: Labels, limits: FieldLimits): void {
  const keys = Object.keys(labels);
  keys.sort();
  w.count(keys.length, limits.decodeListCountMax);
  for (const key of keys) {
    w.string(key, limits.decodeStringBytesMax);
    w.string(labels[key] as string, limits.decodeStringBytesMax);
  }
}

/** What every record without labels decodes to: shared and frozen, not one fresh object per record. */
const NO_LABELS: Labels = Object.freeze({});

export function readLabels(r: Reader): Labels {
  const count = r.count('labels count', LABEL_ENTRY_BYTES_MIN);
  if (count === 0) return NO_LABELS;
  const labels: Record<string, string> = {};
  let previous: string | undefined;
  for (let i = 0; i < count; i++) {
    const key = r.string('label key');
    if (previous !== undefined && !(previous < key)) throw new DecodeFailure('ERR_DECODE_MALFORMED', `label keys not strictly increasing at ${JSON.stringify(key)}`);
    previous = key;
    const value = r.string('label value');
    // defineProperty so that a key named "__proto__" is an own property, not a prototype change.
    if (key === '__proto__') Object.defineProperty(labels, key, { value, enumerable: true, writable: true, configurable: true });
    else labels[key] = value;
  }
  return labels;
}

export function writeUpdate(w: Writer, update: Update, limits: FieldLimits): void {
  w.u8(UPDATE_KIND_NUMBERS[update.kind]);
  w.nodeId(update.id);
  w.varint(update.incarnation);
  switch (update.kind) {
    case 'alive':
      w.string(update.name, limits.decodeStringBytesMax);
      writeAddress(w, update.address);
      writeLabels(w, update.labels, limits);
      return;
    case 'suspect':
    case 'dead':
      w.nodeId(update.from);
      return;
    case 'left':
      return;
    default:
      assertNever(update, 'update kind');
  }
}

export function readUpdate(r: Reader): Update {
  const kind = readEnum(r, UPDATE_KIND_BY_NUMBER, 'update kind');
  const id = r.nodeId('update id');
  const incarnation = r.varint('update incarnation');
  switch (kind) {
    case 'alive':
      return { kind, id, incarnation, name: r.string('update name'), address: readAddress(r, 'update address'), labels: readLabels(r) };
    case 'suspect':
    case 'dead':
      return { kind, id, incarnation, from: r.nodeId('update from') };
    case 'left':
      return { kind, id, incarnation };
    default:
      return assertNever(kind, 'update kind');
  }
}

export function writeUpdates(w: Writer, updates: readonly Update[], limits: FieldLimits): void {
  w.count(updates.length, limits.decodeListCountMax);
  for (const update of updates) writeUpdate(w, update, limits);
}

export function readUpdates(r: Reader): Update[] {
  const count = r.count('updates count', UPDATE_BYTES_MIN);
  const updates: Update[] = [];
  for (let i = 0; i < count; i++) updates.push(readUpdate(r));
  return updates;
}

export function writeMember(w: Writer, member: MemberRecord, limits: FieldLimits): void {
  w.nodeId(member.id);
  w.string(member.name, limits.decodeStringBytesMax);
  writeAddress(w, member.address);
  w.u8(MEMBER_STATE_NUMBERS[member.state]);
  w.varint(member.incarnation);
  writeLabels(w, member.labels, limits);
}

export function readMember(r: Reader): MemberRecord {
  const id = r.nodeId('member id');
  const name = r.string('member name');
  const address = readAddress(r, 'member address');
  const state: WireMemberState = readEnum(r, MEMBER_STATE_BY_NUMBER, 'member state');
  const incarnation = r.varint('member incarnation');
  return { id, name, address, state, incarnation, labels: readLabels(r) };
}

export function writeMembers(w: Writer, members: readonly MemberRecord[], limits: FieldLimits): void {
  w.count(members.length, limits.decodeListCountMax);
  for (const member of members) writeMember(w, member, limits);
}

export function readMembers(r: Reader): MemberRecord[] {
  const count = r.count('members count', MEMBER_RECORD_BYTES_MIN);
  const members: MemberRecord[] = [];
  for (let i = 0; i < count; i++) members.push(readMember(r));
  return members;
}
