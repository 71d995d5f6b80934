/** Table tests of the formulas named in docs/design/membership.md. */
import { describe, expect, it } from 'vitest';
import {
  applyAwarenessDelta,
  failedProbeAwarenessDelta,
  loopDelayAwarenessDelta,
  scaleByAwareness,
} from '../../src/membership/awareness.js';
import {
  joinSyncDelayMs,
  pushPullIntervalScaledMs,
  retransmitLimit,
} from '../../src/membership/scaling.js';
import { PROFILES } from '../../src/membership/config.js';
import { tombstoneLifetimeMs, tombstonesMax } from '../../src/membership/tombstones.js';
import {
  expectedConfirmations,
  suspicionTimeoutMaxMs,
  suspicionTimeoutMinMs,
  suspicionTimeoutMs,
} from '../../src/membership/suspicion.js';

describe('suspicion timeout (Lifeguard §IV-B, memberlist suspicion.go)', () => {
  it.each([
    // suspicionMult, n, probeIntervalMs, expected min
    [4, 1, 1000, 4000],
    [4, 5, 1000, 4000], // log10(5) < 1: the scale is clamped to 1
    [4, 10, 1000, 4000],
    [4, 100, 1000, 8000],
    [4, 1000, 1000, 12000],
    [6, 10000, 5000, 120000],
    [3, 50, 100, 509], // 3 * floor(1698.97) * 100 / 1000
  ])(
    'min = suspicionMult * max(1, log10(n)) * probeInterval: mult %i, n %i, interval %i -> %i',
    (mult, n, interval, expected) => {
      expect(suspicionTimeoutMinMs(mult, n, interval)).toBe(expected);
    },
  );

  it('max = suspicionMaxTimeoutMult * min', () => {
    expect(suspicionTimeoutMaxMs(6, 4000)).toBe(24000);
  });

  it.each([
    // min, max, confirmations, k, expected timeout
    [4000, 24000, 0, 2, 24000],
    [4000, 24000, 1, 2, 11381], // 24000 - 20000 * ln2/ln3
    [4000, 24000, 2, 2, 4000],
    [4000, 24000, 3, 2, 4000], // never below min
    [4000, 24000, 0, 0, 4000], // k = 0: no confirmations expected, start at min
    [1000, 3000, 1, 3, 2000], // 3000 - 2000 * ln2/ln4
  ])(
    'shrinks with independent confirmations: min %i max %i c %i k %i -> %i',
    (min, max, c, k, expected) => {
      expect(suspicionTimeoutMs(min, max, c, k)).toBe(expected);
    },
  );

  it.each([
    [4, 10, 2],
    [4, 4, 2],
    [4, 3, 0],
    [3, 5, 1],
    [2, 100, 0],
  ])('expected confirmations: suspicionMult %i, n %i -> %i', (mult, n, k) => {
    expect(expectedConfirmations(mult, n)).toBe(k);
  });
});

describe('retransmitLimit (SWIM §4.1: O(log N) retransmissions)', () => {
  it.each([
    [4, 1, 4],
    [4, 9, 4],
    [4, 10, 8],
    [4, 99, 8],
    [4, 100, 12],
    [2, 10000, 10],
  ])('retransmitMult %i, n %i -> %i', (mult, n, limit) => {
    expect(retransmitLimit(mult, n)).toBe(limit);
  });
});

describe('pushPullIntervalScaledMs (memberlist pushPullScale)', () => {
  it.each([
    [1, 30000],
    [32, 30000],
    [33, 60000],
    [64, 60000],
    [65, 90000],
    [1000, 180000],
    [10000, 300000],
  ])('n %i -> %i', (n, interval) => {
    expect(pushPullIntervalScaledMs(30000, n)).toBe(interval);
  });
});

describe('joinSyncDelayMs (first push-pull after a join)', () => {
  it.each([
    [200, 4, 2, 1600],
    [200, 4, 50, 3200],
    [200, 4, 100, 4800],
    [20, 2, 10, 160],
    [1000, 4, 10, 16000],
  ])('tick %i ms, retransmitMult %i, n %i -> %i ms', (tickMs, mult, n, delayMs) => {
    expect(joinSyncDelayMs(tickMs, mult, n)).toBe(delayMs);
  });
});

describe('tombstones of forgotten members (tombstones.ts)', () => {
  it.each([
    ['LAN', 300_000, 65_536],
    ['WAN', 600_000, 65_536],
    ['LOCAL', 150_000, 65_536],
    ['SIM_MIN', 20_000, 64],
  ] as const)('%s: kept %i ms after the forgetting, at most %i', (profile, lifetimeMs, max) => {
    expect(tombstoneLifetimeMs(PROFILES[profile])).toBe(lifetimeMs);
    expect(tombstonesMax(PROFILES[profile])).toBe(max);
  });
});

describe('awareness (Lifeguard §IV-A)', () => {
  it('is clamped to 0..multiplierMax-1', () => {
    expect(applyAwarenessDelta(0, -1, 8)).toBe(0);
    expect(applyAwarenessDelta(6, 1, 8)).toBe(7);
    expect(applyAwarenessDelta(7, 3, 8)).toBe(7);
  });
  it('scales durations by score + 1', () => {
    expect(scaleByAwareness(1000, 0)).toBe(1000);
    expect(scaleByAwareness(1000, 7)).toBe(8000);
  });
  it.each([
    [3, 0, 3],
    [3, 2, 1],
    [3, 3, 0],
    [0, 0, 1],
  ])('failed probe with %i expected nacks, %i received -> +%i', (expected, got, delta) => {
    expect(failedProbeAwarenessDelta(expected, got)).toBe(delta);
  });
  it('loop delay raises the score only at or above the threshold, and 0 disables it', () => {
    expect(loopDelayAwarenessDelta(499, 500)).toBe(0);
    expect(loopDelayAwarenessDelta(500, 500)).toBe(1);
    expect(loopDelayAwarenessDelta(10_000, 0)).toBe(0);
  });
});
