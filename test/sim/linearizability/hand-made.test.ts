/**
 * Hand-made key-value histories with a known answer: the anomalies a replicated store can show
 * (stale read, lost write, a read from the future), the freedom concurrency gives (overlapping
 * operations may take effect in either order; Herlihy & Wing §2: each operation at one point
 * inside its interval), and operations that timed out (applied or not, both must be accepted).
 */
import { describe, expect, it } from 'vitest';
import { checkHistory, type CheckResult } from '../../../src/sim/linearizability/check.js';
import { explain } from '../../../src/sim/linearizability/explain.js';
import { kvModel } from '../../../src/sim/linearizability/kv-model.js';
import { casRev, casValue, del, get, put, type KvOp } from './ops.js';

const plain = kvModel({ revisions: false });
const withRevisions = kvModel({ revisions: true });

function verdict(ops: KvOp[], revisions = false): CheckResult['verdict'] {
  return checkHistory(revisions ? withRevisions : plain, ops).verdict;
}

describe('sequential histories', () => {
  it('accepts a write then a read of it', () => {
    expect(verdict([put(1, 'x', 'a', 0, 10), get(2, 'x', 'a', 20, 30)])).toBe('ok');
  });

  it('accepts a read of an absent key before any write', () => {
    expect(verdict([get(1, 'x', null, 0, 5), put(1, 'x', 'a', 10, 20)])).toBe('ok');
  });

  it('accepts the empty history', () => {
    expect(verdict([])).toBe('ok');
  });
});

describe('anomalies', () => {
  it('catches a stale read: the older value after a newer write returned', () => {
    const ops = [put(1, 'x', 'a', 0, 10), put(1, 'x', 'b', 20, 30), get(2, 'x', 'a', 40, 50)];
    expect(verdict(ops)).toBe('illegal');
  });

  it('catches a lost write: absent after an acknowledged put', () => {
    expect(verdict([put(1, 'x', 'a', 0, 10), get(2, 'x', null, 20, 30)])).toBe('illegal');
  });

  it('catches a read that sees a write not yet called', () => {
    expect(verdict([get(1, 'x', 'a', 0, 10), put(2, 'x', 'a', 20, 30)])).toBe('illegal');
  });

  it('catches a read that sees a timed-out write called after the read returned', () => {
    expect(verdict([get(1, 'x', 'a', 0, 10), put(2, 'x', 'a', 20, undefined)])).toBe('illegal');
  });

  it('catches two reads that see a value then its predecessor (no going back)', () => {
    const ops = [put(1, 'x', 'a', 0, 100), get(2, 'x', 'a', 10, 20), get(3, 'x', null, 30, 40)];
    expect(verdict(ops)).toBe('illegal');
  });

  it('catches a write that vanished although others saw the next one', () => {
    // a then b, sequential; a reader that later sees "a" again read stale data.
    const ops = [
      put(1, 'x', 'a', 0, 10),
      get(2, 'x', 'a', 11, 12),
      put(1, 'x', 'b', 20, 30),
      get(2, 'x', 'b', 31, 32),
      get(3, 'x', 'a', 40, 41),
    ];
    expect(verdict(ops)).toBe('illegal');
  });
});

describe('concurrency', () => {
  it('lets overlapping operations take effect in either order', () => {
    // The read overlaps the write: it may see the old or the new value.
    expect(verdict([put(1, 'x', 'a', 0, 100), get(2, 'x', 'a', 10, 20)])).toBe('ok');
    expect(verdict([put(1, 'x', 'a', 0, 100), get(2, 'x', null, 10, 20)])).toBe('ok');
  });

  it('lets two concurrent writes land in either order, as readers saw them', () => {
    const writes = [put(1, 'x', 'a', 0, 50), put(2, 'x', 'b', 0, 50)];
    expect(verdict([...writes, get(3, 'x', 'a', 60, 70)])).toBe('ok');
    expect(verdict([...writes, get(3, 'x', 'b', 60, 70)])).toBe('ok');
    expect(verdict([...writes, get(3, 'x', 'a', 60, 70), get(3, 'x', 'b', 80, 90)])).toBe(
      'illegal',
    );
  });

  it('treats intervals as closed: operations that touch are concurrent', () => {
    expect(verdict([put(1, 'x', 'a', 0, 10), get(2, 'x', null, 10, 20)])).toBe('ok');
  });

  it('finds an order that needs backtracking (the first guess dead-ends)', () => {
    // All concurrent: the order must be put b, get b, put a, get a.
    const ops = [
      put(1, 'x', 'a', 0, 100),
      put(2, 'x', 'b', 0, 100),
      get(3, 'x', 'b', 0, 100),
      get(4, 'x', 'a', 0, 100),
      get(5, 'x', 'a', 101, 110),
    ];
    const result = checkHistory(plain, ops);
    expect(result.verdict).toBe('ok');
    expect(result.parts[0]?.linearization).toEqual([1, 2, 0, 3, 4]);
  });
});

