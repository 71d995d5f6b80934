import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { newStats } from './fuzz.js';
import { fuzzSignedRecords, recordCorpus } from './record-fuzz.js';

// The signed-record fuzzer (record-fuzz.ts, issue 12): mutations of messages carrying genuinely
// signed records never decode to a different record that still verifies. Longer runs:
// `npm run fuzz -- --records --cases N --seed N`.
describe('signed-record fuzz', () => {
  it('no mutation of a signed record or accusation passes for signed', () => {
    const corpus = recordCorpus(new Rng(12), 60);
    const stats = newStats();
    fuzzSignedRecords(corpus, new Rng(13), 20_000, stats);
    expect(stats.failures).toEqual([]);
    expect(stats.accepted).toBeGreaterThan(500);
    expect(corpus.genuine.size).toBeGreaterThan(60);
  });

  it('the oracle can fail: a genuine update it was not told about is reported', () => {
    const corpus = recordCorpus(new Rng(12), 10);
    const stats = newStats();
    const told = { messages: corpus.messages, genuine: new Set<string>() };
    fuzzSignedRecords(told, new Rng(13), 200, stats);
    expect(stats.failures.length).toBeGreaterThan(0);
  });
});
