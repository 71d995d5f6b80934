/**
 * Tree scenarios (issue 16, Merkle sync of shared trees) on a fixed seed subset; the sweep is
 * `npm run sim:sweep -- --scenarios tree,tree-forgery`. Every node is built by buildNode (tree
 * sync beside membership, the registry and chains on one port) under crashes, partitions and the
 * rest, with a set/delete workload through `node.trees`: every entry held is one a node wrote,
 * and after the heal every running node holds the tree at one root (anti-entropy, Dynamo §4.7).
 * An attacker's forged, altered and unknown-writer entries are refused and counted; with
 * signatures unchecked the writer checker must fire, or it proves nothing.
 */
import { describe, expect, it } from 'vitest';
import { parseFaults } from '../../src/sim/faults.js';
import { runScenario, type RunResult, type Scenario } from '../../src/sim/runner.js';
import { SCENARIOS } from '../../src/sim/scenarios/index.js';
import type { SwimView } from '../../src/sim/scenarios/swim-checkers.js';
import { TREE_FORGERY_KINDS } from '../../src/sim/scenarios/tree.js';

const simulate = (scenario: string, seed: number, faults: string, nodes = 5): RunResult =>
  runScenario(SCENARIOS.get(scenario) as Scenario<SwimView>, {
    seed,
    nodes,
    faults: parseFaults(faults),
    durationMs: 8_000,
    traceLinesMax: 200_000,
  });

/** The "trees converged" line's entries taken, or undefined when the run never converged. */
const takenWhenConverged = (result: RunResult): number | undefined => {
  const line = result.trace.find((l) => l.includes('trees converged:'));
  const m = line === undefined ? null : /(\d+) entries taken/.exec(line);
  return m === null ? undefined : Number(m[1]);
};

describe('tree scenarios (issue 16)', () => {
  it('are registered for npm run sim and the sweep', () => {
    for (const name of ['tree', 'tree-forgery', 'tree-forgery-unsafe', 'tree-no-sync-unsafe'])
      expect(SCENARIOS.get(name)?.name).toBe(name);
  });

  it.each(['crash', 'partition', 'all'])(
    'faults %s: every entry held was written by its writer, one root after the heal',
    (faults) => {
      for (const seed of [1, 2]) {
        const result = simulate('tree', seed, faults);
        expect(result.violation, result.violation?.message).toBeUndefined();
        expect(takenWhenConverged(result), 'converged, entries synced').toBeGreaterThan(0);
      }
    },
  );

  it('forgeries are refused and counted; unchecked, the writer checker catches them', () => {
    const seen = new Set<string>();
    for (const seed of [1, 2]) {
      const result = simulate('tree-forgery', seed, 'crash');
      expect(result.violation, result.violation?.message).toBeUndefined();
      expect(takenWhenConverged(result)).toBeGreaterThan(0);
      for (const line of result.trace) {
        const kind = /tree attacker ([a-z-]+) to /.exec(line)?.[1];
        if (kind !== undefined) seen.add(kind);
      }
    }
    expect([...seen].sort()).toEqual([...TREE_FORGERY_KINDS].sort());
    for (const seed of [1, 2, 3]) {
      const result = simulate('tree-forgery-unsafe', seed, 'none');
      expect(result.violation?.checker, `seed ${seed}`).toBe('tree-entries-from-their-writer');
    }
  });

  it('with anti-entropy off the one-root liveness check fails (its broken twin)', () => {
    const result = simulate('tree-no-sync-unsafe', 1, 'none');
    expect(result.violation?.checker).toBe('liveness');
    expect(result.violation?.message).toMatch(/hold tree sim at \d+ roots/);
  });

  it('replays: the same seed gives the same trace', () => {
    expect(simulate('tree-forgery', 5, 'all', 4).trace).toEqual(
      simulate('tree-forgery', 5, 'all', 4).trace,
    );
  });
});