describe('operations that timed out', () => {
  it('accepts a timed-out put that was applied', () => {
    expect(verdict([put(1, 'x', 'a', 0, undefined), get(2, 'x', 'a', 50, 60)])).toBe('ok');
  });

  it('accepts a timed-out put that was never applied', () => {
    expect(verdict([put(1, 'x', 'a', 0, undefined), get(2, 'x', null, 50, 60)])).toBe('ok');
  });

  it('accepts a timed-out put applied late, after reads that missed it', () => {
    const ops = [
      put(1, 'x', 'a', 0, undefined),
      get(2, 'x', null, 50, 60),
      get(2, 'x', 'a', 70, 80),
    ];
    expect(verdict(ops)).toBe('ok');
  });

  it('still forbids going back once a reader saw the timed-out put', () => {
    const ops = [
      put(1, 'x', 'a', 0, undefined),
      get(2, 'x', 'a', 50, 60),
      get(2, 'x', null, 70, 80),
    ];
    expect(verdict(ops)).toBe('illegal');
  });

  it('drops unanswered reads, which constrain nothing', () => {
    const result = checkHistory(plain, [
      put(1, 'x', 'a', 0, 10),
      get(2, 'x', 'zzz', 20, undefined),
    ]);
    expect(result.verdict).toBe('ok');
    expect(result.droppedReads).toBe(1);
  });
});

describe('delete and compare-and-swap', () => {
  it('follows delete: absent after, and the deleted count must match', () => {
    expect(verdict([put(1, 'x', 'a', 0, 10), del(1, 'x', 20, 30), get(2, 'x', null, 40, 50)])).toBe(
      'ok',
    );
    expect(verdict([put(1, 'x', 'a', 0, 10), del(1, 'x', 20, 30, { deleted: 0 })])).toBe('illegal');
    expect(verdict([del(1, 'x', 0, 10, { deleted: 0 }), get(1, 'x', null, 20, 30)])).toBe('ok');
  });

  it('accepts a CAS on the value only when the compare held', () => {
    const base = [put(1, 'x', 'a', 0, 10)];
    expect(
      verdict([...base, casValue(2, 'x', 'a', 'b', 20, 30, true), get(3, 'x', 'b', 40, 50)]),
    ).toBe('ok');
    expect(verdict([...base, casValue(2, 'x', 'z', 'b', 20, 30, true)])).toBe('illegal');
    expect(verdict([...base, casValue(2, 'x', 'a', 'b', 20, 30, false)])).toBe('illegal');
    expect(
      verdict([...base, casValue(2, 'x', 'z', 'b', 20, 30, false), get(3, 'x', 'a', 40, 50)]),
    ).toBe('ok');
  });

  it('treats a compare on null as "absent" (create if missing)', () => {
    const ops = [
      casValue(1, 'x', null, 'a', 0, 10, true),
      casValue(2, 'x', null, 'b', 20, 30, false),
    ];
    expect(verdict(ops)).toBe('ok');
    expect(verdict([...ops, get(3, 'x', 'b', 40, 50)])).toBe('illegal');
  });

  it('catches two CAS that both won the same compare (a lost update)', () => {
    const ops = [
      put(1, 'x', '0', 0, 10),
      casValue(2, 'x', '0', '1', 20, 30, true),
      casValue(3, 'x', '0', '2', 20, 30, true),
    ];
    expect(verdict(ops)).toBe('illegal');
  });

  it('accepts a timed-out CAS either way', () => {
    const base = [put(1, 'x', 'a', 0, 10), casValue(2, 'x', 'a', 'b', 20, undefined, false)];
    expect(verdict([...base, get(3, 'x', 'b', 40, 50)])).toBe('ok');
    expect(verdict([...base, get(3, 'x', 'a', 40, 50)])).toBe('ok');
    expect(verdict([...base, get(3, 'x', 'c', 40, 50)])).toBe('illegal');
  });
});

