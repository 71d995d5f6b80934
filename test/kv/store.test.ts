/**
 * The state machine against etcd v3's documented semantics (etcd.io/docs "KV API guarantees" and
 * "Data model"; api/etcdserverpb/rpc.proto; the etcdserver/txn and mvcc code named per test).
 * Every store here checks checkKvInvariants after every command (helpers.ts).
 */
import { describe, expect, it } from 'vitest';
import { logIndex } from '../../src/base/units.js';
import { casOutcome, casPut, prefixRange } from '../../src/kv/commands.js';
import { encodeCommandUnchecked } from '../../src/kv/codec.js';
import { keyBytes, keyText, prefixEnd } from '../../src/kv/keys.js';
import { applyEntry, applyNothing, get, lease, range } from '../../src/kv/store.js';
import type { Compare, KvOp, RangeRequest } from '../../src/kv/types.js';
import { TestStore, as, b, codeOf, lid, rev, t } from './helpers.js';

const rangeOp = (request: RangeRequest): KvOp => ({ kind: 'range', request });
const keysOf = (s: TestStore, request: RangeRequest): string[] =>
  as(s.do(rangeOp(request)), 'range').kvs.map((kv) => t(kv.key));

describe('revisions, versions and createRevision (etcd data model)', () => {
  it('an empty store is at revision 1; each write transaction adds exactly 1', () => {
    const s = new TestStore();
    expect(s.state.mvcc.revision).toBe(1);
    expect(as(s.put('a', '1'), 'put').revision).toBe(2);
    expect(as(s.put('b', '1'), 'put').revision).toBe(3);
  });

  it('version counts puts since creation; createRevision stays; modRevision moves', () => {
    const s = new TestStore();
    s.put('k', 'v1');
    s.put('k', 'v2');
    s.put('k', 'v3');
    expect(get(s.state, 'k')).toMatchObject({ createRevision: 2, modRevision: 4, version: 3 });
    expect(t((get(s.state, 'k') as { value: Uint8Array }).value)).toBe('v3');
  });

  it('a delete resets the version: the next put is version 1 of a new generation', () => {
    const s = new TestStore();
    s.put('k', 'v1');
    s.put('k', 'v2');
    expect(as(s.del('k'), 'delete-range')).toMatchObject({ deleted: 1, revision: 4 });
    expect(get(s.state, 'k')).toBeUndefined();
    s.put('k', 'v3');
    expect(get(s.state, 'k')).toMatchObject({ createRevision: 5, modRevision: 5, version: 1 });
  });

  it('reads at a past revision see the value then (MVCC), deleted keys included', () => {
    const s = new TestStore();
    s.put('k', 'v1'); // 2
    s.put('k', 'v2'); // 3
    s.del('k'); // 4
    expect(t((get(s.state, 'k', rev(2)) as { value: Uint8Array }).value)).toBe('v1');
    expect(t((get(s.state, 'k', rev(3)) as { value: Uint8Array }).value)).toBe('v2');
    expect(get(s.state, 'k', rev(4))).toBeUndefined();
    expect(get(s.state, 'k', rev(1))).toBeUndefined();
    expect(codeOf(get(s.state, 'k', rev(5)) as never)).toBe('ERR_FUTURE_REVISION');
  });

  it('put returns prevKv only when asked and the key existed (PutRequest.prev_kv)', () => {
    const s = new TestStore();
    expect(as(s.put('k', 'v1', { prevKv: true }), 'put').prevKv).toBeUndefined();
    const second = as(s.put('k', 'v2', { prevKv: true }), 'put');
    expect(t(second.prevKv!.value)).toBe('v1');
    expect(second.prevKv).toMatchObject({ version: 1, modRevision: 2 });
    expect(as(s.put('k', 'v3'), 'put').prevKv).toBeUndefined();
  });

  it('a key longer than one conversion chunk (8 KiB) keeps every byte', () => {
    const s = new TestStore();
    const key = Uint8Array.from({ length: 20_000 }, (_, i) => (i * 7) % 256);
    s.do({ kind: 'put', request: { key, value: b('v') } });
    expect(keyText(key).length).toBe(20_000);
    expect([...keyBytes(keyText(key))]).toEqual([...key]);
    expect((get(s.state, key) as { key: Uint8Array }).key).toEqual(key);
  });

  it('keys and values are bytes, compared bytewise (0x00, 0x7f, 0x80, 0xff sort as bytes)', () => {
    const s = new TestStore();
    for (const key of [[0xff], [0x80], [0x7f, 0x01], [0x00], [0x7f]])
      s.do({ kind: 'put', request: { key: Uint8Array.from(key), value: Uint8Array.of(1) } });
    const kvs = as(
      range(s.state, { key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) }),
      'range',
    ).kvs;
    expect(kvs.map((kv) => [...kv.key])).toEqual([[0x00], [0x7f], [0x7f, 0x01], [0x80], [0xff]]);
  });
});

