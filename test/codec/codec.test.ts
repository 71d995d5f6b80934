import fc from 'fast-check';
import { incarnation as asIncarnation } from '../../src/base/units.js';
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { LIMITS } from '../../src/base/limits.js';
import { varintBytes } from '../../src/codec/bytes.js';
import type { DecodeResult } from '../../src/codec/codec.js';
import {
  decodeMessage,
  decodeMessageOrThrow,
  encodeMessage,
  messageEncodedBytes,
  updateEncodedBytes,
  MESSAGE_TYPE_NUMBERS,
  type WireMessage,
} from './wire.js';
import type { MemberRecord, Message, Update } from '../../src/membership/messages.js';
import type { PublicKey, Signature } from '../../src/identity/signed.js';
import { PROTOCOL_VERSION } from '../../src/codec/wire-numbers.js';
import type { NodeId } from '../../src/identity/node-id.js';
import {
  arbClusterId,
  arbMessage,
  arbMessageByType,
  arbUpdate,
  arbUpdates,
} from './arbitraries.js';

const CLUSTER = 'c';
const ID_A = 'a'.repeat(32) as NodeId;
const ID_B = '0123456789abcdef0123456789abcdef' as NodeId;
const ADDR = '10.0.0.1:7946' as Address;
/** Any 32 and 64 bytes parse as a key and a signature: the codec checks no signature (the core does). */
const KEY = 'ab'.repeat(32) as PublicKey;
const SIG = 'cd'.repeat(64) as Signature;

function expectError(result: DecodeResult<WireMessage>, code: string): void {
  expect(result.ok ? 'ok' : result.error.code).toBe(code);
}

function decode(
  bytes: Uint8Array,
  limits?: Parameters<typeof decodeMessage>[1]['limits'],
): DecodeResult<WireMessage> {
  return decodeMessage(
    bytes,
    limits === undefined ? { clusterId: CLUSTER } : { clusterId: CLUSTER, limits },
  );
}

/** Header for cluster 'c' and `type`, then `payload` bytes as given (for hand-made malformed input). */
function craft(type: number, payload: readonly number[]): Uint8Array {
  return Uint8Array.from([0x53, 0x48, PROTOCOL_VERSION, type, 1, 0x63, ...payload]);
}

const ID_A_BYTES: number[] = new Array<number>(16).fill(0xaa);

function alive(labels: Record<string, string>, name = 'n'): Update {
  return record('alive', labels, name);
}

function record(kind: 'alive' | 'left', labels: Record<string, string> = {}, name = 'n'): Update {
  const fields = { name, address: ADDR, labels, publicKey: KEY, certificate: undefined };
  return { kind, id: ID_A, incarnation: asIncarnation(1), ...fields, signature: SIG };
}

describe('round trip', () => {
  for (const [type, arb] of Object.entries(arbMessageByType)) {
    it(`${type}: decode(encode(m)) equals m, for any cluster id`, () => {
      fc.assert(
        fc.property(arb as fc.Arbitrary<Message>, arbClusterId, (msg, clusterId) => {
          const bytes = encodeMessage(msg, clusterId);
          const result = decodeMessage(bytes, { clusterId });
          expect(result).toEqual({ ok: true, message: msg });
        }),
        { numRuns: 300 },
      );
    });
  }

  it('keeps a label named __proto__ as data and a leading BOM in a string', () => {
    const labels: Record<string, string> = {};
    Object.defineProperty(labels, '__proto__', { value: 'x', enumerable: true });
    const msg: Message = { type: 'gossip', from: ID_A, updates: [alive(labels, '\ufeffname')] };
    const result = decode(encodeMessage(msg, CLUSTER));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const update = result.message.type === 'gossip' ? result.message.updates[0] : undefined;
    expect(
      update?.kind === 'alive' &&
        Object.getOwnPropertyDescriptor(update.labels, '__proto__')?.value,
    ).toBe('x');
    expect(update?.kind === 'alive' && update.name).toBe('\ufeffname');
    expect(Object.getPrototypeOf(update?.kind === 'alive' ? update.labels : null)).toBe(
      Object.prototype,
    );
  });

  it('is canonical: labels in any insertion order encode to the same bytes', () => {
    const one = encodeMessage(
      { type: 'gossip', from: ID_A, updates: [alive({ b: '2', a: '1', '10': 'x' })] },
      CLUSTER,
    );
    const two = encodeMessage(
      { type: 'gossip', from: ID_A, updates: [alive({ '10': 'x', a: '1', b: '2' })] },
      CLUSTER,
    );
    expect(one).toEqual(two);
  });
});

