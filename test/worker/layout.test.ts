/** The reserved prefix: key shapes parse back, and user writes that would reach it are found. */
import { describe, expect, it } from 'vitest';
import { prefixEnd } from '../../src/kv/keys.js';
import type { KvOp, TxnRequest } from '../../src/kv/types.js';
import {
  GUARD_TXN_DEPTH_MAX,
  WORKER_PREFIX,
  keys,
  parseKey,
  prefixes,
  reservedWriteIn,
} from '../../src/worker/core/layout.js';

const b = (text: string): Uint8Array => new TextEncoder().encode(text);
const id = 'a'.repeat(32);
const put = (key: Uint8Array): KvOp => ({ kind: 'put', request: { key, value: b('x') } });

describe('layout', () => {
  it('parses every key it builds', () => {
    expect(parseKey(keys.worker(id))).toEqual({ kind: 'worker', workerId: id });
    expect(parseKey(keys.assignment(id, 'api', 3))).toEqual({
      kind: 'assignment',
      nodeId: id,
      service: 'api',
      index: 3,
    });
    expect(parseKey(keys.command(id, 'c1'))).toEqual({
      kind: 'command',
      nodeId: id,
      commandId: 'c1',
    });
    expect(parseKey(keys.service('api'))).toEqual({ kind: 'service', service: 'api' });
    expect(parseKey(keys.token('t'))).toEqual({ kind: 'token', tokenId: 't' });
    expect(parseKey(b('config/a'))).toBeUndefined();
    expect(parseKey(b('\u0000shoal/worker/assign/x/a/api/03'))).toBeUndefined();
  });

  it("an assignment prefix holds exactly one node's keys", () => {
    const { key, rangeEnd } = prefixes.assignmentsOf(id);
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    expect(text(keys.assignment(id, 'api', 0)) >= text(key)).toBe(true);
    expect(text(keys.assignment(id, 'api', 0)) < text(rangeEnd)).toBe(true);
    expect(text(keys.assignment(`${id}b`, 'api', 0)) < text(key)).toBe(false);
  });
});

describe('user writes cannot reach the reserved prefix', () => {
  it.each<[string, KvOp, boolean]>([
    ['a put of a worker record', put(keys.worker(id)), true],
    ['a put of a user key', put(b('config/a')), false],
    [
      'a delete of everything',
      { kind: 'delete-range', request: { key: b('\u0000'), rangeEnd: Uint8Array.of(0) } },
      true,
    ],
    [
      'a delete of every key from "a"',
      { kind: 'delete-range', request: { key: b('a'), rangeEnd: Uint8Array.of(0) } },
      false,
    ],
    [
      'a delete of a prefix that contains it',
      { kind: 'delete-range', request: { key: b('\u0000'), rangeEnd: prefixEnd(b('\u0000')) } },
      true,
    ],
    [
      'a range read of it',
      { kind: 'range', request: { key: WORKER_PREFIX, rangeEnd: prefixEnd(WORKER_PREFIX) } },
      false,
    ],
    ['a lease revoke', { kind: 'lease-grant', id: 1 as never, ttlMs: 5_000 }, false],
  ])('%s -> refused %s', (_what, op, refused) => {
    expect(reservedWriteIn(op) !== undefined).toBe(refused);
  });

  it('finds a write in a nested txn branch, and compares on reserved keys stay allowed', () => {
    const nested = (depth: number, inner: KvOp): TxnRequest =>
      depth === 0
        ? { compare: [], success: [inner as never], failure: [] }
        : {
            compare: [],
            success: [],
            failure: [{ kind: 'txn', request: nested(depth - 1, inner) }],
          };
    expect(reservedWriteIn({ kind: 'txn', request: nested(3, put(keys.token('t'))) })).toContain(
      'token/t',
    );
    expect(reservedWriteIn({ kind: 'txn', request: nested(3, put(b('user'))) })).toBeUndefined();
    const compareOnly: TxnRequest = {
      compare: [{ key: keys.worker(id), target: 'version', op: '>', value: 0 }],
      success: [{ kind: 'put', request: { key: b('user'), value: b('1') } }],
      failure: [],
    };
    expect(reservedWriteIn({ kind: 'txn', request: compareOnly })).toBeUndefined();
  });

  it('refuses a txn nested deeper than it walks (limit, limit + 1)', () => {
    const nested = (depth: number): TxnRequest =>
      depth === 1
        ? { compare: [], success: [], failure: [] }
        : { compare: [], success: [{ kind: 'txn', request: nested(depth - 1) }], failure: [] };
    expect(reservedWriteIn({ kind: 'txn', request: nested(GUARD_TXN_DEPTH_MAX) })).toBeUndefined();
    expect(reservedWriteIn({ kind: 'txn', request: nested(GUARD_TXN_DEPTH_MAX + 1) })).toContain(
      'deeper',
    );
  });
});

describe('guardUserKv', () => {
  it('refuses user writes under the prefix with ERR_RESERVED_KEY and lets the rest through', async () => {
    const { KvDouble } = await import('./kv-double.js');
    const { guardUserKv } = await import('../../src/worker/guard.js');
    const kv = new KvDouble();
    const user = guardUserKv(kv);
    await expect(user.put({ key: keys.worker(id), value: b('forged') })).rejects.toMatchObject({
      code: 'ERR_RESERVED_KEY',
    });
    await expect(
      user.deleteRange({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) }),
    ).rejects.toMatchObject({ code: 'ERR_RESERVED_KEY' });
    await expect(user.put({ key: b('config/a'), value: b('1') })).resolves.toMatchObject({
      kind: 'put',
    });
    const read = await user.range({ key: WORKER_PREFIX, rangeEnd: prefixEnd(WORKER_PREFIX) });
    expect(read.kvs).toEqual([]);
    expect(kv.applied.map((op) => op.kind)).toEqual(['put']);
  });
});
