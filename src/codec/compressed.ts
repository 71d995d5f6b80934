/**
 * The compressed wrapper (docs/design/wire.md, "Compressed wrapper"): an envelope of message type
 * COMPRESSED_MESSAGE_TYPE whose payload is an algorithm number, the wrapped message's length and
 * the compressed bytes of one complete, ordinary envelope. Push-pull views travel in it (a view
 * of N members is ~25 incompressible id bytes plus compressible names, hosts and the config
 * fingerprint per member), as memberlist LZW-compresses its push-pull.
 *
 * Pure: this file frames and checks; membership's wire (membership/wire.ts, the only place allowed `node:zlib`)
 * compresses and inflates, bounded by `innerBytes` so a small frame cannot inflate into a large
 * allocation. The wrapped message is decoded with its protocol's table like any other, cluster id
 * check included.
 */
import { DecodeFailure, Reader, Writer } from './bytes.js';
import { DEFAULT_CODEC_LIMITS, type CodecLimits, type DecodeError } from './codec.js';
import { PROTOCOL_VERSION, WIRE_MAGIC } from './wire-numbers.js';

/** APPEND ONLY: the message type number of the wrapper (after the election types, 8..14). */
export const COMPRESSED_MESSAGE_TYPE = 15;

// APPEND ONLY: compression algorithm numbers are on the wire. 0 is reserved.
/** Raw DEFLATE (RFC 1951) with `DEFLATE_DICTIONARY_V1` as the preset dictionary. */
export const COMPRESSION_DEFLATE_DICT_V1 = 1;

/**
 * FROZEN: the preset dictionary of algorithm 1; both sides must hold the same bytes forever (a
 * different dictionary takes a new algorithm number). Recurring text of a push-pull: the config
 * fingerprint's keys and the loopback/common address prefixes. Not derived from the code, so a
 * later config key does not silently change it.
 */
export const DEFLATE_DICTIONARY_V1 =
  'v1;probeIntervalMs=;probeTimeoutMs=;indirectChecks=;retransmitMult=;suspicionMult=;suspicionMaxTimeoutMult=;' +
  'gossipIntervalMs=;gossipFanout=;pushPullIntervalMs=;awarenessMultiplierMax=;deadReclaimMs=;tcpFallback=true;' +
  'labelsBytesMax=;packetBytesMax=1400;10.0.;192.168.;[::1]:;127.0.0.1:';

/** Wrapped messages smaller than this are sent as they are: the wrapper would not pay for itself. */
export const COMPRESS_BYTES_MIN = 256;

/** Header bytes: magic (2), version, type, cluster id string, algorithm, inner length varint. */
export function encodeCompressed(
  compressed: Uint8Array,
  innerBytes: number,
  clusterId: string,
): Uint8Array {
  const w = new Writer(compressed.length + 32);
  w.u8(WIRE_MAGIC >>> 8);
  w.u8(WIRE_MAGIC & 0xff);
  w.u8(PROTOCOL_VERSION);
  w.u8(COMPRESSED_MESSAGE_TYPE);
  w.string(clusterId, DEFAULT_CODEC_LIMITS.clusterIdBytesMax);
  w.u8(COMPRESSION_DEFLATE_DICT_V1);
  w.varint(innerBytes);
  w.bytes(compressed);
  return w.finish();
}

/** True when `bytes` start like a compressed wrapper (magic, our version, the wrapper type). */
export function isCompressed(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 &&
    bytes[0] === WIRE_MAGIC >>> 8 &&
    bytes[1] === (WIRE_MAGIC & 0xff) &&
    bytes[2] === PROTOCOL_VERSION &&
    bytes[3] === COMPRESSED_MESSAGE_TYPE
  );
}

export type UnwrapResult =
  { ok: true; innerBytes: number; compressed: Uint8Array } | { ok: false; error: DecodeError };

/**
 * Reads a wrapper's header. The cluster id is skipped, not compared: the wrapped envelope carries
 * it too and the decoder checks it there (so a stranger's join is still answered). The
 * declared inner length must not exceed `decodeMessageBytesMax`: the inflater stops there.
 */
export function unwrapCompressed(
  bytes: Uint8Array,
  limits: Partial<CodecLimits> = {},
): UnwrapResult {
  const resolved = { ...DEFAULT_CODEC_LIMITS, ...limits };
  try {
    if (!isCompressed(bytes))
      throw new DecodeFailure('ERR_DECODE_MALFORMED', 'not a compressed wrapper');
    if (bytes.length > resolved.decodeMessageBytesMax)
      throw new DecodeFailure(
        'ERR_DECODE_OVERSIZED',
        `wrapper of ${bytes.length} bytes exceeds ${resolved.decodeMessageBytesMax}`,
      );
    const r = new Reader(bytes, resolved, 4);
    r.string('cluster id', resolved.clusterIdBytesMax);
    const algorithm = r.u8('compression algorithm');
    if (algorithm !== COMPRESSION_DEFLATE_DICT_V1)
      throw new DecodeFailure(
        'ERR_DECODE_MALFORMED',
        `compression algorithm ${algorithm} is unknown`,
      );
    const innerBytes = r.varint('inner length');
    if (innerBytes > resolved.decodeMessageBytesMax)
      throw new DecodeFailure(
        'ERR_DECODE_OVERSIZED',
        `wrapped message of ${innerBytes} bytes exceeds ${resolved.decodeMessageBytesMax}`,
      );
    return { ok: true, innerBytes, compressed: r.bytes(r.remaining, 'compressed bytes') };
  } catch (err) {
    if (err instanceof DecodeFailure)
      return { ok: false, error: { code: err.code, detail: err.detail } };
    throw err;
  }
}
