/**
 * The piggyback carrier of the data plane (docs/design/data-plane.md, "Piggyback carrier"): with
 * `gossipCarrier: 'piggyback'` the registry core emits each gossip round's deltas as one standalone
 * payload (`piggyback` effect); this carrier attaches it to membership's next outgoing packets to
 * distinct live members, as memberlist's delegate broadcasts ride in its compound messages, when
 * the packet has room under the port's packet budget. Copies that found no packet within
 * `waitMs` (or when the next round's payload arrives) go alone, in the same frame with an empty
 * membership part, to live members not yet reached: the core has counted `gossipFanout` sends.
 *
 * The frame (envelope type 44 `data-carried`, wire.md): magic, version, type, cluster id, varint
 * length of the membership packet, that packet (0 bytes when alone), then the delta payload
 * (crdt/registry/codec.ts `encodeDeltaPayload`). Every node unwraps it whatever its own carrier
 * setting, so a cluster can switch carriers one node at a time. A frame that does not decode is
 * dropped whole and counted; its membership part goes to membership, which decodes and checks it
 * as any packet, and its deltas to the core, which verifies every one against its owner's key.
 */
import type { Address } from '../base/address.js';
import type { Millis, TimerHandle } from '../base/time.js';
import type { Clock } from '../base/time.js';
import type { Rng } from '../base/rng.js';
import { DecodeFailure, Reader, Writer } from '../codec/bytes.js';
import { DEFAULT_CODEC_LIMITS } from '../codec/codec.js';
import { PROTOCOL_VERSION, WIRE_MAGIC } from '../codec/wire-numbers.js';
import { LIMITS } from '../base/limits.js';

/** APPEND ONLY: the envelope type of a carried frame (the data plane's 40-49 range). */
export const CARRIED_MESSAGE_TYPE = 44;

/** Encodes a carried frame: `packet` (membership's, may be empty) followed by `payload`. */
export function encodeCarried(
  clusterId: string,
  packet: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  const w = new Writer(packet.length + payload.length + 80);
  w.u8(WIRE_MAGIC >>> 8);
  w.u8(WIRE_MAGIC & 0xff);
  w.u8(PROTOCOL_VERSION);
  w.u8(CARRIED_MESSAGE_TYPE);
  w.string(clusterId, DEFAULT_CODEC_LIMITS.clusterIdBytesMax);
  w.varint(packet.length);
  w.bytes(packet);
  w.bytes(payload);
  return w.finish();
}

/** Bytes a carried frame adds around `packetBytes` of membership packet and `payloadBytes`. */
export function carriedOverheadBytes(clusterId: string, packetBytes: number): number {
  const varint = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : 3);
  const id = new TextEncoder().encode(clusterId).length;
  return 4 + varint(id) + id + varint(packetBytes);
}

export type CarriedResult =
  | { ok: true; packet: Uint8Array; payload: Uint8Array }
  | { ok: false; code: string; detail: string };

/** Decodes a carried frame's header; never throws. Another cluster's frame is refused whole. */
export function decodeCarried(bytes: Uint8Array, clusterId: string): CarriedResult {
  try {
    if (bytes.length > LIMITS.packetBytesMax)
      throw new DecodeFailure('ERR_DECODE_OVERSIZED', `carried frame of ${bytes.length} bytes`);
    if (
      bytes.length < 4 ||
      bytes[0] !== WIRE_MAGIC >>> 8 ||
      bytes[1] !== (WIRE_MAGIC & 0xff) ||
      bytes[3] !== CARRIED_MESSAGE_TYPE
    )
      throw new DecodeFailure('ERR_DECODE_MALFORMED', 'not a carried frame');
    if (bytes[2] !== PROTOCOL_VERSION)
      throw new DecodeFailure('ERR_DECODE_BAD_VERSION', `version ${bytes[2]}`);
    const r = new Reader(bytes, DEFAULT_CODEC_LIMITS, 4);
    const cluster = r.string('cluster id', DEFAULT_CODEC_LIMITS.clusterIdBytesMax);
    if (cluster !== clusterId)
      throw new DecodeFailure('ERR_DECODE_WRONG_CLUSTER', `cluster ${JSON.stringify(cluster)}`);
    const length = r.varint('packet length');
    const packet = r.bytes(length, 'membership packet');
    const payload = r.bytes(r.remaining, 'delta payload');
    if (payload.length === 0)
      throw new DecodeFailure('ERR_DECODE_MALFORMED', 'carried frame without deltas');
    return { ok: true, packet, payload };
  } catch (err) {
    if (err instanceof DecodeFailure) return { ok: false, code: err.code, detail: err.detail };
    throw err;
  }
}

