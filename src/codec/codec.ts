/**
 * The envelope every Shoal message travels in, and the encoder/decoder for `WireMessage`
 * (docs/design/wire.md): magic 'SH', protocol version, message type (APPEND-ONLY table in
 * wire-numbers.ts), cluster id, then the type's payload.
 *
 * Decoding is a pure function of the bytes and never trusts them: the total size, every length
 * and every count is checked against a named limit before use; outcomes are data
 * (`DecodeResult`), never an exception. Encoding is canonical, so for any bytes that decode,
 * encoding the result gives the same bytes back (the fuzz tests check exactly this).
 */
import { assertNever } from '../base/assert.js';
import { ShoalError } from '../base/errors.js';
import { LIMITS } from '../base/limits.js';
import { DecodeFailure, Reader, Writer, type DecodeErrorCode, type FieldLimits } from './bytes.js';
import { readAddress, readDigest, readEnum, readMembers, readUpdates, writeAddress, writeDigest, writeMembers, writeUpdate, writeUpdates } from './membership-codec.js';
import { writeElectionPayload, readElectionPayload } from './election-codec.js';
import { isElectionMessage, isElectionMessageType, type Update, type WireMessage } from './messages.js';
import { MESSAGE_TYPE_NUMBERS, PROTOCOL_VERSION, REJECT_REASON_NUMBERS, WIRE_MAGIC, reverseTable } from './wire-numbers.js';

/** The limits a decode enforces; defaults from LIMITS. */
export interface CodecLimits extends FieldLimits {
  decodeMessageBytesMax: number;
  clusterIdBytesMax: number;
}

export const DEFAULT_CODEC_LIMITS: Readonly<CodecLimits> = {
  decodeMessageBytesMax: LIMITS.decodeMessageBytesMax,
  decodeListCountMax: LIMITS.decodeListCountMax,
  decodeStringBytesMax: LIMITS.decodeStringBytesMax,
  clusterIdBytesMax: LIMITS.clusterIdBytesMax,
};

export interface DecodeError {
  code: DecodeErrorCode;
  detail: string;
}

export type DecodeResult = { ok: true; message: WireMessage } | { ok: false; error: DecodeError };

export interface DecodeExpect {
  /** Messages of any other cluster id are refused with ERR_DECODE_WRONG_CLUSTER. */
  clusterId: string;
  limits?: Partial<CodecLimits>;
}

const MESSAGE_TYPE_BY_NUMBER = reverseTable(MESSAGE_TYPE_NUMBERS);
const REJECT_REASON_BY_NUMBER = reverseTable(REJECT_REASON_NUMBERS);
const FLAG_NACK = 0x01;
const FLAG_JOIN = 0x01;
const FLAG_REPLY = 0x02;
const FLAG_DIGEST_REPLY = 0x01;

// One scratch writer reused by every encode: encoding is synchronous and never re-entrant, so
// sharing it costs nothing and saves a buffer allocation per message.
const scratch = new Writer(4096);
const sizeScratch = new Writer(1024);

function limitsOf(partial: Partial<CodecLimits> | undefined): CodecLimits {
  return partial === undefined ? DEFAULT_CODEC_LIMITS : { ...DEFAULT_CODEC_LIMITS, ...partial };
}

function writeEnvelope(w: Writer, msg: WireMessage, clusterId: string, limits: CodecLimits): void {
  w.u8(WIRE_MAGIC >>> 8);
  w.u8(WIRE_MAGIC & 0xff);
  w.u8(PROTOCOL_VERSION);
  w.u8(MESSAGE_TYPE_NUMBERS[msg.type]);
  w.string(clusterId, limits.clusterIdBytesMax);
  writePayload(w, msg, limits);
}

function writePayload(w: Writer, msg: WireMessage, limits: CodecLimits): void {
  if (isElectionMessage(msg)) return writeElectionPayload(w, msg, limits);
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
      writeAddress(w, msg.fromAddress);
      w.nodeId(msg.target);
      writeAddress(w, msg.targetAddress);
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
      return assertNever(msg, 'message type');
  }
}

/**
 * Encodes `msg` for `clusterId`. Asserts (a caller bug) when a field breaks `limits`: a message
 * every receiver must refuse is never sent. Returns a fresh buffer the caller owns.
 */
export function encodeMessage(msg: WireMessage, clusterId: string, limits?: Partial<CodecLimits>): Uint8Array {
  scratch.reset();
  writeEnvelope(scratch, msg, clusterId, limitsOf(limits));
  return scratch.finish();
}

