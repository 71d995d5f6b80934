/**
 * The broadcast queue (SWIM §4.1 infection-style dissemination, memberlist's TransmitLimitedQueue).
 * Holds at most one update per member: a newer update invalidates the queued older one. Packets
 * take the least-transmitted, then newest, updates that fit the byte budget; an update leaves the
 * queue after `retransmitLimit` sends. When the queue exceeds `broadcastQueueMax`, the
 * most-transmitted (then oldest) entries are dropped first: they have already spread furthest.
 *
 * Cost: selection sorts the queue, O(Q log Q) with Q <= broadcastQueueMax; in steady state Q is
 * small because entries expire after O(log N) sends.
 */
import { utf8Bytes } from '../base/utf8.js';
import type { Labels, Update } from './messages.js';
import type { NodeId } from '../identity/node-id.js';
import type { BroadcastQueue, QueuedUpdate } from './types.js';

export function createQueue(): BroadcastQueue {
  return { byMember: new Map(), nextOrder: 0 };
}

/** Size of a labels map: UTF-8 bytes of every key plus every value. Allocation-free: every merged record calls it. */
export function labelsBytes(labels: Labels): number {
  let total = 0;
  for (const key in labels)
    if (Object.hasOwn(labels, key)) total += utf8Bytes(key) + utf8Bytes(labels[key] as string);
  return total;
}

/**
 * A conservative upper bound of an update's encoded size: 16-byte ids, 9 bytes per varint,
 * 4-byte length prefixes for every string, the 32-byte key and 64-byte signatures. The codec's
 * exact size plugs in via `StepContext.sizeOf`.
 */
export function estimateUpdateBytes(update: Update): number {
  const head = 2 + 16 + 9;
  switch (update.kind) {
    case 'alive':
    case 'left': {
      let size = head + 4 + utf8Bytes(update.name) + 4 + utf8Bytes(update.address) + 4;
      for (const key in update.labels)
        if (Object.hasOwn(update.labels, key))
          size += 8 + utf8Bytes(key) + utf8Bytes(update.labels[key] as string);
      const certificate = update.certificate === undefined ? 0 : 9 + 9 + 64;
      return size + 32 + 1 + certificate + 64;
    }
    case 'suspect':
    case 'dead':
      return head + 16 + 64;
  }
}

/**
 * Queues `update`, replacing any queued update about the same member (the caller only enqueues
 * updates it accepted, which are newer by the precedence rules), to be sent up to the retransmit
 * limit, or `sendsMax` times when that is lower. Returns how many entries were dropped to stay
 * within `queueMax`.
 */
export function enqueue(
  queue: BroadcastQueue,
  update: Update,
  queueMax: number,
  sendsMax?: number,
): number {
  queue.byMember.set(update.id, {
    update,
    transmits: 0,
    order: queue.nextOrder++,
    bytes: undefined,
    sendsMax,
  });
  if (queue.byMember.size <= queueMax) return 0;
  const victims = [...queue.byMember.values()].sort(
    (a, b) => b.transmits - a.transmits || a.order - b.order,
  );
  let dropped = 0;
  for (const victim of victims) {
    if (queue.byMember.size <= queueMax) break;
    queue.byMember.delete(victim.update.id);
    dropped++;
  }
  return dropped;
}

/**
 * Takes updates for one packet: least-transmitted first, then newest, while they fit in
 * `budgetBytes`. Each taken entry's transmit count rises; entries reaching `limit` leave the queue.
 * Each entry's size is measured once (`sizeOf` encodes it) and kept: a join storm queues hundreds
 * of updates, and measuring all of them for every packet was a tenth of a large cluster's CPU.
 */
export function takeUpdates(
  queue: BroadcastQueue,
  budgetBytes: number,
  limit: number,
  sizeOf: (u: Update) => number,
): Update[] {
  if (queue.byMember.size === 0 || budgetBytes <= 0) return [];
  const ordered: QueuedUpdate[] = [...queue.byMember.values()].sort(
    (a, b) => a.transmits - b.transmits || b.order - a.order,
  );
  const out: Update[] = [];
  let remaining = budgetBytes;
  for (const entry of ordered) {
    const size = (entry.bytes ??= sizeOf(entry.update));
    if (size > remaining) continue;
    remaining -= size;
    out.push(entry.update);
    entry.transmits++;
    if (entry.transmits >= Math.min(limit, entry.sendsMax ?? limit))
      queue.byMember.delete(entry.update.id);
  }
  return out;
}

/** How often the queued update about `id` was sent, or undefined when none is queued. */
export function transmitsOf(queue: BroadcastQueue, id: NodeId): number | undefined {
  return queue.byMember.get(id)?.transmits;
}
