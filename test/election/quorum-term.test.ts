import { describe, expect, test } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { faultsTolerated, isQuorum, majorityOf } from '../../src/election/quorum.js';
import {
  compareTerm,
  decidePreVote,
  decideVote,
  randomElectionTimeoutMs,
} from '../../src/election/term.js';
import type { NodeId } from '../../src/identity/node-id.js';

const A = 'a'.repeat(32) as NodeId;
const B = 'b'.repeat(32) as NodeId;

describe('quorum maths (self counted)', () => {
  test.each([
    [1, 1, 0],
    [2, 2, 0],
    [3, 2, 1],
    [4, 3, 1],
    [5, 3, 2],
    [7, 4, 3],
  ])('cluster %i: majority %i, tolerates %i', (n, majority, faults) => {
    expect(majorityOf(n)).toBe(majority);
    expect(faultsTolerated(n)).toBe(faults);
  });
  test('failure story 2: a lone node in a 1|2 split of 3 is not a quorum, self counted', () => {
    expect(isQuorum(new Set(['self']), new Set(['self', 'p1', 'p2']))).toBe(false);
    expect(isQuorum(new Set(['self', 'p1']), new Set(['self', 'p1', 'p2']))).toBe(true);
  });
  test('votes from outside the cluster do not count', () => {
    expect(isQuorum(new Set(['self', 'stranger']), new Set(['self', 'p1', 'p2']))).toBe(false);
  });
});

describe('term and vote rules', () => {
  test('Raft §5.1: term comparison', () => {
    expect(compareTerm(5, 4)).toBe('stale');
    expect(compareTerm(5, 5)).toBe('current');
    expect(compareTerm(5, 6)).toBe('newer');
  });
  test('Raft §5.2: one vote per term', () => {
    expect(decideVote({ currentTerm: 3, votedFor: undefined, inLeaderLease: false }, A, 3)).toEqual(
      { granted: true },
    );
    expect(decideVote({ currentTerm: 3, votedFor: A, inLeaderLease: false }, A, 3)).toEqual({
      granted: true,
    });
    expect(decideVote({ currentTerm: 3, votedFor: A, inLeaderLease: false }, B, 3)).toEqual({
      granted: false,
      reason: 'already_voted',
    });
    expect(decideVote({ currentTerm: 3, votedFor: undefined, inLeaderLease: false }, B, 2)).toEqual(
      { granted: false, reason: 'stale_term' },
    );
  });
  test('etcd check-quorum lease: no vote while a leader is heard', () => {
    expect(decideVote({ currentTerm: 3, votedFor: undefined, inLeaderLease: true }, B, 4)).toEqual({
      granted: false,
      reason: 'leader_lease',
    });
  });
  test('thesis §9.6 PreVote: only for a newer term, outside a lease', () => {
    expect(decidePreVote({ currentTerm: 3, votedFor: A, inLeaderLease: false }, 4)).toEqual({
      granted: true,
    });
    expect(decidePreVote({ currentTerm: 3, votedFor: undefined, inLeaderLease: false }, 3)).toEqual(
      { granted: false, reason: 'not_newer' },
    );
    expect(decidePreVote({ currentTerm: 3, votedFor: undefined, inLeaderLease: true }, 4)).toEqual({
      granted: false,
      reason: 'leader_lease',
    });
  });
  test('randomized timeouts stay in [min, max] and vary', () => {
    const rng = new Rng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const t = randomElectionTimeoutMs(rng, 150, 300);
      expect(t).toBeGreaterThanOrEqual(150);
      expect(t).toBeLessThanOrEqual(300);
      seen.add(t);
    }
    expect(seen.size).toBeGreaterThan(50);
  });
});
