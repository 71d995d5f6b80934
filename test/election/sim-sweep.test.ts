import { describe, expect, test } from 'vitest';
import { parseFaults } from '../../src/sim/faults.js';
import { formatFailure, runScenario } from '../../src/sim/runner.js';
import {
  electionRaftLite,
  electionRaftLiteColdStart,
  electionRaftLiteColdStartUnsafe,
} from '../../src/sim/scenarios/election-raft-lite.js';

const env = { commit: 'test', nodeVersion: process.version };

describe('raft-lite simulation sweeps (loss, partitions, pauses, crashes, restarts, skew)', () => {
  test('one leader per term and a leader again after the heal, 24 seeds x 3/5 nodes', () => {
    for (let seed = 1; seed <= 24; seed++) {
      const result = runScenario(electionRaftLite, {
        seed,
        nodes: seed % 2 === 0 ? 3 : 5,
        faults: parseFaults('all'),
        durationMs: 15_000,
      });
      expect(result.violation, formatFailure(result, env)).toBeUndefined();
    }
  });

  test('failure story 3 (cold start): nodes knowing only part of the cluster, booted into a partition, never split and elect after the heal (3 and 5 nodes)', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const result = runScenario(electionRaftLiteColdStart, {
        seed,
        nodes: seed % 2 === 0 ? 3 : 5,
        faults: parseFaults('all'),
        durationMs: 10_000,
      });
      expect(result.violation, formatFailure(result, env)).toBeUndefined();
    }
  });

  test('cold start of 5 nodes given only a ring of peers each: join requests spread the cluster and a leader is elected within 2 s of the heal', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const result = runScenario(electionRaftLiteColdStart, {
        seed,
        nodes: 5,
        faults: new Set(),
        durationMs: 4_000,
        livenessDeadlineMs: 2_000,
      });
      expect(result.violation, formatFailure(result, env)).toBeUndefined();
    }
  });

  test('cold start of 5 nodes each given the full peers list: a leader within 1 s, minClusterSize 5 included', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const result = runScenario(electionRaftLite, {
        seed,
        nodes: 5,
        faults: new Set(),
        durationMs: 0,
        livenessDeadlineMs: 1_000,
      });
      expect(result.violation, formatFailure(result, env)).toBeUndefined();
    }
  });

  test('failure story 3, the bug itself: with minClusterSize below a majority the checker catches two leaders in one term', () => {
    const caught = [1, 2, 3, 4, 5].filter(
      (seed) =>
        runScenario(electionRaftLiteColdStartUnsafe, {
          seed,
          nodes: 5,
          faults: new Set(),
          durationMs: 3_000,
        }).violation?.checker === 'one-leader-per-term',
    );
    expect(caught.length).toBeGreaterThan(0);
  });

  test('the same seed gives the same trace', () => {
    const options = { seed: 42, nodes: 5, faults: parseFaults('all'), durationMs: 5_000 };
    expect(runScenario(electionRaftLite, options).trace).toEqual(
      runScenario(electionRaftLite, options).trace,
    );
  });
});
