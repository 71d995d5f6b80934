/**
 * One cluster port for membership and the data plane (src/node/port-split.ts): payloads go by
 * their envelope type byte (40-49 to the data plane, everything else, membership's compressed
 * wrapper and unknown types included, to membership), refusals reach both, each view counts its
 * own traffic, and closing a view leaves the real transport open.
 */
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import type { Channel } from '../../src/base/channel.js';
import { isDataPlanePayload, splitPort } from '../../src/node/port-split.js';
import {
  emptyStats,
  type ReceiveHandler,
  type RefusedHandler,
  type Transport,
} from '../../src/transport/types.js';

class FakeTransport implements Transport {
  readonly localAddress = '127.0.0.1:1' as Address;
  receive: ReceiveHandler | undefined;
  refused: RefusedHandler | undefined;
  sent: [Channel, Uint8Array][] = [];
  closed = false;
  sendPacket(_to: Address, data: Uint8Array): void {
    this.sent.push(['packet', data]);
  }
  sendFrame(_to: Address, data: Uint8Array): void {
    this.sent.push(['stream', data]);
  }
  onReceive(handler: ReceiveHandler): void {
    this.receive = handler;
  }
  onStreamRefused(handler: RefusedHandler): void {
    this.refused = handler;
  }
  stats = emptyStats;
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

const FROM = '127.0.0.1:2' as Address;
/** An envelope head: magic 'SH', version 2, then the type byte. */
const ofType = (type: number): Uint8Array => Uint8Array.from([0x53, 0x48, 2, type, 0, 0]);

describe('port split', () => {
  it('routes by the envelope type byte: 40-49 to the data plane, the rest to membership', () => {
    for (const [type, side] of [
      [39, false],
      [40, true],
      [43, true],
      [49, true],
      [50, false],
      [15, false],
      [1, false],
      [255, false],
    ] as const)
      expect(isDataPlanePayload(ofType(type)), `type ${type}`).toBe(side);
    expect(isDataPlanePayload(Uint8Array.from([0x53, 0x48, 2])), 'too short').toBe(false);

    const real = new FakeTransport();
    const { main, side } = splitPort(real);
    const got: string[] = [];
    main.onReceive((_from, _channel, data) => {
      got.push(`main ${data[3]}`);
      return 'accepted';
    });
    expect(real.receive?.(FROM, 'packet', ofType(41)), 'no handler yet: refused').toBe('refused');
    side.onReceive((_from, _channel, data) => {
      got.push(`side ${data[3]}`);
      return 'accepted';
    });
    for (const type of [1, 40, 15, 43, 250]) real.receive?.(FROM, 'stream', ofType(type));
    expect(got).toEqual(['main 1', 'side 40', 'main 15', 'side 43', 'main 250']);
    expect(side.stats()).toMatchObject({
      packetsReceived: 1,
      framesReceived: 2,
      frameBytesReceived: 12,
    });
    expect(main.stats()).toMatchObject({ framesReceived: 3 });
  });

  it('sends through the real transport, counted per view; refusals reach both; close is the node’s', async () => {
    const real = new FakeTransport();
    const { main, side } = splitPort(real);
    side.sendPacket(FROM, ofType(40));
    side.sendFrame(FROM, ofType(41));
    main.sendPacket(FROM, ofType(1));
    expect(real.sent.map(([c, d]) => `${c} ${d[3]}`)).toEqual([
      'packet 40',
      'stream 41',
      'packet 1',
    ]);
    expect(side.stats()).toMatchObject({ packetsSent: 1, framesSent: 1, packetBytesSent: 6 });
    expect(main.stats()).toMatchObject({ packetsSent: 1, framesSent: 0 });
    const refused: string[] = [];
    main.onStreamRefused((to) => refused.push(`main ${to}`));
    side.onStreamRefused((to, why) => refused.push(`side ${to} ${why}`));
    real.refused?.(FROM, 'auth_failed');
    expect(refused).toEqual([`main ${FROM}`, `side ${FROM} auth_failed`]);
    await side.close();
    await main.close();
    expect(real.closed).toBe(false);
    expect(main.localAddress).toBe(real.localAddress);
  });
});
