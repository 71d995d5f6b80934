/**
 * The one codec for swim leader claims (election/swim/claim.ts, issue 12): the writer and every
 * reader agree on every term up to TERM_MAX and refuse everything else the same way, so a term
 * of 10^15 can no longer lead on the claimant and nowhere else; at TERM_MAX nobody claims.
 */
import { describe, expect, test } from 'vitest';
import type { Millis } from '../../src/base/time.js';
import { term } from '../../src/base/units.js';
import {
  CLAIM_LABEL,
  claimLabelsValid,
  decodeTerm,
  encodeTerm,
  parseClaim,
  SEEN_LABEL,
  TERM_MAX,
} from '../../src/election/swim/claim.js';
import { claimLabels } from '../../src/election/swim/protocol.js';
import {
  evaluateView,
  initSwimLeader,
  liveSetKey,
  liveViewOf,
} from '../../src/election/swim/step.js';
import type { LiveMember } from '../../src/election/swim/types.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { INCARNATION_MAX } from '../../src/membership/record.js';

const id = (c: string): NodeId => c.repeat(32) as NodeId;

describe('claim codec', () => {
  test('TERM_MAX is the incarnation maximum, 2^48 - 1 (15 digits)', () => {
    expect(TERM_MAX).toBe(INCARNATION_MAX);
    expect(TERM_MAX).toBe(2 ** 48 - 1);
    expect(String(TERM_MAX)).toHaveLength(15);
  });

  test.each([1, 2, 999_999, TERM_MAX - 1, TERM_MAX])('%i round-trips', (value) => {
    const text = encodeTerm(term(value));
    expect(decodeTerm(text)).toBe(value);
    expect(parseClaim({ [CLAIM_LABEL]: text })).toBe(value);
  });

  test.each([
    String(TERM_MAX + 1),
    '999999999999999',
    '1000000000000000',
    String(2 ** 53),
    '0',
    '01',
    '-1',
    '1e3',
    ' 1',
    '',
  ])('%j is refused by every reader', (text) => {
    expect(decodeTerm(text)).toBeUndefined();
    expect(claimLabelsValid({ [CLAIM_LABEL]: text })).toMatch(/not a term/);
    expect(claimLabelsValid({ [SEEN_LABEL]: text })).toMatch(/not a term/);
  });

  test('the writer refuses what the readers would (a caller bug, never on the wire)', () => {
    expect(() => encodeTerm(term(TERM_MAX + 1))).toThrow(/outside/);
    expect(() => claimLabels({}, term(TERM_MAX + 1), undefined)).toThrow(/outside/);
    expect(claimLabels({ a: 'b' }, term(5), term(9))).toEqual({
      a: 'b',
      [CLAIM_LABEL]: '5',
      [SEEN_LABEL]: '9',
    });
    expect(claimLabelsValid({ a: 'anything', [CLAIM_LABEL]: '5' })).toBeUndefined();
  });
});

describe('term ceiling in the leader core', () => {
  const cfg = {
    stabilizationMs: 100,
    requireQuorum: false,
    minClusterSize: 1,
    leaseMs: 100,
    leaseIntervalMs: 25,
  };

  test('a claim at TERM_MAX is followed, but once its claimant is gone nobody claims above it', () => {
    const s = initSwimLeader(
      { config: cfg, selfId: id('1') },
      { term: term(0), stableSize: 1 },
      0 as Millis,
    );
    const withClaim: LiveMember[] = [
      { id: id('1'), claimTerm: undefined },
      { id: id('2'), claimTerm: TERM_MAX },
    ];
    evaluateView(s, liveViewOf(withClaim), 0 as Millis, liveSetKey(withClaim));
    expect(s.leader).toEqual({ id: id('2'), term: TERM_MAX });
    expect(s.termExhausted).toBe(true);
    const alone: LiveMember[] = [{ id: id('1'), claimTerm: undefined }];
    evaluateView(s, liveViewOf(alone), 200 as Millis, liveSetKey(alone));
    evaluateView(s, liveViewOf(alone), 400 as Millis, liveSetKey(alone));
    expect(s.claim).toBeUndefined();
    expect(s.highestTermSeen).toBe(TERM_MAX);
  });

  test('one below the ceiling still elects, at TERM_MAX', () => {
    const s = initSwimLeader(
      { config: cfg, selfId: id('1') },
      { term: term(TERM_MAX - 1), stableSize: 1 },
      0 as Millis,
    );
    const alone: LiveMember[] = [{ id: id('1'), claimTerm: undefined }];
    evaluateView(s, liveViewOf(alone), 0 as Millis, liveSetKey(alone));
    evaluateView(s, liveViewOf(alone), 200 as Millis, liveSetKey(alone));
    expect(s.claim).toBe(TERM_MAX);
    expect(s.termExhausted).toBe(false);
  });
});
