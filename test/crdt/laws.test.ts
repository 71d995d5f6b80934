/**
 * Join-semilattice laws of the delta-state CRDTs (Almeida, Shoker, Baquero 2018, §2 and §4): the
 * join is commutative, associative and idempotent, and every delta a mutator returns is below the
 * state it came from (join(state, delta) = state), over states reached by random operations and
 * merges on three replicas. Plus the OR-set's semantics (§7.2): add wins over a concurrent
 * remove, and an observed remove is never lost.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../src/identity/node-id.js';
import { compareHlc, type Hlc } from '../../src/crdt/hlc.js';
import { lwwMap, lwwSet, mergeLwwMap, type LwwMap } from '../../src/crdt/lww.js';
import {
  copyOrSet,
  orSet,
  orSetAdd,
  orSetHas,
  orSetMerge,
  orSetRemove,
  type OrSet,
} from '../../src/crdt/or-set.js';

const NODES = ['a', 'b', 'c'].map((c) => c.repeat(32) as NodeId);
const RUNS = { seed: 16, numRuns: 300 };

// ---- LWW map ----

function copyLww(map: LwwMap<string>): LwwMap<string> {
  return new Map([...map].map(([k, row]) => [k, new Map(row)]));
}

function canonLww(map: LwwMap<string>): string {
  const rows = [...map].flatMap(([k, row]) =>
    [...row].map(
      ([n, r]) => `${k}/${n}=${r.value ?? '∅'}@${r.stamp.wallMs}.${r.stamp.logical}/${r.writer}`,
    ),
  );
  return rows.sort().join('\n');
}

const lwwOp = fc.record({
  key: fc.constantFrom('k1', 'k2', 'k3'),
  node: fc.constantFrom(...NODES),
  writer: fc.constantFrom(...NODES),
  wallMs: fc.integer({ min: 0, max: 5 }),
  logical: fc.integer({ min: 0, max: 2 }),
});

/** A state built from writes; a value is a function of its stamp and writer (one write, one value). */
const lwwState = fc.array(lwwOp, { maxLength: 12 }).map((ops) => {
  const map = lwwMap<string>();
  for (const op of ops) {
    const stamp: Hlc = { wallMs: op.wallMs, logical: op.logical };
    // A writer's clock never issues one stamp twice, so (stamp, writer) names one write: its
    // value, or its being a removal, is a function of them.
    const remove = (op.wallMs + op.logical) % 3 === 0;
    const value = remove
      ? undefined
      : `${op.key}/${op.node}@${op.wallMs}.${op.logical}/${op.writer}`;
    lwwSet(map, op.key, op.node, value, stamp, op.writer);
  }
  return map;
});

function join(a: LwwMap<string>, b: LwwMap<string>): LwwMap<string> {
  const out = copyLww(a);
  mergeLwwMap(out, b);
  return out;
}

/** Mutant: compares timestamps only, so a tie keeps whichever register arrived first. */
function joinIgnoringWriter(a: LwwMap<string>, b: LwwMap<string>): LwwMap<string> {
  const out = copyLww(a);
  for (const [key, row] of b)
    for (const [node, register] of row) {
      const mine = out.get(key) ?? new Map();
      out.set(key, mine);
      const current = mine.get(node);
      if (current === undefined || compareHlc(register.stamp, current.stamp) > 0)
        mine.set(node, register);
    }
  return out;
}

function lwwCommutes(joinFn: typeof join): boolean {
  return !fc.check(
    fc.property(lwwState, lwwState, (a, b) => canonLww(joinFn(a, b)) === canonLww(joinFn(b, a))),
    RUNS,
  ).failed;
}

