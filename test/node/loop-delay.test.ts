import { describe, expect, it } from 'vitest';
import { loopDelaySubscriberCount, startLoopDelayMonitor } from '../../src/node/loop-delay.js';
import { waitFor } from '../helpers/wait.js';

describe('loop-delay monitor', () => {
  it('gives every node of the process the same sample from one histogram, and stops with the last', async () => {
    const before = loopDelaySubscriberCount();
    const seen: number[][] = [[], []];
    const stops = [
      startLoopDelayMonitor((d) => seen[0]?.push(d)),
      startLoopDelayMonitor((d) => seen[1]?.push(d)),
    ];
    expect(loopDelaySubscriberCount()).toBe(before + 2);
    await waitFor(
      () => (seen[0]?.length ?? 0) > 0 && (seen[1]?.length ?? 0) > 0,
      5_000,
      'one sample for each subscriber',
    );
    expect(seen[0]?.[0]).toBe(seen[1]?.[0]);
    expect(seen[0]?.[0]).toBeGreaterThanOrEqual(0);
    for (const stop of stops) stop();
    expect(loopDelaySubscriberCount()).toBe(before);
  });
});
