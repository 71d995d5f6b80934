/**
 * The recorder clients use: answered calls get their return time and output, timed-out calls
 * stay open (checked as maybe applied), refused calls leave the history, a full history counts
 * what it drops, and completing a call twice is a programmer error. Also the bench's
 * majority-leader rule, the failover clock's stop condition.
 */
import { describe, expect, it } from 'vitest';
import { majorityLeader } from '../../../bench/raft-etcd-baseline.js';
import { checkKvHistory } from '../../../src/sim/linearizability/kv-check.js';
import { HistoryRecorder } from '../../../src/sim/linearizability/recorder.js';

describe('HistoryRecorder', () => {
  it('records calls, answers, timeouts and refusals on its clock', () => {
    let now = 0;
    const recorder = new HistoryRecorder(() => now);
    const put = recorder.invoke(1, { kind: 'put', key: 'x', value: 'a' });
    now = 5;
    const lost = recorder.invoke(2, { kind: 'put', key: 'x', value: 'b' });
    const refused = recorder.invoke(3, { kind: 'put', key: 'x', value: 'c' });
    now = 7;
    recorder.ok(put, { revision: 2 });
    recorder.timedOut(lost);
    recorder.failed(refused);
    const read = recorder.invoke(1, { kind: 'get', key: 'x' });
    now = 9;
    recorder.ok(read, { value: 'b', modRevision: 3 });
    expect(recorder.operations()).toEqual([
      {
        clientId: 1,
        input: { kind: 'put', key: 'x', value: 'a' },
        callMs: 0,
        returnMs: 7,
        output: { revision: 2 },
      },
      { clientId: 2, input: { kind: 'put', key: 'x', value: 'b' }, callMs: 5 },
      {
        clientId: 1,
        input: { kind: 'get', key: 'x' },
        callMs: 7,
        returnMs: 9,
        output: { value: 'b', modRevision: 3 },
      },
    ]);
    expect(recorder.answered()).toBe(2);
    // The timed-out put took effect: linearizable. Had the refused one been kept as applied
    // and read, it would not be.
    expect(checkKvHistory(recorder.operations()).result.verdict).toBe('ok');
  });

  it('counts calls past its limit and records nothing for them', () => {
    const recorder = new HistoryRecorder(() => 0, 2);
    expect(recorder.invoke(1, { kind: 'get', key: 'x' })).toBe(0);
    expect(recorder.invoke(1, { kind: 'get', key: 'x' })).toBe(1);
    const over = recorder.invoke(1, { kind: 'get', key: 'x' });
    expect(over).toBe(-1);
    recorder.ok(over, { value: null });
    expect(recorder.dropped).toBe(1);
    expect(recorder.operations()).toHaveLength(2);
  });

  it('asserts on completing a call twice', () => {
    const recorder = new HistoryRecorder(() => 0);
    const handle = recorder.invoke(1, { kind: 'get', key: 'x' });
    recorder.ok(handle, { value: null });
    expect(() => recorder.timedOut(handle)).toThrow(/already completed/);
  });
});

describe('majorityLeader (bench failover clock)', () => {
  it.each([
    [[0, 0, 0], 3, undefined, 0],
    [[undefined, 2, 2], 3, 0, 2],
    [[undefined, 2, 1], 3, 0, undefined],
    [[undefined, 0, 0], 3, 0, undefined],
    [[1, 1, 3, 3, undefined], 5, undefined, undefined],
    [[1, 1, 1, 3, undefined], 5, undefined, 1],
  ] as const)('views %j of %i members, not %s: %s', (views, members, not, expected) => {
    expect(majorityLeader(views, members, not)).toBe(expected);
  });
});
