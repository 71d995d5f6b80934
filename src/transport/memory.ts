/**
 * `MemoryTransport`: the Transport over an in-memory `Fabric` (the simulator's SimNetwork in
 * simulation runs; a hand-pumped queue in tests). Same semantics as `NetTransport` where the
 * fabric allows: packets over `LIMITS.packetBytesMax` and frames over `LIMITS.frameBytesMax`
 * are dropped and counted, malformed addresses are counted, sends after close are counted, and
 * payloads are copied on send (as a wire would) so a caller reusing its buffer cannot alter a
 * message in flight. Delivery, delay, loss and ordering are the fabric's business.
 */
import type { Address } from '../base/address.js';
import { LIMITS } from '../base/limits.js';
import { copyStats, countDrop, destination } from './counters.js';
import {
  emptyStats,
  type Channel,
  type Fabric,
  type ReceiveHandler,
  type RefusedHandler,
  type Transport,
  type TransportStats,
} from './types.js';

export class MemoryTransport implements Transport {
  readonly packetOverheadBytes = 0;
  private readonly counters = emptyStats();
  private handler: ReceiveHandler | undefined;
  private refusedHandler: RefusedHandler | undefined;
  private closed = false;

  /** Attaches to `fabric` at `address`; the fabric throws ERR_TRANSPORT_BIND if it is taken. */
  constructor(
    private readonly fabric: Fabric,
    readonly localAddress: Address,
  ) {
    fabric.attach(
      localAddress,
      (from, channel, data) => this.deliver(from, channel, data),
      (to) => {
        if (!this.closed) this.refusedHandler?.(to);
      },
    );
  }

  sendPacket(to: Address, data: Uint8Array): void {
    if (!this.admit(to, data, LIMITS.packetBytesMax)) return;
    this.counters.packetsSent++;
    this.counters.packetBytesSent += data.length;
    this.fabric.send(this.localAddress, to, 'packet', data.slice());
  }

  sendFrame(to: Address, data: Uint8Array): void {
    if (!this.admit(to, data, LIMITS.frameBytesMax)) return;
    this.counters.framesSent++;
    this.counters.frameBytesSent += data.length;
    this.fabric.send(this.localAddress, to, 'stream', data.slice());
  }

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  onStreamRefused(handler: RefusedHandler): void {
    this.refusedHandler = handler;
  }

  stats(): TransportStats {
    return copyStats(this.counters);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.fabric.detach(this.localAddress);
    }
    return Promise.resolve();
  }

  /** The checks every send makes; false (and counted) when the payload must not leave. */
  private admit(to: Address, data: Uint8Array, bytesMax: number): boolean {
    if (this.closed) {
      countDrop(this.counters, 'closed');
      return false;
    }
    if (data.length > bytesMax) {
      countDrop(this.counters, 'oversized');
      return false;
    }
    return destination(this.counters, to) !== undefined;
  }

  private deliver(from: Address, channel: Channel, data: Uint8Array): void {
    if (this.closed) return;
    if (channel === 'packet') {
      this.counters.packetsReceived++;
      this.counters.packetBytesReceived += data.length;
    } else {
      this.counters.framesReceived++;
      this.counters.frameBytesReceived += data.length;
    }
    this.handler?.(from, channel, data);
  }
}
