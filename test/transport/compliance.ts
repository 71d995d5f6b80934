/**
 * The one compliance suite every Transport passes (js-libp2p style): NetTransport over IPv4 and
 * IPv6 loopback, MemoryTransport over a test fabric, and EncryptedTransport over each. A harness
 * factory makes N transports that can reach each other and a bounded `waitFor` (real sockets:
 * poll with a deadline; memory: pump the fabric).
 */
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { LIMITS } from '../../src/base/limits.js';
import type { Channel, Transport } from '../../src/transport/types.js';

export interface TransportHarness {
  transports: Transport[];
  /** Resolves once `condition()` holds; rejects naming `what` when a bound (real time: `timeoutMs`) passes first. */
  waitFor(condition: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** An address nothing listens on. */
  unreachableAddress: Address;
  /** The drop reason a sender eventually counts for frames to an unreachable peer, if it can know. */
  unreachableFrameDrop?: string;
  /** Closes transport `index` and starts a new one at the same address (real sockets). */
  restart?(index: number): Promise<Transport>;
  close(): Promise<void>;
}

export type HarnessFactory = (count: number) => Promise<TransportHarness>;

export interface Received {
  from: Address;
  channel: Channel;
  data: Uint8Array;
}

/** Installs a handler on `transport` that records every delivery. */
export function record(transport: Transport): Received[] {
  const log: Received[] = [];
  transport.onReceive((from, channel, data) => {
    log.push({ from, channel, data: Uint8Array.from(data) });
  });
  return log;
}

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

function readU32(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
}

/** Runs `body` with a fresh harness of `count` transports, always closing it. */
async function withHarness(
  factory: HarnessFactory,
  count: number,
  body: (h: TransportHarness) => Promise<void>,
): Promise<void> {
  const harness = await factory(count);
  try {
    await body(harness);
  } finally {
    await harness.close();
  }
}

export function runTransportCompliance(name: string, factory: HarnessFactory): void {
  describe(`transport compliance: ${name}`, () => {
    definePacketCases(factory);
    defineFrameCases(factory);
    defineFailureCases(factory);
  });
}

function overhead(transport: Transport): number {
  return transport.packetOverheadBytes ?? 0;
}

function definePacketCases(factory: HarnessFactory): void {
  it('round-trips a packet both ways with the sender address as `from`', () =>
    withHarness(factory, 2, async (h) => {
      const [a, b] = h.transports as [Transport, Transport];
      const logA = record(a);
      const logB = record(b);
      a.sendPacket(b.localAddress, bytes(10, 1));
      await h.waitFor(() => logB.length === 1, 'packet at B');
      expect(logB[0]).toEqual({ from: a.localAddress, channel: 'packet', data: bytes(10, 1) });
      b.sendPacket((logB[0] as Received).from, bytes(20, 2));
      await h.waitFor(() => logA.length === 1, 'reply at A');
      expect(logA[0]).toEqual({ from: b.localAddress, channel: 'packet', data: bytes(20, 2) });
    }));

  it('sends packets up to the budget and drops the first byte over it (limit-1, limit, limit+1)', () =>
    withHarness(factory, 2, async (h) => {
      const [a, b] = h.transports as [Transport, Transport];
      const logB = record(b);
      const budget = LIMITS.packetBytesMax - overhead(a);
      a.sendPacket(b.localAddress, bytes(budget - 1, 1));
      a.sendPacket(b.localAddress, bytes(budget, 2));
      a.sendPacket(b.localAddress, bytes(budget + 1, 3));
      await h.waitFor(() => logB.length === 2, 'two packets at B');
      expect(logB.map((r) => r.data.length).sort((x, y) => x - y)).toEqual([budget - 1, budget]);
      expect(a.stats().dropped['oversized']).toBe(1);
      expect(a.stats().packetsSent).toBe(2);
    }));

  it('keeps counters that match on both sides', () =>
    withHarness(factory, 2, async (h) => {
      const [a, b] = h.transports as [Transport, Transport];
      const logB = record(b);
      for (let i = 0; i < 10; i++) a.sendPacket(b.localAddress, bytes(100, i));
      for (let i = 0; i < 5; i++) a.sendFrame(b.localAddress, bytes(200, i));
      await h.waitFor(() => logB.length === 15, '15 payloads at B');
      const sent = a.stats();
      const received = b.stats();
      expect([
        sent.packetsSent,
        received.packetsReceived,
        sent.framesSent,
        received.framesReceived,
      ]).toEqual([10, 10, 5, 5]);
      expect(sent.packetBytesSent).toBe(10 * (100 + overhead(a)));
      expect(received.packetBytesReceived).toBe(sent.packetBytesSent);
      expect(sent.frameBytesSent).toBe(5 * (200 + overhead(a)));
      expect(received.frameBytesReceived).toBe(sent.frameBytesSent);
      expect(sent.dropped).toEqual({});
      expect(received.dropped).toEqual({});
    }));
}

function defineFrameCases(factory: HarnessFactory): void {
  it('delivers 1,000 frames in order, none lost, and a reply to `from` arrives', () =>
    withHarness(factory, 2, async (h) => {
      const [a, b] = h.transports as [Transport, Transport];
      const logA = record(a);
      const logB = record(b);
      const count = 1000;
      for (let i = 0; i < count; i++) a.sendFrame(b.localAddress, u32(i));
      await h.waitFor(() => logB.length === count, `${count} frames at B`);
      expect(logB.map((r) => readU32(r.data))).toEqual(Array.from({ length: count }, (_, i) => i));
      expect(logB.every((r) => r.from === a.localAddress && r.channel === 'stream')).toBe(true);
      b.sendFrame((logB[0] as Received).from, bytes(3, 9));
      await h.waitFor(() => logA.length === 1, 'reply frame at A');
      expect(logA[0]).toEqual({ from: b.localAddress, channel: 'stream', data: bytes(3, 9) });
    }));

  it('delivers a frame of the full frame budget intact and drops one byte more', () =>
    withHarness(factory, 2, async (h) => {
      const [a, b] = h.transports as [Transport, Transport];
      const logB = record(b);
      const budget = LIMITS.frameBytesMax - overhead(a);
      const big = bytes(budget, 7);
      a.sendFrame(b.localAddress, bytes(budget + 1, 8));
      a.sendFrame(b.localAddress, big);
      await h.waitFor(() => logB.length === 1, 'big frame at B');
      expect(Buffer.from((logB[0] as Received).data).equals(Buffer.from(big))).toBe(true);
      expect(a.stats().dropped['oversized']).toBe(1);
    }));
}

function defineFailureCases(factory: HarnessFactory): void {
  it('never throws for unreachable or malformed destinations, and keeps working', () =>
    withHarness(factory, 2, async (h) => {
      const [a, b] = h.transports as [Transport, Transport];
      const logB = record(b);
      expect(() => a.sendPacket(h.unreachableAddress, bytes(5, 1))).not.toThrow();
      expect(() => a.sendFrame(h.unreachableAddress, bytes(5, 1))).not.toThrow();
      expect(() => a.sendPacket('not an address' as Address, bytes(5, 1))).not.toThrow();
      expect(() => a.sendFrame('127.0.0.1:0' as Address, bytes(5, 1))).not.toThrow();
      expect(a.stats().dropped['bad_address']).toBe(2);
      const reason = h.unreachableFrameDrop;
      if (reason !== undefined)
        await h.waitFor(() => (a.stats().dropped[reason] ?? 0) === 1, `${reason} counted`);
      a.sendFrame(b.localAddress, bytes(5, 2));
      await h.waitFor(() => logB.length === 1, 'frame at B after failures');
      expect(logB[0]?.data).toEqual(bytes(5, 2));
    }));

  it('tells the sender when a stream connection is refused (nothing listens there), never for packets', () =>
    withHarness(factory, 2, async (h) => {
      const [a, b] = h.transports as [Transport, Transport];
      const refused: Address[] = [];
      a.onStreamRefused((to) => refused.push(to));
      a.sendPacket(h.unreachableAddress, bytes(5, 1));
      a.sendFrame(b.localAddress, bytes(5, 2));
      a.sendFrame(h.unreachableAddress, bytes(5, 3));
      await h.waitFor(() => refused.length >= 1, 'the refusal reported');
      expect(new Set(refused)).toEqual(new Set([h.unreachableAddress]));
    }));

  it('close is idempotent and later sends do not throw but are counted', () =>
    withHarness(factory, 2, async (h) => {
      const [a, b] = h.transports as [Transport, Transport];
      await a.close();
      await a.close();
      expect(() => a.sendPacket(b.localAddress, bytes(5, 1))).not.toThrow();
      expect(() => a.sendFrame(b.localAddress, bytes(5, 1))).not.toThrow();
      expect(a.stats().dropped['closed']).toBe(2);
      expect(a.stats().packetsSent + a.stats().framesSent).toBe(0);
    }));

  it('reconnects after the peer restarts on the same address', async () => {
    const probe = await factory(2);
    const canRestart = probe.restart !== undefined;
    await probe.close();
    if (!canRestart) return;
    await withHarness(factory, 2, async (h) => {
      const [a, b] = h.transports as [Transport, Transport];
      const logB = record(b);
      a.sendFrame(b.localAddress, u32(0));
      await h.waitFor(() => logB.length === 1, 'first frame at B');
      const restarted = await (h.restart as (index: number) => Promise<Transport>)(1);
      const logNew = record(restarted);
      // Frames written into the old connection as it died are lost (reliable only while the
      // connection lives); the transport must notice and re-dial. Resend until one arrives.
      for (let attempt = 1; attempt <= 50 && logNew.length === 0; attempt++) {
        a.sendFrame(restarted.localAddress, u32(attempt));
        await h
          .waitFor(() => logNew.length > 0, 'frame at restarted B', 200)
          .catch(() => undefined);
      }
      await h.waitFor(() => logNew.length > 0, 'frame at restarted B');
      expect(logNew[0]?.from).toBe(a.localAddress);
    });
  });
}
