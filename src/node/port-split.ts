/**
 * One port, two protocols: the data plane (types 40-49, crdt/registry/codec.ts) shares the node's
 * cluster port with membership, as users expect (one address per node, one firewall rule, one
 * keyring). A transport has one receive handler (transport/types.ts), so `splitPort` puts a
 * dispatcher under both drivers: a payload whose envelope type byte is a data-plane number goes
 * to the `side` transport's handler, everything else to `main`'s, untouched (membership's
 * compressed wrapper, type 15, and any unknown type included, so its decode errors are counted
 * where they were). Sends and stream refusals pass through to the one real transport; each view
 * counts its own traffic (`stats`: the data plane's bytes); closing either view closes nothing
 * (the node closes the real transport).
 *
 * The type byte sits after the magic and the version (docs/design/wire.md, "Envelope"); with a
 * keyring the real transport is the decrypting decorator, so the byte is read in the clear.
 *
 * Chain replication (type 45, node/data-chain.ts) gets a third view, `chain`, with its own counts,
 * and tree sync (type 46, node/data-tree.ts) a fourth, `tree`.
 *
 * A `PortCarrier` (data-plane-carrier.ts), once set, sees every packet membership sends (it may
 * return it with data-plane deltas attached: a `data-carried` frame, type 44) and every carried
 * frame received (its membership part, if any, then goes to `main` as an ordinary packet). The
 * views count their own protocol's bytes: membership's packet in `main`, the frame's rest in `side`.
 */
import type { Address } from '../base/address.js';
import type { Channel } from '../base/channel.js';
import {
  emptyStats,
  type Delivery,
  type ReceiveHandler,
  type RefusedHandler,
  type StreamRefusal,
  type Transport,
  type TransportStats,
} from '../transport/types.js';

/** Offset of the message type in the envelope: magic (2 bytes), protocol version (1). */
export const ENVELOPE_TYPE_OFFSET = 3;
/** The envelope type numbers the data plane owns (40-43 taken, 44-49 kept for it). */
export const DATA_PLANE_TYPES = { first: 40, last: 49 } as const;

/** True when `data` is a data-plane message by its envelope type byte. */
export function isDataPlanePayload(data: Uint8Array): boolean {
  const type = data[ENVELOPE_TYPE_OFFSET];
  return type !== undefined && type >= DATA_PLANE_TYPES.first && type <= DATA_PLANE_TYPES.last;
}

/** Attaches data-plane payloads to membership's packets and takes them off received frames. */
export interface PortCarrier {
  /** What to send for membership's `packet` to `to`: the packet itself, or a carried frame. */
  wrap(to: Address, packet: Uint8Array): Uint8Array;
  /** Handles a received carried frame; returns its membership packet (empty: none). */
  unwrap(from: Address, frame: Uint8Array): Uint8Array;
}

/** The envelope type byte of a carried frame (data-plane-carrier.ts). */
const CARRIED_TYPE = 44;
/** The envelope type byte of chain replication (chain/messages.ts): its own view, `chain`. */
const CHAIN_TYPE = 45;
/** The envelope type byte of Merkle tree sync (tree/messages.ts): its own view, `tree`. */
const TREE_TYPE = 46;

/** A view of the real transport with its own receive and refusal handlers, and its own traffic counts. */
class PortView implements Transport {
  handler: ReceiveHandler | undefined;
  refused: RefusedHandler | undefined;
  private readonly counts: TransportStats = emptyStats();

  /** Set on `main` once the data plane exists: wraps membership's outgoing packets. */
  carrier: PortCarrier | undefined;

  constructor(private readonly inner: Transport) {}

  /** Counts received bytes of this view's protocol that arrived inside another view's payload. */
  countReceived(bytes: number): void {
    this.counts.packetsReceived++;
    this.counts.packetBytesReceived += bytes;
  }

  /** Hands a received payload to this view's protocol, counted. */
  receive(from: Address, channel: Channel, data: Uint8Array): Delivery | void {
    if (channel === 'packet') {
      this.counts.packetsReceived++;
      this.counts.packetBytesReceived += data.length;
    } else {
      this.counts.framesReceived++;
      this.counts.frameBytesReceived += data.length;
    }
    if (this.handler === undefined) return 'refused';
    return this.handler(from, channel, data);
  }

  get localAddress(): Address {
    return this.inner.localAddress;
  }

  get packetOverheadBytes(): number {
    return this.inner.packetOverheadBytes ?? 0;
  }

  sendPacket(to: Address, data: Uint8Array): void {
    this.counts.packetsSent++;
    this.counts.packetBytesSent += data.length;
    this.inner.sendPacket(to, this.carrier === undefined ? data : this.carrier.wrap(to, data));
  }

  sendFrame(to: Address, data: Uint8Array): void {
    this.counts.framesSent++;
    this.counts.frameBytesSent += data.length;
    this.inner.sendFrame(to, data);
  }

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  onStreamRefused(handler: RefusedHandler): void {
    this.refused = handler;
  }

  /**
   * This view's own traffic: payloads and bytes its protocol sent and received (before any
   * encryption overhead); drops and stream gauges belong to the real transport's stats.
   */
  stats(): TransportStats {
    return { ...this.counts, dropped: {} };
  }

  /** The real transport belongs to the node, which closes it once every driver stopped. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Two views of `transport`: `main` receives every payload but the data plane's, `side` the data
 * plane's. A payload for a view without a handler yet is refused (nothing could decode it). A
 * refused stream connection is told to both (either may have queued frames to that peer).
 */
export function splitPort(transport: Transport): {
  main: Transport;
  side: Transport;
  /** Chain replication's messages (type 45), split off the data plane's range. */
  chain: Transport;
  /** Tree sync's messages (type 46), split off the data plane's range. */
  tree: Transport;
  setCarrier(carrier: PortCarrier): void;
} {
  const main = new PortView(transport);
  const side = new PortView(transport);
  const chain = new PortView(transport);
  const tree = new PortView(transport);
  transport.onReceive((from, channel, data) => {
    const carrier = main.carrier;
    if (
      carrier !== undefined &&
      channel === 'packet' &&
      data[ENVELOPE_TYPE_OFFSET] === CARRIED_TYPE
    ) {
      const packet = carrier.unwrap(from, data);
      side.countReceived(data.length - packet.length);
      return packet.length === 0 ? undefined : main.receive(from, channel, packet);
    }
    if (data[ENVELOPE_TYPE_OFFSET] === CHAIN_TYPE) return chain.receive(from, channel, data);
    if (data[ENVELOPE_TYPE_OFFSET] === TREE_TYPE) return tree.receive(from, channel, data);
    return (isDataPlanePayload(data) ? side : main).receive(from, channel, data);
  });
  transport.onStreamRefused((to: Address, refusal?: StreamRefusal) => {
    main.refused?.(to, refusal);
    side.refused?.(to, refusal);
    chain.refused?.(to, refusal);
    tree.refused?.(to, refusal);
  });
  return {
    main,
    side,
    chain,
    tree,
    setCarrier: (carrier) => {
      main.carrier = carrier;
    },
  };
}
