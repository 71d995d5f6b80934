/**
 * Property tests (fast-check, seeded): random sequences of updates, pushes, ticks, labels and
 * loop-delay inputs never break an invariant (checked after every step by `checkedStep`), never
 * decrease an incarnation or the epoch, and never leave us suspect or dead in our own view.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ms } from '../../src/base/time.js';
import { isAccusation, type Update } from '../../src/membership/messages.js';
import { membershipConfig } from '../../src/membership/config.js';
import type { Input, State } from '../../src/membership/types.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { address, alive, checkedStep, ctx, left, newState, nodeId } from './helpers.js';
import { testAccusation, testRecord } from '../helpers/member-keys.js';

const member = fc.integer({ min: 1, max: 6 });
const incarnation = fc.integer({ min: 0, max: 6 });

/** Signed by the member itself (or its accuser), or, one time in eight, by someone else: a forgery. */
const signer = fc.option(member, { freq: 7, nil: undefined });

const update: fc.Arbitrary<Update> = fc.oneof(
  fc
    .record({ i: member, inc: incarnation, zone: fc.constantFrom('a', 'b'), by: signer })
    .map(({ i, inc, zone, by }) => alive(i, inc, { zone }, by === undefined ? {} : { signer: by })),
  fc
    .record({ i: member, inc: incarnation, from: member, by: signer })
    .map(({ i, inc, from, by }) => testAccusation('suspect', i, inc, from, by ?? from)),
  fc
    .record({ i: member, inc: incarnation, from: member, by: signer })
    .map(({ i, inc, from, by }) => testAccusation('dead', i, inc, from, by ?? from)),
  fc
    .record({ i: member, inc: incarnation, by: signer })
    .map(({ i, inc, by }) => left(i, inc, by === undefined ? {} : { signer: by })),
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

/** Whether `u` is signed by whom it claims (the member for a record, the accuser for an accusation). */
function authentic(u: Update): boolean {
  if (isAccusation(u))
    return (
      testAccusation(u.kind, indexOf(u.id), u.incarnation, indexOf(u.from)).signature ===
      u.signature
    );
  return (
    testRecord(u.kind, indexOf(u.id), u.incarnation, { labels: u.labels }).signature === u.signature
  );
}

function indexOf(id: NodeId): number {
  for (let i = 1; i <= 6; i++) if (nodeId(i) === id) return i;
  return -1;
}

/** What a node believes about one member: a forged update must never change it. */
function belief(state: State, id: NodeId): string {
  const m = state.members.get(id);
  return m === undefined
    ? 'absent'
    : `${m.incarnation}/${m.state}/${m.name}/${m.address}/${JSON.stringify(m.labels)}`;
}

describe('membership properties', () => {
  it('random inputs, one in eight forged, keep every invariant; forgeries change nothing; our incarnation moves only by what we signed', () => {
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
            const before = state.members.get(nodeId(1))!.incarnation;
            const wasRunning = state.phase === 'running';
            const lone = a.kind === 'updates' && a.updates.length === 1 ? a.updates[0] : undefined;
            const forged = lone !== undefined && !authentic(lone) ? lone : undefined;
            const believed = forged === undefined ? '' : belief(state, forged.id);
            const accuserLive =
              lone !== undefined && (lone.kind === 'suspect' || lone.kind === 'dead')
                ? lone.from === nodeId(1) ||
                  ['alive', 'suspect'].includes(state.members.get(lone.from)?.state ?? '')
                : false;
            checkedStep(state, toInput(a, now), context);
            const after = state.members.get(nodeId(1))!.incarnation;
            if (forged !== undefined && forged.id !== nodeId(1))
              expect(belief(state, forged.id)).toBe(believed);
            // Our incarnation moves only by our own signature: a labels change, or a refutation
            // of something at or above it that verified.
            const selfNews =
              a.kind === 'updates'
                ? a.updates.filter((u) => u.id === nodeId(1) && authentic(u))
                : [];
            const ceiling = Math.max(before, ...selfNews.map((u) => u.incarnation)) + 1;
            expect(after).toBeLessThanOrEqual(a.kind === 'labels' ? before + 1 : ceiling);
            if (forged !== undefined) expect(after).toBe(before);
            // A lone authentic accusation of us at our incarnation, by a live member, is refuted.
            if (
              wasRunning &&
              lone !== undefined &&
              lone.id === nodeId(1) &&
              (lone.kind === 'suspect' || lone.kind === 'dead') &&
              lone.incarnation === before &&
              lone.from !== nodeId(1) &&
              accuserLive &&
              authentic(lone)
            )
              expect(after).toBeGreaterThan(before);
          }
        },
      ),
      { seed: 20240601, numRuns: 300 },
    );
  });
});