describe('range (RangeRequest)', () => {
  const filled = (): TestStore => {
    const s = new TestStore();
    for (const key of ['a', 'b/1', 'b/2', 'b/3', 'c']) s.put(key, key.toUpperCase());
    return s;
  };

  it('names one key, [key, rangeEnd), a prefix, every key >= key ([0x00]) and every key', () => {
    const s = filled();
    expect(keysOf(s, { key: b('b/2') })).toEqual(['b/2']);
    expect(keysOf(s, { key: b('a'), rangeEnd: b('b/3') })).toEqual(['a', 'b/1', 'b/2']);
    expect(keysOf(s, prefixRange('b/'))).toEqual(['b/1', 'b/2', 'b/3']);
    expect(keysOf(s, { key: b('b/3'), rangeEnd: Uint8Array.of(0) })).toEqual(['b/3', 'c']);
    expect(keysOf(s, prefixRange(''))).toEqual(['a', 'b/1', 'b/2', 'b/3', 'c']);
    expect(keysOf(s, { key: b('c'), rangeEnd: b('a') })).toEqual([]);
  });

  it('prefixEnd increments the last byte below 0xff (clientv3.GetPrefixRangeEnd)', () => {
    expect([...prefixEnd(b('ab'))]).toEqual([0x61, 0x63]);
    expect([...prefixEnd(Uint8Array.of(0x61, 0xff))]).toEqual([0x62]);
    expect([...prefixEnd(Uint8Array.of(0xff, 0xff))]).toEqual([0]);
  });

  it('limit cuts and sets more; count is every key in the range', () => {
    const s = filled();
    const r = as(s.do(rangeOp({ ...prefixRange('b/'), limit: 2 })), 'range');
    expect(r.kvs.map((kv) => t(kv.key))).toEqual(['b/1', 'b/2']);
    expect(r).toMatchObject({ more: true, count: 3, revision: 6 });
    expect(as(s.do(rangeOp({ ...prefixRange('b/'), limit: 3 })), 'range').more).toBe(false);
  });

  it('sorts by any target, ties in key order, and applies limit after sorting (range.go)', () => {
    const s = filled();
    s.put('b/1', 'z'); // b/1 now version 2, mod 7
    const byMod = keysOf(s, {
      ...prefixRange('b/'),
      sortTarget: 'mod',
      sortOrder: 'descend',
      limit: 2,
    });
    expect(byMod).toEqual(['b/1', 'b/3']);
    expect(
      keysOf(s, { ...prefixRange('b/'), sortTarget: 'version', sortOrder: 'descend' }),
    ).toEqual(['b/1', 'b/2', 'b/3']);
    expect(
      keysOf(s, { ...prefixRange(''), sortTarget: 'key', sortOrder: 'descend', limit: 2 }),
    ).toEqual(['c', 'b/3']);
    expect(keysOf(s, { ...prefixRange(''), sortTarget: 'value' })).toEqual([
      'a',
      'b/2',
      'b/3',
      'c',
      'b/1',
    ]);
  });

  it('keysOnly empties values; countOnly returns the count alone', () => {
    const s = filled();
    const keysOnly = as(s.do(rangeOp({ ...prefixRange('b/'), keysOnly: true })), 'range');
    expect(keysOnly.kvs.every((kv) => kv.value.length === 0)).toBe(true);
    const countOnly = as(s.do(rangeOp({ ...prefixRange('b/'), countOnly: true })), 'range');
    expect(countOnly).toMatchObject({ kvs: [], count: 3, more: false });
  });

  it('filters by mod and create revision', () => {
    const s = filled(); // a@2 b/1@3 b/2@4 b/3@5 c@6
    expect(
      keysOf(s, { ...prefixRange(''), minModRevision: rev(4), maxModRevision: rev(5) }),
    ).toEqual(['b/2', 'b/3']);
    expect(keysOf(s, { ...prefixRange(''), maxCreateRevision: rev(3) })).toEqual(['a', 'b/1']);
    expect(keysOf(s, { ...prefixRange(''), minCreateRevision: rev(6) })).toEqual(['c']);
  });

  it('reads at a past revision, refuses one above the current (ERR_FUTURE_REVISION)', () => {
    const s = filled();
    expect(keysOf(s, { ...prefixRange(''), revision: rev(3) })).toEqual(['a', 'b/1']);
    expect(codeOf(s.do(rangeOp({ key: b('a'), revision: rev(7) })))).toBe('ERR_FUTURE_REVISION');
  });
});

