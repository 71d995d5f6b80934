/**
 * A Transport that passes every call to another one: the base of the transports that change one
 * thing on the way (RefusalTap observes refused connections, the raft node channel's mux takes
 * its own messages out of the receive path, a test's gate drops everything while cut). A
 * subclass overrides what it changes; everything else is the inner transport's.
 */
import type { Address } from '../base/address.js';
import type { ReceiveHandler, RefusedHandler, Transport, TransportStats } from './types.js';

export class DelegatingTransport implements Transport {
  constructor(protected readonly inner: Transport) {}

  get localAddress(): Address {
    return this.inner.localAddress;
  }

  get packetOverheadBytes(): number {
    return this.inner.packetOverheadBytes ?? 0;
  }

  sendPacket(to: Address, data: Uint8Array): void {
    this.inner.sendPacket(to, data);
  }

  sendFrame(to: Address, data: Uint8Array): void {
    this.inner.sendFrame(to, data);
  }

  onReceive(handler: ReceiveHandler): void {
    this.inner.onReceive(handler);
  }

  onStreamRefused(handler: RefusedHandler): void {
    this.inner.onStreamRefused(handler);
  }

  /** The inner transport's, where it has one. */
  get authenticatePeers(): Transport['authenticatePeers'] {
    return this.inner.authenticatePeers?.bind(this.inner);
  }

  stats(): TransportStats {
    return this.inner.stats();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