describe('LWW map keyed by (key, node): lattice laws', () => {
  it('join is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(lwwState, lwwState, lwwState, (a, b, c) => {
        expect(canonLww(join(a, b))).toBe(canonLww(join(b, a)));
        expect(canonLww(join(join(a, b), c))).toBe(canonLww(join(a, join(b, c))));
        expect(canonLww(join(a, a))).toBe(canonLww(a));
      }),
      RUNS,
    );
  });

  it('the commutativity check catches a join that ignores the writer on ties (mutant)', () => {
    expect(lwwCommutes(join)).toBe(true);
    expect(lwwCommutes(joinIgnoringWriter)).toBe(false);
  });

  it('a delta is below its state (join(state, delta) = state), and carries the write', () => {
    fc.assert(
      fc.property(lwwState, lwwOp, fc.boolean(), (state, op, remove) => {
        const value = remove ? undefined : `v@${op.wallMs}.${op.logical}/${op.writer}`;
        const delta = lwwSet(
          state,
          op.key,
          op.node,
          value,
          { wallMs: 9, logical: op.logical },
          op.writer,
        );
        expect(canonLww(join(state, delta))).toBe(canonLww(state));
        expect(state.get(op.key)?.get(op.node)?.value).toBe(value);
      }),
      RUNS,
    );
  });

  it('the larger (stamp, writer) wins whatever the order; ties go to the larger NodeId', () => {
    const [a, b] = NODES as [NodeId, NodeId];
    const one = lwwMap<string>();
    lwwSet(one, 'k', a, 'from-b', { wallMs: 5, logical: 1 }, b);
    lwwSet(one, 'k', a, 'from-a', { wallMs: 5, logical: 1 }, a);
    const two = lwwMap<string>();
    lwwSet(two, 'k', a, 'from-a', { wallMs: 5, logical: 1 }, a);
    lwwSet(two, 'k', a, 'from-b', { wallMs: 5, logical: 1 }, b);
    expect(one.get('k')?.get(a)?.value).toBe('from-b');
    expect(two.get('k')?.get(a)?.value).toBe('from-b');
  });
});

// ---- OR-set ----

function canonSet(set: OrSet): string {
  const entries = [...set.entries]
    .sort(([x], [y]) => (x < y ? -1 : 1))
    .map(([e, dots]) => `${e}:${dots.map((d) => `${d.node[0]}${d.counter}`).join(',')}`);
  const vv = [...set.context.vv].sort().map(([n, c]) => `${n[0]}${c}`);
  const cloud = [...set.context.cloud]
    .sort()
    .map(([n, dots]) => `${n[0]}{${[...dots].sort((x, y) => x - y).join(',')}}`);
  return `${entries.join(' ')} | ${vv.join(',')} | ${cloud.join(',')}`;
}

type SetOp = { replica: number; kind: 'add' | 'remove' | 'merge'; element: string; from: number };
const setOp = fc.record({
  replica: fc.integer({ min: 0, max: 2 }),
  kind: fc.constantFrom('add' as const, 'remove' as const, 'merge' as const),
  element: fc.constantFrom('x', 'y', 'z'),
  from: fc.integer({ min: 0, max: 2 }),
});

/** Three replicas after random adds, removes and (delta or full) merges; returns one of them. */
function replay(ops: readonly SetOp[]): OrSet[] {
  const replicas = [orSet(), orSet(), orSet()];
  for (const op of ops) {
    const r = replicas[op.replica] as OrSet;
    if (op.kind === 'add') orSetAdd(r, NODES[op.replica] as NodeId, op.element);
    else if (op.kind === 'remove') orSetRemove(r, op.element);
    else orSetMerge(r, copyOrSet(replicas[op.from] as OrSet));
  }
  return replicas;
}
const setState = fc.array(setOp, { maxLength: 15 }).map((ops) => replay(ops)[0] as OrSet);

function joinSets(a: OrSet, b: OrSet): OrSet {
  const out = copyOrSet(a);
  orSetMerge(out, b);
  return out;
}

