/**
 * Hybrid logical clocks (Kulkarni et al. 2014, Fig. 5): never behind physical time, past every
 * timestamp received, bounded logical counter, and the drift bound that refuses (and counts) a
 * timestamp too far ahead, tested at driftMaxMs - 1, driftMaxMs and driftMaxMs + 1.
 */
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../src/identity/node-id.js';
import {
  compareHlc,
  compareStamp,
  HLC_LOGICAL_MAX,
  hlcClock,
  hlcNow,
  hlcReceive,
} from '../../src/crdt/hlc.js';

describe('hybrid logical clock', () => {
  it('follows physical time when it moves, and counts within one millisecond', () => {
    const clock = hlcClock(1000);
    expect(hlcNow(clock, 100)).toEqual({ wallMs: 100, logical: 0 });
    expect(hlcNow(clock, 100)).toEqual({ wallMs: 100, logical: 1 });
    expect(hlcNow(clock, 99)).toEqual({ wallMs: 100, logical: 2 });
    expect(hlcNow(clock, 101)).toEqual({ wallMs: 101, logical: 0 });
  });

  it('moves past a received timestamp (Fig. 5 receive cases)', () => {
    const clock = hlcClock(1000, { wallMs: 100, logical: 4 });
    expect(hlcReceive(clock, { wallMs: 100, logical: 7 }, 50)).toEqual({ wallMs: 100, logical: 8 });
    expect(hlcReceive(clock, { wallMs: 90, logical: 9 }, 50)).toEqual({ wallMs: 100, logical: 9 });
    expect(hlcReceive(clock, { wallMs: 300, logical: 2 }, 200)).toEqual({
      wallMs: 300,
      logical: 3,
    });
    expect(hlcReceive(clock, { wallMs: 10, logical: 0 }, 400)).toEqual({ wallMs: 400, logical: 0 });
  });

  it('refuses a timestamp more than driftMaxMs ahead, and counts it (limit-1, limit, limit+1)', () => {
    const clock = hlcClock(500);
    expect(hlcReceive(clock, { wallMs: 1499, logical: 0 }, 1000)).toBeDefined();
    expect(hlcReceive(clock, { wallMs: 1500, logical: 0 }, 1000)).toBeDefined();
    const before = clock.last;
    expect(hlcReceive(clock, { wallMs: 1501, logical: 0 }, 1000)).toBeUndefined();
    expect(clock.refused).toBe(1);
    expect(clock.last).toEqual(before);
  });

  it('moves wallMs one ahead instead of overflowing the logical counter', () => {
    const clock = hlcClock(1000, { wallMs: 7, logical: HLC_LOGICAL_MAX - 1 });
    expect(hlcNow(clock, 7)).toEqual({ wallMs: 7, logical: HLC_LOGICAL_MAX });
    expect(hlcNow(clock, 7)).toEqual({ wallMs: 8, logical: 0 });
    expect(hlcNow(clock, 8)).toEqual({ wallMs: 8, logical: 1 });
  });

  it('a node with a fast clock does not win forever: a later write by a node that heard it wins', () => {
    const fast = hlcClock(60_000);
    const slow = hlcClock(60_000);
    const a = 'a'.repeat(32) as NodeId;
    const z = 'f'.repeat(32) as NodeId;
    const fastWrite = hlcNow(fast, 10_000 + 30_000); // 30 s ahead of the slow node's clock
    hlcReceive(slow, fastWrite, 10_000);
    const slowWrite = hlcNow(slow, 10_001);
    expect(compareStamp(slowWrite, a, fastWrite, z)).toBeGreaterThan(0);
    expect(compareHlc(slowWrite, fastWrite)).toBeGreaterThan(0);
  });
});
