/**
 * Randomized round-robin probe target selection (SWIM §4.3): walk a shuffled member list, one
 * target per protocol period, and reshuffle at the end of each walk. Every member is probed
 * within one walk (time-bounded completeness) while the order stays unpredictable.
 *
 * The walk holds member-table slots (4 bytes per member instead of an 8-byte id reference).
 * New members are inserted at a random position in O(1) by swapping with the entry there (the
 * displaced entry moves to the end, so it is still probed this walk), as memberlist does.
 * Removed members are skipped lazily (a slot past the table's size); the reshuffle rebuilds the
 * walk from the current slots. A removal (reaping only) moves the table's last member into the
 * freed slot, so this walk meets that member at the removed one's place (or not at all, when that
 * place was passed already), and a member inserted later into a slot still listed may be probed
 * twice. Reaping is rare and the next reshuffle is exact, so every live member is still probed
 * within two walks.
 *
 * Shoal extension to Lifeguard §IV-B: a member we hear is suspected by someone else is probed
 * at our next period (`markUrgent`) instead of when the walk reaches it. The suspicion timeout
 * shrinks only with independent confirmations, so collecting them within one period lets a
 * dead member be declared near the minimum timeout. It changes which member is probed, not how
 * many probes are sent, so traffic is unchanged; the walk still reaches every member.
 */
import type { Rng } from '../base/rng.js';
import type { NodeId } from '../identity/node-id.js';
import type { Member, MemberTable } from './member-table.js';
import type { ProbeOrder } from './types.js';

/** Most members queued for an out-of-turn probe; more suspicions than this wait for the walk. */
export const URGENT_PROBES_MAX = 16;

export function createProbeOrder(): ProbeOrder {
  return { slots: new Int32Array(8), length: 0, index: 0, urgent: [] };
}

/** Queues `id` for the next period's probe; does nothing when it is queued already or the queue is full. */
export function markUrgent(order: ProbeOrder, id: NodeId): void {
  if (order.urgent.length >= URGENT_PROBES_MAX || order.urgent.includes(id)) return;
  order.urgent.push(id);
}

/** Inserts `slot` at a uniformly random position. */
export function insertProbeTarget(order: ProbeOrder, slot: number, rng: Rng): void {
  if (order.length === order.slots.length) {
    const grown = new Int32Array(Math.ceil(order.slots.length * 1.5));
    grown.set(order.slots);
    order.slots = grown;
  }
  const last = order.length++;
  const j = rng.int(order.length);
  order.slots[last] = order.slots[j] as number;
  order.slots[j] = slot;
}

/** Rebuilds the walk as a uniformly random permutation of the table's slots (Fisher-Yates). */
function reshuffle(order: ProbeOrder, size: number, rng: Rng): void {
  if (order.slots.length < size) order.slots = new Int32Array(size);
  const slots = order.slots;
  for (let i = 0; i < size; i++) slots[i] = i;
  for (let i = size - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = slots[i] as number;
    slots[i] = slots[j] as number;
    slots[j] = tmp;
  }
  order.length = size;
  order.index = 0;
}

/**
 * The next target for which `eligible` holds, or undefined when none is: an urgent one first,
 * then the walk's. At the end of a walk the order is rebuilt from the table's slots and
 * reshuffled. Looks at most two walks' worth of entries.
 */
export function nextProbeTarget(
  order: ProbeOrder,
  members: MemberTable,
  eligible: (member: Member) => boolean,
  rng: Rng,
): Member | undefined {
  while (order.urgent.length > 0) {
    const member = members.get(order.urgent.shift() as NodeId);
    if (member !== undefined && eligible(member)) return member;
  }
  let reshuffles = 0;
  for (;;) {
    while (order.index < order.length) {
      const slot = order.slots[order.index++] as number;
      if (slot >= members.size) continue;
      const member = members.at(slot);
      if (eligible(member)) return member;
    }
    if (reshuffles++ >= 1) return undefined;
    reshuffle(order, members.size, rng);
  }
}
