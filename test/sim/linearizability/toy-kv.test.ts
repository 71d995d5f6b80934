/**
 * The checker's positive control (issue 13): a store whose leader answers reads from its local
 * state, without ReadIndex, is caught as not linearizable under partitions, and the same store
 * with ReadIndex (Raft §6.4) passes the same seeds. Both run through the simulator's runner and
 * nemesis (partitions that isolate the leader among them), with the `linearizable` checker
 * inside the run and a final check of the whole history after it.
 */
import { describe, expect, it } from 'vitest';
import { parseFaults } from '../../../src/sim/faults.js';
import { checkKvHistory } from '../../../src/sim/linearizability/kv-check.js';
import { runScenario } from '../../../src/sim/runner.js';
import { toyKvScenario, type ReadPath, type ToyKvView } from './toy-kv.js';

const FAULTS = parseFaults('partition,loss,delay,reorder,dup');
const SEEDS = Array.from({ length: 12 }, (_, i) => i + 1);

interface Outcome {
  seed: number;
  violation: string | undefined;
  checker: string | undefined;
  final: string;
  answered: number;
}

function runSeed(readPath: ReadPath, seed: number): Outcome {
  let view: ToyKvView | undefined;
  const result = runScenario(
    toyKvScenario(readPath, (v) => (view = v)),
    { seed, nodes: 3, faults: FAULTS, durationMs: 8_000 },
  );
  const recorder = (view as ToyKvView).recorder;
  return {
    seed,
    violation: result.violation?.message,
    checker: result.violation?.checker,
    final: checkKvHistory(recorder.operations()).result.verdict,
    answered: recorder.answered(),
  };
}

describe('positive control: leader-local reads under partitions', () => {
  it('ReadIndex reads: every seed linearizable', () => {
    for (const seed of SEEDS) {
      const outcome = runSeed('read-index', seed);
      expect(outcome, `seed ${seed}`).toMatchObject({ violation: undefined, final: 'ok' });
      expect(outcome.answered).toBeGreaterThan(100);
    }
  });

  it('local reads: caught as not linearizable', () => {
    const outcomes = SEEDS.map((seed) => runSeed('local', seed));
    const caught = outcomes.filter((o) => o.checker === 'linearizable' || o.final === 'illegal');
    expect(caught.length).toBeGreaterThanOrEqual(SEEDS.length / 2);
    const first = outcomes.find((o) => o.checker === 'linearizable');
    expect(first?.violation).toMatch(/NOT linearizable/);
  });
});