describe('delete-range (DeleteRangeRequest)', () => {
  it('deletes a range at one revision with prevKvs; deleting nothing keeps the revision', () => {
    const s = new TestStore();
    for (const key of ['p/1', 'p/2', 'q']) s.put(key, 'v');
    const r = as(
      s.do({ kind: 'delete-range', request: { ...prefixRange('p/'), prevKv: true } }),
      'delete-range',
    );
    expect(r.deleted).toBe(2);
    expect(r.revision).toBe(5);
    expect(r.prevKvs!.map((kv) => t(kv.key))).toEqual(['p/1', 'p/2']);
    const events = s.run({ kind: 'delete-range', request: { key: b('q') } }).events;
    expect(events).toEqual([
      { type: 'delete', kv: expect.objectContaining({ modRevision: 6, version: 0 }), revision: 6 },
    ]);
    expect(as(s.del('nothing'), 'delete-range')).toMatchObject({ deleted: 0, revision: 6 });
    expect(s.state.mvcc.revision).toBe(6);
  });
});

const cmp = (
  key: string,
  target: Compare['target'],
  op: Compare['op'],
  value: number | string,
): Compare =>
  (target === 'value'
    ? { key: b(key), target, op, value: b(value as string) }
    : { key: b(key), target, op, value: value as number }) as Compare;

