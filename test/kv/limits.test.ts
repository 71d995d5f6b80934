/**
 * Every named limit at limit - 1, limit and limit + 1 (STYLE.md section 7), and config validation.
 */
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand } from '../../src/kv/codec.js';
import { kvConfig, watchConfig } from '../../src/kv/config.js';
import { createKvStore } from '../../src/kv/store.js';
import { takeSnapshot, beginSnapshot, nextSnapshotChunk } from '../../src/kv/snapshot.js';
import type { KvOp, RequestOp, TxnRequest } from '../../src/kv/types.js';
import { addWatcher, createWatchRegistry, onApplied } from '../../src/kv/watch.js';
import { TestStore, b, codeOf, lid } from './helpers.js';

const bytes = (n: number): Uint8Array => new Uint8Array(n).fill(0x61);
const put = (key: Uint8Array, value = b('v')): KvOp & RequestOp => ({
  kind: 'put',
  request: { key, value },
});
const txn = (request: Partial<TxnRequest>): KvOp => ({
  kind: 'txn',
  request: { compare: [], success: [], failure: [], ...request },
});

describe('size limits', () => {
  it('keyBytesMax (8): 7 and 8 apply, 9 is ERR_TOO_LARGE, for keys and range ends', () => {
    const s = new TestStore({ keyBytesMax: 8 });
    expect(codeOf(s.do(put(bytes(7))))).toBeUndefined();
    expect(codeOf(s.do(put(bytes(8))))).toBeUndefined();
    expect(codeOf(s.do(put(bytes(9))))).toBe('ERR_TOO_LARGE');
    expect(codeOf(s.do({ kind: 'range', request: { key: b('a'), rangeEnd: bytes(9) } }))).toBe(
      'ERR_TOO_LARGE',
    );
    expect(s.state.stats.refused.ERR_TOO_LARGE).toBe(2);
  });

  it('valueBytesMax (16): 15 and 16 apply, 17 is ERR_TOO_LARGE', () => {
    const s = new TestStore({ valueBytesMax: 16 });
    expect(codeOf(s.do(put(b('k'), bytes(15))))).toBeUndefined();
    expect(codeOf(s.do(put(b('k'), bytes(16))))).toBeUndefined();
    expect(codeOf(s.do(put(b('k'), bytes(17))))).toBe('ERR_TOO_LARGE');
  });

  it('requestBytesMax (100): an encoding of 99 or 100 bytes is proposed and decoded, 101 refused both ways', () => {
    const config = kvConfig({ requestBytesMax: 100, keyBytesMax: 8, valueBytesMax: 100 });
    // version, flags, op, key length, key 'k', value length, value, lease, flags = 8 bytes + value.
    const sized = (total: number) => ({ op: put(b('k'), bytes(total - 8)) });
    for (const total of [99, 100]) {
      const encoded = encodeCommand(sized(total), config) as Uint8Array;
      expect(encoded.length).toBe(total);
      expect(decodeCommand(encoded, config).ok).toBe(true);
    }
    expect(encodeCommand(sized(101), config)).toMatchObject({ code: 'ERR_TOO_LARGE' });
    const big = encodeCommand(sized(101), kvConfig({ keyBytesMax: 8 })) as Uint8Array;
    expect(decodeCommand(big, config)).toMatchObject({ ok: false, code: 'ERR_DECODE_OVERSIZED' });
  });

  it('clientIdBytesMax (4): 3 and 4 bytes apply, 5 is ERR_TOO_LARGE', () => {
    const s = new TestStore({ clientIdBytesMax: 4 });
    expect(codeOf(s.do(put(b('k')), { clientId: 'abc', seq: 1 }))).toBeUndefined();
    expect(codeOf(s.do(put(b('k')), { clientId: 'abcd', seq: 1 }))).toBeUndefined();
    expect(codeOf(s.do(put(b('k')), { clientId: 'abcde', seq: 1 }))).toBe('ERR_TOO_LARGE');
  });
});

