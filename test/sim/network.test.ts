import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { hasErrorCode } from '../../src/base/errors.js';
import { Rng } from '../../src/base/rng.js';
import { SimClock } from '../../src/sim/clock.js';
import type { LinkConfig } from '../../src/sim/link-config.js';
import { SimNetwork } from '../../src/sim/network.js';
import { simAddress } from '../../src/sim/trace.js';
import type { Channel } from '../../src/transport/types.js';

const A = simAddress('a');
const B = simAddress('b');
const C = simAddress('c');

interface Received {
  to: Address;
  from: Address;
  channel: Channel;
  seq: number;
  atMs: number;
}

function setup(link: Partial<LinkConfig> = {}, pausedInboxMax?: number) {
  const clock = new SimClock();
  const network = new SimNetwork({
    clock,
    rng: new Rng(42).fork('network'),
    link,
    ...(pausedInboxMax === undefined ? {} : { pausedInboxMax }),
  });
  const got: Received[] = [];
  for (const address of [A, B, C]) {
    network.attach(address, (from, channel, data) =>
      got.push({ to: address, from, channel, seq: data[0]! * 256 + data[1]!, atMs: clock.now() }),
    );
  }
  const send = (from: Address, to: Address, channel: Channel, seq: number): void =>
    network.send(from, to, channel, new Uint8Array([seq >> 8, seq & 0xff]));
  const run = (): void => {
    clock.runUntilIdle({ eventsMax: 100_000 });
  };
  return { clock, network, got, send, run };
}

