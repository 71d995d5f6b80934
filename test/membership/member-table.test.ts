/**
 * The member table (member-table.ts): insert, lookup, swap-remove, growth, hash collisions with
 * backward-shift deletion, removal while iterating, and a property test against a reference Map
 * over random operation sequences.
 */
import { incarnation as asIncarnation } from '../../src/base/units.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { ms } from '../../src/base/time.js';
import type { NodeId } from '../../src/identity/node-id.js';
import type { PublicKey, Signature } from '../../src/identity/signed.js';
import { hashId, MemberTable, type MemberFields } from '../../src/membership/member-table.js';
import type { MemberState, Suspicion } from '../../src/membership/types.js';
import { nodeId } from './helpers.js';

function fields(id: NodeId, incarnation = 1, state: MemberState = 'alive'): MemberFields {
  return {
    id,
    name: `name-${id}`,
    address: `addr-${id}` as Address,
    state,
    incarnation: asIncarnation(incarnation),
    labels: {},
    stateChangedAtMs: ms(incarnation),
    publicKey: 'ab'.repeat(32) as PublicKey,
    signature: 'cd'.repeat(64) as Signature,
    certificate: undefined,
  };
}

/** `count` ids whose hash falls in the same cell of a 16-cell index (the smallest table's). */
function collidingIds(count: number): NodeId[] {
  const out: NodeId[] = [];
  for (let i = 0; out.length < count && i < 100_000; i++) {
    const id = `collide-${i}` as NodeId;
    if ((hashId(id) & 15) === 3) out.push(id);
  }
  return out;
}

/** Every member is found at its own slot and the columns agree with `expected`. */
function expectTable(table: MemberTable, expected: ReadonlyMap<NodeId, number>): void {
  expect(table.size).toBe(expected.size);
  for (const [id, incarnation] of expected) {
    const member = table.get(id);
    expect(member?.incarnation).toBe(incarnation);
    expect(member?.name).toBe(`name-${id}`);
    expect(member === undefined ? undefined : table.at(member.slot).id).toBe(id);
  }
  expect(new Set(table.keys())).toEqual(new Set(expected.keys()));
}

