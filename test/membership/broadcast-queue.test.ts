/** The broadcast queue (SWIM §4.1): ordering, invalidation, transmit limit and broadcastQueueMax. */
import { describe, expect, it } from 'vitest';
import type { Update } from '../../src/membership/messages.js';
import {
  createQueue,
  enqueue,
  estimateUpdateBytes,
  labelsBytes,
  takeUpdates,
} from '../../src/membership/broadcast-queue.js';
import { left as leftRecord, nodeId, suspect } from './helpers.js';

const left = (i: number, incarnation = 1): Update => leftRecord(i, incarnation);

describe('broadcast queue', () => {
  it('a newer update about a member replaces the queued older one', () => {
    const queue = createQueue();
    enqueue(queue, suspect(1, 1, 2), 10);
    enqueue(queue, left(1, 2), 10);
    expect(queue.byMember.size).toBe(1);
    expect(takeUpdates(queue, 1000, 5, estimateUpdateBytes)).toEqual([left(1, 2)]);
  });

  it('takes the least transmitted first, then the newest', () => {
    const queue = createQueue();
    enqueue(queue, left(1), 10);
    takeUpdates(queue, 1000, 5, estimateUpdateBytes); // left(1) now sent once
    enqueue(queue, left(2), 10);
    enqueue(queue, left(3), 10);
    const size = estimateUpdateBytes(left(1));
    expect(takeUpdates(queue, 2 * size, 5, estimateUpdateBytes).map((u) => u.id)).toEqual([
      nodeId(3),
      nodeId(2),
    ]);
  });

  it('drops an update after retransmitLimit sends', () => {
    const queue = createQueue();
    enqueue(queue, left(1), 10);
    for (let i = 0; i < 3; i++)
      expect(takeUpdates(queue, 1000, 3, estimateUpdateBytes)).toHaveLength(1);
    expect(takeUpdates(queue, 1000, 3, estimateUpdateBytes)).toHaveLength(0);
  });

  it('respects the byte budget', () => {
    const queue = createQueue();
    for (let i = 1; i <= 10; i++) enqueue(queue, left(i), 10);
    const size = estimateUpdateBytes(left(1));
    expect(takeUpdates(queue, 3 * size + size - 1, 5, estimateUpdateBytes)).toHaveLength(3);
  });

  it.each([
    [31, 0],
    [32, 0],
    [33, 1],
  ])('broadcastQueueMax 32: %i entries drop %i', (entries, dropped) => {
    const queue = createQueue();
    let total = 0;
    for (let i = 1; i <= entries; i++) total += enqueue(queue, left(i), 32);
    expect(total).toBe(dropped);
    expect(queue.byMember.size).toBe(Math.min(entries, 32));
  });

  it('when full, drops the most transmitted entry first', () => {
    const queue = createQueue();
    enqueue(queue, left(1), 2);
    takeUpdates(queue, estimateUpdateBytes(left(1)), 9, estimateUpdateBytes); // only left(1) sent
    enqueue(queue, left(2), 2);
    enqueue(queue, left(3), 2);
    expect([...queue.byMember.keys()].sort()).toEqual([nodeId(2), nodeId(3)]);
  });

  it('labelsBytes counts UTF-8 bytes of keys and values', () => {
    expect(labelsBytes({ zone: 'a' })).toBe(5);
    expect(labelsBytes({ k: 'é' })).toBe(3);
    expect(labelsBytes({ k: '😀' })).toBe(5);
  });
});
