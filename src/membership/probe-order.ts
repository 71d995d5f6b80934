/**
 * Randomized round-robin probe target selection (SWIM §4.3): walk a shuffled member list, one
 * target per protocol period, and reshuffle at the end of each walk. Every member is probed
 * within one walk (time-bounded completeness) while the order stays unpredictable.
 *
 * New members are inserted at a random position in O(1) by swapping with the entry there (the
 * displaced entry moves to the end, so it is still probed this walk), as memberlist does.
 * Removed members are skipped lazily; the reshuffle rebuilds the list from current members.
 */
import type { Rng } from '../base/rng.js';
import type { NodeId } from '../identity/node-id.js';
import type { ProbeOrder } from './types.js';

export function createProbeOrder(): ProbeOrder {
  return { ids: [], index: 0 };
}

/** Inserts `id` at a uniformly random position. */
export function insertProbeTarget(order: ProbeOrder, id: NodeId, rng: Rng): void {
  order.ids.push(id);
  const last = order.ids.length - 1;
  const j = rng.int(order.ids.length);
  order.ids[last] = order.ids[j] as NodeId;
  order.ids[j] = id;
}

/**
 * The next target for which `eligible` holds, or undefined when none is. At the end of a walk
 * the order is rebuilt from `allIds()` and reshuffled. Looks at most two walks' worth of entries.
 */
export function nextProbeTarget(order: ProbeOrder, eligible: (id: NodeId) => boolean, allIds: () => NodeId[], rng: Rng): NodeId | undefined {
  let reshuffles = 0;
  for (;;) {
    while (order.index < order.ids.length) {
      const id = order.ids[order.index++] as NodeId;
      if (eligible(id)) return id;
    }
    if (reshuffles++ >= 1) return undefined;
    order.ids = rng.shuffle(allIds());
    order.index = 0;
  }
}