describe('txn limits', () => {
  it('txnOpsMax (4): 3 and 4 compares or ops per branch apply, 5 is ERR_TOO_MANY_OPS', () => {
    const s = new TestStore({ txnOpsMax: 4 });
    const ops = (n: number) => Array.from({ length: n }, (_, i) => put(b(`k${i}`)));
    const compares = (n: number) =>
      Array.from({ length: n }, () => ({
        key: b('x'),
        target: 'version' as const,
        op: '=' as const,
        value: 0,
      }));
    for (const n of [3, 4]) {
      expect(codeOf(s.do(txn({ success: ops(n) })))).toBeUndefined();
      expect(codeOf(s.do(txn({ failure: ops(n) })))).toBeUndefined();
      expect(codeOf(s.do(txn({ compare: compares(n) })))).toBeUndefined();
    }
    expect(codeOf(s.do(txn({ success: ops(5) })))).toBe('ERR_TOO_MANY_OPS');
    expect(codeOf(s.do(txn({ compare: compares(5) })))).toBe('ERR_TOO_MANY_OPS');
  });

  it('a nested txn gets what its parent left of txnOpsMax (etcd checkTxnRequest)', () => {
    const s = new TestStore({ txnOpsMax: 4 });
    const nested = (n: number): RequestOp => ({
      kind: 'txn',
      request: {
        compare: [],
        success: Array.from({ length: n }, (_, i) => put(b(`n${i}`))),
        failure: [],
      },
    });
    // The parent uses 2 (two ops in its branch): 2 left for the nested one.
    expect(codeOf(s.do(txn({ success: [put(b('p')), nested(1)] })))).toBeUndefined();
    expect(codeOf(s.do(txn({ success: [put(b('p')), nested(2)] })))).toBeUndefined();
    expect(codeOf(s.do(txn({ success: [put(b('p')), nested(3)] })))).toBe('ERR_TOO_MANY_OPS');
  });

  it('txnDepthMax (3): depth 2 and 3 apply, 4 is refused by validation and by the decoder', () => {
    const s = new TestStore({ txnDepthMax: 3 });
    const deep = (depth: number): KvOp => {
      let request: TxnRequest = { compare: [], success: [], failure: [] };
      for (let d = 1; d < depth; d++)
        request = { compare: [], success: [{ kind: 'txn', request }], failure: [] };
      return { kind: 'txn', request };
    };
    expect(codeOf(s.do(deep(2)))).toBeUndefined();
    expect(codeOf(s.do(deep(3)))).toBeUndefined();
    expect(codeOf(s.do(deep(4)))).toBe('ERR_TOO_MANY_OPS');
    const config = kvConfig({ txnDepthMax: 3 });
    const encoded = encodeCommand({ op: deep(4) }, kvConfig()) as Uint8Array;
    expect(decodeCommand(encoded, config)).toMatchObject({
      ok: false,
      code: 'ERR_DECODE_OVERSIZED',
    });
  });
});

describe('lease limits', () => {
  it('leasesMax (3): 2 and 3 leases granted, the 4th is ERR_TOO_MANY_LEASES until one is revoked', () => {
    const s = new TestStore({ leasesMax: 3 });
    for (const id of [1, 2, 3]) expect(codeOf(s.grant(id))).toBeUndefined();
    expect(codeOf(s.grant(4))).toBe('ERR_TOO_MANY_LEASES');
    s.do({ kind: 'lease-revoke', id: lid(2) });
    expect(codeOf(s.grant(4))).toBeUndefined();
  });

  it('leaseTtlMsMax (1000): 999 and 1000 granted, 1001 is ERR_LEASE_TTL_TOO_LARGE', () => {
    const s = new TestStore({ leaseTtlMsMin: 10, leaseTtlMsMax: 1_000 });
    expect(codeOf(s.grant(1, 999))).toBeUndefined();
    expect(codeOf(s.grant(2, 1_000))).toBeUndefined();
    expect(codeOf(s.grant(3, 1_001))).toBe('ERR_LEASE_TTL_TOO_LARGE');
  });
});

