import { describe, expect, test } from 'vitest';
import { parseFaults } from '../../src/sim/faults.js';
import { formatFailure, runScenario } from '../../src/sim/runner.js';
import {
  electionRaftLite,
  electionRaftLiteColdStart,
  electionRaftLiteColdStartUnsafe,
  electionRaftLiteJoin,
} from '../../src/sim/scenarios/election-raft-lite.js';
import {
  electionSwimRestartMinority,
  electionSwimRestartMinorityUnsafe,
} from '../../src/sim/scenarios/election-swim.js';

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

  test('issue 11 bugs 1-3: joiners knowing only one founder, cut off for 1.5 s, crashes at effect boundaries: one leader per term, one vote per term, everyone in the cluster after the heal', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const result = runScenario(electionRaftLiteJoin, {
        seed,
        nodes: 5,
        faults: parseFaults(seed % 2 === 0 ? 'crash' : 'none'),
        durationMs: 8_000,
      });
      expect(result.violation, formatFailure(result, env)).toBeUndefined();
    }
  });

  test("issue 11 amnesia: a node that lost its data dir comes back as a new identity, is refused in its old place, and never casts the old one's votes again", () => {
    let amnesiac = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const result = runScenario(electionRaftLite, {
        seed,
        nodes: seed % 2 === 0 ? 3 : 5,
        faults: parseFaults('amnesia,crash,partition'),
        durationMs: 15_000,
      });
      expect(result.violation, formatFailure(result, env)).toBeUndefined();
      if (result.trace.some((line) => line.includes('fault amnesia'))) amnesiac++;
    }
    // The nemesis did strike (it waits until every node pins the victim).
    expect(amnesiac).toBeGreaterThan(6);
  });

  test('issue 11 bug 4: a swim minority restarted into a partition never leads; losing the persisted stable size is caught', () => {
    for (let seed = 1; seed <= 3; seed++) {
      const options = { seed, nodes: 5, faults: parseFaults('none'), durationMs: 20_000 };
      const safe = runScenario(electionSwimRestartMinority, options);
      expect(safe.violation, formatFailure(safe, env)).toBeUndefined();
      const unsafe = runScenario(electionSwimRestartMinorityUnsafe, options);
      // A leader in a minority: the claimant's own lease checker usually sees it first.
      expect(['no-leader-in-minority', 'claimant-holds-a-lease']).toContain(
        unsafe.violation?.checker,
      );
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
