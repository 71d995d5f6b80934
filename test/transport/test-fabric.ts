/**
 * A deterministic in-memory Fabric for transport tests: sends are queued in FIFO order and
 * delivered only when the test pumps, so no test depends on timing. Payloads to addresses with
 * no endpoint are counted as undeliverable (a real network would just lose them).
 */
import type { Address } from '../../src/base/address.js';
import { ShoalError } from '../../src/base/errors.js';
import type { Channel, Fabric, RefusedHandler } from '../../src/transport/types.js';

type Deliver = (from: Address, channel: Channel, data: Uint8Array) => void;

interface InFlight {
  from: Address;
  to: Address;
  channel: Channel;
  data: Uint8Array;
}

export class QueueFabric implements Fabric {
  private readonly endpoints = new Map<Address, Deliver>();
  private readonly refusedHandlers = new Map<Address, RefusedHandler>();
  private readonly queue: InFlight[] = [];
  undeliverable = 0;
  /** Optional hook to rewrite payloads in flight (tamper tests). */
  rewrite: ((message: InFlight) => Uint8Array) | undefined;

  attach(address: Address, deliver: Deliver, refused?: RefusedHandler): void {
    if (this.endpoints.has(address))
      throw new ShoalError('ERR_TRANSPORT_BIND', `${address} is already attached`);
    this.endpoints.set(address, deliver);
    if (refused !== undefined) this.refusedHandlers.set(address, refused);
  }

  detach(address: Address): void {
    this.endpoints.delete(address);
    this.refusedHandlers.delete(address);
  }

  send(from: Address, to: Address, channel: Channel, data: Uint8Array): void {
    this.queue.push({ from, to, channel, data });
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Delivers the oldest queued payload; false when nothing is queued. */
  pumpOne(): boolean {
    const message = this.queue.shift();
    if (message === undefined) return false;
    const deliver = this.endpoints.get(message.to);
    if (deliver === undefined) {
      this.undeliverable++;
      // A stream to nothing is refused back to its sender, as a TCP RST would be.
      if (message.channel === 'stream') this.refusedHandlers.get(message.from)?.(message.to);
      return true;
    }
    deliver(message.from, message.channel, this.rewrite ? this.rewrite(message) : message.data);
    return true;
  }

  /** Pumps until `condition` holds; false if the queue ran dry (or `stepsMax` passed) first. */
  pumpUntil(condition: () => boolean, stepsMax = 100_000): boolean {
    for (let step = 0; step < stepsMax; step++) {
      if (condition()) return true;
      if (!this.pumpOne()) return condition();
    }
    return condition();
  }
}
