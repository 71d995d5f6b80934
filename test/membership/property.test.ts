/**
 * Property tests (fast-check, seeded): random sequences of updates, pushes, ticks, labels and
 * loop-delay inputs never break an invariant (checked after every step by `checkedStep`), never
 * decrease an incarnation or the epoch, and never leave us suspect or dead in our own view.
 */
import { incarnation as asIncarnation } from '../../src/base/units.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ms } from '../../src/base/time.js';
import type { Update } from '../../src/membership/messages.js';
import { membershipConfig } from '../../src/membership/config.js';
import type { Input } from '../../src/membership/types.js';
import { address, checkedStep, ctx, newState, nodeId } from './helpers.js';

const member = fc.integer({ min: 1, max: 6 });
const incarnation = fc.integer({ min: 0, max: 6 });

const update: fc.Arbitrary<Update> = fc.oneof(
  fc
    .record({ i: member, inc: incarnation, zone: fc.constantFrom('a', 'b') })
    .map(({ i, inc, zone }): Update => ({
      kind: 'alive',
      id: nodeId(i),
      incarnation: asIncarnation(inc),
      name: `n${i}`,
      address: address(i),
      labels: { zone },
    })),
  fc.record({ i: member, inc: incarnation, from: member }).map(({ i, inc, from }): Update => ({
    kind: 'suspect',
    id: nodeId(i),
    incarnation: asIncarnation(inc),
    from: nodeId(from),
  })),
  fc.record({ i: member, inc: incarnation, from: member }).map(({ i, inc, from }): Update => ({
    kind: 'dead',
    id: nodeId(i),
    incarnation: asIncarnation(inc),
    from: nodeId(from),
  })),
  fc.record({ i: member, inc: incarnation }).map(({ i, inc }): Update => ({
    kind: 'left',
    id: nodeId(i),
    incarnation: asIncarnation(inc),
  })),
);

type Action =
  | { kind: 'updates'; from: number; updates: Update[] }
  | { kind: 'tick'; advanceMs: number }
  | { kind: 'labels'; size: number }
  | { kind: 'loop-delay'; delayMs: number }
  | { kind: 'leave' };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('updates' as const),
      from: member,
      updates: fc.array(update, { maxLength: 4 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      advanceMs: fc.integer({ min: 0, max: 400 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('labels' as const),
      size: fc.integer({ min: 0, max: 600 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('loop-delay' as const),
      delayMs: fc.integer({ min: 0, max: 200 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'leave' as const }) },
);

function toInput(a: Action, now: number): Input {
  switch (a.kind) {
    case 'updates':
      return {
        kind: 'receive',
        now: ms(now),
        from: address(a.from),
        channel: 'packet',
        message: { type: 'gossip', from: nodeId(a.from), updates: a.updates },
      };
    case 'tick':
      return { kind: 'tick', now: ms(now) };
    case 'labels':
      return { kind: 'update-labels', now: ms(now), labels: { k: 'x'.repeat(a.size) } };
    case 'loop-delay':
      return { kind: 'loop-delay', now: ms(now), delayMs: a.delayMs };
    case 'leave':
      return { kind: 'leave', now: ms(now) };
  }
}

describe('membership properties', () => {
  it('random inputs keep every invariant; we refute every accusation about ourselves while running', () => {
    fc.assert(
      fc.property(
        fc.array(action, { maxLength: 60 }),
        fc.integer({ min: 1, max: 1000 }),
        (actions, seed) => {
          const state = newState(
            1,
            membershipConfig('SIM_MIN', { membersMax: 5, broadcastQueueMax: 4 }),
          );
          const context = ctx(seed);
          checkedStep(state, { kind: 'start', now: ms(0), seeds: [] }, context);
          let now = 0;
          for (const a of actions) {
            if (a.kind === 'tick') now += a.advanceMs;
            checkedStep(state, toInput(a, now), context);
            const me = state.members.get(nodeId(1))!;
            if (state.phase === 'running' && a.kind === 'updates') {
              for (const u of a.updates) {
                if (
                  u.id === nodeId(1) &&
                  u.kind !== 'alive' &&
                  u.incarnation < Number.MAX_SAFE_INTEGER - 1
                )
                  expect(me.incarnation).toBeGreaterThan(u.incarnation);
              }
            }
          }
        },
      ),
      { seed: 20240601, numRuns: 300 },
    );
  });
});
