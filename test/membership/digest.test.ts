/**
 * The view digest (src/membership/digest.ts): XOR of per-member 64-bit hashes over the live set,
 * kept incrementally by state.ts. Checks the hash's algebra, that random update sequences keep the
 * incremental digest equal to one recomputed from scratch, that equal live sets reached in
 * different orders give equal digests, and that the invariant catches a missed update.
 */
import { incarnation as asIncarnation } from '../../src/base/units.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ms } from '../../src/base/time.js';
import type { Update } from '../../src/membership/messages.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { membershipConfig } from '../../src/membership/config.js';
import {
  computeViewDigest,
  digestHex,
  hashHi,
  hashLo,
  textDigest,
  toggleMember,
  type ViewDigest,
} from '../../src/membership/digest.js';
import { checkInvariants } from '../../src/membership/invariants.js';
import { isLive } from '../../src/membership/state.js';
import type { State } from '../../src/membership/types.js';
import {
  alive,
  checkedStep,
  ctx,
  dead,
  left,
  newState,
  nodeId,
  receiveGossip,
  startedWith,
  suspect,
} from './helpers.js';

function recomputed(state: State): ViewDigest {
  return computeViewDigest(
    [...state.members.values()].map((m) => ({
      id: m.id,
      incarnation: m.incarnation,
      live: isLive(m.state),
    })),
  );
}

describe('digest hash', () => {
  it('toggling a member twice restores the digest; order does not matter', () => {
    const d: ViewDigest = { hi: 0, lo: 0 };
    toggleMember(d, nodeId(1), 3);
    toggleMember(d, nodeId(2), 1);
    const e: ViewDigest = { hi: 0, lo: 0 };
    toggleMember(e, nodeId(2), 1);
    toggleMember(e, nodeId(1), 3);
    expect(e).toEqual(d);
    toggleMember(d, nodeId(2), 1);
    toggleMember(d, nodeId(1), 3);
    expect(d).toEqual({ hi: 0, lo: 0 });
  });

  it('depends on the id and on both halves of the incarnation, in both lanes', () => {
    const base = [hashHi(nodeId(1), 5), hashLo(nodeId(1), 5)];
    for (const [id, inc] of [
      [nodeId(2), 5],
      [nodeId(1), 6],
      [nodeId(1), 5 + 2 ** 32],
    ] as [NodeId, number][]) {
      expect(hashHi(id, inc)).not.toBe(base[0]);
      expect(hashLo(id, inc)).not.toBe(base[1]);
    }
    expect(hashHi(nodeId(1), 5)).not.toBe(hashLo(nodeId(1), 5));
  });

  it('toggleMember XORs exactly hashHi and hashLo (its fused loop computes the same lanes)', () => {
    for (const [id, inc] of [
      [nodeId(1), 0],
      [nodeId(0xabcdef), 7],
      ['not-hex' as NodeId, 2 ** 40 + 3],
      ['' as NodeId, Number.MAX_SAFE_INTEGER - 2],
    ] as [NodeId, number][]) {
      const d: ViewDigest = { hi: 0, lo: 0 };
      toggleMember(d, id, inc);
      expect(d).toEqual({ hi: hashHi(id, inc), lo: hashLo(id, inc) });
    }
  });

  it('renders 16 lowercase hex characters (the codec writes them as 8 bytes)', () => {
    expect(digestHex(0, 0)).toBe('0000000000000000');
    expect(digestHex(0xdeadbeef, 1)).toBe('deadbeef00000001');
    expect(textDigest('v1;probeIntervalMs=1000')).toMatch(/^[0-9a-f]{16}$/);
    expect(textDigest('a')).not.toBe(textDigest('b'));
  });
});

const member = fc.integer({ min: 1, max: 6 });
const incarnation = fc.integer({ min: 0, max: 6 });
const update: fc.Arbitrary<Update> = fc.oneof(
  fc.record({ i: member, inc: incarnation }).map(({ i, inc }) => alive(i, inc)),
  fc
    .record({ i: member, inc: incarnation, from: member })
    .map(({ i, inc, from }) => suspect(i, inc, from)),
  fc
    .record({ i: member, inc: incarnation, from: member })
    .map(({ i, inc, from }) => dead(i, inc, from)),
  fc.record({ i: member, inc: incarnation }).map(({ i, inc }) => left(i, inc)),
);

