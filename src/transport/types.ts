/**
 * The transport seam (memberlist's packet-vs-stream split): protocol drivers send opaque byte
 * payloads over two channels.
 *
 * - `packet`: best effort, unordered, at most `LIMITS.packetBytesMax` bytes (UDP).
 * - `stream`: reliable and ordered per peer while the connection lives (TCP with length-prefixed
 *   frames). The transport keeps one connection per peer with a bounded send queue (oldest
 *   dropped and counted) and reconnects with capped exponential backoff.
 *
 * Every transport (UDP+TCP, memory over the simulator's network, the encryption decorator)
 * passes the same compliance suite, `test/transport/compliance.ts`.
 */
import type { Address } from '../base/address.js';
import type { Channel } from '../base/channel.js';
import type { NodeId } from '../identity/node-id.js';
import type { DropReason } from './counters.js';
import type { PeerAuthRefusal, PeerAuthenticator } from './peer-auth.js';

export type { Channel } from '../base/channel.js';

/**
 * What the receiver made of a payload (a stream transport authenticates a connection by it):
 * - `accepted`: decoded (and, with a keyring, authenticated); the connection is a peer's.
 * - `refused`: not decodable or not for us (counted by the receiver); the connection stays
 *   unauthenticated and is closed when its `inboundAuthTimeoutMs` runs out.
 * - `unauthenticated`: failed authentication (keyring): the connection is closed at once.
 */
export type Delivery = 'accepted' | 'refused' | 'unauthenticated';

/**
 * Called for every payload received; `from` is the sender's listen address. Returns what it made
 * of the payload; nothing means `accepted` (a handler that does not judge). Must not throw.
 */
export type ReceiveHandler = (
  from: Address,
  channel: Channel,
  data: Uint8Array,
  /**
   * The sender's NodeId, proved by the stream connection's authenticated hello (raft mode,
   * peer-auth.ts); absent for packets and wherever peers do not authenticate. A decorator must
   * pass it on: raft mode refuses a frame without it.
   */
  peer?: NodeId,
) => Delivery | void;

/**
 * Why an acceptor closed our stream connection, as it told us before closing (tcp-refusal.ts):
 * its inbound connection limit was full, it could not authenticate our frames, ... Readable with
 * `describeStreamRefusal`.
 */
export type StreamRefusal =
  | 'inbound_limit'
  | 'auth_failed'
  | 'bad_hello'
  | 'hello_timeout'
  | 'auth_timeout'
  | 'buffer_limit'
  | 'oversized'
  | 'peer_auth';

/**
 * Called when a stream connection to `to` was refused: the host answered but nothing listens on
 * the port (TCP RST, ECONNREFUSED: `refusal` is undefined), i.e. the process there is gone or
 * moved; or the process there accepted the connection and then refused it with a reason
 * (`refusal`). Not called for timeouts or unreachable hosts, which say nothing certain. Must not
 * throw.
 */
export type RefusedHandler = (to: Address, refusal?: StreamRefusal) => void;

/**
 * The inbound stream connections right now and the bytes they hold for unfinished frames, in
 * total and for those not yet authenticated (a connection authenticates with its first
 * `accepted` frame). Peaks are the largest totals ever kept (after the caps were applied).
 */
export interface StreamGauges {
  inbound: number;
  unauthenticated: number;
  bufferedBytes: number;
  unauthenticatedBufferedBytes: number;
  bufferedBytesPeak: number;
  unauthenticatedBufferedBytesPeak: number;
}

/** Counters every transport keeps; exported as metrics by the agent. */
export interface TransportStats {
  packetsSent: number;
  packetsReceived: number;
  packetBytesSent: number;
  packetBytesReceived: number;
  framesSent: number;
  framesReceived: number;
  frameBytesSent: number;
  frameBytesReceived: number;
  /** Dropped payloads and closed connections, by reason (e.g. `queue_overflow`, `oversized`, `auth_failed`, `hello_timeout`). */
  dropped: Record<string, number>;
  /** Inbound stream connections and their buffered bytes (transports with real streams only). */
  streams?: StreamGauges;
}

export interface Transport {
  /** The address peers use to reach this transport (the bound address, with the real port if 0 was asked). */
  readonly localAddress: Address;
  /**
   * Bytes this transport adds to every payload on the wire (encryption adds version, nonce and
   * tag). Callers size payloads to `LIMITS.packetBytesMax - packetOverheadBytes` (and frames to
   * `LIMITS.frameBytesMax - packetOverheadBytes`); larger ones are dropped. Absent means 0.
   */
  readonly packetOverheadBytes?: number;
  /** Best effort. Oversized payloads are dropped and counted, never thrown. */
  sendPacket(to: Address, data: Uint8Array): void;
  /** Queued on the peer's connection; connects (or reconnects) as needed. Never throws for network reasons. */
  sendFrame(to: Address, data: Uint8Array): void;
  /** Sets the one receive handler (replacing any previous one). */
  onReceive(handler: ReceiveHandler): void;
  /**
   * Sets the one handler told of refused stream connections (replacing any previous one), at
   * most once per failed connection attempt. Frames queued for that peer stay queued: the
   * transport still retries with backoff (a restarting peer may come back on the same port).
   */
  onStreamRefused(handler: RefusedHandler): void;
  stats(): TransportStats;
  /**
   * From now on, every stream connection this transport dials opens with `auth`'s signed hello,
   * and every one it accepts must (peer-auth.ts): frames are then labelled with the sender's
   * NodeId (`peer`). Absent on transports without real connections (memory: the simulator).
   * Call before the first send. Returns the function that counts, in this transport's `dropped`,
   * what a layer above refuses for its sender (`sender_mismatch`, `packet_unauthenticated`).
   */
  readonly authenticatePeers?:
    | ((
        auth: PeerAuthenticator,
        onRefusedHello?: (reason: PeerAuthRefusal, detail: string) => void,
      ) => (reason: DropReason) => void)
    | undefined;
  /** Closes sockets and connections; pending frames are discarded. Idempotent. */
  close(): Promise<void>;
}

/** What the in-memory transport needs from a network (the simulator's `SimNetwork` implements it). */
export interface Fabric {
  /**
   * Registers an endpoint; throws ShoalError ERR_TRANSPORT_BIND when the address is taken.
   * `refused` is told when a stream frame it sent found no endpoint at its destination (the
   * simulated RST of a crashed node's port).
   */
  attach(
    address: Address,
    deliver: (from: Address, channel: Channel, data: Uint8Array) => void,
    refused?: RefusedHandler,
  ): void;
  detach(address: Address): void;
  /** Delivers (or delays, drops, duplicates, per the network's fault model) one payload. */
  send(from: Address, to: Address, channel: Channel, data: Uint8Array): void;
}

export function emptyStats(): TransportStats {
  return {
    packetsSent: 0,
    packetsReceived: 0,
    packetBytesSent: 0,
    packetBytesReceived: 0,
    framesSent: 0,
    framesReceived: 0,
    frameBytesSent: 0,
    frameBytesReceived: 0,
    dropped: {},
  };
}