/** The exact encoded size of `msg` in bytes (to check it fits LIMITS.packetBytesMax). */
export function messageEncodedBytes(msg: WireMessage, clusterId: string): number {
  sizeScratch.reset();
  writeEnvelope(sizeScratch, msg, clusterId, DEFAULT_CODEC_LIMITS);
  return sizeScratch.length;
}

/**
 * The exact bytes `update` adds to a message's update list. A packet with updates u1..un is
 * `messageEncodedBytes(same message with no updates) - 1 + varintBytes(n) + sum(updateEncodedBytes(ui))`.
 */
export function updateEncodedBytes(update: Update): number {
  sizeScratch.reset();
  writeUpdate(sizeScratch, update, DEFAULT_CODEC_LIMITS);
  return sizeScratch.length;
}

/** Flags byte with only the `allowed` bits; any other bit set is malformed (reserved for later versions). */
function readFlags(r: Reader, allowed: number, what: string): number {
  const flags = r.u8(what);
  if ((flags & ~allowed) !== 0) throw new DecodeFailure('ERR_DECODE_MALFORMED', `${what}: reserved bits set in 0x${flags.toString(16)}`);
  return flags;
}

function readPayload(r: Reader, type: WireMessage['type']): WireMessage {
  if (isElectionMessageType(type)) return readElectionPayload(r, type);
  switch (type) {
    case 'ping':
      return { type, seq: r.varint('seq'), from: r.nodeId('from'), fromAddress: readAddress(r, 'fromAddress'), target: r.nodeId('target'), updates: readUpdates(r) };
    case 'ack':
      return { type, seq: r.varint('seq'), from: r.nodeId('from'), updates: readUpdates(r) };
    case 'nack':
      return { type, seq: r.varint('seq'), from: r.nodeId('from') };
    case 'ping-req': {
      const seq = r.varint('seq');
      const from = r.nodeId('from');
      const fromAddress = readAddress(r, 'fromAddress');
      const target = r.nodeId('target');
      const targetAddress = readAddress(r, 'targetAddress');
      const nack = (readFlags(r, FLAG_NACK, 'ping-req flags') & FLAG_NACK) !== 0;
      return { type, seq, from, fromAddress, target, targetAddress, nack, updates: readUpdates(r) };
    }
    case 'gossip':
      return { type, from: r.nodeId('from'), updates: readUpdates(r) };
    case 'push-pull': {
      const from = r.nodeId('from');
      const fromAddress = readAddress(r, 'fromAddress');
      const flags = readFlags(r, FLAG_JOIN | FLAG_REPLY, 'push-pull flags');
      const configFingerprint = r.string('configFingerprint');
      return { type, from, fromAddress, join: (flags & FLAG_JOIN) !== 0, reply: (flags & FLAG_REPLY) !== 0, configFingerprint, members: readMembers(r) };
    }
    case 'push-pull-digest': {
      const from = r.nodeId('from');
      const fromAddress = readAddress(r, 'fromAddress');
      const reply = (readFlags(r, FLAG_DIGEST_REPLY, 'push-pull-digest flags') & FLAG_DIGEST_REPLY) !== 0;
      return { type, from, fromAddress, reply, configDigest: readDigest(r, 'configDigest'), viewDigest: readDigest(r, 'viewDigest') };
    }
    case 'reject':
      return { type, from: r.nodeId('from'), reason: readEnum(r, REJECT_REASON_BY_NUMBER, 'reject reason'), detail: r.string('detail') };
    default:
      return assertNever(type, 'message type');
  }
}

const clusterIdEncoder = new TextEncoder();
let cachedClusterId: string | undefined;
let cachedClusterIdBytes = new Uint8Array(0);

/** The expected cluster id as UTF-8, cached: a node decodes with the same id every time. */
function clusterIdBytes(clusterId: string): Uint8Array {
  if (clusterId !== cachedClusterId) {
    cachedClusterIdBytes = clusterIdEncoder.encode(clusterId);
    cachedClusterId = clusterId;
  }
  return cachedClusterIdBytes;
}

/** Magic, version and type; returns the type. The magic is checked on whatever prefix is present. */
const MAGIC_BYTES = [WIRE_MAGIC >>> 8, WIRE_MAGIC & 0xff];

