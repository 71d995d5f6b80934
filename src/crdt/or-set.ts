/**
 * Add-wins observed-remove set as a delta-state CRDT (Almeida, Shoker, Baquero 2018, §7.2
 * "Add-wins OR-Set"): each add is tagged with a fresh dot; a remove covers the dots it observed in
 * the causal context without keeping the element, so a concurrent add (a dot the remover had not
 * seen) survives the merge (add wins), and a remove is never lost because its dots stay in the
 * context (no tombstones per element).
 *
 * Join: an element keeps a dot that both sides hold, or that one side holds and the other's
 * context has not seen; contexts are united. Mutators return deltas (states themselves). Only
 * the elements the other side names or covers are visited (`touched`, through a dot index).
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
  /** node -> counter -> element: which element a live dot belongs to (kept with `entries`). */
  index: Map<NodeId, Map<number, string>>;
}

export function orSet(): OrSet {
  return { entries: new Map(), context: causalContext(), index: new Map() };
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

/**
 * The elements of `set` a join with `other` can change: `other`'s elements, and those holding a
 * dot `other`'s context covers (found through the dot index, so joining a small delta into a
 * large set costs the delta's size, not the set's).
 */
function touched(set: OrSet, other: OrSet): Set<string> {
  const out = new Set(other.entries.keys());
  for (const [node, top] of other.context.vv) {
    const dots = set.index.get(node);
    if (dots === undefined) continue;
    if (top < dots.size) {
      for (let counter = 1; counter <= top; counter++) {
        const element = dots.get(counter);
        if (element !== undefined) out.add(element);
      }
    } else for (const [counter, element] of dots) if (counter <= top) out.add(element);
  }
  for (const [node, counters] of other.context.cloud)
    for (const counter of counters) {
      const element = set.index.get(node)?.get(counter);
      if (element !== undefined) out.add(element);
    }
  return out;
}

function indexDots(set: OrSet, element: string, dots: readonly Dot[], add: boolean): void {
  for (const d of dots) {
    let counters = set.index.get(d.node);
    if (add) {
      if (counters === undefined) set.index.set(d.node, (counters = new Map()));
      counters.set(d.counter, element);
    } else {
      counters?.delete(d.counter);
      if (counters?.size === 0) set.index.delete(d.node);
    }
  }
}

/** The join of `other` into `set`, in place. */
export function orSetMerge(set: OrSet, other: OrSet): void {
  for (const element of touched(set, other)) {
    const mine = set.entries.get(element) ?? [];
    const theirs = other.entries.get(element) ?? [];
    const kept = keepDots(mine, theirs, other.context);
    for (const d of keepDots(theirs, mine, set.context))
      if (!kept.some((k) => k.node === d.node && k.counter === d.counter)) kept.push(d);
    kept.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : a.counter - b.counter));
    indexDots(set, element, mine, false);
    indexDots(set, element, kept, true);
    if (kept.length > 0) set.entries.set(element, kept);
    else set.entries.delete(element);
  }
  mergeContext(set.context, other.context);
}

export function copyOrSet(set: OrSet): OrSet {
  return {
    entries: new Map([...set.entries].map(([e, dots]) => [e, [...dots]])),
    context: copyContext(set.context),
    index: new Map([...set.index].map(([node, counters]) => [node, new Map(counters)])),
  };
}
