/**
 * Tombstones of forgotten members (tombstones.ts, issue 11 bug 8): a member forgotten after
 * deadReclaimMs does not come back at its old incarnation from a stale view (push-pull, join or
 * gossip); its own refute, above the tombstone, brings it back. checkedStep checks after every
 * step that a forgotten member returns only above its live tombstone (invariants.ts).
 */
import { incarnation as asIncarnation } from '../../src/base/units.js';
import { describe, expect, it } from 'vitest';
import { ms, type Millis } from '../../src/base/time.js';
import { membershipConfig } from '../../src/membership/config.js';
import { publicKeyHex } from '../../src/identity/member-crypto.js';
import { testIdentity } from '../helpers/member-keys.js';
import { checkInvariants } from '../../src/membership/invariants.js';
import type { MemberRecord } from '../../src/membership/messages.js';
import { reapCheckMs } from '../../src/membership/state.js';
import {
  bury,
  tombstoneLifetimeMs,
  tombstonesMax,
  TOMBSTONE_RECLAIM_MULT,
} from '../../src/membership/tombstones.js';
import type { Input, State, StepContext } from '../../src/membership/types.js';
import {
  address,
  alive,
  checkedStep,
  dead,
  events,
  left,
  memberRecord,
  nodeId,
  pushPullFrom,
  receiveGossip,
  sends,
  startedWith,
} from './helpers.js';

const config = membershipConfig('SIM_MIN');

const record = (i: number, incarnation: number): MemberRecord => memberRecord(i, incarnation);

/** A push-pull from `from` (its own record first) carrying `members`, as n1 (`state`) receives it. */
const pushPull = (
  state: State,
  now: number,
  from: number,
  members: MemberRecord[],
  join = false,
): Input => pushPullFrom(ms(now), from, state.fingerprint, members, { join });

/** n1 knows n2 and n3 (alive@1); n3 is declared dead at t=1 and forgotten by the returned time. */
function forgetN3(): { state: State; context: StepContext; forgottenAtMs: Millis } {
  const { state, context } = startedWith(1, [2, 3], config);
  checkedStep(state, receiveGossip(ms(1), 2, [dead(3, 1, 2)]), context);
  const forgottenAtMs = ms(1 + config.deadReclaimMs + reapCheckMs(config));
  checkedStep(state, { kind: 'tick', now: forgottenAtMs }, context);
  expect(state.members.has(nodeId(3))).toBe(false);
  return { state, context, forgottenAtMs };
}

