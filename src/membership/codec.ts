/**
 * Membership's messages on the wire (docs/design/wire.md, "Membership messages", "Updates",
 * "Member records", "Labels"): the payload layouts of messages.ts as a `MessageTable`, in the
 * envelope of src/codec.
 *
 * Canonical form: labels are written sorted by key and a decoder requires strictly increasing
 * keys, which also refuses duplicates (a duplicate would otherwise silently drop one value).
 */
import { incarnation as toIncarnation } from '../base/units.js';
import { assert, assertNever } from '../base/assert.js';
import { toHex } from '../base/hex.js';
import {
  DecodeFailure,
  readAddress,
  readEnum,
  readFlags,
  reverseTable,
  writeAddress,
  type FieldLimits,
  type Reader,
  type Writer,
} from '../codec/bytes.js';
import {
  compileTable,
  decodeWith,
  encodedBytesWith,
  encodeWith,
  fieldBytes,
  type CodecLimits,
  type DecodeExpect,
  type DecodeResult,
} from '../codec/codec.js';
import {
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
  type PublicKey,
  type Signature,
} from '../identity/signed.js';
import {
  MEMBER_STATE_NUMBERS,
  MEMBERSHIP_TYPE_NUMBERS,
  REJECT_REASON_NUMBERS,
  UPDATE_KIND_NUMBERS,
  type Certificate,
  type Labels,
  type MemberRecord,
  type Message,
  type RecordFields,
  type Update,
  type WireMemberState,
} from './messages.js';

const UPDATE_KIND_BY_NUMBER = reverseTable(UPDATE_KIND_NUMBERS);
const MEMBER_STATE_BY_NUMBER = reverseTable(MEMBER_STATE_NUMBERS);
const REJECT_REASON_BY_NUMBER = reverseTable(REJECT_REASON_NUMBERS);
const FLAG_NACK = 0x01;
const FLAG_JOIN = 0x01;
const FLAG_REPLY = 0x02;
const FLAG_DIGEST_REPLY = 0x01;
const FLAG_CERTIFICATE = 0x01;

/**
 * Smallest encodings, for Reader.count's "can this many fit" check (see wire.md): an accusation
 * (kind, id, incarnation, accuser, signature) and a label-less member record with a one-byte
 * name and a four-byte address (id, name, address, state, incarnation, labels, key, flags,
 * signature).
 */
export const UPDATE_BYTES_MIN = 1 + 16 + 1 + 16 + SIGNATURE_BYTES;
export const MEMBER_RECORD_BYTES_MIN =
  16 + 2 + 5 + 1 + 1 + 1 + PUBLIC_KEY_BYTES + 1 + SIGNATURE_BYTES;
const LABEL_ENTRY_BYTES_MIN = 2;

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
    if (previous !== undefined && !(previous < key))
      throw new DecodeFailure(
        'ERR_DECODE_MALFORMED',
        `label keys not strictly increasing at ${JSON.stringify(key)}`,
      );
    previous = key;
    const value = r.string('label value');
    // defineProperty so that a key named "__proto__" is an own property, not a prototype change.
    if (key === '__proto__')
      Object.defineProperty(labels, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else labels[key] = value;
  }
  return labels;
}

/** The tail every signed record shares (alive and left updates, push-pull records): key, certificate, signature. */
function writeRecordTail(w: Writer, record: RecordFields): void {
  w.hex(record.publicKey, PUBLIC_KEY_BYTES);
  const certificate = record.certificate;
  w.u8(certificate === undefined ? 0 : FLAG_CERTIFICATE);
  if (certificate !== undefined) {
    w.varint(certificate.notBeforeMs);
    w.varint(certificate.notAfterMs);
    w.hex(certificate.signature, SIGNATURE_BYTES);
  }
  w.hex(record.signature, SIGNATURE_BYTES);
}

function readRecordTail(r: Reader): Pick<RecordFields, 'publicKey' | 'certificate' | 'signature'> {
  const publicKey = r.hex(PUBLIC_KEY_BYTES, 'public key') as PublicKey;
  const flags = readFlags(r, FLAG_CERTIFICATE, 'record flags');
  const certificate: Certificate | undefined =
    (flags & FLAG_CERTIFICATE) === 0
      ? undefined
      : {
          notBeforeMs: r.varint('certificate not-before'),
          notAfterMs: r.varint('certificate not-after'),
          signature: r.hex(SIGNATURE_BYTES, 'certificate signature') as Signature,
        };
  return { publicKey, certificate, signature: r.hex(SIGNATURE_BYTES, 'signature') as Signature };
}

