/**
 * The short version of the durability test (durability.ts; the full 20 rounds are `npm run
 * durability`): 3 rounds of kill -9 of every member of a 3-agent raft cluster under load; every
 * acknowledged write survives each restart and the whole history is linearizable.
 */
import { describe, expect, it } from 'vitest';
import { DURABILITY_DEFAULTS, runDurability } from './durability.js';

describe('kill -9 of every member, under load (short: 3 rounds)', () => {
  it('loses no acknowledged write, and the history is linearizable', async () => {
    const result = await runDurability({ ...DURABILITY_DEFAULTS, rounds: 3, log: () => undefined });
    expect(result.rounds).toHaveLength(3);
    expect(result.rounds.every((r) => r.acknowledged > 0)).toBe(true);
    expect(result.lost).toBe(0);
    expect(result.workload.ok).toBeGreaterThan(0);
    expect(result.check.result.verdict, result.check.text).toBe('ok');
  }, 300_000);
});
