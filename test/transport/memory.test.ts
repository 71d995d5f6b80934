/** MemoryTransport specifics beyond the compliance suite: fabric address conflicts and copy-on-send. */
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { hasErrorCode } from '../../src/base/errors.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import { record } from './compliance.js';
import { QueueFabric } from './test-fabric.js';

const A = '10.0.0.1:1' as Address;
const B = '10.0.0.2:1' as Address;

describe('MemoryTransport', () => {
  it('refuses an address already attached with ERR_TRANSPORT_BIND, and frees it on close', async () => {
    const fabric = new QueueFabric();
    const a = new MemoryTransport(fabric, A);
    let err: unknown;
    try {
      new MemoryTransport(fabric, A);
    } catch (e) {
      err = e;
    }
    expect(hasErrorCode(err, 'ERR_TRANSPORT_BIND')).toBe(true);
    await a.close();
    expect(new MemoryTransport(fabric, A).localAddress).toBe(A);
  });

  it('copies payloads on send, so reusing the buffer does not alter a message in flight', () => {
    const fabric = new QueueFabric();
    const a = new MemoryTransport(fabric, A);
    const log = record(new MemoryTransport(fabric, B));
    const buffer = Uint8Array.of(1, 2);
    a.sendPacket(B, buffer);
    buffer[0] = 99;
    fabric.pumpUntil(() => false);
    expect(log.map((r) => r.data)).toEqual([Uint8Array.of(1, 2)]);
  });

  it('does not deliver to a closed transport', async () => {
    const fabric = new QueueFabric();
    const a = new MemoryTransport(fabric, A);
    const b = new MemoryTransport(fabric, B);
    const log = record(b);
    a.sendFrame(B, Uint8Array.of(1));
    await b.close();
    fabric.pumpUntil(() => false);
    expect(log).toEqual([]);
    expect(fabric.undeliverable).toBe(1);
  });
});