describe('txn (TxnRequest; etcdserver/txn/txn.go)', () => {
  it('compares on a missing key as etcd: version, revisions and lease are 0; value always fails', () => {
    const s = new TestStore();
    const holds = (c: Compare): boolean =>
      as(s.do({ kind: 'txn', request: { compare: [c], success: [], failure: [] } }), 'txn')
        .succeeded;
    expect(holds(cmp('x', 'version', '=', 0))).toBe(true);
    expect(holds(cmp('x', 'createRevision', '=', 0))).toBe(true);
    expect(holds(cmp('x', 'modRevision', '<', 1))).toBe(true);
    expect(holds(cmp('x', 'lease', '=', 0))).toBe(true);
    expect(holds(cmp('x', 'value', '=', ''))).toBe(false);
    expect(holds(cmp('x', 'value', '!=', 'a'))).toBe(false);
  });

  it('compares every target and op on an existing key', () => {
    const s = new TestStore();
    s.grant(7);
    s.put('k', 'm', { lease: lid(7) }); // rev 2, version 1
    s.put('k', 'm', { lease: lid(7) }); // rev 3, version 2
    const holds = (c: Compare): boolean =>
      as(s.do({ kind: 'txn', request: { compare: [c], success: [], failure: [] } }), 'txn')
        .succeeded;
    expect(holds(cmp('k', 'value', '=', 'm'))).toBe(true);
    expect(holds(cmp('k', 'value', '>', 'l'))).toBe(true);
    expect(holds(cmp('k', 'value', '<', 'mm'))).toBe(true);
    expect(holds(cmp('k', 'value', '!=', 'm'))).toBe(false);
    expect(holds(cmp('k', 'version', '=', 2))).toBe(true);
    expect(holds(cmp('k', 'createRevision', '=', 2))).toBe(true);
    expect(holds(cmp('k', 'modRevision', '>', 2))).toBe(true);
    expect(holds(cmp('k', 'lease', '=', 7))).toBe(true);
  });

  it('a compare over a range needs every key to pass', () => {
    const s = new TestStore();
    s.put('r/1', 'a');
    s.put('r/2', 'b');
    const all = (c: Compare): boolean =>
      as(s.do({ kind: 'txn', request: { compare: [c], success: [], failure: [] } }), 'txn')
        .succeeded;
    const r = prefixRange('r/');
    expect(all({ ...r, target: 'version', op: '=', value: 1 })).toBe(true);
    expect(all({ ...r, target: 'value', op: '=', value: b('a') })).toBe(false);
  });

  it('writes of one txn share one revision with sub-revisions in order; ranges see earlier writes', () => {
    const s = new TestStore();
    const out = s.run({
      kind: 'txn',
      request: {
        compare: [cmp('a', 'version', '=', 0)],
        success: [
          { kind: 'put', request: { key: b('a'), value: b('1') } },
          { kind: 'range', request: { key: b('a') } },
          { kind: 'put', request: { key: b('b'), value: b('2') } },
        ],
        failure: [],
      },
    });
    const r = as(out.result, 'txn');
    expect(r.revision).toBe(2);
    expect(as(r.results[1]!, 'range').kvs.map((kv) => t(kv.value))).toEqual(['1']);
    expect(out.events.map((e) => [t(e.kv.key), e.revision])).toEqual([
      ['a', 2],
      ['b', 2],
    ]);
    expect(s.state.mvcc.log.map((r) => [r.text, r.main, r.sub])).toEqual([
      ['a', 2, 0],
      ['b', 2, 1],
    ]);
  });

  it('runs the failure branch when a compare fails, and a read-only txn keeps the revision', () => {
    const s = new TestStore();
    s.put('a', '1');
    const r = as(
      s.do({
        kind: 'txn',
        request: {
          compare: [cmp('a', 'value', '=', '2')],
          success: [{ kind: 'put', request: { key: b('a'), value: b('x') } }],
          failure: [{ kind: 'range', request: { key: b('a') } }],
        },
      }),
      'txn',
    );
    expect(r.succeeded).toBe(false);
    expect(r.revision).toBe(2);
    expect(as(r.results[0]!, 'range').kvs).toHaveLength(1);
  });

  it('nested txns evaluate all compares before any write (compareToPath)', () => {
    const s = new TestStore();
    const r = as(
      s.do({
        kind: 'txn',
        request: {
          compare: [],
          success: [
            { kind: 'put', request: { key: b('a'), value: b('1') } },
            {
              kind: 'txn',
              request: {
                // Evaluated at revision 1, before the put above: 'a' is missing then.
                compare: [cmp('a', 'version', '=', 0)],
                success: [{ kind: 'put', request: { key: b('seen-missing'), value: b('y') } }],
                failure: [{ kind: 'put', request: { key: b('seen-present'), value: b('y') } }],
              },
            },
          ],
          failure: [],
        },
      }),
      'txn',
    );
    expect(as(r.results[1]!, 'txn').succeeded).toBe(true);
    expect(get(s.state, 'seen-missing')).toBeDefined();
    expect(get(s.state, 'seen-present')).toBeUndefined();
  });

  it('a refused operation (missing lease) refuses the whole txn and writes nothing', () => {
    const s = new TestStore();
    const r = s.do({
      kind: 'txn',
      request: {
        compare: [],
        success: [
          { kind: 'put', request: { key: b('a'), value: b('1') } },
          { kind: 'put', request: { key: b('b'), value: b('1'), lease: lid(99) } },
        ],
        failure: [],
      },
    });
    expect(codeOf(r)).toBe('ERR_LEASE_NOT_FOUND');
    expect(get(s.state, 'a')).toBeUndefined();
    expect(s.state.mvcc.revision).toBe(1);
    expect(s.state.stats.refused.ERR_LEASE_NOT_FOUND).toBe(1);
  });

  it('refuses writing one key twice in a branch, put inside a deleted range included (checkIntervals)', () => {
    const s = new TestStore();
    const put = (key: string): KvOp & { kind: 'put' } => ({
      kind: 'put',
      request: { key: b(key), value: b('v') },
    });
    const txn = (success: KvOp[]) =>
      s.do({ kind: 'txn', request: { compare: [], success: success as never, failure: [] } });
    expect(codeOf(txn([put('a'), put('a')]))).toBe('ERR_DUPLICATE_KEY');
    expect(codeOf(txn([{ kind: 'delete-range', request: prefixRange('a') }, put('ab')]))).toBe(
      'ERR_DUPLICATE_KEY',
    );
    const nested = (success: KvOp[], failure: KvOp[]): KvOp => ({
      kind: 'txn',
      request: { compare: [], success: success as never, failure: failure as never },
    });
    expect(codeOf(txn([put('a'), nested([put('a')], [])]))).toBe('ERR_DUPLICATE_KEY');
    // The same key in both branches of a nested txn is fine: only one runs.
    expect(codeOf(txn([nested([put('a')], [put('a')])]))).toBeUndefined();
    // Two deletes may overlap: the second finds nothing left.
    const twoDeletes = as(
      txn([
        { kind: 'delete-range', request: prefixRange('a') },
        { kind: 'delete-range', request: { key: b('a') } },
      ]),
      'txn',
    );
    expect(twoDeletes.results.map((r) => as(r, 'delete-range').deleted)).toEqual([1, 0]);
  });

  it('a range inside a txn at a revision below compaction refuses the txn before any write', () => {
    const s = new TestStore();
    s.put('a', '1');
    s.put('a', '2');
    s.do({ kind: 'compact', revision: rev(3) });
    const r = s.do({
      kind: 'txn',
      request: {
        compare: [],
        success: [
          { kind: 'put', request: { key: b('b'), value: b('1') } },
          { kind: 'range', request: { key: b('a'), revision: rev(2) } },
        ],
        failure: [],
      },
    });
    expect(r).toMatchObject({ kind: 'error', code: 'ERR_COMPACTED', compactRevision: 3 });
    expect(get(s.state, 'b')).toBeUndefined();
  });

  it('casPut writes only at the expected modRevision (0: absent); casOutcome maps a miss to ERR_CAS_FAILED', () => {
    const s = new TestStore();
    expect(as(casOutcome(s.do(casPut(b('k'), b('1'), 0))), 'put').revision).toBe(2);
    const miss = casOutcome(s.do(casPut(b('k'), b('2'), 0)));
    expect(miss).toMatchObject({ kind: 'error', code: 'ERR_CAS_FAILED' });
    expect((miss as { message: string }).message).toContain('modRevision is 2');
    expect(as(casOutcome(s.do(casPut(b('k'), b('2'), rev(2)))), 'put').revision).toBe(3);
  });
});

