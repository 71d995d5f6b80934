/**
 * The worker tier in the simulator (docs/design/worker-tier.md, "Simulation"): 3 servers over a
 * modelled Raft store and hundreds to a thousand workers running the real client and liveness
 * cores under every fault (loss, duplication, reordering, partitions between workers and
 * servers, pauses, crashes, clock steps), with scheduled leader failovers. Each checker has an
 * `-unsafe` variant (a deliberate bug) that it must catch.
 */
import { describe, expect, it } from 'vitest';
import { parseFaults } from '../../src/sim/faults.js';
import { formatFailure, runScenario } from '../../src/sim/runner.js';
import {
  workerTier,
  workerTierDedupUnsafe,
  workerTierFailoverUnsafe,
  workerTierResumeUnsafe,
  workerTierTokensUnsafe,
} from '../../src/sim/scenarios/worker-tier.js';
import type { Scenario } from '../../src/sim/runner.js';

const env = { commit: 'test', nodeVersion: process.version };
const ALL = parseFaults('all');

const run = (scenario: Scenario<unknown>, seed: number, nodes: number, durationMs = 120_000) =>
  runScenario(scenario, { seed, nodes, faults: ALL, durationMs });

describe('worker-tier simulation', () => {
  it.each([1, 2, 3])(
    'seed %i, 200 workers, every fault: all checkers hold and liveness returns',
    (seed) => {
      const result = run(workerTier as Scenario<unknown>, seed, 203);
      expect(result.violation, formatFailure(result, env)).toBeUndefined();
    },
  );

  it('1,000 workers, every fault: all checkers hold', () => {
    const result = run(workerTier as Scenario<unknown>, 7, 1_003, 100_000);
    expect(result.violation, formatFailure(result, env)).toBeUndefined();
  });

  it('the same seed gives the same trace, line for line', () => {
    const a = run(workerTier as Scenario<unknown>, 11, 23, 30_000);
    const b = run(workerTier as Scenario<unknown>, 11, 23, 30_000);
    expect(a.trace).toEqual(b.trace);
    expect(a.trace.length).toBeGreaterThan(100);
  });
});

describe('each checker catches its mutant', () => {
  it.each<[string, Scenario<unknown>, string]>([
    [
      'a new leader without the failover TTL',
      workerTierFailoverUnsafe as Scenario<unknown>,
      'no-down-before-promise',
    ],
    [
      'a worker that resumes without dropping repeats',
      workerTierDedupUnsafe as Scenario<unknown>,
      'assignments-once-in-order',
    ],
    [
      'a worker that resumes from now',
      workerTierResumeUnsafe as Scenario<unknown>,
      'assignments-once-in-order',
    ],
    [
      'token uses counted in leader memory',
      workerTierTokensUnsafe as Scenario<unknown>,
      'token-uses-within-max',
    ],
  ])('%s', (_what, scenario, checker) => {
    const caught = [1, 2]
      .map((seed) => run(scenario, seed, 203))
      .filter((r) => r.violation !== undefined);
    expect(caught.length, 'caught on at least one of seeds 1 and 2').toBeGreaterThan(0);
    for (const r of caught) expect(r.violation?.checker).toBe(checker);
  });
});
