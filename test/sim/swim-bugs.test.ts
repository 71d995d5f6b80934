/**
 * Step tests for membership bugs found by the swim sweeps (`npm run sim:sweep`), each reproduced
 * on the pure core without the simulator.
 */
import { incarnation as asIncarnation } from '../../src/base/units.js';
import { describe, expect, it } from 'vitest';
import { ms } from '../../src/base/time.js';
import type { Update } from '../../src/membership/messages.js';
import type { State, StepContext } from '../../src/membership/types.js';
import {
  address,
  checkedStep,
  nodeId,
  receiveGossip,
  sends,
  startedWith,
  suspect,
} from '../membership/helpers.js';

/** Gossip ticks until every queued update used up its retransmits (bounded). */
function drainQueue(state: State, context: StepContext): void {
  for (let t = 1; t <= 50 && state.queue.byMember.size > 0; t++)
    checkedStep(state, { kind: 'tick', now: ms(20 + state.config.gossipIntervalMs * t) }, context);
}

describe('found by swim-loss10: a stale suspicion outlived its refutation', () => {
  // Replay: npm run sim -- --seed 8 --scenario swim-loss10 --nodes 5 --faults dup,reorder,skew --duration-ms 200000
  // Node 1 refuted a suspicion (incarnation 1 -> 2) but under 10% loss the alive never reached
  // node 2, which went on probing node 1 with the buddy suspect@1 (Lifeguard §IV-C). Node 1 ignored
  // the stale accusation (SWIM §4.2: older than its incarnation) and acked without news, so node 2
  // declared it dead when the suspicion ran out.
  it('an ack to a ping that accuses us at an older incarnation leads with our current alive', () => {
    const { state, context } = startedWith(1, [2, 3]);
    checkedStep(state, receiveGossip(ms(10), 3, [suspect(1, 1, 3)]), context);
    expect(state.members.get(nodeId(1))?.incarnation).toBe(2);
    // The refuting alive has used up its retransmits (it reached others, not node 2).
    drainQueue(state, context);
    expect(state.queue.byMember.size).toBe(0);
    const buddy: Update = suspect(1, 1, 2);
    const effects = checkedStep(
      state,
      {
        kind: 'receive',
        now: ms(2_000),
        from: address(2),
        channel: 'packet',
        message: {
          type: 'ping',
          seq: 9,
          from: nodeId(2),
          fromAddress: address(2),
          target: nodeId(1),
          updates: [buddy],
        },
      },
      context,
    );
    const [ack] = sends(effects);
    expect(ack?.message.type).toBe('ack');
    const updates = ack !== undefined && 'updates' in ack.message ? ack.message.updates : [];
    expect(updates[0]).toMatchObject({
      kind: 'alive',
      id: nodeId(1),
      incarnation: asIncarnation(2),
    });
  });

  it('an ack to a ping without an accusation carries no extra alive about us', () => {
    const { state, context } = startedWith(1, [2, 3]);
    // Drain the queue (our own alive from start) so only a buddy refutation could add it.
    drainQueue(state, context);
    const effects = checkedStep(
      state,
      {
        kind: 'receive',
        now: ms(2_000),
        from: address(2),
        channel: 'packet',
        message: {
          type: 'ping',
          seq: 9,
          from: nodeId(2),
          fromAddress: address(2),
          target: nodeId(1),
          updates: [],
        },
      },
      context,
    );
    const ack = sends(effects).find((s) => s.message.type === 'ack');
    const updates = ack !== undefined && 'updates' in ack.message ? ack.message.updates : [];
    expect(updates.filter((u) => u.id === nodeId(1))).toEqual([]);
  });
});
