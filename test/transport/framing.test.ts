/** Unit tests for the stream framing, the hello, the drop-oldest queue and the reconnect backoff. */
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { DropOldestQueue } from '../../src/transport/bounded-queue.js';
import { FrameDecoder, encodeFrameHeader, type NextFrame } from '../../src/codec/frame.js';
import { HELLO_BYTES_MAX, decodeHello, encodeHello } from '../../src/transport/tcp-hello.js';
import { reconnectDelayMs } from '../../src/transport/tcp-peer.js';
import { senderAddress } from '../../src/transport/udp.js';

function frame(payload: string): Buffer {
  const body = Buffer.from(payload);
  return Buffer.concat([encodeFrameHeader(body.length), body]);
}

function drain(decoder: FrameDecoder): NextFrame[] {
  const out: NextFrame[] = [];
  for (let next = decoder.next(); next !== undefined; next = decoder.next()) {
    out.push(next);
    if ('oversizedBytes' in next) break;
  }
  return out;
}

describe('FrameDecoder', () => {
  it('reassembles frames fed one byte at a time, including an empty frame', () => {
    const wire = Buffer.concat([frame('hello'), frame(''), frame('world')]);
    const decoder = new FrameDecoder(100);
    const got: string[] = [];
    for (const byte of wire) {
      decoder.push(Buffer.from([byte]));
      for (const next of drain(decoder))
        if ('frame' in next) got.push(Buffer.from(next.frame).toString());
    }
    expect(got).toEqual(['hello', '', 'world']);
  });

  it('splits several frames out of one chunk', () => {
    const decoder = new FrameDecoder(100);
    decoder.push(Buffer.concat([frame('a'), frame('bb'), frame('ccc').subarray(0, 5)]));
    expect(
      drain(decoder).map((n) => ('frame' in n ? Buffer.from(n.frame).toString() : 'oversized')),
    ).toEqual(['a', 'bb']);
  });

  it('accepts a frame at the limit and refuses limit+1 from the header alone', () => {
    const atLimit = new FrameDecoder(8);
    atLimit.push(frame('12345678'));
    expect(drain(atLimit)).toEqual([{ frame: Buffer.from('12345678') }]);
    const over = new FrameDecoder(8);
    over.push(encodeFrameHeader(9));
    expect(drain(over)).toEqual([{ oversizedBytes: 9 }]);
    const huge = new FrameDecoder(8);
    huge.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    expect(drain(huge)).toEqual([{ oversizedBytes: 0xffff_ffff }]);
  });

  it('applies a raised limit to the frames after the one that raised it', () => {
    const decoder = new FrameDecoder(4);
    decoder.push(Buffer.concat([frame('hi'), frame('a longer frame')]));
    expect(decoder.next()).toEqual({ frame: Buffer.from('hi') });
    decoder.limitBytes = 100;
    expect(decoder.next()).toEqual({ frame: Buffer.from('a longer frame') });
  });
});

describe('stream hello', () => {
  it('round-trips IPv4 and IPv6 listen addresses', () => {
    expect(decodeHello(encodeHello('127.0.0.1:7946' as Address))).toBe('127.0.0.1:7946');
    expect(decodeHello(encodeHello('[::1]:7946' as Address))).toBe('[::1]:7946');
  });

  it('rejects bad magic, version, address, port 0, invalid UTF-8 and oversize', () => {
    const good = encodeHello('127.0.0.1:7946' as Address);
    const badMagic = Buffer.from(good);
    badMagic[0] = 0;
    const badVersion = Buffer.from(good);
    badVersion[3] = 2;
    const badUtf8 = Buffer.concat([good.subarray(0, 4), Buffer.from([0xc3, 0x28])]);
    expect(decodeHello(badMagic)).toBeUndefined();
    expect(decodeHello(badVersion)).toBeUndefined();
    expect(decodeHello(encodeHello('nope' as Address))).toBeUndefined();
    expect(decodeHello(encodeHello('127.0.0.1:0' as Address))).toBeUndefined();
    expect(decodeHello(badUtf8)).toBeUndefined();
    expect(decodeHello(good.subarray(0, 4))).toBeUndefined();
    expect(decodeHello(encodeHello(`${'a'.repeat(HELLO_BYTES_MAX)}:1` as Address))).toBeUndefined();
  });
});

describe('DropOldestQueue', () => {
  it.each([
    [3, 0, [0, 1, 2]],
    [4, 0, [0, 1, 2, 3]],
    [5, 1, [1, 2, 3, 4]],
  ])('capacity 4, %i pushes: %i evicted, keeps the newest', (pushes, evictedCount, kept) => {
    const queue = new DropOldestQueue<number>(4);
    let evicted = 0;
    for (let i = 0; i < pushes; i++) if (queue.push(i) !== undefined) evicted++;
    expect(evicted).toBe(evictedCount);
    const out: number[] = [];
    while (queue.length > 0) out.push(queue.shift() as number);
    expect(out).toEqual(kept);
  });

  it('wraps around and clears', () => {
    const queue = new DropOldestQueue<number>(2);
    for (let i = 0; i < 7; i++) queue.push(i);
    expect(queue.peek()).toBe(5);
    expect(queue.clear()).toBe(2);
    expect(queue.shift()).toBeUndefined();
  });
});

describe('reconnectDelayMs', () => {
  it.each([
    [1, 0, 25],
    [1, 0.999, 49],
    [2, 0, 50],
    [3, 0, 100],
    [7, 0, 1600],
    [8, 0, 2500],
    [20, 0.5, 3750],
    [1000, 0, 2500],
  ])('attempt %i with jitter %f waits %i ms (min 50, max 5000)', (attempt, unit, expected) => {
    expect(reconnectDelayMs(attempt, 50, 5000, unit)).toBe(expected);
  });
});

describe('senderAddress', () => {
  it('formats IPv4, IPv6 and unmaps IPv4-mapped IPv6 senders', () => {
    const info = (address: string, family: 'IPv4' | 'IPv6') => ({
      address,
      family,
      port: 9,
      size: 0,
    });
    expect(senderAddress(info('127.0.0.1', 'IPv4'))).toBe('127.0.0.1:9');
    expect(senderAddress(info('::1', 'IPv6'))).toBe('[::1]:9');
    expect(senderAddress(info('::ffff:10.1.2.3', 'IPv6'))).toBe('10.1.2.3:9');
  });
});
