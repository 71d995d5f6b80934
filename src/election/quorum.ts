/**
 * Quorum maths shared by every election mode (and by the full Raft later): a majority of the
 * known cluster, with the counting node ITSELF included. Regression (failure story 2): a quorum
 * counted over the *other* peers only lets a lone node in a minority partition see "all of the
 * peers I can reach agree" and elect itself; counting over the whole cluster, self included,
 * makes the threshold independent of what is reachable.
 */
import { assert } from '../base/assert.js';

/** Smallest number of members that is a strict majority of `clusterSize` (self included). */
export function majorityOf(clusterSize: number): number {
  assert(
    Number.isSafeInteger(clusterSize) && clusterSize >= 1,
    `clusterSize must be a positive integer, got ${clusterSize}`,
  );
  return Math.floor(clusterSize / 2) + 1;
}

/**
 * Whether `supporters` (distinct members, which must include self when self supports) are a
 * majority of `cluster`. Supporters outside the cluster do not count: a vote from a stranger
 * is not a vote of this cluster.
 */
export function isQuorum<T>(supporters: ReadonlySet<T>, cluster: ReadonlySet<T>): boolean {
  let count = 0;
  for (const member of supporters) if (cluster.has(member)) count++;
  return count >= majorityOf(cluster.size);
}

/** How many members may fail while a majority remains: floor((n - 1) / 2). */
export function faultsTolerated(clusterSize: number): number {
  return clusterSize - majorityOf(clusterSize);
}
