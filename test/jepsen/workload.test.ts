/**
 * The Jepsen clients' pure parts: the operation mix, CAS built from what the client last saw,
 * and which errors may drop a call from the history (only a call that never left the client).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { errorClass, neverSent, nextInput } from './workload.js';

describe('nextInput', () => {
  it('mixes 40 % gets, 30 % puts, 30 % CAS over the keys, as a function of the seed', () => {
    const rng = new Rng(11);
    const counts = { get: 0, put: 0, cas: 0 };
    const keys = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const input = nextInput(rng, 10, new Map(), `v${i}`);
      counts[input.kind]++;
      keys.add(input.key);
    }
    expect(counts.get / 10_000).toBeCloseTo(0.4, 1);
    expect(counts.put / 10_000).toBeCloseTo(0.3, 1);
    expect(counts.cas / 10_000).toBeCloseTo(0.3, 1);
    expect([...keys].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`).sort());
    const a = Array.from({ length: 50 }, (_, i) => nextInput(new Rng(3), 10, new Map(), `v${i}`));
    const b = Array.from({ length: 50 }, (_, i) => nextInput(new Rng(3), 10, new Map(), `v${i}`));
    expect(a).toEqual(b);
  });

  it('a CAS compares what the client last saw: the modRevision or the value; absent when it saw nothing', () => {
    const seen = new Map([['k0', { value: 'x', modRevision: 7 }]]);
    const compares = new Set<string>();
    const rng = new Rng(2);
    for (let i = 0; i < 2_000; i++) {
      const input = nextInput(rng, 2, seen, 'new');
      if (input.kind !== 'cas') continue;
      expect(input.value).toBe('new');
      compares.add(`${input.key} ${JSON.stringify(input.compare)}`);
    }
    expect([...compares].sort()).toEqual([
      'k0 {"target":"modRevision","modRevision":7}',
      'k0 {"target":"value","value":"x"}',
      'k1 {"target":"modRevision","modRevision":0}',
    ]);
  });
});

describe('neverSent', () => {
  it.each([
    [
      '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 10.213.7.13:2379.',
      true,
    ],
    ['14 UNAVAILABLE: failed to connect to all addresses', true],
    ['4 DEADLINE_EXCEEDED: Deadline exceeded after 2.000s', false],
    ['14 UNAVAILABLE: Connection dropped', false],
    ['14 UNAVAILABLE: etcdserver: leader changed', false],
    ['2 UNKNOWN: context deadline exceeded', false],
    ['read ECONNRESET', false],
  ])('%s: %s', (message, expected) => {
    expect(neverSent(new Error(message))).toBe(expected);
  });
});

describe('errorClass', () => {
  it('drops what varies between calls so equal causes count together', () => {
    expect(
      errorClass(
        new Error('4 DEADLINE_EXCEEDED: Deadline exceeded after 2.012s,metadata filters: 0.001s'),
      ),
    ).toBe('4 DEADLINE_EXCEEDED: Deadline exceeded after Ns');
    expect(
      errorClass(
        new Error(
          '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 10.213.7.13:2379. Resolution note: ',
        ),
      ),
    ).toBe(
      '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED ADDR',
    );
  });
});
