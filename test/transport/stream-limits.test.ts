/**
 * The stream transport's limits before authentication (src/transport/tcp.ts, tcp-inbound.ts),
 * over real loopback sockets with small limits: the hello deadline, the authentication deadline,
 * the largest unauthenticated frame, the buffered-bytes caps (unauthenticated and total), the
 * eviction of the idlest unauthenticated connection at the inbound limit, and the refusal each
 * closed dialer reads. Memory is asserted with the transport's own gauges (`stats().streams`),
 * never with RSS. Every wait is a bounded wait for a condition.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { encodeFrameHeader } from '../../src/codec/frame.js';
import { NetTransport, type NetTransportOptions } from '../../src/transport/net.js';
import { describeStreamRefusal } from '../../src/transport/tcp-refusal.js';
import type { Delivery, StreamRefusal, Transport } from '../../src/transport/types.js';
import { TEST_NET_OPTIONS, waitUntil } from './harnesses.js';
import { destroyRawClients, frame, helloFrame, rawClient, type RawClient } from './raw-stream.js';

const open: Transport[] = [];

afterEach(async () => {
  destroyRawClients();
  await Promise.all(open.splice(0).map((t) => t.close()));
});

/** An acceptor whose handler answers `verdict(frame)` and records what it was given. */
async function acceptor(
  options: NetTransportOptions,
  verdict: (data: Uint8Array) => Delivery = () => 'accepted',
): Promise<{ transport: NetTransport; frames: Uint8Array[] }> {
  const transport = await NetTransport.bind('127.0.0.1:0', { ...TEST_NET_OPTIONS, ...options });
  open.push(transport);
  const frames: Uint8Array[] = [];
  transport.onReceive((_from, _channel, data) => {
    frames.push(Uint8Array.from(data));
    return verdict(data);
  });
  return { transport, frames };
}

function dropped(transport: Transport, reason: string): number {
  return transport.stats().dropped[reason] ?? 0;
}

function gauges(transport: Transport): NonNullable<ReturnType<Transport['stats']>['streams']> {
  const streams = transport.stats().streams;
  if (streams === undefined) throw new Error('NetTransport reports no stream gauges');
  return streams;
}