/** What the carrier did, for `node.stats().dataPlane.carrier` and the metrics. */
export interface CarrierStats {
  /** Payload copies that rode in a membership packet. */
  carried: number;
  /** Copies sent alone after waiting (no membership packet with room came in time). */
  alone: number;
  /** Membership packets that had no room for the pending payload. */
  noRoom: number;
  /** Delta payload bytes sent inside membership packets, and alone (frame included). */
  carriedBytes: number;
  aloneBytes: number;
  /** Carried frames received, and the delta payload bytes they held. */
  received: number;
  receivedBytes: number;
}

export interface CarrierOptions {
  clusterId: string;
  /** Largest packet the port sends, after the transport's own overhead (encryption). */
  packetBytesMax: number;
  /** How long a round's copies wait for membership packets before going alone. */
  waitMs: Millis;
  clock: Clock;
  rng: Rng;
  /** The registry's live members now (alive and suspect, self excluded). */
  live: () => Iterable<Address>;
  /** Sends a frame alone on the port (counted as the data plane's traffic). */
  sendAlone: (to: Address, frame: Uint8Array) => void;
}

interface Pending {
  payload: Uint8Array;
  copies: number;
  /** Addresses that got this payload (each member at most once). */
  reached: Set<Address>;
  live: Set<Address>;
}

/** Attaches gossip payloads to membership's packets; sends the rest alone when they wait too long. */
export class DeltaCarrier {
  private pending: Pending | undefined;
  private timer: TimerHandle | undefined;
  readonly counts: CarrierStats = {
    carried: 0,
    alone: 0,
    noRoom: 0,
    carriedBytes: 0,
    aloneBytes: 0,
    received: 0,
    receivedBytes: 0,
  };

  constructor(private readonly opts: CarrierOptions) {}

  /** A new gossip round's payload, to reach `copies` live members; the previous one's rest goes alone. */
  offer(payload: Uint8Array, copies: number): void {
    this.flush();
    const live = new Set(this.opts.live());
    if (live.size === 0 || copies <= 0) return;
    this.pending = { payload, copies: Math.min(copies, live.size), reached: new Set(), live };
    this.timer = this.opts.clock.setTimer(this.opts.waitMs, () => {
      this.timer = undefined;
      this.flush();
    });
  }

  /** The bytes to send for membership's `packet` to `to`: the packet alone, or with the payload. */
  wrap(to: Address, packet: Uint8Array): Uint8Array {
    const p = this.pending;
    if (p === undefined || !p.live.has(to) || p.reached.has(to)) return packet;
    const size =
      carriedOverheadBytes(this.opts.clusterId, packet.length) + packet.length + p.payload.length;
    if (size > this.opts.packetBytesMax) {
      this.counts.noRoom++;
      return packet;
    }
    p.reached.add(to);
    this.counts.carried++;
    this.counts.carriedBytes += size - packet.length;
    if (p.reached.size >= p.copies) this.clear();
    return encodeCarried(this.opts.clusterId, packet, p.payload);
  }

  /** Sends the pending payload's missing copies alone to random live members it has not reached. */
  flush(): void {
    const p = this.pending;
    this.clear();
    if (p === undefined) return;
    const missing = p.copies - p.reached.size;
    if (missing <= 0) return;
    const now = new Set(this.opts.live());
    const targets = this.opts.rng
      .shuffle([...now].filter((a) => !p.reached.has(a)))
      .slice(0, missing);
    const frame = encodeCarried(this.opts.clusterId, new Uint8Array(0), p.payload);
    for (const to of targets) {
      this.counts.alone++;
      this.counts.aloneBytes += frame.length;
      this.opts.sendAlone(to, frame);
    }
  }

  /** Drops the pending payload and its timer (the node is closing). */
  clear(): void {
    this.pending = undefined;
    this.timer?.cancel();
    this.timer = undefined;
  }
}