export function writeUpdate(w: Writer, update: Update, limits: FieldLimits): void {
  w.u8(UPDATE_KIND_NUMBERS[update.kind]);
  w.nodeId(update.id);
  w.varint(update.incarnation);
  switch (update.kind) {
    case 'alive':
    case 'left':
      w.string(update.name, limits.decodeStringBytesMax);
      writeAddress(w, update.address);
      writeLabels(w, update.labels, limits);
      return writeRecordTail(w, update);
    case 'suspect':
    case 'dead':
      w.nodeId(update.from);
      return w.hex(update.signature, SIGNATURE_BYTES);
    default:
      assertNever(update, 'update kind');
  }
}

export function readUpdate(r: Reader): Update {
  const kind = readEnum(r, UPDATE_KIND_BY_NUMBER, 'update kind');
  const id = r.nodeId('update id');
  const incarnation = toIncarnation(r.varint('update incarnation'));
  switch (kind) {
    case 'alive':
    case 'left': {
      const name = r.string('update name');
      const address = readAddress(r, 'update address');
      const labels = readLabels(r);
      return { kind, id, incarnation, name, address, labels, ...readRecordTail(r) };
    }
    case 'suspect':
    case 'dead': {
      const from = r.nodeId('update from');
      return {
        kind,
        id,
        incarnation,
        from,
        signature: r.hex(SIGNATURE_BYTES, 'signature') as Signature,
      };
    }
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
  writeRecordTail(w, member);
  const accused = member.state === 'suspect' || member.state === 'dead';
  assert(
    accused === (member.accusation !== undefined),
    `member record ${member.id} in state ${member.state} must carry an accusation exactly when suspect or dead`,
  );
  if (member.accusation === undefined) return;
  w.nodeId(member.accusation.from);
  w.hex(member.accusation.signature, SIGNATURE_BYTES);
}

export function readMember(r: Reader): MemberRecord {
  const id = r.nodeId('member id');
  const name = r.string('member name');
  const address = readAddress(r, 'member address');
  const state: WireMemberState = readEnum(r, MEMBER_STATE_BY_NUMBER, 'member state');
  const incarnation = toIncarnation(r.varint('member incarnation'));
  const labels = readLabels(r);
  const tail = readRecordTail(r);
  const accusation =
    state === 'suspect' || state === 'dead'
      ? {
          from: r.nodeId('accuser'),
          signature: r.hex(SIGNATURE_BYTES, 'accusation signature') as Signature,
        }
      : undefined;
  return { id, name, address, state, incarnation, labels, ...tail, accusation };
}

export function writeMembers(
  w: Writer,
  members: readonly MemberRecord[],
  limits: FieldLimits,
): void {
  w.count(members.length, limits.decodeListCountMax);
  for (const member of members) writeMember(w, member, limits);
}

export function readMembers(r: Reader): MemberRecord[] {
  const count = r.count('members count', MEMBER_RECORD_BYTES_MIN);
  const members: MemberRecord[] = [];
  for (let i = 0; i < count; i++) members.push(readMember(r));
  return members;
}

function writePayload(w: Writer, msg: Message, limits: FieldLimits): void {
  switch (msg.type) {
    case 'ping':
      w.varint(msg.seq);
      w.nodeId(msg.from);
      writeAddress(w, msg.fromAddress);
      w.nodeId(msg.target);
      return writeUpdates(w, msg.updates, limits);
    case 'ack':
      w.varint(msg.seq);
      w.nodeId(msg.from);
      return writeUpdates(w, msg.updates, limits);
    case 'nack':
      w.varint(msg.seq);
      return w.nodeId(msg.from);
    case 'ping-req':
      w.varint(msg.seq);
      w.nodeId(msg.from);
      w.nodeId(msg.target);
      w.u8(msg.nack ? FLAG_NACK : 0);
      return writeUpdates(w, msg.updates, limits);
    case 'gossip':
      w.nodeId(msg.from);
      return writeUpdates(w, msg.updates, limits);
    case 'push-pull':
      w.nodeId(msg.from);
      writeAddress(w, msg.fromAddress);
      w.u8((msg.join ? FLAG_JOIN : 0) | (msg.reply ? FLAG_REPLY : 0));
      w.string(msg.configFingerprint, limits.decodeStringBytesMax);
      return writeMembers(w, msg.members, limits);
    case 'push-pull-digest':
      w.nodeId(msg.from);
      writeAddress(w, msg.fromAddress);
      w.u8(msg.reply ? FLAG_DIGEST_REPLY : 0);
      writeDigest(w, msg.configDigest);
      return writeDigest(w, msg.viewDigest);
    case 'reject':
      w.nodeId(msg.from);
      w.u8(REJECT_REASON_NUMBERS[msg.reason]);
      return w.string(msg.detail, limits.decodeStringBytesMax);
    default:
      return assertNever(msg, 'membership message type');
  }
}

function readPayload(r: Reader, type: Message['type']): Message {
  switch (type) {
    case 'ping':
      return {
        type,
        seq: r.varint('seq'),
        from: r.nodeId('from'),
        fromAddress: readAddress(r, 'fromAddress'),
        target: r.nodeId('target'),
        updates: readUpdates(r),
      };
    case 'ack':
      return { type, seq: r.varint('seq'), from: r.nodeId('from'), updates: readUpdates(r) };
    case 'nack':
      return { type, seq: r.varint('seq'), from: r.nodeId('from') };
    case 'ping-req': {
      const seq = r.varint('seq');
      const from = r.nodeId('from');
      const target = r.nodeId('target');
      const nack = (readFlags(r, FLAG_NACK, 'ping-req flags') & FLAG_NACK) !== 0;
      return { type, seq, from, target, nack, updates: readUpdates(r) };
    }
    case 'gossip':
      return { type, from: r.nodeId('from'), updates: readUpdates(r) };
    case 'push-pull': {
      const from = r.nodeId('from');
      const fromAddress = readAddress(r, 'fromAddress');
      const flags = readFlags(r, FLAG_JOIN | FLAG_REPLY, 'push-pull flags');
      const configFingerprint = r.string('configFingerprint');
      return {
        type,
        from,
        fromAddress,
        join: (flags & FLAG_JOIN) !== 0,
        reply: (flags & FLAG_REPLY) !== 0,
        configFingerprint,
        members: readMembers(r),
      };
    }
    case 'push-pull-digest': {
      const from = r.nodeId('from');
      const fromAddress = readAddress(r, 'fromAddress');
      const reply =
        (readFlags(r, FLAG_DIGEST_REPLY, 'push-pull-digest flags') & FLAG_DIGEST_REPLY) !== 0;
      return {
        type,
        from,
        fromAddress,
        reply,
        configDigest: readDigest(r, 'configDigest'),
        viewDigest: readDigest(r, 'viewDigest'),
      };
    }
    case 'reject':
      return {
        type,
        from: r.nodeId('from'),
        reason: readEnum(r, REJECT_REASON_BY_NUMBER, 'reject reason'),
        detail: r.string('detail'),
      };
    default:
      return assertNever(type, 'membership message type');
  }
}

/** Membership's messages as the envelope codec reads and writes them. */
export const MEMBERSHIP_MESSAGES = compileTable<Message>({
  numbers: MEMBERSHIP_TYPE_NUMBERS,
  write: writePayload,
  read: (r, type) => readPayload(r, type),
});

/**
 * Encodes `msg` for `clusterId`. Asserts (a caller bug) when a field breaks `limits`: a message
 * every receiver must refuse is never sent. Returns a fresh buffer the caller owns.
 */
export function encodeMessage(
  msg: Message,
  clusterId: string,
  limits?: Partial<CodecLimits>,
): Uint8Array {
  return encodeWith(MEMBERSHIP_MESSAGES, msg, clusterId, limits);
}

/** Decodes one membership message; never throws (see `decodeWith`). */
export function decodeMessage(bytes: Uint8Array, expect: DecodeExpect): DecodeResult<Message> {
  return decodeWith(MEMBERSHIP_MESSAGES, bytes, expect);
}

/** The exact encoded size of `msg` in bytes (to check it fits LIMITS.packetBytesMax). */
export function messageEncodedBytes(msg: Message, clusterId: string): number {
  return encodedBytesWith(MEMBERSHIP_MESSAGES, msg, clusterId);
}

/**
 * The exact bytes `update` adds to a message's update list. A packet with updates u1..un is
 * `messageEncodedBytes(same message with no updates) - 1 + varintBytes(n) + sum(updateEncodedBytes(ui))`.
 */
export function updateEncodedBytes(update: Update): number {
  return fieldBytes(writeUpdate, update);
}
