/**
 * A Transport that passes everything through and also tells an observer of every refused
 * stream connection (and the acceptor's reason, when it gave one). `swim` mode puts it under the
 * membership driver so that a failed join can say why the seeds would not talk to it ("its
 * inbound connection limit is full", "it could not authenticate our frames") instead of only
 * "every join address failed to connect".
 */
import type { Address } from '../base/address.js';
import { DelegatingTransport } from '../transport/delegating.js';
import type { RefusedHandler, StreamRefusal, Transport } from '../transport/types.js';

export class RefusalTap extends DelegatingTransport {
  constructor(
    inner: Transport,
    private readonly observe: (to: Address, refusal: StreamRefusal | undefined) => void,
  ) {
    super(inner);
  }

  override onStreamRefused(handler: RefusedHandler): void {
    this.inner.onStreamRefused((to, refusal) => {
      this.observe(to, refusal);
      handler(to, refusal);
    });
  }
}