describe('sizes', () => {
  it('messageEncodedBytes is the encoded length', () => {
    fc.assert(
      fc.property(arbMessage, (msg) => {
        expect(messageEncodedBytes(msg, 'cluster')).toBe(encodeMessage(msg, 'cluster').length);
      }),
      { numRuns: 300 },
    );
  });

  it('a packet is its empty form - 1 + varintBytes(n) + the sum of updateEncodedBytes', () => {
    fc.assert(
      fc.property(
        arbUpdates,
        fc.array(arbUpdate, { minLength: 120, maxLength: 140 }),
        (few, many) => {
          for (const updates of [few, many]) {
            const msg: Message = { type: 'ack', seq: 5, from: ID_A, updates };
            const empty = messageEncodedBytes({ ...msg, updates: [] }, CLUSTER);
            const sum = updates.reduce((total, u) => total + updateEncodedBytes(u), 0);
            expect(encodeMessage(msg, CLUSTER).length).toBe(
              empty - 1 + varintBytes(updates.length) + sum,
            );
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('every decode error code from a targeted input', () => {
  const nack = encodeMessage({ type: 'nack', seq: 1, from: ID_A }, CLUSTER);

  it('ERR_DECODE_TRUNCATED: empty, header only, and a cut id', () => {
    expectError(decode(new Uint8Array(0)), 'ERR_DECODE_TRUNCATED');
    expectError(decode(Uint8Array.from([0x53])), 'ERR_DECODE_TRUNCATED');
    expectError(decode(nack.subarray(0, 4)), 'ERR_DECODE_TRUNCATED');
    expectError(decode(nack.subarray(0, nack.length - 1)), 'ERR_DECODE_TRUNCATED');
  });
  it('ERR_DECODE_BAD_MAGIC', () => {
    expectError(decode(Uint8Array.from([0x7b, 0x22])), 'ERR_DECODE_BAD_MAGIC');
    expectError(decode(Uint8Array.from([0x53, 0x00, 1, 3])), 'ERR_DECODE_BAD_MAGIC');
  });
  it('ERR_DECODE_BAD_VERSION', () => {
    const bytes = nack.slice();
    bytes[2] = PROTOCOL_VERSION + 1;
    expectError(decode(bytes), 'ERR_DECODE_BAD_VERSION');
    bytes[2] = 1; // the unsigned membership of issue 11 and before
    expectError(decode(bytes), 'ERR_DECODE_BAD_VERSION');
  });
  it('ERR_DECODE_UNKNOWN_TYPE for 0 and for the first unused number', () => {
    const unused = Math.max(...Object.values(MESSAGE_TYPE_NUMBERS)) + 1;
    expectError(decode(craft(0, [1, ...ID_A_BYTES])), 'ERR_DECODE_UNKNOWN_TYPE');
    expectError(decode(craft(unused, [1, ...ID_A_BYTES])), 'ERR_DECODE_UNKNOWN_TYPE');
  });
  it('ERR_DECODE_WRONG_CLUSTER names both cluster ids', () => {
    const result = decodeMessage(encodeMessage({ type: 'nack', seq: 1, from: ID_A }, 'other'), {
      clusterId: CLUSTER,
    });
    expectError(result, 'ERR_DECODE_WRONG_CLUSTER');
    expect(result.ok ? '' : result.error.detail).toMatch(/"other".*"c"/);
  });
  it('ERR_DECODE_OVERSIZED: whole message, cluster id, string, list', () => {
    expectError(decode(nack, { decodeMessageBytesMax: nack.length - 1 }), 'ERR_DECODE_OVERSIZED');
    expectError(decode(craft(3, []).map((b, i) => (i === 4 ? 65 : b))), 'ERR_DECODE_OVERSIZED');
    expectError(decode(craft(7, [...ID_A_BYTES, 1, 0x80, 0x40])), 'ERR_DECODE_OVERSIZED');
    expectError(decode(craft(5, [...ID_A_BYTES, 0x81, 0x80, 0x04])), 'ERR_DECODE_OVERSIZED');
  });
  it('ERR_DECODE_UNSAFE_INTEGER: 2^53 and a 9-byte varint', () => {
    const max = decode(craft(3, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, ...ID_A_BYTES]));
    expect(max.ok && max.message.type === 'nack' && max.message.seq).toBe(Number.MAX_SAFE_INTEGER);
    expectError(
      decode(craft(3, [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, ...ID_A_BYTES])),
      'ERR_DECODE_UNSAFE_INTEGER',
    );
    expectError(
      decode(craft(3, [0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, ...ID_A_BYTES])),
      'ERR_DECODE_UNSAFE_INTEGER',
    );
  });
  it('ERR_DECODE_MALFORMED: trailing byte', () => {
    expectError(decode(Uint8Array.from([...nack, 0])), 'ERR_DECODE_MALFORMED');
  });
  it('ERR_DECODE_MALFORMED: non-canonical varint', () => {
    expectError(decode(craft(3, [0x81, 0x00, ...ID_A_BYTES])), 'ERR_DECODE_MALFORMED');
  });
  it('ERR_DECODE_MALFORMED: invalid UTF-8 (overlong, lone surrogate, cut sequence)', () => {
    for (const bad of [
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xe2, 0x82],
    ]) {
      expectError(decode(craft(7, [...ID_A_BYTES, 1, bad.length, ...bad])), 'ERR_DECODE_MALFORMED');
    }
  });
  it('ERR_DECODE_MALFORMED: an address that is not host:port', () => {
    const text = [...new TextEncoder().encode('10.0.0.1')];
    expectError(
      decode(craft(1, [1, ...ID_A_BYTES, text.length, ...text, ...ID_A_BYTES, 0])),
      'ERR_DECODE_MALFORMED',
    );
  });
  it('ERR_DECODE_MALFORMED: reserved flag bits', () => {
    const msg: Message = {
      type: 'ping-req',
      seq: 1,
      from: ID_A,
      target: ID_B,
      nack: true,
      updates: [],
    };
    const bytes = encodeMessage(msg, CLUSTER);
    bytes[bytes.length - 2] = 0x03; // flags sit just before the empty update list
    expectError(decode(bytes), 'ERR_DECODE_MALFORMED');
  });
  it('ERR_DECODE_MALFORMED: unknown update kind, member state and reject reason', () => {
    const pad = new Array<number>(120).fill(0);
    expectError(
      decode(craft(5, [...ID_A_BYTES, 1, 9, ...ID_A_BYTES, 1, ...pad])),
      'ERR_DECODE_MALFORMED',
    );
    expectError(decode(craft(7, [...ID_A_BYTES, 0, 0])), 'ERR_DECODE_MALFORMED');
    const member: MemberRecord = {
      id: ID_A,
      name: 'n',
      address: ADDR,
      state: 'alive',
      incarnation: asIncarnation(1),
      labels: {},
      publicKey: KEY,
      certificate: undefined,
      signature: SIG,
      accusation: undefined,
    };
    const bytes = encodeMessage(
      {
        type: 'push-pull',
        from: ID_A,
        fromAddress: ADDR,
        join: false,
        reply: false,
        configFingerprint: '',
        members: [member],
      },
      CLUSTER,
    );
    // state, then incarnation (1 byte), labels count (1), key (32), flags (1), signature (64)
    bytes[bytes.length - 100] = 0;
    expectError(decode(bytes), 'ERR_DECODE_MALFORMED');
  });
  it('ERR_DECODE_MALFORMED: label keys out of order or duplicated', () => {
    const bytes = encodeMessage(
      { type: 'gossip', from: ID_A, updates: [alive({ a: '1', b: '2' })] },
      CLUSTER,
    );
    const keyB = bytes.lastIndexOf(0x62);
    const swapped = bytes.slice();
    swapped[keyB] = 0x61;
    expectError(decode(swapped), 'ERR_DECODE_MALFORMED');
    swapped[keyB] = 0x60;
    expectError(decode(swapped), 'ERR_DECODE_MALFORMED');
  });
  it('decodeMessageOrThrow throws a ShoalError with the code', () => {
    expect(() => decodeMessageOrThrow(new Uint8Array(0), { clusterId: CLUSTER })).toThrow(
      expect.objectContaining({ code: 'ERR_DECODE_TRUNCATED' }),
    );
    expect(decodeMessageOrThrow(nack, { clusterId: CLUSTER })).toEqual({
      type: 'nack',
      seq: 1,
      from: ID_A,
    });
  });
});

describe('limits at limit - 1, limit, limit + 1', () => {
  const relaxed = {
    decodeListCountMax: 1 << 20,
    decodeStringBytesMax: 1 << 20,
    clusterIdBytesMax: 255,
  };

  it('update list count (decodeListCountMax)', () => {
    const limit = 5;
    for (const [count, code] of [
      [limit - 1, 'ok'],
      [limit, 'ok'],
      [limit + 1, 'ERR_DECODE_OVERSIZED'],
    ] as const) {
      const updates: Update[] = Array.from({ length: count }, () => record('left'));
      expectError(
        decode(encodeMessage({ type: 'gossip', from: ID_A, updates }, CLUSTER), {
          decodeListCountMax: limit,
        }),
        code,
      );
    }
  });
  it('update list count at the default LIMITS.decodeListCountMax', () => {
    const limit = LIMITS.decodeListCountMax;
    for (const [count, code] of [
      [limit - 1, 'ok'],
      [limit, 'ok'],
      [limit + 1, 'ERR_DECODE_OVERSIZED'],
    ] as const) {
      const updates: Update[] = new Array<Update>(count).fill(record('left'));
      // 65,536 signed updates are ~11 MB: only the list count is left at its default.
      expectError(
        decode(encodeMessage({ type: 'gossip', from: ID_A, updates }, CLUSTER, relaxed), {
          decodeMessageBytesMax: 64 * 1024 * 1024,
        }),
        code,
      );
    }
  });
  it('labels count (decodeListCountMax)', () => {
    const limit = 3;
    for (const [count, code] of [
      [limit - 1, 'ok'],
      [limit, 'ok'],
      [limit + 1, 'ERR_DECODE_OVERSIZED'],
    ] as const) {
      const labels = Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 'v']));
      expectError(
        decode(encodeMessage({ type: 'gossip', from: ID_A, updates: [alive(labels)] }, CLUSTER), {
          decodeListCountMax: limit,
        }),
        code,
      );
    }
  });
  it('members count (decodeListCountMax)', () => {
    const limit = 4;
    for (const [count, code] of [
      [limit - 1, 'ok'],
      [limit, 'ok'],
      [limit + 1, 'ERR_DECODE_OVERSIZED'],
    ] as const) {
      const members = Array.from({ length: count }, (): MemberRecord => ({
        id: ID_B,
        name: 'm',
        address: ADDR,
        state: 'dead',
        incarnation: asIncarnation(2),
        labels: {},
        publicKey: KEY,
        certificate: undefined,
        signature: SIG,
        accusation: { from: ID_A, signature: SIG },
      }));
      const bytes = encodeMessage(
        {
          type: 'push-pull',
          from: ID_A,
          fromAddress: ADDR,
          join: true,
          reply: true,
          configFingerprint: 'f',
          members,
        },
        CLUSTER,
      );
      expectError(decode(bytes, { decodeListCountMax: limit }), code);
    }
  });
  it('string bytes at the default LIMITS.decodeStringBytesMax, counted in UTF-8 bytes', () => {
    const limit = LIMITS.decodeStringBytesMax;
    for (const [bytes, code] of [
      [limit - 1, 'ok'],
      [limit, 'ok'],
      [limit + 1, 'ERR_DECODE_OVERSIZED'],
    ] as const) {
      const detail = 'é'.repeat(Math.floor(bytes / 2)) + 'x'.repeat(bytes % 2);
      expectError(
        decode(
          encodeMessage(
            { type: 'reject', from: ID_A, reason: 'config_mismatch', detail },
            CLUSTER,
            relaxed,
          ),
        ),
        code,
      );
    }
  });
  it('cluster id bytes at LIMITS.clusterIdBytesMax', () => {
    const limit = LIMITS.clusterIdBytesMax;
    for (const [bytes, code] of [
      [limit - 1, 'ok'],
      [limit, 'ok'],
      [limit + 1, 'ERR_DECODE_OVERSIZED'],
    ] as const) {
      const clusterId = 'k'.repeat(bytes);
      const result = decodeMessage(
        encodeMessage({ type: 'nack', seq: 0, from: ID_A }, clusterId, relaxed),
        { clusterId },
      );
      expectError(result, code);
    }
  });
  it('message bytes (decodeMessageBytesMax)', () => {
    const bytes = encodeMessage(
      { type: 'reject', from: ID_A, reason: 'shutting_down', detail: 'bye' },
      CLUSTER,
    );
    expectError(decode(bytes, { decodeMessageBytesMax: bytes.length + 1 }), 'ok');
    expectError(decode(bytes, { decodeMessageBytesMax: bytes.length }), 'ok');
    expectError(decode(bytes, { decodeMessageBytesMax: bytes.length - 1 }), 'ERR_DECODE_OVERSIZED');
  });
});

describe('encoder preconditions are assertions (caller bugs)', () => {
  it('refuses a bad NodeId, an unsafe number and an over-limit string', () => {
    expect(() =>
      encodeMessage({ type: 'nack', seq: 1, from: 'A'.repeat(32) as NodeId }, CLUSTER),
    ).toThrow(/not a NodeId/);
    expect(() => encodeMessage({ type: 'nack', seq: 2 ** 53, from: ID_A }, CLUSTER)).toThrow(
      /safe non-negative integer/,
    );
    expect(() => encodeMessage({ type: 'nack', seq: -1, from: ID_A }, CLUSTER)).toThrow(
      /safe non-negative integer/,
    );
    expect(() => encodeMessage({ type: 'nack', seq: 1, from: ID_A }, 'x'.repeat(65))).toThrow(
      /exceeds 64/,
    );
  });
});

describe('wire numbers', () => {
  it('are pinned: changing one breaks every deployed node (APPEND ONLY)', async () => {
    const numbers = {
      ...(await import('../../src/codec/wire-numbers.js')),
      ...(await import('./wire.js')),
    };
    // Later protocols append entries; the released ones never move and no number is used twice.
    expect(numbers.MESSAGE_TYPE_NUMBERS).toEqual({
      ping: 1,
      ack: 2,
      nack: 3,
      'ping-req': 4,
      gossip: 5,
      'push-pull': 6,
      reject: 7,
      'push-pull-digest': 16,
      heartbeat: 8,
      'vote-request': 9,
      'vote-response': 10,
      'leader-heartbeat': 11,
      'heartbeat-ack': 12,
      'join-cluster': 13,
      'peer-broadcast': 14,
      'data-gossip': 40,
      'data-digest': 41,
      'data-summary': 42,
      'data-state': 43,
      'data-chain': 45,
      'data-tree': 46,
      'raft-vote-request': 20,
      'raft-vote-response': 21,
      'raft-append': 22,
      'raft-append-response': 23,
      'raft-heartbeat': 24,
      'raft-heartbeat-response': 25,
      'raft-snapshot': 26,
      'raft-snapshot-response': 27,
      'raft-timeout-now': 28,
      'raft-read-index': 29,
      'raft-read-index-response': 30,
      'raft-node-hello': 50,
      'raft-node-request': 51,
      'raft-node-response': 52,
    });
    const used = Object.values(numbers.MESSAGE_TYPE_NUMBERS);
    expect(new Set(used).size).toBe(used.length);
    expect(used).not.toContain(0);
    expect(used).not.toContain(15); // the compressed wrapper's type
    expect(numbers.UPDATE_KIND_NUMBERS).toEqual({ alive: 1, suspect: 2, dead: 3, left: 4 });
    expect(numbers.MEMBER_STATE_NUMBERS).toEqual({ alive: 1, suspect: 2, dead: 3, left: 4 });
    expect(numbers.REJECT_REASON_NUMBERS).toEqual({
      wrong_cluster: 1,
      bad_version: 2,
      config_mismatch: 3,
      too_many_members: 4,
      shutting_down: 5,
      not_admitted: 6,
    });
    expect([numbers.WIRE_MAGIC, numbers.PROTOCOL_VERSION]).toEqual([0x5348, 2]);
  });
});

describe('push-pull-digest (type 16)', () => {
  const digest: Message = {
    type: 'push-pull-digest',
    from: ID_A,
    fromAddress: ADDR,
    reply: true,
    configDigest: '0123456789abcdef',
    viewDigest: 'fedcba9876543210',
  };

  it('lays out from, fromAddress, flags, config digest and view digest as 8 raw bytes each', () => {
    const bytes = encodeMessage(digest, CLUSTER);
    const addr = [...new TextEncoder().encode(ADDR)];
    expect([...bytes]).toEqual([
      0x53,
      0x48,
      2,
      16,
      1,
      0x63,
      ...ID_A_BYTES,
      addr.length,
      ...addr,
      0x01,
      0x01,
      0x23,
      0x45,
      0x67,
      0x89,
      0xab,
      0xcd,
      0xef,
      0xfe,
      0xdc,
      0xba,
      0x98,
      0x76,
      0x54,
      0x32,
      0x10,
    ]);
    expect(bytes.length).toBe(53); // vs 2268 bytes (plain) for a 50-member push-pull (wire.md)
    expect(decode(bytes)).toEqual({ ok: true, message: digest });
    expect(MESSAGE_TYPE_NUMBERS['push-pull-digest']).toBe(16);
  });

  it('refuses reserved flag bits, a cut digest, and (encoder) a digest that is not 16 lowercase hex characters', () => {
    const bytes = encodeMessage(digest, CLUSTER);
    const flagsAt = bytes.length - 17;
    const flagged = bytes.slice();
    flagged[flagsAt] = 0x03;
    expectError(decode(flagged), 'ERR_DECODE_MALFORMED');
    expectError(decode(bytes.subarray(0, bytes.length - 1)), 'ERR_DECODE_TRUNCATED');
    expect(() => encodeMessage({ ...digest, viewDigest: 'FEDCBA9876543210' }, CLUSTER)).toThrow(
      /hex digest/,
    );
    expect(() => encodeMessage({ ...digest, configDigest: 'abc' }, CLUSTER)).toThrow(/hex digest/);
  });
});