describe('incremental view digest', () => {
  it('random updates, refutes, label changes, ticks (suspicion timeouts, reaping) keep it equal to a recomputation', () => {
    type Step =
      | { kind: 'updates'; updates: Update[] }
      | { kind: 'tick'; advanceMs: number }
      | { kind: 'labels'; zone: string };
    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          kind: fc.constant('updates' as const),
          updates: fc.array(update, { maxLength: 4 }),
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant('tick' as const),
          advanceMs: fc.integer({ min: 0, max: 3000 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('labels' as const),
          zone: fc.constantFrom('a', 'b', 'c'),
        }),
      },
    );
    fc.assert(
      fc.property(
        fc.array(stepArb, { maxLength: 80 }),
        fc.integer({ min: 1, max: 1000 }),
        (steps, seed) => {
          const state = newState(1, membershipConfig('SIM_MIN', { membersMax: 5 }));
          const context = ctx(seed);
          checkedStep(state, { kind: 'start', now: ms(0), seeds: [] }, context);
          let now = 0;
          for (const s of steps) {
            if (s.kind === 'tick') now += s.advanceMs;
            const input =
              s.kind === 'updates'
                ? receiveGossip(ms(now), 2, s.updates)
                : s.kind === 'tick'
                  ? { kind: 'tick' as const, now: ms(now) }
                  : { kind: 'update-labels' as const, now: ms(now), labels: { zone: s.zone } };
            checkedStep(state, input, context);
            expect(state.viewDigest).toEqual(recomputed(state));
          }
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });

  it('the same live set reached through different update orders has the same digest', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ i: fc.integer({ min: 2, max: 8 }), inc: incarnation }), {
          maxLength: 12,
        }),
        (entries) => {
          const forward = startedWith(1, []);
          const backward = startedWith(1, []);
          const aliveOf = (e: { i: number; inc: number }): Update => alive(e.i, e.inc);
          for (const e of entries)
            checkedStep(forward.state, receiveGossip(ms(1), 9, [aliveOf(e)]), forward.context);
          for (const e of [...entries].reverse())
            checkedStep(backward.state, receiveGossip(ms(1), 9, [aliveOf(e)]), backward.context);
          const view = (s: State): string =>
            [...s.members.values()]
              .map((m) => `${m.id}@${m.incarnation}`)
              .sort()
              .join();
          if (view(forward.state) === view(backward.state))
            expect(forward.state.viewDigest).toEqual(backward.state.viewDigest);
          else expect(forward.state.viewDigest).not.toEqual(backward.state.viewDigest);
        },
      ),
      { seed: 7, numRuns: 200 },
    );
  });

  it('the invariant recomputes it: a missed update (an incarnation written behind its back) fails the check', () => {
    const { state } = startedWith(1, [2]);
    expect(checkInvariants(state)).toEqual([]);
    state.members.get(nodeId(2))!.incarnation = asIncarnation(9);
    expect(checkInvariants(state).join('; ')).toMatch(/viewDigest/);
  });

  it('self joins the digest only once alive; dead and left members are outside it', () => {
    const state = newState(1);
    expect(state.viewDigest).toEqual({ hi: 0, lo: 0 });
    const { state: s, context } = startedWith(1, [2]);
    const withTwo = { ...s.viewDigest };
    checkedStep(
      s,
      // Our own signed accusation, as it comes back to us: a dead member leaves the digest.
      receiveGossip(ms(1), 3, [dead(2, 1, 1)]),
      context,
    );
    const alone: ViewDigest = { hi: 0, lo: 0 };
    toggleMember(alone, nodeId(1), 1);
    expect(s.viewDigest).toEqual(alone);
    expect(s.viewDigest).not.toEqual(withTwo);
  });
});
