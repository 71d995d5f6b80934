/**
 * The data plane's wire (types 40-43, docs/design/wire.md): every message round-trips and
 * re-encodes to the same bytes (canonical), random and mutated bytes are refused with an
 * ERR_DECODE_* code and never throw, and the registry limits (rowBytesMax, listItemsMax,
 * rowsPerNodeMax) are refused on decode at limit+1 and accepted at limit-1 and limit. The
 * standalone delta payload packs deltas within the carrier's byte budget.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { registryConfig } from '../../src/crdt/registry/config.js';
import {
  decodeDeltaPayload,
  decodeRegistryMessage,
  deltaBytes,
  encodeDeltaPayload,
  encodeRegistryMessage,
  REGISTRY_TYPE_NUMBERS,
  registryMessages,
  rowBytes,
} from '../../src/crdt/registry/codec.js';
import type { Delta, Partition, RegistryMessage, Row } from '../../src/crdt/registry/types.js';
import { rowId } from '../../src/crdt/registry/types.js';
import { nodeIdOf } from '../../src/sim/registry-cluster.js';
import type { Signature } from '../../src/identity/signed.js';

const SIGNATURE = 'ab'.repeat(64) as Signature;

const config = registryConfig('lan');
const table = registryMessages(config);
const CLUSTER = 'c1';

const service = (key: string, seq: number, tags: string[] = ['a', 'b']): Row => ({
  table: 'service',
  key,
  seq,
  stamp: { wallMs: 1_700_000_000_123, logical: 7 },
  value: { address: '10.0.0.5:8080', tags, weight: 3 },
});
const process = (key: string, seq: number): Row => ({
  table: 'process',
  key,
  seq,
  stamp: { wallMs: 1_700_000_000_124, logical: 0 },
  value: { type: 'worker', capabilities: ['gpu'], status: 'running', load: 0.25 },
});
const delta: Delta = {
  owner: nodeIdOf(1),
  epoch: { wallMs: 1_700_000_000_000, logical: 1 },
  fromSeq: 4,
  toSeq: 6,
  upserts: [process('p1', 6), service('api', 5)],
  removals: [{ table: 'service', key: 'old', seq: 6 }],
  signature: SIGNATURE,
};
const partition: Partition = {
  owner: nodeIdOf(2),
  epoch: { wallMs: 1_700_000_000_000, logical: 0 },
  seq: 9,
  rows: new Map([service('api', 3), process('p', 9)].map((r) => [rowId(r.table, r.key), r])),
  signature: 'cd'.repeat(64) as Signature,
};
const MESSAGES: RegistryMessage[] = [
  { type: 'data-gossip', from: nodeIdOf(0), deltas: [delta] },
  { type: 'data-digest', from: nodeIdOf(0), reply: true, digest: '0123456789abcdef' },
  {
    type: 'data-summary',
    from: nodeIdOf(0),
    partial: true,
    entries: [{ owner: nodeIdOf(1), epoch: { wallMs: 5, logical: 2 }, seq: 3 }],
  },
  {
    type: 'data-state',
    from: nodeIdOf(0),
    reply: false,
    partitions: [partition],
    tombstones: [{ owner: nodeIdOf(3), epoch: { wallMs: 9, logical: 0 }, seq: 2 }],
    want: [nodeIdOf(4)],
  },
];

function decode(bytes: Uint8Array) {
  return decodeRegistryMessage(table, bytes, CLUSTER);
}

describe('registry codec', () => {
  it('pins the type numbers 40-43 (APPEND ONLY)', () => {
    expect(REGISTRY_TYPE_NUMBERS).toEqual({
      'data-gossip': 40,
      'data-digest': 41,
      'data-summary': 42,
      'data-state': 43,
    });
  });

  it('round-trips every message and re-encodes to the same bytes', () => {
    for (const msg of MESSAGES) {
      const bytes = encodeRegistryMessage(table, msg, CLUSTER);
      const back = decode(bytes);
      expect(back.ok, msg.type).toBe(true);
      if (!back.ok) continue;
      expect(back.message).toEqual(msg);
      expect(encodeRegistryMessage(table, back.message, CLUSTER)).toEqual(bytes);
    }
  });

  it('refuses random bytes and mutated messages with a code, never a throw', () => {
    const valid = MESSAGES.map((m) => encodeRegistryMessage(table, m, CLUSTER));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: valid.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }),
        (which, flips) => {
          const bytes = (valid[which] as Uint8Array).slice();
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          const result = decode(bytes);
          if (result.ok)
            expect(encodeRegistryMessage(table, result.message, CLUSTER)).toEqual(bytes);
          else expect(result.error.code).toMatch(/^ERR_DECODE_/);
        },
      ),
      { seed: 16, numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const result = decode(bytes);
        if (!result.ok) expect(result.error.code).toMatch(/^ERR_DECODE_/);
      }),
      { seed: 16, numRuns: 1000 },
    );
  });

  it('refuses a non-canonical or inconsistent delta', () => {
    const bad = (d: Delta) =>
      decode(
        encodeRegistryMessage(
          table,
          { type: 'data-gossip', from: nodeIdOf(0), deltas: [d] },
          CLUSTER,
        ),
      );
    expect(bad({ ...delta, upserts: [service('api', 9)] })).toMatchObject({
      ok: false,
      error: { code: 'ERR_DECODE_MALFORMED' },
    });
    expect(bad({ ...delta, removals: [{ table: 'service', key: 'api', seq: 6 }] })).toMatchObject({
      ok: false,
      error: { code: 'ERR_DECODE_MALFORMED' },
    });
    // writeRow writes tags as given: unsorted tags are not canonical, and are refused.
    expect(bad({ ...delta, upserts: [service('api', 5, ['b', 'a'])], removals: [] })).toMatchObject(
      { ok: false, error: { code: 'ERR_DECODE_MALFORMED' } },
    );
    expect(bad({ ...delta, upserts: [service('api', 5, ['a', 'a'])], removals: [] })).toMatchObject(
      { ok: false, error: { code: 'ERR_DECODE_MALFORMED' } },
    );
    expect(bad({ ...delta, epoch: { wallMs: 1, logical: 0x10000 } })).toMatchObject({
      ok: false,
      error: { code: 'ERR_DECODE_MALFORMED' },
    });
    expect(bad({ ...delta, fromSeq: 6 })).toMatchObject({
      ok: false,
      error: { code: 'ERR_DECODE_MALFORMED' },
    });
  });

  it('rowBytesMax, listItemsMax and rowsPerNodeMax on decode: limit-1 and limit pass, limit+1 is refused', () => {
    const row = service('api', 5);
    const size = rowBytes(row, config);
    const gossip = (d: Delta) =>
      encodeRegistryMessage(
        registryMessages({ ...config, rowBytesMax: 4096 }),
        { type: 'data-gossip', from: nodeIdOf(0), deltas: [d] },
        CLUSTER,
      );
    const one: Delta = { ...delta, upserts: [row], removals: [] };
    for (const [limit, ok] of [
      [size + 1, true],
      [size, true],
      [size - 1, false],
    ] as const) {
      const result = decodeRegistryMessage(
        registryMessages({ ...config, rowBytesMax: limit }),
        gossip(one),
        CLUSTER,
      );
      expect(result.ok, `rowBytesMax ${limit}`).toBe(ok);
      if (!result.ok) expect(result.error.code).toBe('ERR_DECODE_OVERSIZED');
    }
    // `one` has 2 tags, `delta` 2 upserted rows (and 1 removal): 2 is the limit in both.
    const cases = [
      ['listItemsMax', one],
      ['rowsPerNodeMax', delta],
    ] as const;
    for (const [field, message] of cases)
      for (const [limit, ok] of [
        [3, true],
        [2, true],
        [1, false],
      ] as const) {
        const limits = registryMessages({ ...config, [field]: limit });
        const result = decodeRegistryMessage(limits, gossip(message), CLUSTER);
        expect(result.ok, `${field} ${limit}`).toBe(ok);
      }
  });

  it('the standalone delta payload packs deltas within the carrier budget and round-trips', () => {
    const deltas = [1, 2, 3].map((i): Delta => ({ ...delta, owner: nodeIdOf(i) }));
    const each = deltaBytes(deltas[0] as Delta, config);
    for (const [budget, count] of [
      [1 + 2 * each - 1, 1],
      [1 + 2 * each, 2],
      [1 + 3 * each, 3],
    ] as const) {
      const { bytes, count: got } = encodeDeltaPayload(deltas, budget, config);
      expect(got).toBe(count);
      expect(bytes.length).toBeLessThanOrEqual(budget);
      const back = decodeDeltaPayload(bytes, config);
      expect(back).toEqual({ ok: true, deltas: deltas.slice(0, count) });
    }
    expect(decodeDeltaPayload(Uint8Array.from([5, 1, 2]), config)).toMatchObject({ ok: false });
  });

  it('a gossiped delta of one row fits a datagram: bytes per delta', () => {
    const one: Delta = {
      ...delta,
      fromSeq: 5,
      toSeq: 6,
      upserts: [process('p1', 6)],
      removals: [],
    };
    const bytes = encodeRegistryMessage(
      table,
      { type: 'data-gossip', from: nodeIdOf(0), deltas: [one] },
      CLUSTER,
    ).length;
    // 64 of them are the owner's signature of the version (signing.ts).
    expect(deltaBytes(one, config)).toBe(126);
    expect(bytes).toBe(150);
  });
});
