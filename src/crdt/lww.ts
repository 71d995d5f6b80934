/**
 * Last-writer-wins register and map (Shapiro et al. 2011, LWW-Register; Almeida, Shoker, Baquero
 * 2018, delta-state CRDTs §4): a value stamped with a hybrid logical clock (hlc.ts) and the NodeId
 * of its writer; the larger (timestamp, writer) wins, so ties are decided the same way everywhere.
 * The map is keyed by (key, node): `node` is the row's owner (a process on that node, a service
 * instance there), so two nodes advertising the same key never overwrite each other.
 *
 * Delta-state: every mutator returns a delta (a map of the one changed entry) that is itself a
 * state; `mergeLwwMap(state, delta)` is the join, commutative, associative and idempotent, and a
 * delta is below the state it came from (delta ⊑ state): test/crdt/laws.test.ts checks each law
 * with fast-check. A removal is a tombstone (value undefined) so a concurrent older write cannot
 * bring the key back; `compactLwwMap` drops tombstones older than a frontier every live member has
 * passed (the caller computes it: "seen by everyone").
 */
import type { NodeId } from '../identity/node-id.js';
import { compareStamp, type Hlc } from './hlc.js';

export interface LwwRegister<V> {
  readonly value: V;
  readonly stamp: Hlc;
  readonly writer: NodeId;
}

/** True when register `a` wins over `b` (strictly later stamp, ties to the larger writer). */
export function lwwWins<V>(a: LwwRegister<V>, b: LwwRegister<V>): boolean {
  return compareStamp(a.stamp, a.writer, b.stamp, b.writer) > 0;
}

/** The join of two registers: the winner (either, when they are the same write). */
export function mergeLwwRegister<V>(a: LwwRegister<V>, b: LwwRegister<V>): LwwRegister<V> {
  return lwwWins(b, a) ? b : a;
}

/** key -> node -> register; a register with value undefined is a tombstone. */
export type LwwMap<V> = Map<string, Map<NodeId, LwwRegister<V | undefined>>>;

export function lwwMap<V>(): LwwMap<V> {
  return new Map();
}

/** The register of (key, node), tombstones included. */
export function lwwGet<V>(
  map: LwwMap<V>,
  key: string,
  node: NodeId,
): LwwRegister<V | undefined> | undefined {
  return map.get(key)?.get(node);
}

/** Merges one register in place; true when it changed the map. */
export function lwwMergeEntry<V>(
  map: LwwMap<V>,
  key: string,
  node: NodeId,
  register: LwwRegister<V | undefined>,
): boolean {
  let row = map.get(key);
  if (row === undefined) {
    row = new Map();
    map.set(key, row);
  }
  const current = row.get(node);
  if (current !== undefined && !lwwWins(register, current)) return false;
  row.set(node, register);
  return true;
}

/** Delta mutator: writes (key, node) = value (undefined removes) at `stamp` by `writer`. */
export function lwwSet<V>(
  map: LwwMap<V>,
  key: string,
  node: NodeId,
  value: V | undefined,
  stamp: Hlc,
  writer: NodeId,
): LwwMap<V> {
  const register: LwwRegister<V | undefined> = { value, stamp, writer };
  lwwMergeEntry(map, key, node, register);
  const delta: LwwMap<V> = new Map();
  delta.set(key, new Map([[node, register]]));
  return delta;
}

/** The join, in place into `state`; returns the (key, node) pairs that changed. */
export function mergeLwwMap<V>(state: LwwMap<V>, other: LwwMap<V>): [string, NodeId][] {
  const changed: [string, NodeId][] = [];
  for (const [key, row] of other)
    for (const [node, register] of row)
      if (lwwMergeEntry(state, key, node, register)) changed.push([key, node]);
  return changed;
}

/** Live (non-tombstone) entries. */
export function* lwwEntries<V>(map: LwwMap<V>): Generator<[string, NodeId, V]> {
  for (const [key, row] of map)
    for (const [node, register] of row)
      if (register.value !== undefined) yield [key, node, register.value];
}

/**
 * Drops tombstones whose stamp is below `stableBefore` (every live member has seen them, so no
 * older write can still arrive); returns how many it dropped.
 */
export function compactLwwMap<V>(map: LwwMap<V>, stableBefore: (stamp: Hlc) => boolean): number {
  let dropped = 0;
  for (const [key, row] of map) {
    for (const [node, register] of row)
      if (register.value === undefined && stableBefore(register.stamp)) {
        row.delete(node);
        dropped++;
      }
    if (row.size === 0) map.delete(key);
  }
  return dropped;
}
