/** describe.ts renders one line per input and effect, for traces. */
import { incarnation as asIncarnation } from '../../src/base/units.js';
import { describe, expect, it } from 'vitest';
import { ms } from '../../src/base/time.js';
import { describeEffect, describeInput, describeRecord } from '../../src/membership/describe.js';
import { address, left, nodeId } from './helpers.js';

describe('describe', () => {
  it('renders inputs and effects on one line', () => {
    const ping = {
      type: 'ping' as const,
      seq: 3,
      from: nodeId(1),
      fromAddress: address(1),
      target: nodeId(2),
      updates: [left(4, 2)],
    };
    expect(
      describeInput({
        kind: 'receive',
        now: ms(5),
        from: address(1),
        channel: 'packet',
        message: ping,
      }),
    ).toBe(
      `@5 recv packet from 10.0.0.1:7946: ping#3 ${nodeId(1).slice(0, 8)}->${nodeId(2).slice(0, 8)} [left(${nodeId(4).slice(0, 8)}@2)]`,
    );
    expect(describeRecord({ incarnation: asIncarnation(4) })).toBe('incarnation 4');
    expect(
      describeEffect({ kind: 'join-result', ok: false, reason: 'config_mismatch', detail: 'x' }),
    ).toBe('join failed: config_mismatch (x)');
    const digest = {
      type: 'push-pull-digest' as const,
      from: nodeId(1),
      fromAddress: address(1),
      reply: true,
      configDigest: '00000000000000aa',
      viewDigest: '0123456789abcdef',
    };
    expect(
      describeEffect({ kind: 'send', to: address(2), channel: 'stream', message: digest }),
    ).toBe(
      `send stream to 10.0.0.2:7946: push-pull-digest from ${nodeId(1).slice(0, 8)} want-reply view 0123456789abcdef config 00000000000000aa`,
    );
    for (const line of [
      describeInput({ kind: 'leave', now: ms(1) }),
      describeEffect({ kind: 'left-done' }),
    ])
      expect(line).not.toContain('\n');
  });
});
