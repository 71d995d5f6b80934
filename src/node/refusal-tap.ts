/**
 * A Transport that passes everything through and also tells an observer of every refused
 * stream connection (and the acceptor's reason, when it gave one). `swim` mode puts it under the
 * membership driver so that a failed join can say why the seeds would not talk to it ("its
 * inbound connection limit is full", "it could not authenticate our frames") instead of only
 * "every join address failed to connect".
 */
import type { Address } from '../base/address.js';
import type {
  ReceiveHandler,
  RefusedHandler,
  StreamRefusal,
  Transport,
  TransportStats,
} from '../transport/types.js';

export class RefusalTap implements Transport {
  constructor(
    private readonly inner: Transport,
    private readonly observe: (to: Address, refusal: StreamRefusal | undefined) => void,
  ) {}

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
    this.inner.onStreamRefused((to, refusal) => {
      this.observe(to, refusal);
      handler(to, refusal);
    });
  }

  stats(): TransportStats {
    return this.inner.stats();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