describe('tombstones (issue 11 bug 8)', () => {
  it('a stale push-pull does not bring a forgotten member back at its old incarnation; the subject is told it is dead', () => {
    const { state, context, forgottenAtMs } = forgetN3();
    expect(state.tombstones.get(nodeId(3))).toEqual({
      incarnation: asIncarnation(1),
      state: 'dead',
      forgottenAtMs,
      notice: dead(3, 1, 2),
      publicKey: publicKeyHex(testIdentity(3)),
    });
    // n2 was paused longer than deadReclaimMs: its view still holds n3 alive@1.
    const effects = checkedStep(
      state,
      pushPull(state, forgottenAtMs + 10, 2, [record(3, 1)]),
      context,
    );
    expect(state.members.has(nodeId(3))).toBe(false);
    expect(events(effects)).toEqual([]);
    expect(state.counters.resurrectionsRefused).toBe(1);
    expect(sends(effects)).toContainEqual({
      kind: 'send',
      to: address(3),
      channel: 'packet',
      message: {
        type: 'gossip',
        from: nodeId(1),
        // The signed accusation that declared n3 dead, as n1 held it.
        updates: [dead(3, 1, 2)],
      },
    });
  });

  it('gossip and a join view are refused the same way; the member refuting above the tombstone comes back', () => {
    const { state, context, forgottenAtMs } = forgetN3();
    checkedStep(state, receiveGossip(ms(forgottenAtMs + 1), 2, [alive(3, 1)]), context);
    checkedStep(state, pushPull(state, forgottenAtMs + 2, 4, [record(3, 1)], true), context);
    expect(state.members.has(nodeId(3))).toBe(false);
    expect(state.members.get(nodeId(4))?.state).toBe('alive');
    expect(state.counters.resurrectionsRefused).toBe(2);
    // n3 heard the notice and refuted (SWIM §4.2): alive@2 is news, not a stale view.
    const effects = checkedStep(
      state,
      receiveGossip(ms(forgottenAtMs + 3), 3, [alive(3, 2)]),
      context,
    );
    expect(events(effects)).toContain('joined:n3');
    expect(state.members.get(nodeId(3))).toMatchObject({
      state: 'alive',
      incarnation: asIncarnation(2),
    });
    expect(state.tombstones.has(nodeId(3))).toBe(false);
  });

  it('a left member forgotten is refused at its left incarnation and told it left', () => {
    const { state, context } = startedWith(1, [2, 3], config);
    checkedStep(state, receiveGossip(ms(1), 3, [left(3, 1)]), context);
    const at = 1 + config.deadReclaimMs + reapCheckMs(config);
    checkedStep(state, { kind: 'tick', now: ms(at) }, context);
    const effects = checkedStep(state, receiveGossip(ms(at + 1), 2, [alive(3, 1)]), context);
    expect(state.members.has(nodeId(3))).toBe(false);
    expect(sends(effects).map((s) => s.message)).toContainEqual({
      type: 'gossip',
      from: nodeId(1),
      updates: [left(3, 1)],
    });
  });

  it('a tombstone lives tombstoneLifetimeMs after the forgetting: refused at lifetime - 1, accepted at the lifetime (a longer pause is unsupported)', () => {
    expect(tombstoneLifetimeMs(config)).toBe(TOMBSTONE_RECLAIM_MULT * config.deadReclaimMs);
    const lifetimeMs = tombstoneLifetimeMs(config);
    const early = forgetN3();
    checkedStep(
      early.state,
      pushPull(early.state, early.forgottenAtMs + lifetimeMs - 1, 2, [record(3, 1)]),
      early.context,
    );
    expect(early.state.members.has(nodeId(3))).toBe(false);
    const late = forgetN3();
    checkedStep(
      late.state,
      pushPull(late.state, late.forgottenAtMs + lifetimeMs, 2, [record(3, 1)]),
      late.context,
    );
    expect(late.state.members.get(nodeId(3))?.incarnation).toBe(asIncarnation(1));
    expect(late.state.tombstones.size).toBe(0);
  });

  it('expired tombstones are dropped at the next reaping, oldest first', () => {
    const { state, context, forgottenAtMs } = forgetN3();
    checkedStep(state, receiveGossip(ms(forgottenAtMs + 1), 2, [dead(2, 1, 1)]), context);
    expect([...state.tombstones.keys()]).toEqual([nodeId(3)]);
    // One reaping: n3's tombstone has run out, n2 (dead long enough) is forgotten in its turn.
    checkedStep(
      state,
      { kind: 'tick', now: ms(forgottenAtMs + tombstoneLifetimeMs(config)) },
      context,
    );
    expect([...state.tombstones.keys()]).toEqual([nodeId(2)]);
  });

  it('at most tombstonesMax (membersMax) are kept, the oldest evicted first: limit - 1, limit, limit + 1', () => {
    const small = membershipConfig('SIM_MIN', { membersMax: 4 });
    const { state } = startedWith(1, [], small);
    const max = tombstonesMax(small);
    expect(max).toBe(4);
    const buryN = (i: number): void =>
      bury(state, nodeId(i), {
        incarnation: asIncarnation(1),
        state: 'dead',
        forgottenAtMs: ms(i),
        notice: dead(i, 1, 1),
        publicKey: publicKeyHex(testIdentity(i)),
      });
    for (let i = 10; i < 10 + max - 1; i++) buryN(i);
    expect(state.tombstones.size).toBe(max - 1);
    buryN(10 + max - 1);
    expect(state.tombstones.size).toBe(max);
    buryN(10 + max);
    expect(state.tombstones.size).toBe(max);
    expect(state.tombstones.has(nodeId(10))).toBe(false);
    expect(state.tombstones.has(nodeId(10 + max))).toBe(true);
    expect(checkInvariants(state)).toEqual([]);
  });

  it('the invariant catches a tombstone of a member', () => {
    const { state } = startedWith(1, [2], config);
    bury(state, nodeId(2), {
      incarnation: asIncarnation(1),
      state: 'dead',
      forgottenAtMs: ms(0),
      notice: dead(2, 1, 1),
      publicKey: publicKeyHex(testIdentity(2)),
    });
    expect(checkInvariants(state)).toContain(
      `${nodeId(2)}: a tombstoned id is not in the member table`,
    );
  });
});