describe('hello deadline (helloTimeoutMs = 150)', () => {
  it('closes a connection that sends no hello, counts hello_timeout and tells the dialer', async () => {
    const { transport } = await acceptor({ helloTimeoutMs: 150, inboundAuthTimeoutMs: 0 });
    const silent = await rawClient(transport.localAddress);
    await waitUntil(silent.closed, 'the silent connection is closed');
    expect(silent.refusal()).toBe('hello_timeout');
    expect(dropped(transport, 'hello_timeout')).toBe(1);
    expect(gauges(transport).inbound).toBe(0);
  });

  it('closes a slow hello (one byte at a time) at the deadline, and keeps one sent in time', async () => {
    const { transport, frames } = await acceptor({ helloTimeoutMs: 200, inboundAuthTimeoutMs: 0 });
    const slow = await rawClient(transport.localAddress);
    const hello = helloFrame();
    slow.socket.write(hello.subarray(0, 1));
    const prompt = await rawClient(transport.localAddress);
    prompt.socket.write(Buffer.concat([helloFrame(), frame(Uint8Array.of(1))]));
    for (let i = 1; i < hello.length && !slow.closed(); i++) {
      slow.socket.write(hello.subarray(i, i + 1));
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    await waitUntil(slow.closed, 'the slow hello is cut off');
    expect(slow.refusal()).toBe('hello_timeout');
    await waitUntil(() => frames.length === 1, 'the prompt connection delivers its frame');
    expect(prompt.closed()).toBe(false);
    expect(dropped(transport, 'hello_timeout')).toBe(1);
  });
});

describe('authentication deadline (inboundAuthTimeoutMs = 200)', () => {
  it('closes a connection whose frames the receiver refuses, and keeps one it accepted', async () => {
    const { transport, frames } = await acceptor({ inboundAuthTimeoutMs: 200 }, (data) =>
      data[0] === 1 ? 'accepted' : 'refused',
    );
    const refused = await rawClient(transport.localAddress);
    refused.socket.write(Buffer.concat([helloFrame(), frame(Uint8Array.of(0))]));
    const member = await rawClient(transport.localAddress);
    member.socket.write(Buffer.concat([helloFrame(), frame(Uint8Array.of(1))]));
    await waitUntil(refused.closed, 'the refused connection is closed at its deadline');
    expect(refused.refusal()).toBe('auth_timeout');
    expect(dropped(transport, 'auth_timeout')).toBe(1);
    expect(frames).toHaveLength(2);
    expect(member.closed()).toBe(false);
    expect(gauges(transport)).toMatchObject({ inbound: 1, unauthenticated: 0 });
  });

  it('closes a connection at once when a frame fails authentication (auth_failed)', async () => {
    const { transport } = await acceptor({}, () => 'unauthenticated');
    const forger = await rawClient(transport.localAddress);
    forger.socket.write(Buffer.concat([helloFrame(), frame(Uint8Array.of(9))]));
    await waitUntil(forger.closed, 'the forger is closed');
    expect(forger.refusal()).toBe('auth_failed');
    expect(gauges(transport).inbound).toBe(0);
  });
});

describe('largest unauthenticated frame (unauthenticatedFrameBytesMax = 1000)', () => {
  it.each([
    [999, false],
    [1000, false],
    [1001, true],
  ])('a first frame of %i bytes: refused as oversized = %s', async (bytes, refusedAsOversized) => {
    const { transport, frames } = await acceptor({ unauthenticatedFrameBytesMax: 1000 });
    const client = await rawClient(transport.localAddress);
    client.socket.write(Buffer.concat([helloFrame(), frame(new Uint8Array(bytes).fill(1))]));
    if (refusedAsOversized) {
      await waitUntil(client.closed, 'the oversized first frame closes the connection');
      expect(client.refusal()).toBe('oversized');
      expect(frames).toEqual([]);
    } else {
      await waitUntil(() => frames.length === 1, 'the frame is delivered');
      expect(client.closed()).toBe(false);
    }
  });

  it('lifts the limit to frameBytesMax once the connection authenticated', async () => {
    const { transport, frames } = await acceptor({ unauthenticatedFrameBytesMax: 1000 });
    const client = await rawClient(transport.localAddress);
    client.socket.write(Buffer.concat([helloFrame(), frame(Uint8Array.of(1))]));
    client.socket.write(frame(new Uint8Array(50_000).fill(2)));
    await waitUntil(() => frames.length === 2, 'both frames are delivered');
    expect(frames[1]?.length).toBe(50_000);
  });
});

/** Opens `count` connections that each send a hello and `bodyBytes` of a frame declared `declaredBytes` long. */
async function partialFrames(
  address: Address,
  count: number,
  declaredBytes: number,
  bodyBytes: number,
  authenticatedFirst = false,
): Promise<RawClient[]> {
  const body = new Uint8Array(bodyBytes).fill(7);
  const clients = [];
  for (let i = 0; i < count; i++) {
    const client = await rawClient(address);
    const parts = [helloFrame()];
    if (authenticatedFirst) parts.push(frame(Uint8Array.of(1)));
    parts.push(Buffer.from(encodeFrameHeader(declaredBytes)), Buffer.from(body));
    client.socket.write(Buffer.concat(parts));
    clients.push(client);
  }
  return clients;
}

describe('buffered bytes of unfinished frames', () => {
  const KIB = 1024;

  it('unauthenticatedBufferedBytesMax = 256 KiB: the connection that would exceed it is closed (buffer_limit)', async () => {
    const { transport } = await acceptor({
      unauthenticatedBufferedBytesMax: 256 * KIB,
      inboundAuthTimeoutMs: 0,
    });
    // Each holds 100 KiB of a 1 MiB frame: two fit, the third would take the total to 300 KiB.
    const clients = await partialFrames(transport.localAddress, 6, 1024 * KIB, 100 * KIB);
    await waitUntil(
      () => clients.filter((c) => c.closed()).length === 4,
      'four of six connections closed',
    );
    expect(clients.filter((c) => c.refusal() === 'buffer_limit')).toHaveLength(4);
    expect(dropped(transport, 'buffer_limit')).toBe(4);
    const held = gauges(transport);
    expect(held.unauthenticatedBufferedBytes).toBeGreaterThanOrEqual(200 * KIB);
    expect(held.unauthenticatedBufferedBytesPeak).toBeLessThanOrEqual(256 * KIB);
    expect(held.bufferedBytesPeak).toBeLessThanOrEqual(256 * KIB);
    destroyRawClients();
    await waitUntil(() => gauges(transport).inbound === 0, 'the server sees every close');
    expect(gauges(transport)).toMatchObject({ bufferedBytes: 0, unauthenticatedBufferedBytes: 0 });
  });

  it('inboundBufferedBytesMax = 256 KiB holds for authenticated connections too', async () => {
    const { transport } = await acceptor({
      unauthenticatedBufferedBytesMax: 128 * KIB,
      inboundBufferedBytesMax: 256 * KIB,
    });
    const clients = await partialFrames(transport.localAddress, 5, 1024 * KIB, 100 * KIB, true);
    await waitUntil(
      () => clients.filter((c) => c.closed()).length === 3,
      'three of five connections closed',
    );
    expect(dropped(transport, 'buffer_limit')).toBe(3);
    expect(gauges(transport).bufferedBytesPeak).toBeLessThanOrEqual(256 * KIB);
    expect(gauges(transport).unauthenticatedBufferedBytesPeak).toBe(0);
  });

  it('a frame that completes within one read is never held, even while the cap is full', async () => {
    const { transport, frames } = await acceptor({
      unauthenticatedBufferedBytesMax: 100 * KIB,
      inboundAuthTimeoutMs: 0,
    });
    await partialFrames(transport.localAddress, 1, 1024 * KIB, 99 * KIB);
    await waitUntil(
      () => gauges(transport).unauthenticatedBufferedBytes >= 99 * KIB,
      'the cap is all but full',
    );
    const member = await rawClient(transport.localAddress);
    member.socket.write(Buffer.concat([helloFrame(), frame(new Uint8Array(2000).fill(1))]));
    await waitUntil(() => frames.length === 1, 'the whole small frame is delivered');
    expect(member.closed()).toBe(false);
  });
});

describe('inbound connection limit with idle unauthenticated connections (inboundConnectionsMax = 8)', () => {
  it('a new connection evicts the idlest unauthenticated one; members are never evicted', async () => {
    const { transport, frames } = await acceptor({
      inboundConnectionsMax: 8,
      helloTimeoutMs: 0,
      inboundAuthTimeoutMs: 0,
    });
    const members = [];
    for (let i = 0; i < 3; i++) {
      const member = await rawClient(transport.localAddress);
      member.socket.write(Buffer.concat([helloFrame(), frame(Uint8Array.of(1))]));
      members.push(member);
    }
    await waitUntil(() => frames.length === 3, 'three members authenticated');
    const idlers: RawClient[] = [];
    for (let i = 0; i < 5; i++) idlers.push(await rawClient(transport.localAddress));
    await waitUntil(() => gauges(transport).inbound === 8, 'the limit is full');
    const joiner = await rawClient(transport.localAddress);
    joiner.socket.write(Buffer.concat([helloFrame(), frame(Uint8Array.of(1))]));
    await waitUntil(() => frames.length === 4, 'the joiner is accepted while the limit is full');
    await waitUntil(() => idlers[0]?.closed() === true, 'the idlest idler is evicted');
    expect(idlers[0]?.refusal()).toBe('inbound_limit');
    expect(idlers.slice(1).some((c) => c.closed())).toBe(false);
    expect(members.some((c) => c.closed())).toBe(false);
    expect(dropped(transport, 'inbound_evicted')).toBe(1);
    expect(dropped(transport, 'inbound_limit')).toBe(0);
  });

  it('refuses a new connection (inbound_limit) only when every connection is a member', async () => {
    const { transport, frames } = await acceptor({ inboundConnectionsMax: 2 });
    for (let i = 0; i < 2; i++) {
      const member = await rawClient(transport.localAddress);
      member.socket.write(Buffer.concat([helloFrame(), frame(Uint8Array.of(1))]));
    }
    await waitUntil(() => frames.length === 2, 'two members authenticated');
    const third = await rawClient(transport.localAddress);
    await waitUntil(third.closed, 'the third is refused');
    expect(third.refusal()).toBe('inbound_limit');
    expect(dropped(transport, 'inbound_limit')).toBe(1);
  });
});

describe('the dialer reads the refusal', () => {
  it('a NetTransport dialing a full acceptor reports inbound_limit and counts refused_by_peer', async () => {
    const { transport: full, frames } = await acceptor({ inboundConnectionsMax: 1 });
    const member = await rawClient(full.localAddress);
    member.socket.write(Buffer.concat([helloFrame(), frame(Uint8Array.of(1))]));
    await waitUntil(() => frames.length === 1, 'the only slot is a member');
    const dialer = await NetTransport.bind('127.0.0.1:0', TEST_NET_OPTIONS);
    open.push(dialer);
    const refusals: [string, StreamRefusal | undefined][] = [];
    dialer.onStreamRefused((to, refusal) => refusals.push([to, refusal]));
    dialer.sendFrame(full.localAddress, Uint8Array.of(1, 2, 3));
    await waitUntil(() => refusals.length === 1, 'the dialer learns the refusal');
    expect(refusals).toEqual([[full.localAddress, 'inbound_limit']]);
    expect(dropped(dialer, 'refused_by_peer')).toBe(1);
    expect(describeStreamRefusal('inbound_limit')).toContain('inbound connection limit is full');
    expect(frames).toHaveLength(1);
  });
});