describe('SimNetwork', () => {
  it('refuses a stream frame to a crashed node back to its sender one latency later (a TCP RST), never a packet or a paused node', () => {
    const clock = new SimClock();
    const network = new SimNetwork({
      clock,
      rng: new Rng(7).fork('network'),
      link: { latencyMs: 5 },
    });
    const refused: { by: Address; to: Address; atMs: number }[] = [];
    for (const address of [A, B, C])
      network.attach(
        address,
        () => undefined,
        (to) => refused.push({ by: address, to, atMs: clock.now() }),
      );
    network.crash(B);
    network.pause(C);
    network.send(A, B, 'packet', new Uint8Array([1]));
    network.send(A, B, 'stream', new Uint8Array([2]));
    network.send(A, C, 'stream', new Uint8Array([3]));
    clock.runUntilIdle({ eventsMax: 1000 });
    expect(refused).toEqual([{ by: A, to: B, atMs: 10 }]);
    network.partition([A], [B]);
    network.send(A, B, 'stream', new Uint8Array([4]));
    clock.runUntilIdle({ eventsMax: 1000 });
    expect(refused).toHaveLength(1);
  });

  it('delivers after the base latency, copies the payload, refuses a second attach', () => {
    const { network, got, run } = setup({ latencyMs: 7 });
    const data = new Uint8Array([0, 1]);
    network.send(A, B, 'packet', data);
    data[1] = 99; // the sender reuses its buffer: the network must have copied
    run();
    expect(got).toEqual([{ to: B, from: A, channel: 'packet', seq: 1, atMs: 7 }]);
    let code = false;
    try {
      network.attach(A, () => undefined);
    } catch (err) {
      code = hasErrorCode(err, 'ERR_TRANSPORT_BIND');
    }
    expect(code).toBe(true);
  });

  it('loses packets at the configured rate (5% of 20,000 within bounds)', () => {
    const { got, send, run, network } = setup({ lossPpm: 50_000 });
    for (let i = 0; i < 20_000; i++) send(A, B, 'packet', i % 65536);
    run();
    const lost = 20_000 - got.length;
    expect(lost).toBeGreaterThan(800);
    expect(lost).toBeLessThan(1200);
    expect(network.stats().dropped.loss).toBe(lost);
  });

  it('duplicates packets at the configured rate; never duplicates stream frames', () => {
    const { got, send, run, network } = setup({ duplicatePpm: 100_000 });
    for (let i = 0; i < 5000; i++) {
      send(A, B, 'packet', i);
      send(A, C, 'stream', i);
    }
    run();
    const packets = got.filter((r) => r.channel === 'packet').length;
    expect(packets - 5000).toBe(network.stats().duplicated);
    expect(packets - 5000).toBeGreaterThan(400);
    expect(packets - 5000).toBeLessThan(600);
    expect(got.filter((r) => r.channel === 'stream').map((r) => r.seq)).toEqual(
      Array.from({ length: 5000 }, (_, i) => i),
    );
  });

  it('reorders packets with jitter but keeps every stream in order', () => {
    const { got, send, run, clock } = setup({
      jitterMs: 20,
      reorderPpm: 100_000,
      reorderDelayMs: 30,
    });
    for (let i = 0; i < 500; i++) {
      send(A, B, 'packet', i);
      send(A, B, 'stream', i);
      clock.runUntil(clock.now() + 1, { eventsMax: 10_000 });
    }
    run();
    const packets = got.filter((r) => r.channel === 'packet').map((r) => r.seq);
    const frames = got.filter((r) => r.channel === 'stream').map((r) => r.seq);
    expect(packets).toHaveLength(500);
    expect(packets).not.toEqual([...packets].sort((x, y) => x - y));
    expect(frames).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('a partition blocks both ways, including payloads already in flight; heal restores', () => {
    const { got, send, run, network } = setup({ latencyMs: 10 });
    send(A, B, 'packet', 1); // in flight when the partition starts
    network.partition([A], [B, C]);
    send(A, B, 'packet', 2);
    send(B, A, 'stream', 3);
    send(C, A, 'packet', 4);
    send(B, C, 'packet', 5); // same side: delivered
    run();
    expect(got.map((r) => r.seq)).toEqual([5]);
    expect(network.stats().dropped.partition).toBe(4);
    network.heal();
    send(A, B, 'packet', 6);
    run();
    expect(got.map((r) => r.seq)).toEqual([5, 6]);
  });

  it('a one-way partition blocks one direction only', () => {
    const { got, send, run, network } = setup();
    network.partitionOneWay(A, B);
    send(A, B, 'packet', 1);
    send(B, A, 'packet', 2);
    send(A, B, 'stream', 3);
    run();
    expect(got.map((r) => `${r.to}<-${r.from}#${r.seq}`)).toEqual([`${A}<-${B}#2`]);
    expect(network.dropsOnPath(A, B, 'stream')).toBe(1);
  });

  it('a paused node receives nothing and runs no timers; on resume it gets the queue in order', () => {
    const { got, send, run, network, clock } = setup({}, 3);
    const bTimers: number[] = [];
    clock.nodeClock(B).setTimer(clock.now(), () => bTimers.push(clock.now()));
    network.pause(B);
    for (let i = 1; i <= 5; i++) send(A, B, i % 2 === 0 ? 'stream' : 'packet', i);
    send(B, A, 'packet', 9); // a paused process sends nothing
    clock.runUntil(100, { eventsMax: 100 });
    expect(got).toEqual([]);
    expect(bTimers).toEqual([]);
    expect(network.stats().dropped).toEqual({ paused_overflow: 2, sender_paused: 1 });
    network.resume(B);
    run();
    expect(got.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(got.every((r) => r.atMs === 100)).toBe(true);
    expect(bTimers).toEqual([100]);
  });

  it('a crash drops stream frames in flight to and from the node, even after a quick restart; packets still arrive', () => {
    const { got, send, run, network, clock } = setup({ latencyMs: 10 });
    send(A, B, 'stream', 1);
    send(B, C, 'packet', 2);
    send(C, A, 'packet', 3);
    clock.runUntil(5, { eventsMax: 10 });
    network.crash(B);
    network.attach(B, (from, channel, data) =>
      got.push({ to: B, from, channel, seq: data[1]!, atMs: clock.now() }),
    );
    send(A, B, 'stream', 4);
    run();
    expect(got.map((r) => r.seq)).toEqual([2, 3, 4]);
    expect(network.stats().dropped.crash).toBe(1);
    expect(network.dropsOnPath(A, B, 'stream')).toBe(1);
  });

  it('drops stream frames at the stream loss rate, and payloads to unattached or oversized', () => {
    const { got, send, run, network } = setup({ streamLossPpm: 100_000 });
    for (let i = 0; i < 2000; i++) {
      send(A, B, 'stream', i);
      run(); // one frame in flight at a time: a broken connection takes only its own frame
    }
    network.send(A, simAddress('nobody'), 'packet', new Uint8Array(1));
    network.send(A, B, 'packet', new Uint8Array(1401));
    run();
    const lost = 2000 - got.length;
    expect(lost).toBe(network.stats().dropped.stream_loss);
    expect(lost).toBeGreaterThan(150);
    expect(lost).toBeLessThan(250);
    const seqs = got.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(network.stats().dropped.unattached).toBe(1);
    expect(network.stats().dropped.oversized).toBe(1);
  });

  it('a lost frame breaks its connection: what is still in flight on it dies, the next frame reconnects', () => {
    const { got, send, run, network } = setup({ latencyMs: 5 });
    send(A, B, 'stream', 1);
    network.setLink(A, B, { streamLossPpm: 1_000_000 });
    send(A, B, 'stream', 2); // lost: breaks the connection frame 1 is on
    network.setLink(A, B, { streamLossPpm: 0 });
    send(A, B, 'stream', 3);
    run();
    expect(got.map((r) => r.seq)).toEqual([3]);
    expect(network.stats().dropped.stream_loss).toBe(2);
  });

  it('a long delay holds a payload seconds back', () => {
    const { got, send, run, network } = setup({ longDelayPpm: 1_000_000, longDelayMs: 4_000 });
    for (let i = 0; i < 20; i++) send(A, B, 'packet', i);
    run();
    expect(Math.max(...got.map((r) => r.atMs))).toBeGreaterThan(1_000);
    expect(network.stats().longDelayed).toBe(20);
  });

  it('turning faults off stops loss; bad link config is rejected naming the field', () => {
    const { got, send, run, network } = setup({ lossPpm: 1_000_000 });
    send(A, B, 'packet', 1);
    network.setFaultsActive(false);
    send(A, B, 'packet', 2);
    run();
    expect(got.map((r) => r.seq)).toEqual([2]);
    expect(() => network.setLink(A, B, { lossPpm: 1_000_001 })).toThrow(
      /lossPpm \(1000001\) must be an integer in 0\.\.1000000/,
    );
    network.setLink(A, B, { latencyMs: 50 });
    send(A, B, 'packet', 3);
    send(A, C, 'packet', 4);
    run();
    expect(got.map((r) => r.seq)).toEqual([2, 4, 3]);
  });
});
