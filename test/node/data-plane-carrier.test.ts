/**
 * The piggyback carrier (src/node/data-plane-carrier.ts; docs/design/data-plane.md, "Piggyback
 * carrier"): a gossip round's delta payload rides in membership's next packets to distinct live
 * members while they have room under the packet budget (memberlist's compound messages), the
 * copies that found no packet go alone when the wait ends or the next round comes, and a
 * carried frame that does not decode is refused with a stable code and changes nothing. The
 * end-to-end path (buildNode, both carriers, faults) is `registry-piggyback` in
 * test/sim/registry.test.ts.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNode } from '../../src/node/node.js';
import { encodeDeltaPayload } from '../../src/crdt/registry/codec.js';
import { registryConfig } from '../../src/crdt/registry/config.js';
import { waitFor } from '../helpers/wait.js';
import { parseAddress, type Address } from '../../src/base/address.js';
import { ms, type Clock, type Millis, type TimerHandle } from '../../src/base/time.js';
import { Rng } from '../../src/base/rng.js';
import {
  CARRIED_MESSAGE_TYPE,
  carriedOverheadBytes,
  decodeCarried,
  DeltaCarrier,
  encodeCarried,
} from '../../src/node/data-plane-carrier.js';

class ManualClock implements Clock {
  nowMs = 0;
  timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  now(): Millis {
    return ms(this.nowMs);
  }
  setTimer(delayMs: Millis, fn: () => void): TimerHandle {
    const t = { at: this.nowMs + delayMs, fn, cancelled: false };
    this.timers.push(t);
    return { cancel: () => void (t.cancelled = true) };
  }
  advance(byMs: number): void {
    this.nowMs += byMs;
    for (const t of this.timers.splice(0))
      if (t.cancelled) continue;
      else if (t.at <= this.nowMs) t.fn();
      else this.timers.push(t);
  }
}

const A = parseAddress('127.0.0.1:7001');
const B = parseAddress('127.0.0.1:7002');
const C = parseAddress('127.0.0.1:7003');
const D = parseAddress('127.0.0.1:7004');
const STRANGER = parseAddress('127.0.0.1:7999');

function setup(live: Address[] = [A, B, C, D], packetBytesMax = 1400) {
  const clock = new ManualClock();
  const alone: { to: Address; frame: Uint8Array }[] = [];
  const carrier = new DeltaCarrier({
    clusterId: 'c1',
    packetBytesMax,
    waitMs: ms(200),
    clock,
    rng: new Rng(1),
    live: () => live,
    sendAlone: (to, frame) => alone.push({ to, frame }),
  });
  return { clock, alone, carrier };
}

const packet = (bytes: number): Uint8Array => new Uint8Array(bytes).fill(7);
const payload = new Uint8Array([1, 2, 3, 4, 5]);

describe('carried frames', () => {
  it('round-trip: the membership packet and the delta payload come back byte for byte', () => {
    const frame = encodeCarried('c1', packet(90), payload);
    expect(frame[3]).toBe(CARRIED_MESSAGE_TYPE);
    expect(frame.length).toBe(carriedOverheadBytes('c1', 90) + 90 + payload.length);
    const got = decodeCarried(frame, 'c1');
    expect(got).toEqual({ ok: true, packet: packet(90), payload });
    const alone = decodeCarried(encodeCarried('c1', new Uint8Array(0), payload), 'c1');
    expect(alone.ok && alone.packet.length).toBe(0);
  });

  it('refuses bad frames with stable codes', () => {
    const frame = encodeCarried('c1', packet(20), payload);
    expect(decodeCarried(frame, 'other')).toMatchObject({ code: 'ERR_DECODE_WRONG_CLUSTER' });
    expect(decodeCarried(frame.subarray(0, 12), 'c1')).toMatchObject({ ok: false });
    expect(decodeCarried(encodeCarried('c1', packet(20), new Uint8Array(0)), 'c1')).toMatchObject({
      code: 'ERR_DECODE_MALFORMED',
    });
    const badVersion = frame.slice();
    badVersion[2] = 99;
    expect(decodeCarried(badVersion, 'c1')).toMatchObject({ code: 'ERR_DECODE_BAD_VERSION' });
    const badMagic = frame.slice();
    badMagic[0] = 0;
    expect(decodeCarried(badMagic, 'c1')).toMatchObject({ code: 'ERR_DECODE_MALFORMED' });
    expect(decodeCarried(new Uint8Array(2000), 'c1')).toMatchObject({
      code: 'ERR_DECODE_OVERSIZED',
    });
    // A packet length past the end of the frame.
    const long = encodeCarried('c1', packet(20), payload);
    long[7] = 120;
    expect(decodeCarried(long, 'c1')).toMatchObject({ ok: false });
  });
});

describe('DeltaCarrier', () => {
  it('attaches a round to membership packets to distinct live members, `copies` times', () => {
    const { carrier, alone, clock } = setup();
    carrier.offer(payload, 2);
    const first = carrier.wrap(A, packet(100));
    expect(decodeCarried(first, 'c1')).toEqual({ ok: true, packet: packet(100), payload });
    // A second packet to the same member, and a packet to a stranger, go bare.
    expect(carrier.wrap(A, packet(100))).toEqual(packet(100));
    expect(carrier.wrap(STRANGER, packet(100))).toEqual(packet(100));
    expect(carrier.wrap(B, packet(100)).length).toBeGreaterThan(100);
    // Two copies sent: the round is done, nothing more rides and nothing goes alone.
    expect(carrier.wrap(C, packet(100))).toEqual(packet(100));
    clock.advance(1000);
    expect(alone).toEqual([]);
    expect(carrier.counts).toMatchObject({ carried: 2, alone: 0 });
  });

  it('a packet without room under the budget goes bare and is counted', () => {
    const { carrier } = setup([A, B], 120);
    carrier.offer(payload, 2);
    const room = 120 - carriedOverheadBytes('c1', 100) - payload.length;
    expect(carrier.wrap(A, packet(room + 1))).toEqual(packet(room + 1));
    expect(carrier.counts.noRoom).toBe(1);
    expect(carrier.wrap(A, packet(100)).length).toBe(120 - (room - 100));
  });

  it('copies that found no packet go alone after the wait, to live members not yet reached', () => {
    const { carrier, alone, clock } = setup();
    carrier.offer(payload, 3);
    carrier.wrap(A, packet(50));
    clock.advance(199);
    expect(alone).toEqual([]);
    clock.advance(1);
    expect(alone.length).toBe(2);
    expect(alone.map((a) => a.to)).not.toContain(A);
    expect(new Set(alone.map((a) => a.to)).size).toBe(2);
    for (const { frame } of alone)
      expect(decodeCarried(frame, 'c1')).toEqual({ ok: true, packet: new Uint8Array(0), payload });
    expect(carrier.counts).toMatchObject({ carried: 1, alone: 2 });
    // After the round ended, packets go bare.
    expect(carrier.wrap(B, packet(50))).toEqual(packet(50));
  });

  it('a new round sends the previous round’s missing copies alone first', () => {
    const { carrier, alone } = setup();
    carrier.offer(payload, 2);
    carrier.offer(new Uint8Array([9]), 2);
    expect(alone.length).toBe(2);
    expect(decodeCarried(carrier.wrap(C, packet(10)), 'c1')).toMatchObject({
      payload: new Uint8Array([9]),
    });
  });

  it('with no live member nothing is held; copies are capped at the live count', () => {
    const none = setup([]);
    none.carrier.offer(payload, 3);
    expect(none.carrier.wrap(A, packet(10))).toEqual(packet(10));
    none.clock.advance(1000);
    expect(none.alone).toEqual([]);
    const two = setup([A, B]);
    two.carrier.offer(payload, 3);
    two.clock.advance(1000);
    expect(two.alone.length).toBe(2);
  });
});

describe('carried frames on a real port', () => {
  it('bad frames are dropped and counted by code; nothing changes', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shoal-carried-'));
    const node = await createNode({
      name: 'carried',
      dataDir,
      bind: '127.0.0.1:0',
      mode: { kind: 'swim', seeds: [] },
      clusterId: 'c1',
      profile: 'local',
    });
    const socket = createSocket('udp4');
    try {
      node.services.advertise({ name: 'api', address: '10.0.0.1:80' });
      const before = node.services.list();
      const [host, port] = [node.address.split(':')[0], Number(node.address.split(':')[1])];
      const send = (frame: Uint8Array) =>
        new Promise<void>((resolve, reject) =>
          socket.send(frame, port, host, (err) => (err ? reject(err) : resolve())),
        );
      // Another cluster's frame; a frame whose deltas do not decode; an empty delta list.
      await send(encodeCarried('other', new Uint8Array(0), new Uint8Array([1, 2, 3])));
      await send(encodeCarried('c1', new Uint8Array(0), new Uint8Array([5, 0xff, 0xff])));
      const empty = encodeDeltaPayload([], 1200, registryConfig('local')).bytes;
      await send(encodeCarried('c1', new Uint8Array(0), empty));
      const errors = () => node.stats().dataPlane?.decodeErrors ?? {};
      await waitFor(
        () => Object.values(errors()).reduce((a, b) => a + b, 0) >= 2,
        10_000,
        () => `two decode errors counted (have ${JSON.stringify(errors())})`,
      );
      expect(errors()['ERR_DECODE_WRONG_CLUSTER']).toBe(1);
      expect(node.services.list()).toEqual(before);
      expect(node.stats().dataPlane?.counters['deltasApplied'] ?? 0).toBe(0);
    } finally {
      socket.close();
      await node.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
