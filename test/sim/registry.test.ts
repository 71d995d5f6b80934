/**
 * The data plane's scenarios (issue 16) on a fixed seed subset; the sweep is `npm run
 * sim:sweep -- --scenarios registry,registry-loss,registry-forgery`. Every node is built by
 * buildNode (the production wiring: registry beside membership on one port) under partitions,
 * crashes, pauses and packet loss, with a write workload through `node.services` and
 * `node.processes`: nothing listed of a departed node, rows withdrawn within the documented
 * delay, rows only from their owner, and every node lists exactly what is advertised after the
 * heal (Almeida et al. 2018: delta-state convergence; Demers et al. 1987: anti-entropy repairs
 * what rumor-mongering loses). Each `-unsafe` variant breaks one thing, and its checker must
 * fire, or the checker proves nothing.
 */
import { describe, expect, it } from 'vitest';
import { parseFaults } from '../../src/sim/faults.js';
import { runScenario, type RunResult } from '../../src/sim/runner.js';
import { SCENARIOS } from '../../src/sim/scenarios/index.js';
import type { Scenario } from '../../src/sim/runner.js';
import type { SwimView } from '../../src/sim/scenarios/swim-checkers.js';
import { REGISTRY_FORGERY_KINDS } from '../../src/sim/scenarios/registry-attacker.js';

const NAMES = [
  'registry',
  'registry-loss',
  'registry-loss-no-antientropy-unsafe',
  'registry-forgery',
  'registry-forgery-unsafe',
  'registry-late-withdrawal-unsafe',
  'registry-piggyback',
];

function run(name: string, seed: number, nodes: number, faults: string): RunResult {
  return runScenario(SCENARIOS.get(name) as Scenario<SwimView>, {
    seed,
    nodes,
    faults: parseFaults(faults),
    durationMs: 8_000,
    traceLinesMax: 200_000,
  });
}

/** The rows every node listed once converged (the scenario traces it), to show the workload did something. */
function converged(result: RunResult): { services: number; processes: number } | undefined {
  for (const line of result.trace) {
    const m = /registry converged: (\d+) services, (\d+) processes/.exec(line);
    if (m !== null) return { services: Number(m[1]), processes: Number(m[2]) };
  }
  return undefined;
}

describe('registry scenarios (issue 16)', () => {
  it('are registered for npm run sim and the sweep', () => {
    for (const name of NAMES) expect(SCENARIOS.get(name)?.name).toBe(name);
  });

  it.each([
    [5, 'crash'],
    [5, 'partition'],
    [4, 'pause'],
    [5, 'all'],
  ])(
    '%i nodes, faults %s: every checker holds and every node converges after the heal',
    (nodes, faults) => {
      for (const seed of [1, 2]) {
        const result = run('registry', seed, nodes, faults);
        expect(result.violation, result.violation?.message).toBeUndefined();
        const rows = converged(result);
        expect(rows, 'converged with rows listed').toBeDefined();
        expect((rows?.services ?? 0) + (rows?.processes ?? 0)).toBeGreaterThan(0);
      }
    },
  );

  it('20% packet loss: anti-entropy repairs what gossip loses; without push-pull the replicas stay apart', () => {
    for (const seed of [1, 2]) {
      const result = run('registry-loss', seed, 5, 'none');
      expect(result.violation, result.violation?.message).toBeUndefined();
    }
    for (const seed of [1, 2]) {
      const result = run('registry-loss-no-antientropy-unsafe', seed, 5, 'none');
      expect(result.violation?.checker, `seed ${seed}`).toBe('liveness');
      expect(result.violation?.message).toMatch(/does not hold .* rows as it advertises them/);
    }
  });

  it('forged partitions and deltas are refused and counted; unchecked, the owner checker catches them', () => {
    for (const seed of [1, 2]) {
      const result = run('registry-forgery', seed, 5, 'crash');
      expect(result.violation, result.violation?.message).toBeUndefined();
      const kinds = new Set(
        result.trace.flatMap((l) => /registry attacker ([a-z-]+) to /.exec(l)?.[1] ?? []),
      );
      expect([...kinds].sort()).toEqual([...REGISTRY_FORGERY_KINDS].sort());
    }
    for (const seed of [1, 2, 3]) {
      const result = run('registry-forgery-unsafe', seed, 5, 'none');
      expect(result.violation?.checker, `seed ${seed}`).toBe('rows-only-from-their-owner');
    }
  });

  it('a withdrawal delay longer than documented is caught by departed-withdrawn', () => {
    const caught = [1, 2, 3].filter(
      (seed) =>
        run('registry-late-withdrawal-unsafe', seed, 5, 'crash').violation?.checker ===
        'departed-withdrawn',
    );
    expect(caught.length).toBeGreaterThan(0);
  });

  it("gossipCarrier 'piggyback': deltas ride in membership's packets, every checker holds, replicas converge", () => {
    const carrier = (result: RunResult): number[] | undefined => {
      for (const line of result.trace) {
        const m =
          /registry carrier: (\d+) copies in membership packets, (\d+) alone, (\d+) frames/.exec(
            line,
          );
        if (m !== null) return [Number(m[1]), Number(m[2]), Number(m[3])];
      }
      return undefined;
    };
    for (const [seed, faults] of [
      [1, 'crash'],
      [2, 'partition'],
      [3, 'all'],
    ] as const) {
      const result = run('registry-piggyback', seed, 5, faults);
      expect(result.violation, result.violation?.message).toBeUndefined();
      const [carried, , received] = carrier(result) ?? [];
      expect(carried, `seed ${seed}: copies carried`).toBeGreaterThan(0);
      expect(received, `seed ${seed}: frames received`).toBeGreaterThan(0);
    }
    // The own carrier never rides in membership's packets.
    const own = carrier(run('registry', 1, 5, 'crash'));
    expect(own?.[0]).toBe(0);
    expect(own?.[1]).toBe(0);
  });

  it('the same seed gives the same trace byte for byte', () => {
    const a = run('registry', 7, 4, 'all');
    const b = run('registry', 7, 4, 'all');
    expect(a.trace).toEqual(b.trace);
  });
});
