/**
 * Randomized round-robin probe target selection (SWIM §4.3): walk a shuffled member list, one
 * target per protocol period, and reshuffle at the end of each walk. Every member is probed
 * within one walk (time-bounded completeness) while the order stays unpredictable.
 *
 * New members are inserted at a random position in O(1) by swapping with the entry there (the
 * displaced entry moves to the end, so it is still probed this walk), as memberlist does.
 * Removed members are skipped lazily; the reshuffle rebuilds the list from current members.
 *
 * Shoal extension to Lifeguard §IV-B: a member we hear is suspected by someone else is probed
 * at our next period (`markUrgent`) instead of when the walk reaches it. The suspicion timeout
 * shrinks only with independent confirmations, so collecting them within one period lets a
 * dead member be declared near the minimum timeout. It changes which member is probed, not how
 * many probes are sent, so traffic is unchanged; the walk still reaches every member.
 */
import type { Rng } from '../base/rng.js';
import type { NodeId } from '../identity/node-id.js';
import type { ProbeOrder } from './types.js';

/** Most members queued for an out-of-turn probe; more suspicions than this wait for the walk. */
export const URGENT_PROBES_MAX = 16;

export function createProbeOrder(): ProbeOrder {
  return { ids: [], index: 0, urgent: [] };
}

/** Queues `id` for the next period's probe; does nothing when it is queued already or the queue is full. */
export function markUrgent(order: ProbeOrder, id: NodeId): void {
  if (order.urgent.length >= URGENT_PROBES_MAX || order.urgent.includes(id)) return;
  order.urgent.push(id);
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
 * The next target for which `eligible` holds, or undefined when none is: an urgent one first,
 * then the walk's. At the end of a walk
 * the order is rebuilt from `allIds()` and reshuffled. Looks at most two walks' worth of entries.
 */
export function nextProbeTarget(order: ProbeOrder, eligible: (id: NodeId) => boolean, allIds: () => NodeId[], rng: Rng): NodeId | undefined {
  while (order.urgent.length > 0) {
    const id = order.urgent.shift() as NodeId;
    if (eligible(id)) return id;
  }
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
