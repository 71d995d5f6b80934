/**
 * Causal contexts (Almeida, Shoker, Baquero 2018, §5 "Causal CRDTs", and the compact form of
 * §7.1): the set of events (dots: a node and its counter) a replica has seen, as a version vector
 * (every dot up to vv[node]) plus a dot cloud of the dots seen out of order (delta-states arrive
 * in any order). `compactContext` moves cloud dots that extend the vector into it, so a context
 * that has seen everything in order is just its vector.
 */
import type { NodeId } from '../identity/node-id.js';

export interface Dot {
  readonly node: NodeId;
  readonly counter: number;
}

export interface CausalContext {
  /** Every dot (node, 1..vv[node]) is in the context. */
  vv: Map<NodeId, number>;
  /** Dots beyond vv[node] seen out of order. */
  cloud: Map<NodeId, Set<number>>;
}

export function causalContext(): CausalContext {
  return { vv: new Map(), cloud: new Map() };
}

export function contextHas(c: CausalContext, dot: Dot): boolean {
  if (dot.counter <= (c.vv.get(dot.node) ?? 0)) return true;
  return c.cloud.get(dot.node)?.has(dot.counter) ?? false;
}

/** Adds one dot (no compaction: call `compactContext` after a batch). */
export function contextAdd(c: CausalContext, dot: Dot): void {
  if (dot.counter <= (c.vv.get(dot.node) ?? 0)) return;
  let dots = c.cloud.get(dot.node);
  if (dots === undefined) {
    dots = new Set();
    c.cloud.set(dot.node, dots);
  }
  dots.add(dot.counter);
}

/** The next dot of `node`: one above the largest counter of node the context holds. */
export function nextDot(c: CausalContext, node: NodeId): Dot {
  let max = c.vv.get(node) ?? 0;
  for (const counter of c.cloud.get(node) ?? []) if (counter > max) max = counter;
  return { node, counter: max + 1 };
}

/** Moves cloud dots that continue the version vector into it. */
export function compactContext(c: CausalContext): void {
  for (const [node, dots] of c.cloud) {
    let top = c.vv.get(node) ?? 0;
    while (dots.delete(top + 1)) top++;
    for (const counter of dots) if (counter <= top) dots.delete(counter);
    if (top > 0) c.vv.set(node, top);
    if (dots.size === 0) c.cloud.delete(node);
  }
}

/** Joins `other` into `c` in place (set union of the dots), compacted. */
export function mergeContext(c: CausalContext, other: CausalContext): void {
  for (const [node, top] of other.vv) if (top > (c.vv.get(node) ?? 0)) c.vv.set(node, top);
  for (const [node, dots] of other.cloud)
    for (const counter of dots) contextAdd(c, { node, counter });
  compactContext(c);
}

export function copyContext(c: CausalContext): CausalContext {
  return {
    vv: new Map(c.vv),
    cloud: new Map([...c.cloud].map(([node, dots]) => [node, new Set(dots)])),
  };
}
