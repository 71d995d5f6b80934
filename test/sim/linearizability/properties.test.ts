/**
 * Properties of the checker, seeded (fast-check):
 * - a history made by a real sequential execution with random overlaps and timeouts is always
 *   accepted (no false alarms), with and without revisions;
 * - on small histories the checker agrees with a brute-force oracle, for generated histories and
 *   for each with one output changed: a mutation that makes the history illegal is caught, and
 *   one that leaves it legal is not flagged;
 * - on large histories, a read of a value nobody ever wrote is always caught;
 * - the verdict and the linearization do not depend on the order operations are listed in.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistory } from '../../../src/sim/linearizability/check.js';
import { kvModel } from '../../../src/sim/linearizability/kv-model.js';
import {
  bruteForceLinearizable,
  legalHistory,
  mutateOutput,
  opSpec,
  wholeStoreModel,
} from './generate.js';
import type { KvOp } from './ops.js';

const SEED = 1313;
const models = { true: kvModel({ revisions: true }), false: kvModel({ revisions: false }) };

describe('generated legal histories', () => {
  it('are accepted, with revisions and without', () => {
    fc.assert(
      fc.property(
        fc.array(opSpec(['x', 'y', 'z']), { minLength: 1, maxLength: 300 }),
        fc.boolean(),
        (specs, revisions) => {
          const ops = legalHistory(specs, revisions);
          const result = checkHistory(models[`${revisions}`], ops);
          expect(result.crossViolations).toEqual([]);
          expect(result.verdict).toBe('ok');
        },
      ),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('give a linearization that respects real time and covers every answered operation', () => {
    fc.assert(
      fc.property(fc.array(opSpec(['x']), { minLength: 1, maxLength: 60 }), (specs) => {
        const ops = legalHistory(specs, true);
        const [part] = checkHistory(models.true, ops).parts;
        const order = part?.linearization ?? [];
        const position = new Map(order.map((i, p) => [i, p]));
        ops.forEach((op, i) => {
          if (op.returnMs !== undefined) expect(position.has(i)).toBe(true);
        });
        for (const a of order)
          for (const b of order) {
            const opA = ops[a] as KvOp;
            const opB = ops[b] as KvOp;
            if (opA.returnMs !== undefined && opA.returnMs < opB.callMs)
              expect(position.get(a) as number).toBeLessThan(position.get(b) as number);
          }
      }),
      { seed: SEED, numRuns: 100 },
    );
  });
});

describe('agreement with a brute-force oracle on small histories', () => {
  it('holds for generated histories and for each with one output changed', () => {
    let illegalSeen = 0;
    let legalMutantsSeen = 0;
    fc.assert(
      fc.property(
        fc.array(opSpec(['x', 'y']), { minLength: 1, maxLength: 7 }),
        fc.boolean(),
        fc.nat(),
        fc.nat(),
        (specs, revisions, which, choice) => {
          const model = models[`${revisions}`];
          const ops = legalHistory(specs, revisions);
          expect(checkHistory(model, ops).verdict).toBe('ok');
          const index = which % ops.length;
          const mutated = mutateOutput(ops[index] as KvOp, choice);
          if (mutated === undefined) return;
          const history = ops.map((op, i) => (i === index ? mutated : op));
          const result = checkHistory(model, history);
          // The oracle knows nothing of parts: cross-part problems are checked apart.
          const partsLegal = result.parts.every((p) => p.verdict === 'ok');
          expect(partsLegal).toBe(bruteForceLinearizable(wholeStoreModel(model), history));
          if (!partsLegal) illegalSeen++;
          else legalMutantsSeen++;
        },
      ),
      { seed: SEED, numRuns: 600 },
    );
    // Both outcomes must occur, or the property proves little.
    expect(illegalSeen).toBeGreaterThan(100);
    expect(legalMutantsSeen).toBeGreaterThan(10);
  });
});

describe('large histories with one impossible read', () => {
  it('are always caught', () => {
    fc.assert(
      fc.property(
        fc.array(opSpec(['x', 'y', 'z']), { minLength: 20, maxLength: 400 }),
        fc.boolean(),
        fc.nat(),
        (specs, revisions, which) => {
          const ops = legalHistory(specs, revisions);
          const reads = ops.flatMap((op, i) =>
            op.input.kind === 'get' && op.output !== undefined ? [i] : [],
          );
          fc.pre(reads.length > 0);
          const index = reads[which % reads.length] as number;
          const op = ops[index] as KvOp;
          const forged: KvOp = { ...op, output: { value: 'never-written' } };
          const result = checkHistory(
            models[`${revisions}`],
            ops.map((o, i) => (i === index ? forged : o)),
          );
          expect(result.verdict).toBe('illegal');
          const bad = result.parts.filter((p) => p.verdict === 'illegal');
          expect(bad.map((p) => p.label)).toEqual([op.input.key]);
        },
      ),
      { seed: SEED, numRuns: 100 },
    );
  });
});

describe('order of the listing', () => {
  it('does not change the verdict', () => {
    fc.assert(
      fc.property(
        fc.array(opSpec(['x', 'y']), { minLength: 1, maxLength: 40 }),
        fc.nat(),
        fc.nat(),
        (specs, which, choice) => {
          const ops = legalHistory(specs, true);
          const index = which % ops.length;
          const mutated = mutateOutput(ops[index] as KvOp, choice) ?? (ops[index] as KvOp);
          const history = ops.map((op, i) => (i === index ? mutated : op));
          const reversed = [...history].reverse();
          expect(checkHistory(models.true, reversed).verdict).toBe(
            checkHistory(models.true, history).verdict,
          );
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });
});
