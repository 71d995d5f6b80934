/**
 * The member table's bookkeeping (state.ts): reaping removes members from the table and keeps
 * every other member findable at its slot (checkedStep checks the invariant after every step),
 * and labels are owned, frozen and shared rather than copied per record.
 */
import { describe, expect, it } from 'vitest';
import { ms } from '../../src/base/time.js';
import { membershipConfig } from '../../src/membership/config.js';
import { EMPTY_LABELS, reapCheckMs } from '../../src/membership/state.js';
import { alive, checkedStep, dead, nodeId, receiveGossip, startedWith } from './helpers.js';

describe('member table', () => {
  it('reaping dead members swap-removes them and keeps every slot findable (SWIM §4.2, memberlist reclaim)', () => {
    const config = membershipConfig('SIM_MIN');
    const { state, context } = startedWith(1, [2, 3, 4, 5, 6], config);
    checkedStep(state, receiveGossip(ms(1), 4, [dead(2, 1, 4), dead(5, 1, 4)]), context);
    expect(state.departed.size).toBe(2);
    const after = ms(1 + config.deadReclaimMs + reapCheckMs(config));
    checkedStep(state, { kind: 'tick', now: after }, context);
    expect(state.counters.membersReaped).toBe(2);
    expect([...state.members.keys()].sort()).toEqual([1, 3, 4, 6].map(nodeId).sort());
    expect(state.members.at(0).id).toBe(nodeId(1));
    for (const member of state.members.values())
      expect(state.members.get(member.id)?.slot).toBe(member.slot);
  });

  it('keeps a frozen copy of labels: the sender changing its object later changes nothing', () => {
    const { state, context } = startedWith(1, [2, 3]);
    const labels: Record<string, string> = { zone: 'a' };
    checkedStep(state, receiveGossip(ms(1), 4, [alive(4, 1, labels)]), context);
    labels['zone'] = 'b';
    const kept = state.members.get(nodeId(4))?.labels;
    expect(kept).toEqual({ zone: 'a' });
    expect(Object.isFrozen(kept)).toBe(true);
  });

  it('members without labels share one frozen empty object', () => {
    const { state } = startedWith(1, [2, 3]);
    expect(state.members.get(nodeId(2))?.labels).toBe(EMPTY_LABELS);
    expect(state.members.get(nodeId(3))?.labels).toBe(EMPTY_LABELS);
    expect(Object.isFrozen(EMPTY_LABELS)).toBe(true);
  });
});