describe('MemberTable', () => {
  it('inserts, reads and writes members through accessors', () => {
    const table = new MemberTable();
    const a = table.insert(fields(nodeId(1), 4));
    table.insert(fields(nodeId(2)));
    expect(table.size).toBe(2);
    expect(a.slot).toBe(0);
    expect(table.get(nodeId(1))).toMatchObject({
      id: nodeId(1),
      name: `name-${nodeId(1)}`,
      state: 'alive',
      incarnation: asIncarnation(4),
      stateChangedAtMs: 4,
    });
    expect(table.has(nodeId(3))).toBe(false);
    expect(table.get(nodeId(3))).toBeUndefined();
    a.state = 'suspect';
    a.incarnation = asIncarnation(2 ** 40);
    a.labels = { zone: 'a' };
    expect(table.get(nodeId(1))).toMatchObject({
      state: 'suspect',
      incarnation: asIncarnation(2 ** 40),
      labels: { zone: 'a' },
    });
    expect(() => table.insert(fields(nodeId(2)))).toThrow(/already a member/);
    expect(() => table.at(2)).toThrow(/out of range/);
  });

  it('keeps a suspicion only until it is cleared or the member is removed', () => {
    const table = new MemberTable();
    table.insert(fields(nodeId(1)));
    const b = table.insert(fields(nodeId(2), 1, 'suspect'));
    const suspicion: Suspicion = {
      startedAtMs: ms(0),
      deadlineMs: ms(10),
      minMs: 1,
      maxMs: 10,
      expected: 3,
      accusers: new Set([nodeId(1)]),
    };
    b.suspicion = suspicion;
    expect(table.get(nodeId(2))?.suspicion).toBe(suspicion);
    b.suspicion = undefined;
    expect(table.get(nodeId(2))?.suspicion).toBeUndefined();
    b.suspicion = suspicion;
    table.remove(nodeId(2));
    expect(table.suspicions.size).toBe(0);
  });

  it('swap-removes: the last member moves into the freed slot and stays findable', () => {
    const table = new MemberTable();
    for (let i = 1; i <= 5; i++) table.insert(fields(nodeId(i), i));
    table.remove(nodeId(2));
    expect(table.at(1).id).toBe(nodeId(5));
    expectTable(table, new Map([1, 3, 4, 5].map((i) => [nodeId(i), i])));
    expect(() => table.remove(nodeId(2))).toThrow(/not a member/);
  });

  it('grows its columns and index past many doublings and reserves exactly', () => {
    const table = new MemberTable();
    const expected = new Map<NodeId, number>();
    for (let i = 1; i <= 1000; i++) {
      table.insert(fields(nodeId(i), i));
      expected.set(nodeId(i), i);
    }
    expectTable(table, expected);
    const reserved = new MemberTable();
    reserved.reserve(3000);
    expect(reserved.ids.length).toBe(3000);
    for (let i = 1; i <= 3000; i++) reserved.insert(fields(nodeId(i), i));
    expect(reserved.ids.length).toBe(3000);
    expect(reserved.get(nodeId(2999))?.incarnation).toBe(2999);
  });

  it('colliding ids share a probe run; removing from its middle shifts the rest back', () => {
    const ids = collidingIds(6);
    expect(ids).toHaveLength(6);
    const table = new MemberTable();
    ids.forEach((id, i) => table.insert(fields(id, i)));
    const expected = new Map(ids.map((id, i) => [id, i]));
    for (const victim of [ids[2], ids[0], ids[5]] as NodeId[]) {
      table.remove(victim);
      expected.delete(victim);
      expectTable(table, expected);
      for (const id of [ids[2], ids[0], ids[5]] as NodeId[])
        if (!expected.has(id)) expect(table.has(id)).toBe(false);
    }
    table.insert(fields(ids[0] as NodeId, 9));
    expected.set(ids[0] as NodeId, 9);
    expectTable(table, expected);
  });

  it('reseeding rebuilds the index: every member stays findable, and ids that collided under one seed spread under another', () => {
    const ids = collidingIds(12);
    const table = new MemberTable();
    ids.forEach((id, i) => table.insert(fields(id, i)));
    table.reseed(0x5eed);
    expectTable(table, new Map(ids.map((id, i) => [id, i])));
    expect(new Set(ids.map((id) => hashId(id, 0x5eed) & 15)).size).toBeGreaterThan(4);
    table.remove(ids[3] as NodeId);
    expect(table.has(ids[3] as NodeId)).toBe(false);
    expect(table.get(ids[4] as NodeId)?.incarnation).toBe(4);
  });

  it('iterating while removing the member just yielded visits every member once', () => {
    const table = new MemberTable();
    for (let i = 1; i <= 10; i++) table.insert(fields(nodeId(i), i));
    const seen: NodeId[] = [];
    for (const member of table.values()) {
      seen.push(member.id);
      if (member.incarnation % 3 === 0) table.remove(member.id);
    }
    expect([...seen].sort()).toEqual(Array.from({ length: 10 }, (_, i) => nodeId(i + 1)).sort());
    expect([...table.keys()].sort()).toEqual([1, 2, 4, 5, 7, 8, 10].map(nodeId).sort());
  });

  it('behaves like a Map under random inserts, updates and removes (fast-check)', () => {
    const op = fc.record({
      kind: fc.constantFrom('insert', 'remove', 'update'),
      key: fc.integer({ min: 0, max: 60 }),
      value: fc.integer({ min: 0, max: 1000 }),
    });
    // Half the keys collide in the smallest index: long probe runs and wrap-around get exercised.
    const pool = [...collidingIds(30), ...Array.from({ length: 31 }, (_, i) => nodeId(i + 1))];
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const table = new MemberTable();
        const reference = new Map<NodeId, number>();
        for (const { kind, key, value } of ops) {
          const id = pool[key] as NodeId;
          const member = table.get(id);
          if (kind === 'insert' && member === undefined) {
            table.insert(fields(id, value));
            reference.set(id, value);
          } else if (kind === 'remove' && member !== undefined) {
            table.remove(id);
            reference.delete(id);
          } else if (kind === 'update' && member !== undefined) {
            member.incarnation = asIncarnation(value);
            reference.set(id, value);
          }
        }
        expectTable(table, reference);
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});
