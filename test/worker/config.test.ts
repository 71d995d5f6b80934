/** Table tests of the worker tier's formulas (docs/design/worker-tier.md, "Configuration"). */
import { describe, expect, it } from 'vitest';
import {
  WORKER_SERVER_DEFAULTS,
  failoverHeartbeatTtlMsFor,
  heartbeatTtlBaseMsFor,
  isExpired,
  retryBackoffMsFor,
  staggeredTtlMs,
  workerClientConfig,
  workerServerConfig,
} from '../../src/worker/core/config.js';

const defaults = workerServerConfig();

describe('heartbeat TTL: clamp(ceil(N / maxHeartbeatsPerSecond) s, min, max) (Nomad heartbeat.go)', () => {
  it.each([
    [0, 10_000],
    [1, 10_000],
    [10, 10_000],
    [500, 10_000],
    [501, 11_000],
    [1_000, 20_000],
    [10_000, 200_000],
    [29_999, 600_000],
    [30_000, 600_000],
    [100_000, 600_000],
  ])('%i workers -> base %i ms at the defaults', (n, expected) => {
    expect(heartbeatTtlBaseMsFor(n, defaults)).toBe(expected);
  });

  it('staggers into [base, 2·base): the draw is added to the base', () => {
    expect(staggeredTtlMs(20_000, () => 0)).toBe(20_000);
    expect(staggeredTtlMs(20_000, (bound) => bound - 1)).toBe(39_999);
  });

  it('the mean TTL is 1.5·base, so N workers send N / 1.5·base ≈ ⅔ of the rate limit', () => {
    const base = heartbeatTtlBaseMsFor(10_000, defaults);
    const meanTtlS = (1.5 * base) / 1000;
    expect(10_000 / meanTtlS).toBeCloseTo(33.3, 1);
  });
});

describe("failover TTL: 2·N / rate s + 10·minTtl (Nomad's rule)", () => {
  it.each([
    [0, 100_000],
    [10, 100_400],
    [1_000, 140_000],
    [10_000, 500_000],
    [100_000, 4_100_000],
  ])('%i workers -> %i ms', (n, expected) => {
    expect(failoverHeartbeatTtlMsFor(n, defaults)).toBe(expected);
  });

  it('a configured value wins over the formula', () => {
    const config = workerServerConfig({ failoverHeartbeatTtlMs: 900_000 });
    expect(failoverHeartbeatTtlMsFor(10_000, config)).toBe(900_000);
  });

  it('is never below the longest TTL a worker can hold plus the grace (2·base ≤ failover)', () => {
    for (const n of [0, 10, 999, 1_000, 5_000, 10_000, 30_000, 100_000]) {
      const base = heartbeatTtlBaseMsFor(n, defaults);
      expect(failoverHeartbeatTtlMsFor(n, defaults)).toBeGreaterThanOrEqual(
        Math.min(2 * base, 2 * defaults.maxHeartbeatTtlMs),
      );
    }
  });
});

describe('expiry: down once now > renewed + ttl + grace', () => {
  it.each([
    [1_000 + 20_000 + 10_000 - 1, false],
    [1_000 + 20_000 + 10_000, false],
    [1_000 + 20_000 + 10_000 + 1, true],
  ])('renewed 1000, ttl 20000, grace 10000, now %i -> expired %s', (now, expected) => {
    expect(isExpired(now, 1_000, 20_000, 10_000)).toBe(expected);
  });
});

describe('validation names both fields of a broken rule', () => {
  it.each([
    [
      { minHeartbeatTtlMs: 600_000 },
      'minHeartbeatTtlMs (600000) must be below maxHeartbeatTtlMs (600000)',
    ],
    [
      { maxHeartbeatTtlMs: 5_000 },
      'minHeartbeatTtlMs (10000) must be below maxHeartbeatTtlMs (5000)',
    ],
    [
      { failoverHeartbeatTtlMs: 50_000 },
      'failoverHeartbeatTtlMs (50000) must be at least 10 × minHeartbeatTtlMs (100000)',
    ],
    [
      { heartbeatGraceMs: 1_000, stallThresholdMs: 2_000 },
      'stallThresholdMs (2000) must be at most heartbeatGraceMs (1000)',
    ],
    [{ maxHeartbeatsPerSecond: 0 }, 'maxHeartbeatsPerSecond (0) must be a positive integer'],
    [{ minHeartbeatTtlMs: 1.5 }, 'minHeartbeatTtlMs (1.5) must be a positive integer'],
    [{ pollJitterFraction: 1 }, 'pollJitterFraction (1) must be in [0, 1)'],
  ])('%j', (settings, message) => {
    expect(() => workerServerConfig(settings)).toThrow(message);
  });

  it('client: backoff bounds and renewal fraction', () => {
    expect(() => workerClientConfig({ retryBackoffMinMs: 5_000 })).toThrow(
      'retryBackoffMinMs (5000) must not exceed retryBackoffMaxMs (4000)',
    );
    expect(() => workerClientConfig({ renewFraction: 1 })).toThrow(
      'renewFraction (1) must be in (0, 1)',
    );
  });

  it('defaults are the issue table: 10 s, 600 s, grace 10 s, 50 heartbeats/s', () => {
    expect(WORKER_SERVER_DEFAULTS).toMatchObject({
      minHeartbeatTtlMs: 10_000,
      maxHeartbeatTtlMs: 600_000,
      heartbeatGraceMs: 10_000,
      maxHeartbeatsPerSecond: 50,
    });
  });
});

describe('client retry backoff: min·2^(failures-1), capped', () => {
  const config = workerClientConfig();
  it.each([
    [0, 0],
    [1, 250],
    [2, 500],
    [4, 2_000],
    [5, 4_000],
    [60, 4_000],
  ])('%i failures -> %i ms', (failures, expected) => {
    expect(retryBackoffMsFor(failures, config)).toBe(expected);
  });
});
