/**
 * Write coalescing in the stream transport's outgoing peer (src/transport/tcp-peer.ts): the
 * frames sent to a peer in one event-loop turn leave in one socket write, intact and in order,
 * and a batch never grows past the socket's high-water mark (the bounded queue keeps what the
 * socket cannot take yet). Writes are counted with a spy on `Socket.prototype.write`, kept to the
 * sockets that dial this test's own loopback server.
 */
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { FrameDecoder } from '../../src/codec/frame.js';
import { decodeHello } from '../../src/transport/tcp-hello.js';
import { OutboundPeer, type PeerOptions } from '../../src/transport/tcp-peer.js';
import { emptyStats } from '../../src/transport/types.js';

const OPTIONS: PeerOptions = {
  sendQueueDepthMax: 64,
  reconnectBackoffMinMs: 10,
  reconnectBackoffMaxMs: 100,
  reconnectAttemptsMax: 3,
  connectTimeoutMs: 5_000,
  outboundIdleTimeoutMs: 0,
};
const WAIT_MS_MAX = 10_000;

interface Sink {
  server: Server;
  port: number;
  /** Every frame received so far, on any connection, in arrival order (the hello included). */
  frames: Buffer[];
}

const cleanups: (() => void)[] = [];

afterEach(() => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A loopback server that only reads: it decodes frames and writes nothing back. */
async function sink(): Promise<Sink> {
  const frames: Buffer[] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (let next = decoder.next(); next !== undefined; next = decoder.next())
        if ('frame' in next) frames.push(Buffer.from(next.frame));
        else throw new Error('oversized frame');
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { server, port: (server.address() as AddressInfo).port, frames };
}

function peerTo(port: number): OutboundPeer {
  const peer = new OutboundPeer(
    { host: '127.0.0.1', port },
    '127.0.0.1:9' as Address,
    OPTIONS,
    emptyStats(),
    () => undefined,
  );
  cleanups.push(() => peer.close());
  return peer;
}

/** Counts `write` calls on sockets whose remote port is `port` (the peer's, not the sink's). */
function countWrites(port: number): () => number {
  let writes = 0;
  const original = Socket.prototype.write;
  vi.spyOn(Socket.prototype, 'write').mockImplementation(function (
    this: Socket,
    ...args: Parameters<Socket['write']>
  ) {
    if (this.remotePort === port) writes++;
    return original.apply(this, args);
  });
  return () => writes;
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const payload = (i: number, bytes = 32): Buffer => Buffer.alloc(bytes, i);

describe('OutboundPeer write coalescing', () => {
  it('sends the frames of one turn on a live connection in one write, intact and in order', async () => {
    const { port, frames } = await sink();
    const peer = peerTo(port);
    peer.send(payload(0));
    await until(() => frames.length === 2); // the hello, then frame 0
    const writes = countWrites(port);
    const sent = [1, 2, 3, 4, 5, 6, 7].map((i) => payload(i, 10 * i));
    for (const frame of sent) peer.send(frame);
    await until(() => frames.length === 2 + sent.length);
    expect(frames.slice(2)).toEqual(sent);
    expect(writes()).toBe(1);
  });

  it('sends the hello and the frames queued while dialling in one write', async () => {
    const { port, frames } = await sink();
    const writes = countWrites(port);
    const peer = peerTo(port);
    const sent = [1, 2, 3].map((i) => payload(i));
    for (const frame of sent) peer.send(frame);
    await until(() => frames.length === 1 + sent.length);
    expect(decodeHello(frames[0] as Buffer)).toBe('127.0.0.1:9');
    expect(frames.slice(1)).toEqual(sent);
    expect(writes()).toBe(1);
  });

  it('caps a batch at the socket high-water mark: frames above it leave in writes of their own', async () => {
    const { port, frames } = await sink();
    const peer = peerTo(port);
    peer.send(payload(0));
    await until(() => frames.length === 2);
    const writes = countWrites(port);
    // Node's default high-water mark is 16 KiB: each 20 KB frame overflows it alone.
    const sent = [1, 2, 3].map((i) => payload(i, 20_000));
    for (const frame of sent) peer.send(frame);
    await until(() => frames.length === 2 + sent.length);
    expect(frames.slice(2)).toEqual(sent);
    expect(writes()).toBe(sent.length);
  });
});

describe('OutboundPeer write coalescing and the bounded queue', () => {
  it('flushes early rather than drop when one turn sends more frames than the queue holds', async () => {
    const { port, frames } = await sink();
    const stats = emptyStats();
    const peer = new OutboundPeer(
      { host: '127.0.0.1', port },
      '127.0.0.1:9' as Address,
      { ...OPTIONS, sendQueueDepthMax: 4 },
      stats,
      () => undefined,
    );
    cleanups.push(() => peer.close());
    peer.send(payload(0));
    await until(() => frames.length === 2);
    const writes = countWrites(port);
    const sent = Array.from({ length: 10 }, (_, i) => payload(i + 1));
    for (const frame of sent) peer.send(frame);
    await until(() => frames.length === 2 + sent.length);
    expect(frames.slice(2)).toEqual(sent);
    expect(stats.dropped).toEqual({});
    expect(writes()).toBe(3); // 4 frames when the 5th arrives, 4 at the 9th, 2 at the turn's end
  });

  it('still drops the oldest and counts it when the queue fills before the connection is up', async () => {
    const { port, frames } = await sink();
    const stats = emptyStats();
    const peer = new OutboundPeer(
      { host: '127.0.0.1', port },
      '127.0.0.1:9' as Address,
      { ...OPTIONS, sendQueueDepthMax: 4 },
      stats,
      () => undefined,
    );
    cleanups.push(() => peer.close());
    const sent = Array.from({ length: 6 }, (_, i) => payload(i + 1));
    for (const frame of sent) peer.send(frame);
    await until(() => frames.length === 1 + 4);
    expect(frames.slice(1)).toEqual(sent.slice(2));
    expect(stats.dropped).toEqual({ queue_overflow: 2 });
  });
});