describe('put with ignoreValue / ignoreLease (put.go)', () => {
  it('keeps the value or the lease of an existing key, and refuses a missing one', () => {
    const s = new TestStore();
    s.grant(5);
    s.put('k', 'v', { lease: lid(5) });
    s.do({ kind: 'put', request: { key: b('k'), value: new Uint8Array(0), ignoreValue: true } });
    expect(get(s.state, 'k')).toMatchObject({ version: 2 });
    expect(t((get(s.state, 'k') as { value: Uint8Array }).value)).toBe('v');
    expect((get(s.state, 'k') as { lease?: number }).lease).toBeUndefined();
    s.put('k', 'w', { lease: lid(5) });
    s.do({ kind: 'put', request: { key: b('k'), value: b('x'), ignoreLease: true } });
    expect(get(s.state, 'k')).toMatchObject({ lease: 5, version: 4 });
    const missing = s.do({
      kind: 'put',
      request: { key: b('nope'), value: new Uint8Array(0), ignoreValue: true },
    });
    expect(codeOf(missing)).toBe('ERR_KEY_NOT_FOUND');
    const bad = s.do({ kind: 'put', request: { key: b('k'), value: b('x'), ignoreValue: true } });
    expect(codeOf(bad)).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('leases in the state machine (lessor.go Grant/Revoke/Attach)', () => {
  it('grant raises a TTL below leaseTtlMsMin; a duplicate id and a TTL above the max are refused', () => {
    const s = new TestStore({ leaseTtlMsMin: 2000 });
    expect(as(s.grant(1, 500), 'lease-grant').ttlMs).toBe(2000);
    expect(codeOf(s.grant(1))).toBe('ERR_LEASE_EXISTS');
    expect(codeOf(s.grant(2, 9_000_000_000_001))).toBe('ERR_LEASE_TTL_TOO_LARGE');
    expect(s.run({ kind: 'lease-grant', id: lid(3), ttlMs: 3000 }).leaseChanges).toEqual([
      { kind: 'granted', id: 3, ttlMs: 3000 },
    ]);
  });

  it('revoke deletes every attached key at one revision, in key order; the lease is then gone', () => {
    const s = new TestStore();
    s.grant(1);
    // Attached out of key order: every replica (one restored from a snapshot too) must delete in
    // the same order, so the order is the keys', not the attachments'.
    s.put('y', '1', { lease: lid(1) });
    s.put('x', '1', { lease: lid(1) });
    s.put('z', '1');
    expect(lease(s.state, lid(1), true)!.keys.map(t)).toEqual(['x', 'y']);
    const out = s.run({ kind: 'lease-revoke', id: lid(1) });
    expect(out.result).toEqual({ kind: 'lease-revoke', revision: 5 });
    expect(out.events.map((e) => [e.type, t(e.kv.key), e.revision])).toEqual([
      ['delete', 'x', 5],
      ['delete', 'y', 5],
    ]);
    expect(out.leaseChanges).toEqual([{ kind: 'revoked', id: 1 }]);
    expect(get(s.state, 'z')).toBeDefined();
    expect(codeOf(s.do({ kind: 'lease-revoke', id: lid(1) }))).toBe('ERR_LEASE_NOT_FOUND');
    expect(codeOf(s.put('w', '1', { lease: lid(1) }))).toBe('ERR_LEASE_NOT_FOUND');
  });

  it('a put under another lease, without one, or a delete detaches the key from its old lease', () => {
    const s = new TestStore();
    s.grant(1);
    s.grant(2);
    s.put('a', '1', { lease: lid(1) });
    s.put('b', '1', { lease: lid(1) });
    s.put('a', '2', { lease: lid(2) });
    s.put('b', '2');
    expect(lease(s.state, lid(1), true)!.keys).toEqual([]);
    s.del('a');
    expect(lease(s.state, lid(2), true)!.keys).toEqual([]);
    // Revoking lease 1 now deletes nothing and moves no revision.
    expect(s.do({ kind: 'lease-revoke', id: lid(1) })).toEqual({
      kind: 'lease-revoke',
      revision: 6,
    });
  });

  it('checkpoints record a remaining TTL for known leases only', () => {
    const s = new TestStore();
    s.grant(1);
    const out = s.run({
      kind: 'lease-checkpoint',
      checkpoints: [
        { id: lid(1), remainingTtlMs: 4000 },
        { id: lid(2), remainingTtlMs: 1 },
      ],
    });
    expect(out.leaseChanges).toEqual([{ kind: 'checkpointed', id: 1, remainingTtlMs: 4000 }]);
    expect(lease(s.state, lid(1))!.remainingTtlMs).toBe(4000);
  });
});

describe('compaction (kvstore.go updateCompactRev, key_index.go compact)', () => {
  it('refuses reads below the compacted revision and keeps reads at it', () => {
    const s = new TestStore();
    s.put('a', '1'); // 2
    s.put('a', '2'); // 3
    s.put('b', '1'); // 4
    s.del('b'); // 5
    expect(s.do({ kind: 'compact', revision: rev(4) })).toEqual({ kind: 'compact', revision: 5 });
    expect(codeOf(get(s.state, 'a', rev(3)) as never)).toBe('ERR_COMPACTED');
    expect(t((get(s.state, 'a', rev(4)) as { value: Uint8Array }).value)).toBe('2');
    expect(get(s.state, 'b', rev(4))).toBeDefined();
    expect(codeOf(s.do({ kind: 'compact', revision: rev(4) }))).toBe('ERR_COMPACTED');
    expect(codeOf(s.do({ kind: 'compact', revision: rev(9) }))).toBe('ERR_FUTURE_REVISION');
    expect(s.do({ kind: 'compact', revision: rev(5) }).kind).toBe('compact');
    // b's tombstone at 5 is kept for a watcher from 5; compacting past it drops the key.
    expect(s.state.mvcc.index.has('b')).toBe(true);
    s.put('c', '1');
    s.do({ kind: 'compact', revision: rev(6) });
    expect(s.state.mvcc.index.has('b')).toBe(false);
    expect(s.state.mvcc.index.get('a')!.records).toHaveLength(1);
  });

  it('physical compaction goes a slice of keys per apply and never changes what reads see', () => {
    const s = new TestStore({ compactionSliceKeys: 2 });
    for (let i = 0; i < 10; i++) s.put(`k${i}`, 'old');
    for (let i = 0; i < 10; i++) s.put(`k${i}`, 'new');
    s.do({ kind: 'compact', revision: rev(21) });
    expect(s.state.mvcc.compactCursor).toBeDefined();
    const before = as(range(s.state, prefixRange('k')), 'range');
    for (let i = 0; i < 5; i++) s.do({ kind: 'range', request: { key: b('k0') } });
    expect(s.state.mvcc.compactCursor).toBeUndefined();
    expect(as(range(s.state, prefixRange('k')), 'range')).toEqual(before);
    expect([...s.state.mvcc.index.values()].every((h) => h.records.length === 1)).toBe(true);
  });
});

describe('sessions (Raft thesis §6.3)', () => {
  it('a retried (clientId, seq) returns the recorded result and applies nothing', () => {
    const s = new TestStore();
    const put = (value: string): KvOp => ({
      kind: 'put',
      request: { key: b('k'), value: b(value), prevKv: true },
    });
    const first = s.run(put('1'), { clientId: 'c', seq: 1 });
    const retry = s.run(put('1'), { clientId: 'c', seq: 1 });
    expect(retry).toEqual({ result: first.result, events: [], leaseChanges: [], duplicate: true });
    expect(s.state.mvcc.revision).toBe(2);
    s.run(put('2'), { clientId: 'c', seq: 2 });
    expect(as(s.do(put('2'), { clientId: 'c', seq: 2 }), 'put').prevKv!.value).toEqual(b('1'));
    expect(s.state.stats.duplicates).toBe(2);
  });

  it('an older seq is refused (ERR_SESSION_STALE); an unknown client must start at seq 1', () => {
    const s = new TestStore();
    const op: KvOp = { kind: 'put', request: { key: b('k'), value: b('v') } };
    s.run(op, { clientId: 'c', seq: 5 - 4 });
    s.run(op, { clientId: 'c', seq: 3 });
    expect(codeOf(s.do(op, { clientId: 'c', seq: 2 }))).toBe('ERR_SESSION_STALE');
    expect(codeOf(s.do(op, { clientId: 'other', seq: 2 }))).toBe('ERR_SESSION_EXPIRED');
    expect(s.state.mvcc.revision).toBe(3);
  });

  it('a refusal is recorded too: the retry gets the same error', () => {
    const s = new TestStore();
    const op: KvOp = { kind: 'put', request: { key: b('k'), value: b('v'), lease: lid(3) } };
    expect(codeOf(s.do(op, { clientId: 'c', seq: 1 }))).toBe('ERR_LEASE_NOT_FOUND');
    s.grant(3);
    expect(s.run(op, { clientId: 'c', seq: 1 })).toMatchObject({
      duplicate: true,
      result: { code: 'ERR_LEASE_NOT_FOUND' },
    });
  });
});

describe('entries from the log', () => {
  it('bad bytes are refused with a decode code, counted, and change nothing but appliedIndex', () => {
    const s = new TestStore();
    s.put('a', '1');
    const out = applyEntry(s.state, Uint8Array.of(1, 0, 99), logIndex(++s.index));
    expect(codeOf(out.result)).toBe('ERR_DECODE_MALFORMED');
    expect(s.state.appliedIndex).toBe(s.index);
    expect(s.state.stats.refused.ERR_DECODE_MALFORMED).toBe(1);
    expect(s.state.mvcc.revision).toBe(2);
    expect(codeOf(applyEntry(s.state, Uint8Array.of(7), logIndex(++s.index)).result)).toBe(
      'ERR_DECODE_BAD_VERSION',
    );
  });

  it('a well-formed entry applies like the decoded command', () => {
    const s = new TestStore();
    const bytes = encodeCommandUnchecked({
      op: { kind: 'put', request: { key: b('a'), value: b('1') } },
    });
    expect(applyEntry(s.state, bytes, logIndex(1)).result).toEqual({ kind: 'put', revision: 2 });
  });

  it('entries apply once, in order: an index at or below appliedIndex is a bug', () => {
    const s = new TestStore();
    applyNothing(s.state, logIndex(3));
    expect(() => applyNothing(s.state, logIndex(3))).toThrow(/apply once, in order/);
  });
});