describe('session limits', () => {
  const op = put(b('k'));

  it('sessionsMax (3): 3 sessions kept; a 4th evicts the least recently used, whose retry is ERR_SESSION_EXPIRED', () => {
    const s = new TestStore({ sessionsMax: 3 });
    for (const c of ['a', 'b', 'c']) s.do(op, { clientId: c, seq: 1 });
    s.do(op, { clientId: 'a', seq: 2 }); // a is now the most recent; b the least
    expect(s.state.sessions.entries.size).toBe(3);
    s.do(op, { clientId: 'd', seq: 1 });
    expect([...s.state.sessions.entries.keys()]).toEqual(['c', 'a', 'd']);
    // b was evicted: its next command cannot be told from a retry of an applied one.
    expect(codeOf(s.do(op, { clientId: 'b', seq: 2 }))).toBe('ERR_SESSION_EXPIRED');
    expect(s.run(op, { clientId: 'a', seq: 2 }).duplicate).toBe(true); // a survived: its retry is answered
    expect(s.state.stats.sessionsEvicted).toBe(1);
  });

  it('sessionResultBytesMax: a result of the limit is kept, one byte more is dropped (its retry is ERR_SESSION_EXPIRED)', () => {
    const probe = new TestStore();
    probe.do(put(b('k')), { clientId: 'x', seq: 1 });
    const putResultBytes = probe.state.sessions.bytes; // an encoded put result
    const s = new TestStore({ sessionResultBytesMax: putResultBytes });
    s.do(put(b('k')), { clientId: 'x', seq: 1 });
    expect(s.run(put(b('k')), { clientId: 'x', seq: 1 }).duplicate).toBe(true);
    const withPrev: KvOp = { kind: 'put', request: { key: b('k'), value: b('v'), prevKv: true } };
    s.do(withPrev, { clientId: 'x', seq: 2 }); // the result carries prevKv: larger than the limit
    expect(codeOf(s.do(withPrev, { clientId: 'x', seq: 2 }))).toBe('ERR_SESSION_EXPIRED');
    expect(s.state.sessions.bytes).toBe(0);
  });

  it('sessionsBytesMax: the least recently used sessions go until the results fit', () => {
    const probe = new TestStore();
    probe.do(op, { clientId: 'x', seq: 1 });
    const one = probe.state.sessions.bytes;
    const s = new TestStore({ sessionsBytesMax: 2 * one, sessionResultBytesMax: one });
    s.do(op, { clientId: 'a', seq: 1 });
    s.do(op, { clientId: 'b', seq: 1 });
    expect(s.state.sessions.entries.size).toBe(2);
    s.do(op, { clientId: 'c', seq: 1 });
    expect([...s.state.sessions.entries.keys()]).toEqual(['b', 'c']);
    expect(s.state.sessions.bytes).toBe(2 * one);
  });
});

describe('watch limits', () => {
  it('watchersMax (3): 2 and 3 watchers register, the 4th is ERR_TOO_MANY_WATCHERS', () => {
    const state = createKvStore();
    const registry = createWatchRegistry(watchConfig({ watchersMax: 3 }));
    for (let i = 0; i < 3; i++)
      expect(addWatcher(registry, state, { key: b('k') })).toHaveProperty('id');
    expect(addWatcher(registry, state, { key: b('k') })).toMatchObject({
      code: 'ERR_TOO_MANY_WATCHERS',
    });
  });

  it('watcherQueueEventsMax (3): 2 and 3 queued events stay live, a 4th makes the watcher fall behind', () => {
    const s = new TestStore();
    const registry = createWatchRegistry(watchConfig({ watcherQueueEventsMax: 3 }));
    const r = addWatcher(registry, s.state, { key: b('k') }) as { id: number };
    for (let i = 0; i < 3; i++) onApplied(registry, s.run(put(b('k'))).events);
    expect(registry.watchers.get(r.id)!.queue).toHaveLength(3);
    expect(registry.stats.fellBehind).toBe(0);
    onApplied(registry, s.run(put(b('k'))).events);
    expect(registry.stats.fellBehind).toBe(1);
  });
});

describe('snapshot chunks', () => {
  it('snapshotChunkBytes: each chunk but the last holds at least that much, and at most that plus one key', () => {
    const s = new TestStore();
    for (let i = 0; i < 200; i++) s.put(`key-${i}`, 'x'.repeat(40));
    const writer = beginSnapshot(s.state, { snapshotChunkBytes: 1_000 });
    const sizes: number[] = [];
    for (let c = nextSnapshotChunk(writer); c; c = nextSnapshotChunk(writer)) sizes.push(c.length);
    const oneKey = 70;
    for (const size of sizes.slice(0, -1)) {
      expect(size).toBeGreaterThanOrEqual(1_000);
      expect(size).toBeLessThanOrEqual(1_000 + oneKey);
    }
    expect(sizes.reduce((x, y) => x + y)).toBe(takeSnapshot(s.state).length);
  });
});

describe('config validation', () => {
  it('names both fields of a broken rule, and refuses non-positive values', () => {
    expect(() => kvConfig({ keyBytesMax: 100, requestBytesMax: 100 })).toThrow(
      /keyBytesMax \(100\) must be less than requestBytesMax \(100\)/,
    );
    expect(() => kvConfig({ valueBytesMax: 200, requestBytesMax: 100, keyBytesMax: 10 })).toThrow(
      /valueBytesMax/,
    );
    expect(() => kvConfig({ leaseTtlMsMin: 5, leaseTtlMsMax: 4 })).toThrow(/leaseTtlMsMin \(5\)/);
    expect(() => kvConfig({ txnOpsMax: 0 })).toThrow(/txnOpsMax \(0\) must be a positive integer/);
    expect(() => watchConfig({ watchersMax: 1.5 })).toThrow(/ERR_INVALID_CONFIG|watchersMax/);
  });
});
