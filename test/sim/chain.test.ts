/**
 * Chain scenarios (issue 16, chains on the network) on a fixed seed subset; the sweep is `npm
 * run sim:sweep -- --scenarios chain,chain-forgery`. Every node is built by buildNode (chains
 * beside membership and the registry on one port) under crashes, partitions and the rest, with
 * an append workload through `node.chain.append`: every chain held is its owner's (the head's
 * hash is the one its owner appended at that seq), and after the heal every running node holds
 * every running member's chain at its head (anti-entropy by pull, Demers et al. 1987). An
 * on-path attacker's forged, altered and reordered entries are refused and counted; with
 * signatures unchecked the owner checker must fire, or it proves nothing. `chain-pruned` keeps 12
 * entries per chain, so copies fall behind what peers keep and chain.log compacts within a run.
 */
import { describe, expect, it } from 'vitest';
import { parseFaults } from '../../src/sim/faults.js';
import { runScenario, type RunResult } from '../../src/sim/runner.js';
import { SCENARIOS } from '../../src/sim/scenarios/index.js';
import type { Scenario } from '../../src/sim/runner.js';
import type { SwimView } from '../../src/sim/scenarios/swim-checkers.js';
import { CHAIN_FORGERY_KINDS } from '../../src/sim/scenarios/chain.js';

function run(name: string, seed: number, nodes: number, faults: string): RunResult {
  return runScenario(SCENARIOS.get(name) as Scenario<SwimView>, {
    seed,
    nodes,
    faults: parseFaults(faults),
    durationMs: 8_000,
    traceLinesMax: 200_000,
  });
}

/** Entries received over the run once converged (the scenario traces it). */
function convergedEntries(result: RunResult): number | undefined {
  for (const line of result.trace) {
    const m = /chains converged: \d+ nodes hold every chain; (\d+) entries/.exec(line);
    if (m !== null) return Number(m[1]);
  }
  return undefined;
}

describe('chain scenarios (issue 16)', () => {
  it('are registered for npm run sim and the sweep', () => {
    for (const name of ['chain', 'chain-forgery', 'chain-forgery-unsafe', 'chain-pruned'])
      expect(SCENARIOS.get(name)?.name).toBe(name);
  });

  it.each([
    [5, 'crash'],
    [5, 'partition'],
    [5, 'all'],
  ])(
    "%i nodes, faults %s: every chain is its owner's and all converge after the heal",
    (nodes, faults) => {
      for (const seed of [1, 2]) {
        const result = run('chain', seed, nodes, faults);
        expect(result.violation, result.violation?.message).toBeUndefined();
        expect(convergedEntries(result), 'converged, entries replicated').toBeGreaterThan(0);
      }
    },
  );

  it('forged, altered and reordered entries are refused and counted; unchecked, the owner checker catches them', () => {
    const kinds = new Set<string>();
    for (const seed of [1, 2]) {
      const result = run('chain-forgery', seed, 5, 'crash');
      expect(result.violation, result.violation?.message).toBeUndefined();
      for (const l of result.trace) {
        const kind = /chain attacker ([a-z-]+) to /.exec(l)?.[1];
        if (kind !== undefined) kinds.add(kind);
      }
    }
    expect([...kinds].sort()).toEqual([...CHAIN_FORGERY_KINDS].sort());
    for (const seed of [1, 2, 3]) {
      const result = run('chain-forgery-unsafe', seed, 5, 'none');
      expect(result.violation?.checker, `seed ${seed}`).toBe('chain-entries-from-their-owner');
    }
  });

  it('chain-pruned: copies pruned, dropped and anchored again, chain.log compacted, all converge', () => {
    const seen = { anchored: 0, dropped: 0, compactions: 0 };
    for (const seed of [12, 13]) {
      const result = run('chain-pruned', seed, 5, 'all');
      expect(result.violation, result.violation?.message).toBeUndefined();
      for (const line of result.trace) {
        const m = /(\d+) copies anchored, (\d+) dropped, (\d+) chain.log compactions/.exec(line);
        if (m === null) continue;
        seen.anchored += Number(m[1]);
        seen.dropped += Number(m[2]);
        seen.compactions += Number(m[3]);
      }
    }
    // Each path ran (without dropping a copy behind the peer's oldest entry, seed 12 fails its
    // liveness: a member stays at 34 of an owner's 53).
    expect(seen.anchored).toBeGreaterThan(0);
    expect(seen.dropped).toBeGreaterThan(0);
    expect(seen.compactions).toBeGreaterThan(0);
  });

  it('the same seed gives the same trace byte for byte', () => {
    const a = run('chain-forgery', 7, 4, 'all');
    const b = run('chain-forgery', 7, 4, 'all');
    expect(a.trace).toEqual(b.trace);
  });
});
