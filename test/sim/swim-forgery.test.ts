/**
 * The forgery scenarios of issue 12 on a fixed seed subset (the sweep is `npm run sim:sweep --
 * --scenarios swim-forgery`): an attacker holding no member's key sends every forgery of the
 * issue while faults strike; no node believes a record its member did not sign, and every kind
 * is counted. With signature checks off (`-unsafe`) the same forgeries must be caught by the
 * checkers, or they would prove nothing.
 */
import { describe, expect, it } from 'vitest';
import { parseFaults } from '../../src/sim/faults.js';
import { runScenario } from '../../src/sim/runner.js';
import { SCENARIOS } from '../../src/sim/scenarios/index.js';
import { FORGERY_KINDS } from '../../src/sim/scenarios/attacker.js';
import { swimForgery, swimForgeryUnsafe } from '../../src/sim/scenarios/swim-forgery.js';

const run = (scenario: typeof swimForgery, seed: number, nodes: number, faults: string) =>
  runScenario(scenario, {
    seed,
    nodes,
    faults: parseFaults(faults),
    durationMs: 10_000,
    traceLinesMax: 200_000,
  });

describe('swim-forgery (issue 12)', () => {
  it('is registered for npm run sim', () => {
    expect(SCENARIOS.get('swim-forgery')).toBe(swimForgery);
    expect(SCENARIOS.get('swim-forgery-unsafe')).toBe(swimForgeryUnsafe);
  });

  it.each([
    [3, 'none'],
    [5, 'crash'],
    [5, 'loss,dup,reorder'],
    [3, 'partition,pause'],
  ])(
    '%i nodes, faults %s: no forged belief, every kind counted, one view after the heal',
    (nodes, faults) => {
      for (const seed of [1, 2]) {
        const result = run(swimForgery, seed, nodes, faults);
        expect(result.violation, result.violation?.message).toBeUndefined();
        const kinds = new Set(
          result.trace.flatMap((l) => /attacker ([a-z-]+) to /.exec(l)?.[1] ?? []),
        );
        expect([...kinds].sort()).toEqual([...FORGERY_KINDS].sort());
      }
    },
  );

  it('with signature checks off, the checkers catch the forgeries (every seed)', () => {
    for (const seed of [1, 2, 3]) {
      const result = run(swimForgeryUnsafe, seed, 5, 'none');
      expect(result.violation?.checker).toMatch(
        /^(beliefs-signed-by-their-members|no-false-death|no-suspicion-on-perfect-network)$/,
      );
    }
  });
});