describe('add-wins OR-set with causal context: lattice laws and semantics', () => {
  it('join is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(setState, setState, setState, (a, b, c) => {
        expect(canonSet(joinSets(a, b))).toBe(canonSet(joinSets(b, a)));
        expect(canonSet(joinSets(joinSets(a, b), c))).toBe(canonSet(joinSets(a, joinSets(b, c))));
        expect(canonSet(joinSets(a, a))).toBe(canonSet(a));
      }),
      RUNS,
    );
  });

  it('add and remove deltas are below their state', () => {
    fc.assert(
      fc.property(
        fc.array(setOp, { maxLength: 15 }),
        fc.constantFrom('x', 'y'),
        fc.boolean(),
        (ops, e, add) => {
          const state = replay(ops)[0] as OrSet;
          const delta = add ? orSetAdd(state, NODES[0] as NodeId, e) : orSetRemove(state, e);
          expect(canonSet(joinSets(state, delta))).toBe(canonSet(state));
          expect(orSetHas(state, e)).toBe(add);
        },
      ),
      RUNS,
    );
  });

  it('replicas that exchanged deltas in any order converge', () => {
    fc.assert(
      fc.property(fc.array(setOp, { maxLength: 20 }), (ops) => {
        const replicas = replay(ops);
        const all = replicas.reduce((acc, r) => joinSets(acc, r), orSet());
        const reversed = [...replicas].reverse().reduce((acc, r) => joinSets(acc, r), orSet());
        expect(canonSet(all)).toBe(canonSet(reversed));
      }),
      RUNS,
    );
  });

  it('the dot index always matches the entries (the join visits elements through it)', () => {
    fc.assert(
      fc.property(fc.array(setOp, { maxLength: 25 }), (ops) => {
        for (const r of replay(ops)) {
          const derived = [...r.entries].flatMap(([e, dots]) =>
            dots.map((d) => `${d.node[0]}${d.counter}=${e}`),
          );
          const indexed = [...r.index].flatMap(([node, counters]) =>
            [...counters].map(([c, e]) => `${node[0]}${c}=${e}`),
          );
          expect(indexed.sort()).toEqual(derived.sort());
        }
      }),
      RUNS,
    );
  });

  it('add wins over a concurrent remove (§7.2)', () => {
    const a = orSet();
    const b = orSet();
    orSetMerge(b, orSetAdd(a, NODES[0] as NodeId, 'x'));
    const removal = orSetRemove(a, 'x');
    const concurrentAdd = orSetAdd(b, NODES[1] as NodeId, 'x');
    orSetMerge(a, concurrentAdd);
    orSetMerge(b, removal);
    expect(orSetHas(a, 'x')).toBe(true);
    expect(orSetHas(b, 'x')).toBe(true);
  });

  it('an observed remove is not lost when an old state arrives later', () => {
    const a = orSet();
    orSetAdd(a, NODES[0] as NodeId, 'x');
    const old = copyOrSet(a);
    orSetRemove(a, 'x');
    orSetMerge(a, old);
    expect(orSetHas(a, 'x')).toBe(false);
  });
});

describe('the OR-set checks catch a broken join (mutant)', () => {
  /** Mutant: unites dots and ignores the other side's context, so removes come back. */
  function joinWithoutContext(a: OrSet, b: OrSet): OrSet {
    const out = copyOrSet(a);
    for (const [e, dots] of b.entries) {
      const mine = out.entries.get(e) ?? [];
      for (const d of dots)
        if (!mine.some((m) => m.node === d.node && m.counter === d.counter)) mine.push(d);
      out.entries.set(e, mine);
    }
    return out;
  }

  it('a removal is lost when an old state is merged back', () => {
    const removed = (joinFn: typeof joinSets): boolean => {
      const a = orSet();
      orSetAdd(a, NODES[0] as NodeId, 'x');
      const old = copyOrSet(a);
      orSetRemove(a, 'x');
      return !orSetHas(joinFn(a, old), 'x');
    };
    expect(removed(joinSets)).toBe(true);
    expect(removed(joinWithoutContext)).toBe(false);
  });
});
