import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { fuzzCorpus, fuzzExhaustive, fuzzRandom, newStats } from './fuzz.js';

// Over 100,000 decodes per run (truncations at every length, every single-bit flip, random
// mutations); the oracle is in fuzz.ts. Longer runs: `npm run fuzz -- --cases N --seed N`.
describe('codec fuzz', () => {
  it('never throws, rejects with ERR_DECODE_* codes, and accepts only canonical bytes', () => {
    const corpus = fuzzCorpus(20_240_601, 30);
    const stats = newStats();
    for (const bytes of corpus) fuzzExhaustive(bytes, stats);
    fuzzRandom(corpus, new Rng(42), 70_000, stats);
    expect(stats.failures).toEqual([]);
    expect(stats.cases).toBeGreaterThanOrEqual(100_000);
    expect(stats.accepted).toBeGreaterThan(0);
    for (const code of [
      'ERR_DECODE_TRUNCATED',
      'ERR_DECODE_MALFORMED',
      'ERR_DECODE_BAD_MAGIC',
      'ERR_DECODE_WRONG_CLUSTER',
    ]) {
      expect(stats.rejected[code] ?? 0).toBeGreaterThan(0);
    }
  });
});
