/**
 * Add-wins observed-remove set as a delta-state CRDT (Almeida, Shoker, Baquero 2018, §7.2
 * "Add-wins OR-Set"): each add is tagged with a fresh dot; a remove covers the dots it observed in
 * the causal context without keeping the element, so a concurrent add (a dot the remover had not
 * seen) survives the merge (add wins), and a remove is never lost because its dots stay in the
 * context (no tombstones per element).
 *
 * Join: an element keeps a dot that both sides hold, or that one side holds and the other's
 * context has not seen; contexts are united. Mutators return deltas (states themselves).
 */
import type { NodeId } from '../identity/node-id.js';
import {
  causalContext,
  compactContext,
  contextAdd,
  contextHas,
  copyContext,
  mergeContext,
  nextDot,
  type CausalContext,
  type Dot,
} from './causal-context.js';

export interface OrSet {
  /** element -> the dots of its live adds. */
  entries: Map<string, Dot[]>;
  context: CausalContext;
}

export function orSet(): OrSet {
  return { entries: new Map(), context: causalContext() };
}

export function orSetHas(set: OrSet, element: string): boolean {
  return (set.entries.get(element)?.length ?? 0) > 0;
}

export function orSetValues(set: OrSet): string[] {
  return [...set.entries.keys()].sort();
}

/** Delta mutator: adds `element` with a fresh dot of `node`, replacing the adds it observed. */
export function orSetAdd(set: OrSet, node: NodeId, element: string): OrSet {
  const dot = nextDot(set.context, node);
  const delta = orSet();
  delta.entries.set(element, [dot]);
  for (const seen of set.entries.get(element) ?? []) contextAdd(delta.context, seen);
  contextAdd(delta.context, dot);
  compactContext(delta.context);
  orSetMerge(set, delta);
  return delta;
}

/** Delta mutator: removes the adds of `element` this replica has observed. */
export function orSetRemove(set: OrSet, element: string): OrSet {
  const delta = orSet();
  for (const seen of set.entries.get(element) ?? []) contextAdd(delta.context, seen);
  compactContext(delta.context);
  orSetMerge(set, delta);
  return delta;
}

function keepDots(
  mine: readonly Dot[],
  theirs: readonly Dot[],
  theirContext: CausalContext,
): Dot[] {
  const same = (a: Dot, b: Dot): boolean => a.node === b.node && a.counter === b.counter;
  return mine.filter((d) => theirs.some((t) => same(d, t)) || !contextHas(theirContext, d));
}

/** The join of `other` into `set`, in place. */
export function orSetMerge(set: OrSet, other: OrSet): void {
  const elements = new Set([...set.entries.keys(), ...other.entries.keys()]);
  for (const element of elements) {
    const mine = set.entries.get(element) ?? [];
    const theirs = other.entries.get(element) ?? [];
    const kept = keepDots(mine, theirs, other.context);
    for (const d of keepDots(theirs, mine, set.context))
      if (!kept.some((k) => k.node === d.node && k.counter === d.counter)) kept.push(d);
    kept.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : a.counter - b.counter));
    if (kept.length > 0) set.entries.set(element, kept);
    else set.entries.delete(element);
  }
  mergeContext(set.context, other.context);
}

export function copyOrSet(set: OrSet): OrSet {
  return {
    entries: new Map([...set.entries].map(([e, dots]) => [e, [...dots]])),
    context: copyContext(set.context),
  };
}