function readHeader(bytes: Uint8Array, r: Reader): WireMessage['type'] {
  for (let i = 0; i < MAGIC_BYTES.length; i++) {
    if (i >= bytes.length) throw new DecodeFailure('ERR_DECODE_TRUNCATED', `${bytes.length} bytes: shorter than the envelope header`);
    if (bytes[i] !== MAGIC_BYTES[i]) throw new DecodeFailure('ERR_DECODE_BAD_MAGIC', 'does not start with the Shoal magic "SH"');
  }
  r.bytes(MAGIC_BYTES.length, 'magic');
  const version = r.u8('protocol version');
  if (version !== PROTOCOL_VERSION) throw new DecodeFailure('ERR_DECODE_BAD_VERSION', `protocol version ${version}, this node speaks ${PROTOCOL_VERSION}`);
  const typeNumber = r.u8('message type');
  const type = MESSAGE_TYPE_BY_NUMBER[typeNumber];
  if (type === undefined) throw new DecodeFailure('ERR_DECODE_UNKNOWN_TYPE', `message type ${typeNumber} is not in this node's table`);
  return type;
}

/** Compares the cluster id as bytes (no string decode on the hot path); names the foreign id on mismatch. */
function checkClusterId(r: Reader, expected: string, limits: CodecLimits): void {
  const length = r.varint('cluster id length');
  if (length > limits.clusterIdBytesMax) throw new DecodeFailure('ERR_DECODE_OVERSIZED', `cluster id of ${length} bytes exceeds ${limits.clusterIdBytesMax}`);
  const got = r.bytes(length, 'cluster id');
  const want = clusterIdBytes(expected);
  let same = got.length === want.length;
  for (let i = 0; same && i < got.length; i++) same = got[i] === want[i];
  if (!same) {
    const shown = new TextDecoder('utf-8').decode(got);
    throw new DecodeFailure('ERR_DECODE_WRONG_CLUSTER', `message is for cluster ${JSON.stringify(shown)}, this node is in ${JSON.stringify(expected)}`);
  }
}

/**
 * Decodes one message. Never throws for any input: every failure is a DecodeResult with a
 * stable code (ERR_DECODE_*) and a detail naming the field and offset.
 */
export function decodeMessage(bytes: Uint8Array, expect: DecodeExpect): DecodeResult {
  const limits = limitsOf(expect.limits);
  if (bytes.length > limits.decodeMessageBytesMax) {
    return { ok: false, error: { code: 'ERR_DECODE_OVERSIZED', detail: `message of ${bytes.length} bytes exceeds ${limits.decodeMessageBytesMax}` } };
  }
  const r = new Reader(bytes, limits);
  try {
    const type = readHeader(bytes, r);
    checkClusterId(r, expect.clusterId, limits);
    const message = readPayload(r, type);
    r.end();
    return { ok: true, message };
  } catch (err) {
    if (err instanceof DecodeFailure) return { ok: false, error: { code: err.code, detail: err.detail } };
    throw err;
  }
}

/** `decodeMessage` for callers at the API edge: throws ShoalError with the ERR_DECODE_* code. */
export function decodeMessageOrThrow(bytes: Uint8Array, expect: DecodeExpect): WireMessage {
  const result = decodeMessage(bytes, expect);
  if (!result.ok) throw new ShoalError(result.error.code, `cannot decode message: ${result.error.detail}`);
  return result.message;
}

/**
 * The raw version and type numbers of an envelope, whatever version it is, or undefined when it
 * does not start with the magic. Type numbers are append-only (wire-numbers.ts), so a frame of
 * another protocol version can still be recognised as a push-pull and answered (`bad_version`).
 */
export function envelopeHeader(bytes: Uint8Array): { version: number; typeNumber: number } | undefined {
  if (bytes.length < 4 || bytes[0] !== WIRE_MAGIC >>> 8 || bytes[1] !== (WIRE_MAGIC & 0xff)) return undefined;
  return { version: bytes[2] as number, typeNumber: bytes[3] as number };
}

/**
 * The cluster id an envelope names, without decoding the payload; undefined when the header
 * itself is invalid. Lets a node answer a stranger's join with a `reject` it can decode
 * (reason `wrong_cluster`) instead of leaving it to time out.
 */
export function envelopeClusterId(bytes: Uint8Array, limits?: Partial<CodecLimits>): string | undefined {
  const resolved = limitsOf(limits);
  const r = new Reader(bytes, resolved);
  try {
    readHeader(bytes, r);
    const length = r.varint('cluster id length');
    if (length > resolved.clusterIdBytesMax) return undefined;
    return new TextDecoder('utf-8', { fatal: true }).decode(r.bytes(length, 'cluster id'));
  } catch (err) {
    // DecodeFailure from the reader, TypeError from the fatal UTF-8 decoder: not an envelope.
    if (err instanceof DecodeFailure || err instanceof TypeError) return undefined;
    throw err;
  }
}
