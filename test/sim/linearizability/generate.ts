/**
 * Histories that are linearizable by construction: a reference store (one revision counter for
 * all keys, etcd's rules) executes operations one at a time, each at a point inside its own
 * [call, return] interval, with intervals drawn at random so that they overlap. Some operations
 * time out: their effect happens at their point, or not at all, and the client never hears. Also
 * a brute-force oracle (every order that respects real time) for small histories, and output
 * mutations for the negative properties.
 */
import fc from 'fast-check';
import { stepStates, initialStates } from '../../../src/sim/linearizability/check.js';
import type { KvInput, KvOutput } from '../../../src/sim/linearizability/kv-model.js';
import type { Model, Operation } from '../../../src/sim/linearizability/model.js';
import type { KvOp } from './ops.js';
import { ReferenceStore } from './reference-store.js';

export interface OpSpec {
  clientId: number;
  key: string;
  /** 0 get, 1 put, 2 delete, 3 cas on value, 4 cas on modRevision. */
  kind: number;
  value: string;
  /** CAS compare: a value or revision guess, or the current one when `guessRight`. */
  guessRight: boolean;
  casDeletes: boolean;
  callGapMs: number;
  effectDelayMs: number;
  returnDelayMs: number;
  /** 0: answered; 1: timed out after taking effect; 2: timed out without taking effect. */
  fate: number;
}

export const VALUES = ['a', 'b', 'c'];

export function opSpec(keys: readonly string[]): fc.Arbitrary<OpSpec> {
  return fc.record({
    clientId: fc.integer({ min: 0, max: 4 }),
    key: fc.constantFrom(...keys),
    kind: fc.integer({ min: 0, max: 4 }),
    value: fc.constantFrom(...VALUES),
    guessRight: fc.boolean(),
    casDeletes: fc.boolean(),
    callGapMs: fc.integer({ min: 0, max: 10 }),
    effectDelayMs: fc.integer({ min: 0, max: 25 }),
    returnDelayMs: fc.integer({ min: 0, max: 25 }),
    fate: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, 1, 2),
  });
}

function inputOf(spec: OpSpec, store: ReferenceStore): KvInput {
  const key = spec.key;
  const current = store.peek(key);
  switch (spec.kind) {
    case 0:
      return { kind: 'get', key };
    case 1:
      return { kind: 'put', key, value: spec.value };
    case 2:
      return { kind: 'delete', key };
    case 3: {
      const guess = spec.guessRight ? (current?.value ?? null) : spec.value;
      return {
        kind: 'cas',
        key,
        compare: { target: 'value', value: guess },
        value: spec.casDeletes ? null : spec.value,
      };
    }
    default: {
      const guess = spec.guessRight ? (current?.modRevision ?? 0) : (current?.modRevision ?? 0) + 1;
      return {
        kind: 'cas',
        key,
        compare: { target: 'modRevision', modRevision: guess },
        value: spec.casDeletes ? null : spec.value,
      };
    }
  }
}

/**
 * Runs `specs` against the reference store in the order of their effect points and returns the
 * history the clients saw (in call order). With `revisions` false, outputs carry no revisions.
 */
export function legalHistory(specs: readonly OpSpec[], revisions: boolean): KvOp[] {
  let callMs = 0;
  const timed = specs.map((spec, i) => {
    callMs += spec.callGapMs;
    const effectMs = callMs + spec.effectDelayMs;
    return { spec, i, callMs, effectMs, returnMs: effectMs + spec.returnDelayMs };
  });
  const store = new ReferenceStore();
  const ops: KvOp[] = new Array<KvOp>(specs.length);
  // Effects in time order (ties by index): the store sees each input as of its effect point.
  for (const t of [...timed].sort((a, b) => a.effectMs - b.effectMs || a.i - b.i)) {
    const input = inputOf(t.spec, store);
    const base = { clientId: t.spec.clientId, input, callMs: t.callMs };
    if (t.spec.fate === 2) {
      ops[t.i] = base;
      continue;
    }
    const output = strip(store.apply(input), revisions);
    ops[t.i] = t.spec.fate === 1 ? base : { ...base, returnMs: t.returnMs, output };
  }
  return ops;
}

function strip(output: KvOutput, revisions: boolean): KvOutput {
  if (revisions) return output;
  const { modRevision: _m, revision: _r, ...rest } = output;
  return rest;
}

/** A different output for `op` (one field changed), or undefined when it has none to change. */
export function mutateOutput(op: KvOp, choice: number): KvOp | undefined {
  const out = op.output;
  if (out === undefined || op.returnMs === undefined) return undefined;
  let changed: KvOutput;
  switch (op.input.kind) {
    case 'get': {
      if (choice % 2 === 1 && out.modRevision !== undefined) {
        changed = { ...out, modRevision: out.modRevision + (choice % 4 === 1 ? 1 : -1) };
        break;
      }
      const others = [null, ...VALUES].filter((v) => v !== out.value);
      changed = { ...out, value: others[choice % others.length] ?? null };
      break;
    }
    case 'put':
      if (out.revision === undefined) return undefined;
      changed = { revision: Math.max(0, out.revision + (choice % 2 === 0 ? 1 : -1)) };
      break;
    case 'delete':
      changed = { ...out, deleted: out.deleted === 1 ? 0 : 1 };
      break;
    case 'cas':
      changed = out.succeeded === true ? { succeeded: false } : { succeeded: true };
      break;
  }
  return { ...op, output: changed };
}

/**
 * The oracle: tries every order of the operations that respects real time (a before b when a
 * returned before b was called; an unanswered operation may go last), without memoization.
 * Exponential: for histories of a handful of operations only.
 */
export function bruteForceLinearizable<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
): boolean {
  const n = ops.length;
  const mustPrecede = ops.map((b) =>
    ops.map((a) => a.returnMs !== undefined && a.returnMs < b.callMs),
  );
  const placed = new Array<boolean>(n).fill(false);
  const search = (states: ReturnType<typeof initialStates<S, I, O>>, count: number): boolean => {
    if (count === n) return true;
    for (let i = 0; i < n; i++) {
      if (placed[i] === true) continue;
      if (mustPrecede[i]?.some((before, j) => before && placed[j] !== true) === true) continue;
      const next = stepStates(model, states, ops[i] as Operation<I, O>);
      if (next === undefined) continue;
      placed[i] = true;
      const found = search(next, count + 1);
      placed[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(initialStates(model), 0);
}

/**
 * The kv model over the whole store, without partitioning: a map of per-key states, each key
 * stepped by the per-key model. The oracle runs on it, so the checker's per-key parts are
 * compared against a search that never relied on locality.
 */
export function wholeStoreModel<S>(
  perKey: Model<S, KvInput, KvOutput>,
): Model<ReadonlyMap<string, S>, KvInput, KvOutput> {
  const initial = perKey.init();
  return {
    name: `whole store of ${perKey.name}`,
    init: () => [new Map()],
    step(state, input, output) {
      const current = state.get(input.key);
      const froms = current === undefined ? initial : [current];
      return froms.flatMap((from) =>
        perKey.step(from, input, output).map((next) => new Map(state).set(input.key, next)),
      );
    },
    key: (state) =>
      [...state.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, s]) => `${k}:${perKey.key(s)}`)
        .join('\n'),
    describeOperation: (input, output) => perKey.describeOperation(input, output),
    describeState: (state) =>
      [...state.entries()].map(([k, s]) => `${k}=${perKey.describeState(s)}`).join(', '),
  };
}
