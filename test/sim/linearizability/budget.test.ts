/**
 * The checker always stops: on thousands of operations it either decides or answers `unknown`
 * when a bound runs out (steps, memo bytes, a deadline on an injected clock), and it never
 * guesses `ok` or `illegal` then. Also the limits of the search's inputs (validation).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../../src/base/errors.js';
import {
  checkHistory,
  CLOCK_CHECK_STEPS,
  DEFAULT_CHECK_BUDGET,
} from '../../../src/sim/linearizability/check.js';
import { kvModel } from '../../../src/sim/linearizability/kv-model.js';
import { legalHistory, opSpec } from './generate.js';
import { get, put, type KvOp } from './ops.js';

const model = kvModel({ revisions: false });

/**
 * A hard part: `writers` puts of distinct values, all concurrent, then a read of a value none of
 * them wrote. Refuting it means trying every subset of the puts (2^writers memo entries).
 */
function hardHistory(writers: number, filler: number): KvOp[] {
  const ops: KvOp[] = [];
  for (let i = 0; i < writers; i++) ops.push(put(i, 'hot', `v${i}`, 0, 1000));
  ops.push(get(writers, 'hot', 'nobody-wrote-this', 1001, 1002));
  // Thousands of easy operations on other keys around it.
  for (let i = 0; i < filler; i++) {
    ops.push(put(i % 7, `k${i % 200}`, `w${i}`, 2000 + 2 * i, 2001 + 2 * i));
  }
  return ops;
}

describe('the budget', () => {
  it('answers unknown, not a guess, when stepsMax runs out on thousands of operations', () => {
    const ops = hardHistory(40, 4000);
    const stepsMax = 50_000;
    const result = checkHistory(model, ops, { ...DEFAULT_CHECK_BUDGET, stepsMax });
    expect(result.verdict).toBe('unknown');
    expect(result.steps).toBeLessThanOrEqual(stepsMax + 1);
    const hot = result.parts.find((p) => p.label === 'hot');
    expect(hot?.verdict).toBe('unknown');
    expect(hot?.reason).toBe(`stepsMax (${stepsMax}) reached`);
    // The smaller parts (20 operations each) were checked first and are decided.
    expect(result.parts.filter((p) => p.verdict === 'ok')).toHaveLength(200);
  });

  it('decides the same hard part when the budget allows (14 writers: 2^14 subsets)', () => {
    const result = checkHistory(model, hardHistory(14, 0));
    expect(result.verdict).toBe('illegal');
    expect(result.steps).toBeGreaterThan(2 ** 14);
  });

  it('stops at a deadline read through the injected clock', () => {
    let clockReads = 0;
    const nowMs = (): number => {
      clockReads++;
      return clockReads * 1000; // every read is one second later
    };
    const result = checkHistory(model, hardHistory(40, 0), {
      ...DEFAULT_CHECK_BUDGET,
      deadline: { nowMs, atMs: 3500 },
    });
    expect(result.verdict).toBe('unknown');
    expect(result.parts[0]?.reason).toBe('deadline reached');
    // Read once per CLOCK_CHECK_STEPS steps: the fourth read (4000) is past 3500.
    expect(clockReads).toBe(4);
    expect(result.steps).toBe(4 * CLOCK_CHECK_STEPS);
  });

  it('stops when the memo outgrows cacheBytesMax', () => {
    const result = checkHistory(model, hardHistory(40, 0), {
      ...DEFAULT_CHECK_BUDGET,
      cacheBytesMax: 1_000_000,
    });
    expect(result.verdict).toBe('unknown');
    expect(result.parts[0]?.reason).toBe('cacheBytesMax (1000000) reached');
  });

  it('reports an illegal part even when another part ran out of budget', () => {
    const ops = [...hardHistory(40, 0), put(1, 'z', 'a', 0, 1), get(2, 'z', null, 5, 6)];
    const result = checkHistory(model, ops, { ...DEFAULT_CHECK_BUDGET, stepsMax: 10_000 });
    expect(result.verdict).toBe('illegal');
    expect(result.parts.find((p) => p.label === 'z')?.verdict).toBe('illegal');
  });

  it('checks 5,000 generated operations on 10 keys within the default budget', () => {
    const keys = Array.from({ length: 10 }, (_, i) => `key-${i}`);
    const [specs] = fc.sample(fc.array(opSpec(keys), { minLength: 5000, maxLength: 5000 }), {
      seed: 7,
      numRuns: 1,
    });
    const ops = legalHistory(specs ?? [], true);
    const result = checkHistory(kvModel({ revisions: true }), ops);
    expect(result.verdict).toBe('ok');
    expect(result.steps).toBeLessThan(DEFAULT_CHECK_BUDGET.stepsMax);
  });
});

describe('malformed histories', () => {
  const refuse = (ops: KvOp[], pattern: RegExp): void => {
    let caught: unknown;
    try {
      checkHistory(model, ops);
    } catch (err) {
      caught = err;
    }
    expect(hasErrorCode(caught, 'ERR_HISTORY_INVALID')).toBe(true);
    expect((caught as Error).message).toMatch(pattern);
  };

  it('refuses a return before the call', () => {
    refuse([put(1, 'x', 'a', 10, 5)], /operation 0: returnMs \(5\) is before callMs \(10\)/);
  });

  it('refuses an output without a return, and a return without an output', () => {
    refuse(
      [{ clientId: 1, input: { kind: 'put', key: 'x', value: 'a' }, callMs: 0, output: {} }],
      /has an output but no returnMs/,
    );
    refuse(
      [{ clientId: 1, input: { kind: 'put', key: 'x', value: 'a' }, callMs: 0, returnMs: 3 }],
      /has a returnMs but no output/,
    );
  });

  it('refuses times that are not finite', () => {
    refuse([put(1, 'x', 'a', Number.NaN, 5)], /callMs must be a finite number/);
    refuse([put(1, 'x', 'a', 0, Number.POSITIVE_INFINITY)], /returnMs must be a finite number/);
  });
});
