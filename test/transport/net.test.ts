/**
 * NetTransport specifics beyond the compliance suite, on 127.0.0.1: bind failures, the per-peer
 * send queue limit (drop oldest), the stream hello, frame-size refusal from the header, the
 * inbound connection limit, and the outbound idle timeout. Every wait is a bounded wait for a
 * condition.
 */
import { createSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import { LIMITS } from '../../src/base/limits.js';
import { FrameDecoder, encodeFrameHeader } from '../../src/codec/frame.js';
import { splitAddress, type Address, type HostPort } from '../../src/base/address.js';
import { NetTransport, type NetTransportOptions } from '../../src/transport/net.js';
import { TCP_DEFAULTS } from '../../src/transport/tcp.js';
import { OutboundPeer } from '../../src/transport/tcp-peer.js';
import { emptyStats } from '../../src/transport/types.js';
import { encodeHello } from '../../src/transport/tcp-hello.js';
import { destroyRawClients, frame, rawClient } from './raw-stream.js';
import { record } from './compliance.js';
import { TEST_NET_OPTIONS, freeAddress, waitUntil } from './harnesses.js';

const open: NetTransport[] = [];
const sockets: Socket[] = [];
const servers: Server[] = [];
const peers: OutboundPeer[] = [];

async function bind(
  address = '127.0.0.1:0',
  options: NetTransportOptions = TEST_NET_OPTIONS,
): Promise<NetTransport> {
  const transport = await NetTransport.bind(address, options);
  open.push(transport);
  return transport;
}

afterEach(async () => {
  for (const peer of peers.splice(0)) peer.close();
  destroyRawClients();
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) server.close();
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function bindError(address: string): Promise<unknown> {
  return NetTransport.bind(address).then(
    (t) => {
      open.push(t);
      return undefined;
    },
    (err: unknown) => err,
  );
}

describe('NetTransport bind', () => {
  it('binds UDP and TCP on the same port when asked for port 0', async () => {
    const a = await bind();
    const port = Number(a.localAddress.split(':')[1]);
    expect(port).toBeGreaterThan(0);
    expect(a.localAddress).toBe(`127.0.0.1:${port}`);
  });

  it('gives ERR_TRANSPORT_BIND when TCP is in use', async () => {
    const a = await bind();
    const err = await bindError(a.localAddress);
    expect(hasErrorCode(err, 'ERR_TRANSPORT_BIND')).toBe(true);
    expect(String((err as Error).message)).toContain('EADDRINUSE');
  });

  it('gives ERR_TRANSPORT_BIND when only UDP is in use, and releases the TCP port it took', async () => {
    const squatter = createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind({ address: '127.0.0.1', port: 0 }, resolve));
    const address = `127.0.0.1:${squatter.address().port}`;
    const err = await bindError(address);
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    expect(hasErrorCode(err, 'ERR_TRANSPORT_BIND')).toBe(true);
    expect((await bind(address)).localAddress).toBe(address);
  });

  it('gives ERR_TRANSPORT_ADDRESS for a malformed address', async () => {
    expect(hasErrorCode(await bindError('localhost'), 'ERR_TRANSPORT_ADDRESS')).toBe(true);
  });
});

describe('per-peer send queue (limit sendQueueDepthMax = 8)', () => {
  const options: NetTransportOptions = {
    ...TEST_NET_OPTIONS,
    sendQueueDepthMax: 8,
    reconnectAttemptsMax: 50,
  };

  it.each([
    [7, 0, 0],
    [8, 0, 0],
    [9, 1, 1],
  ])(
    '%i frames queued while the peer is down: %i dropped, delivery starts at frame %i',
    async (count, droppedCount, firstKept) => {
      const a = await bind('127.0.0.1:0', options);
      const target = await freeAddress('127.0.0.1');
      for (let i = 0; i < count; i++) a.sendFrame(target, Uint8Array.of(i));
      expect(a.stats().dropped['queue_overflow'] ?? 0).toBe(droppedCount);
      const b = await bind(target, options);
      const log = record(b);
      await waitUntil(() => log.length === count - droppedCount, 'queued frames at the late peer');
      expect(log.map((r) => r.data[0])).toEqual(
        Array.from({ length: count - droppedCount }, (_, i) => i + firstKept),
      );
    },
  );

  it('drops the queue as unreachable after reconnectAttemptsMax failed dials', async () => {
    const a = await bind('127.0.0.1:0', { ...TEST_NET_OPTIONS, reconnectAttemptsMax: 2 });
    const target = await freeAddress('127.0.0.1');
    for (let i = 0; i < 3; i++) a.sendFrame(target, Uint8Array.of(i));
    await waitUntil(
      () => a.stats().dropped['unreachable'] === 3,
      'three frames dropped as unreachable',
    );
    expect(a.stats().framesSent).toBe(0);
  });
});

describe('stream hello and frame limits', () => {
  it.each([
    ['garbage', frame(Buffer.from('garbage'))],
    ['a valid prefix with a bad address', frame(encodeHello('nope' as Address))],
    ['a header bigger than any hello', encodeFrameHeader(100_000)],
  ])('closes a connection whose first frame is %s and counts bad_hello', async (_what, wire) => {
    const b = await bind();
    const log = record(b);
    const client = await rawClient(b.localAddress);
    client.socket.write(wire);
    await waitUntil(() => client.closed(), 'server closes the connection');
    expect(b.stats().dropped['bad_hello']).toBe(1);
    expect(client.refusal()).toBe('bad_hello');
    expect(log).toEqual([]);
  });

  it('refuses a frame header over frameBytesMax after the hello, keeping earlier frames', async () => {
    const b = await bind();
    const log = record(b);
    const client = await rawClient(b.localAddress);
    client.socket.write(frame(encodeHello('127.0.0.1:9' as Address)));
    client.socket.write(frame(Uint8Array.of(1, 2, 3)));
    client.socket.write(encodeFrameHeader(LIMITS.frameBytesMax + 1, 0xffff_ffff));
    await waitUntil(() => client.closed(), 'server closes the connection');
    expect(b.stats().dropped['oversized']).toBe(1);
    expect(client.refusal()).toBe('oversized');
    expect(log).toEqual([{ from: '127.0.0.1:9', channel: 'stream', data: Uint8Array.of(1, 2, 3) }]);
  });
});

describe('inbound connection limit (inboundConnectionsMax = 2)', () => {
  it('accepts up to the limit, refuses and counts the next, accepts again once one closes', async () => {
    const b = await bind('127.0.0.1:0', { ...TEST_NET_OPTIONS, inboundConnectionsMax: 2 });
    const log = record(b);
    const hello = frame(encodeHello('127.0.0.1:9' as Address));
    const first = await rawClient(b.localAddress);
    const second = await rawClient(b.localAddress);
    for (const c of [first, second])
      c.socket.write(Buffer.concat([hello, frame(Uint8Array.of(7))]));
    await waitUntil(() => log.length === 2, 'frames on the two accepted connections');
    const third = await rawClient(b.localAddress);
    await waitUntil(() => third.closed(), 'third connection refused');
    expect(b.stats().dropped['inbound_limit']).toBe(1);
    expect(third.refusal()).toBe('inbound_limit');
    first.socket.destroy();
    await waitUntil(() => first.closed(), 'first connection closed');
    // The server learns of the close asynchronously; a dialer that is refused simply retries.
    let fourth = await rawClient(b.localAddress);
    for (let attempt = 0; attempt < 50 && (await closedSoon(fourth)); attempt++)
      fourth = await rawClient(b.localAddress);
    fourth.socket.write(Buffer.concat([hello, frame(Uint8Array.of(8))]));
    await waitUntil(() => log.length === 3, 'frame on the connection accepted after one closed');
    expect(second.closed()).toBe(false);
  });
});

/** True when the server closes `client` within a short bound (it was refused). */
async function closedSoon(client: { closed: () => boolean }): Promise<boolean> {
  return waitUntil(client.closed, 'refusal', 50).then(
    () => true,
    () => false,
  );
}

/** One accepted connection at a plain listener: the frames it carried and whether it has closed. */
interface Accepted {
  frames: Uint8Array[];
  closed: boolean;
}

/** A plain TCP listener with no idle timeout of its own, logging every connection's frames. */
async function frameListener(): Promise<{ address: Address; accepted: Accepted[] }> {
  const accepted: Accepted[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    const record: Accepted = { frames: [], closed: false };
    accepted.push(record);
    const decoder = new FrameDecoder(LIMITS.frameBytesMax);
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (let next = decoder.next(); next !== undefined && 'frame' in next; next = decoder.next())
        record.frames.push(Uint8Array.from(next.frame));
    });
    socket.on('error', () => undefined);
    socket.on('close', () => (record.closed = true));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}` as Address,
    accepted,
  };
}

describe('outbound idle timeout (outboundIdleTimeoutMs)', () => {
  it('the dialer closes an idle connection, and a later send dials a new one with a fresh hello', async () => {
    const a = await bind('127.0.0.1:0', { ...TEST_NET_OPTIONS, outboundIdleTimeoutMs: 50 });
    const peer = await frameListener();
    const hello = Uint8Array.from(encodeHello(a.localAddress));
    a.sendFrame(peer.address, Uint8Array.of(1));
    a.sendFrame(peer.address, Uint8Array.of(2));
    await waitUntil(
      () => peer.accepted[0]?.closed === true,
      'the dialer to close the idle connection',
    );
    expect(peer.accepted[0]?.frames).toEqual([hello, Uint8Array.of(1), Uint8Array.of(2)]);
    a.sendFrame(peer.address, Uint8Array.of(3));
    await waitUntil(() => peer.accepted[1]?.frames.length === 2, 'the frame on a new connection');
    expect(peer.accepted[1]?.frames).toEqual([hello, Uint8Array.of(3)]);
    expect(peer.accepted).toHaveLength(2);
    expect(a.stats().framesSent).toBe(3);
    expect(a.stats().dropped).toEqual({});
  });
});

describe('a connection the peer closed is probed (tcp-peer.ts)', () => {
  it('tells the dialer at once when nothing listens any more, with nothing queued', async () => {
    const a = await bind();
    const refused: (Address | string)[] = [];
    a.onStreamRefused((to, refusal) => refused.push(refusal ?? to));
    const peer = await frameListener();
    a.sendFrame(peer.address, Uint8Array.of(1));
    await waitUntil(() => peer.accepted[0]?.frames.length === 2, 'the frame delivered');
    // The peer's process goes away: its listener and its end of our connection close together.
    const server = servers.pop() as Server;
    server.close();
    for (const socket of sockets.splice(0)) socket.destroy();
    await waitUntil(() => refused.length > 0, 'the probe refused');
    expect(refused).toEqual([peer.address]);
    expect(a.stats().framesSent).toBe(1);
  });

  it('a live peer that closed our connection is re-dialled once, and nothing is reported', async () => {
    // The peer on its own, to see when it gives up its connection (`onIdle`) instead of probing.
    const peer = await frameListener();
    const local = '127.0.0.1:1' as Address;
    const hello = Uint8Array.from(encodeHello(local));
    let idles = 0;
    const refused: (string | undefined)[] = [];
    const outbound = new OutboundPeer(
      splitAddress(peer.address) as HostPort,
      local,
      { ...TCP_DEFAULTS, ...TEST_NET_OPTIONS, sendQueueDepthMax: 8 },
      emptyStats(),
      () => idles++,
      (refusal) => refused.push(refusal),
    );
    peers.push(outbound);
    outbound.send(Uint8Array.of(1));
    await waitUntil(() => peer.accepted[0]?.frames.length === 2, 'the frame delivered');
    sockets[0]?.destroy();
    await waitUntil(() => peer.accepted[1]?.frames.length === 1, 'the probe connected');
    expect(peer.accepted[1]?.frames).toEqual([hello]);
    expect(idles).toBe(0);
    // A second close within PROBE_INTERVAL_MIN_MS is not probed: no dial loop against a peer
    // that keeps closing. The peer goes idle instead, having dialled nothing.
    sockets[1]?.destroy();
    await waitUntil(() => idles === 1, 'the peer idle after the second close');
    expect(peer.accepted).toHaveLength(2);
    expect(refused).toEqual([]);
  });
});