describe('revisions (etcd semantics)', () => {
  it('accepts revisions that grow with each change and reads of the right modRevision', () => {
    const ops = [
      put(1, 'x', 'a', 0, 10, 2),
      get(2, 'x', 'a', 20, 30, 2),
      put(1, 'x', 'b', 40, 50, 7),
      get(2, 'x', 'b', 60, 70, 7),
    ];
    expect(verdict(ops, true)).toBe('ok');
  });

  it('catches a read of the right value with the wrong modRevision', () => {
    const ops = [
      put(1, 'x', 'a', 0, 10, 2),
      put(1, 'x', 'a', 20, 30, 3),
      get(2, 'x', 'a', 40, 50, 2),
    ];
    expect(verdict(ops, true)).toBe('illegal');
    // Without revision checks the same values are fine.
    expect(verdict(ops, false)).toBe('ok');
  });

  it('catches a change whose revision does not grow', () => {
    expect(verdict([put(1, 'x', 'a', 0, 10, 5), put(1, 'x', 'b', 20, 30, 5)], true)).toBe(
      'illegal',
    );
  });

  it('pins the revision of a timed-out put at its first observation', () => {
    const ops = [
      put(1, 'x', 'a', 0, 10, 2),
      put(1, 'x', 'b', 20, undefined),
      get(2, 'x', 'b', 40, 50, 9),
      get(2, 'x', 'b', 60, 70, 9),
    ];
    expect(verdict(ops, true)).toBe('ok');
    expect(verdict([...ops, get(2, 'x', 'b', 80, 90, 10)], true)).toBe('illegal');
    expect(verdict([ops[0] as KvOp, ops[1] as KvOp, get(2, 'x', 'b', 40, 50, 2)], true)).toBe(
      'illegal',
    );
  });

  it('compares on modRevision, 0 meaning absent', () => {
    const ops = [
      casRev(1, 'x', 0, 'a', 0, 10, true, 4),
      casRev(2, 'x', 0, 'b', 20, 30, false),
      casRev(2, 'x', 4, 'c', 40, 50, true, 6),
      get(3, 'x', 'c', 60, 70, 6),
    ];
    expect(verdict(ops, true)).toBe('ok');
    expect(verdict([ops[0] as KvOp, casRev(2, 'x', 3, 'c', 40, 50, true, 6)], true)).toBe(
      'illegal',
    );
  });

  it('catches revisions out of real-time order across keys', () => {
    const ops = [put(1, 'x', 'a', 0, 10, 5), put(2, 'y', 'b', 20, 30, 3)];
    const result = checkHistory(withRevisions, ops);
    expect(result.verdict).toBe('illegal');
    expect(result.parts.every((p) => p.verdict === 'ok')).toBe(true);
    expect(result.crossViolations[0]).toMatch(/operation 1 .* called after operation 0/);
    expect(verdict([put(1, 'x', 'a', 0, 10, 5), put(2, 'y', 'b', 0, 10, 5)], true)).toBe('illegal');
  });
});

describe('the explanation', () => {
  it('names the longest sequence and the operation that cannot be placed', () => {
    const ops = [put(1, 'x', 'a', 0, 10), put(1, 'x', 'b', 20, 30), get(2, 'x', 'a', 40, 50)];
    const text = explain(plain, ops, checkHistory(plain, ops));
    expect(text).toMatch(/^ILLEGAL: 3 operations in 1 parts/);
    expect(text).toContain('x: NOT linearizable');
    expect(text).toContain('Longest linearizable sequence found: 2 of 3');
    expect(text).toContain(
      '#2 client 2 [40, 50] get(x) → "a" had to take effect by its return at 50',
    );
    expect(text).toContain('refused from "b"');
  });

  it('says which parts are fine and reports cross-part problems', () => {
    const ops = [put(1, 'x', 'a', 0, 10, 5), put(2, 'y', 'b', 20, 30, 3)];
    const text = explain(withRevisions, ops, checkHistory(withRevisions, ops));
    expect(text).toContain('2 linearizable, 0 not');
    expect(text).toContain('across parts: operation 1');
  });
});
