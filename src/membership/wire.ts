/**
 * Membership's wire, as the generic driver uses it (src/base/protocol.ts `Wire`): envelope
 * decoding and encoding, push-pull views in the compressed wrapper (docs/design/wire.md), and the
 * readable refusals a joiner of another cluster or protocol version gets instead of a timeout.
 * Not a core: it holds node:zlib (the only place allowed to inflate or deflate).
 *
 * - A payload that does not decode is refused with its ERR_DECODE_* code and never reaches the
 *   core; an election message (another mode's node pointed here) is not in membership's table,
 *   so it is refused as an unknown type.
 * - A push-pull from a node of another cluster is answered with a `reject` encoded in *its*
 *   cluster id, so its operator reads "wrong_cluster"; only stream frames are answered (a
 *   connection was made to us), one reject per push-pull.
 * - A stream frame in another protocol version: a push-pull (plain or compressed: type numbers
 *   are append-only, so they mean the same in every version) is answered with a `reject` in our
 *   version, and the frame becomes a `refused` input (ends a pending join with `bad_version`). A
 *   reject is never answered, so two versions cannot loop.
 */
import { inflateRawSync, deflateRawSync } from 'node:zlib';
import type { Address } from '../base/address.js';
import type { Channel } from '../base/channel.js';
import type { Received, Refusal, Wire } from '../base/protocol.js';
import type { Millis } from '../base/time.js';
import { envelopeClusterId, envelopeHeader } from '../codec/codec.js';
import {
  COMPRESS_BYTES_MIN,
  COMPRESSED_MESSAGE_TYPE,
  DEFLATE_DICTIONARY_V1,
  encodeCompressed,
  isCompressed,
  unwrapCompressed,
} from '../codec/compressed.js';
import { MEMBERSHIP_TYPE_NUMBERS, type Message } from './messages.js';
import { PROTOCOL_VERSION } from '../codec/wire-numbers.js';
import { decodeMessage, encodeMessage } from './codec.js';
import type { NodeId } from '../identity/node-id.js';
import type { Input } from './types.js';

/** The preset dictionary of compression algorithm 1, as bytes once. */
const DICTIONARY = new TextEncoder().encode(DEFLATE_DICTIONARY_V1);

export interface MembershipWireContext {
  clusterId: string;
  selfId: NodeId;
  localAddress: Address;
}

export function membershipWire(ctx: MembershipWireContext): Wire<Input, Message> {
  return {
    decode: (data, from, channel, now) => decode(ctx, data, from, channel, now),
    encode: (message, channel) => {
      const bytes = encodeMessage(message, ctx.clusterId);
      return channel === 'stream' && message.type === 'push-pull'
        ? deflate(bytes, ctx.clusterId)
        : bytes;
    },
    // A refused connection ends a join attempt or a probe early (push-pull.ts onSendFailed).
    refused: (to, now) => ({ kind: 'send-failed', now, to, channel: 'stream' }),
  };
}

function decode(
  ctx: MembershipWireContext,
  wire: Uint8Array,
  from: Address,
  channel: Channel,
  now: Millis,
): Received<Input> {
  let data = wire;
  if (isCompressed(wire)) {
    const inflated = inflate(wire);
    if (!inflated.ok) return inflated;
    data = inflated.data;
  }
  const decoded = decodeMessage(data, { clusterId: ctx.clusterId });
  if (!decoded.ok) {
    const refusal: Refusal<Input> = {
      ok: false,
      code: decoded.error.code,
      detail: decoded.error.detail,
    };
    if (channel !== 'stream') return refusal;
    if (decoded.error.code === 'ERR_DECODE_WRONG_CLUSTER')
      return { ...refusal, ...refuseStranger(ctx, data) };
    if (decoded.error.code === 'ERR_DECODE_BAD_VERSION')
      return { ...refusal, ...foreignVersion(ctx, data, from, now) };
    return refusal;
  }
  return { ok: true, input: { kind: 'receive', now, from, channel, message: decoded.message } };
}

function refuseStranger(
  ctx: MembershipWireContext,
  data: Uint8Array,
): Pick<Refusal<Input>, 'reply'> {
  const theirs = envelopeClusterId(data);
  if (theirs === undefined) return {};
  const decoded = decodeMessage(data, { clusterId: theirs });
  if (!decoded.ok || decoded.message.type !== 'push-pull') return {};
  const detail = `the node at ${ctx.localAddress} belongs to cluster ${JSON.stringify(ctx.clusterId)}, not ${JSON.stringify(theirs)}`;
  const reject: Message = { type: 'reject', from: ctx.selfId, reason: 'wrong_cluster', detail };
  return {
    reply: {
      to: decoded.message.fromAddress,
      channel: 'stream',
      data: encodeMessage(reject, theirs),
    },
  };
}

function foreignVersion(
  ctx: MembershipWireContext,
  data: Uint8Array,
  from: Address,
  now: Millis,
): Pick<Refusal<Input>, 'reply' | 'input'> {
  const header = envelopeHeader(data);
  if (header === undefined) return {};
  const detail = `the node at ${from} speaks Shoal protocol version ${header.version} and this node (${ctx.localAddress}) speaks ${PROTOCOL_VERSION}; members must share a protocol version`;
  const input: Input = { kind: 'refused', now, from, reason: 'bad_version', detail };
  if (
    header.typeNumber !== MEMBERSHIP_TYPE_NUMBERS['push-pull'] &&
    header.typeNumber !== COMPRESSED_MESSAGE_TYPE
  )
    return { input };
  const reject: Message = { type: 'reject', from: ctx.selfId, reason: 'bad_version', detail };
  return {
    reply: { to: from, channel: 'stream', data: encodeMessage(reject, ctx.clusterId) },
    input,
  };
}

/** A push-pull view in the compressed wrapper (wire.md), when that is smaller. */
function deflate(bytes: Uint8Array, clusterId: string): Uint8Array {
  if (bytes.length < COMPRESS_BYTES_MIN) return bytes;
  const wrapped = encodeCompressed(
    deflateRawSync(bytes, { dictionary: DICTIONARY }),
    bytes.length,
    clusterId,
  );
  return wrapped.length < bytes.length ? wrapped : bytes;
}

/**
 * The message inside a compressed wrapper, or a refusal. The inflater may produce at most the
 * declared length, itself bounded by decodeMessageBytesMax.
 */
function inflate(wire: Uint8Array): { ok: true; data: Uint8Array } | Refusal<Input> {
  const unwrapped = unwrapCompressed(wire);
  if (!unwrapped.ok)
    return {
      ok: false,
      code: unwrapped.error.code,
      detail: `compressed frame: ${unwrapped.error.detail}`,
    };
  let inner: Uint8Array;
  try {
    inner = inflateRawSync(unwrapped.compressed, {
      dictionary: DICTIONARY,
      maxOutputLength: Math.max(1, unwrapped.innerBytes),
    });
  } catch (err) {
    return {
      ok: false,
      code: 'ERR_DECODE_MALFORMED',
      detail: `compressed payload does not inflate to ${unwrapped.innerBytes} bytes: ${String(err)}`,
    };
  }
  if (inner.length !== unwrapped.innerBytes)
    return {
      ok: false,
      code: 'ERR_DECODE_MALFORMED',
      detail: `compressed payload inflates to ${inner.length} bytes, not the declared ${unwrapped.innerBytes}`,
    };
  return { ok: true, data: inner };
}
