/**
 * A raw TCP client for stream-transport tests: it speaks the framing by hand (a hello, frames,
 * partial frames, nothing at all), reads what the acceptor writes back (only ever a refusal,
 * src/transport/tcp-refusal.ts) and tracks whether the acceptor closed it. Every socket made here
 * is remembered, so `destroyRawClients` ends exactly the ones a test opened.
 */
import { connect, type Socket } from 'node:net';
import type { Address } from '../../src/base/address.js';
import { FrameDecoder, encodeFrameHeader } from '../../src/codec/frame.js';
import { encodeHello } from '../../src/transport/tcp-hello.js';
import { decodeRefusal } from '../../src/transport/tcp-refusal.js';
import type { StreamRefusal } from '../../src/transport/types.js';

export interface RawClient {
  socket: Socket;
  closed: () => boolean;
  /** The reason of the refusal the acceptor wrote before closing, if any. */
  refusal: () => StreamRefusal | undefined;
}

const opened: Socket[] = [];

/** A frame: its 4-byte header, then the payload. */
export function frame(payload: Uint8Array): Buffer {
  return Buffer.concat([encodeFrameHeader(payload.length), payload]);
}

/** A hello frame claiming listen address `from`. */
export function helloFrame(from = '127.0.0.1:9'): Buffer {
  return frame(encodeHello(from as Address));
}

/** Connects to `address` (an IPv4 loopback host:port); resolves once connected. */
export async function rawClient(address: Address | string): Promise<RawClient> {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const socket = connect({ host: '127.0.0.1', port });
  opened.push(socket);
  let closed = false;
  let refusal: StreamRefusal | undefined;
  const decoder = new FrameDecoder(64);
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    const next = decoder.next();
    if (next !== undefined && 'frame' in next) refusal ??= decodeRefusal(next.frame);
  });
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return { socket, closed: () => closed, refusal: () => refusal };
}

/** Destroys every raw client opened so far. */
export function destroyRawClients(): void {
  for (const socket of opened.splice(0)) socket.destroy();
}
