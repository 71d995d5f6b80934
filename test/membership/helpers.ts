/**
 * Test helpers for the membership core: deterministic ids and addresses, a state factory, and
 * `checkedStep`, which runs `step` and checks every invariant and transition rule after it.
 */
import { incarnation as asIncarnation } from '../../src/base/units.js';
import type { Address } from '../../src/base/address.js';
import { Rng } from '../../src/base/rng.js';
import { ms, type Millis } from '../../src/base/time.js';
import type { Update } from '../../src/membership/messages.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { membershipConfig, type MembershipConfig } from '../../src/membership/config.js';
import { checkInvariants, checkTransition, snapshot } from '../../src/membership/invariants.js';
import { createState } from '../../src/membership/state.js';
import { step } from '../../src/membership/step.js';
import type { Effect, Input, State, StepContext } from '../../src/membership/types.js';

export function nodeId(i: number): NodeId {
  return i.toString(16).padStart(32, '0') as NodeId;
}

export function address(i: number): Address {
  return `10.0.0.${i}:7946` as Address;
}

export function newState(
  i: number,
  config: MembershipConfig = membershipConfig('SIM_MIN'),
  persisted = 0,
): State {
  return createState(
    config,
    { id: nodeId(i), name: `n${i}`, address: address(i), labels: {} },
    persisted,
    ms(0),
  );
}

export function ctx(seed = 1): StepContext {
  return { rng: new Rng(seed) };
}

/** Every effect of one step, in the order the driver performs them when no write is pending. */
export type FlatEffect = Effect | { kind: 'persist'; incarnation: number };

/**
 * Runs one step and checks every invariant and transition rule after it. Returns its persist
 * records (as `persist` effects, first: they are written before anything in `afterPersist`),
 * then its immediate effects, then its sends.
 */
export function checkedStep(state: State, input: Input, context: StepContext): FlatEffect[] {
  const before = snapshot(state);
  const out = step(state, input, context);
  const broken = [...checkTransition(before, state), ...checkInvariants(state)];
  if (broken.length > 0) throw new Error(`membership invariant: ${broken.join('; ')}`);
  return [
    ...out.persist.map((r) => ({ kind: 'persist' as const, incarnation: r.incarnation })),
    ...out.effects,
    ...out.afterPersist,
  ];
}

/** A started node (no seeds: alive alone) that already knows members `others` as alive at incarnation 1. */
export function startedWith(
  i: number,
  others: number[],
  config?: MembershipConfig,
): { state: State; context: StepContext } {
  const state = newState(i, config);
  const context = ctx(i);
  checkedStep(state, { kind: 'start', now: ms(0), seeds: [] }, context);
  for (const j of others) {
    checkedStep(
      state,
      receiveGossip(ms(0), j, [
        {
          kind: 'alive',
          id: nodeId(j),
          incarnation: asIncarnation(1),
          name: `n${j}`,
          address: address(j),
          labels: {},
        },
      ]),
      context,
    );
  }
  return { state, context };
}

export function receiveGossip(now: Millis, from: number, updates: Update[]): Input {
  return {
    kind: 'receive',
    now,
    from: address(from),
    channel: 'packet',
    message: { type: 'gossip', from: nodeId(from), updates },
  };
}

export function sends(effects: FlatEffect[]): Extract<Effect, { kind: 'send' }>[] {
  return effects.filter((e): e is Extract<Effect, { kind: 'send' }> => e.kind === 'send');
}

export function events(effects: FlatEffect[]): string[] {
  return effects.flatMap((e) =>
    e.kind === 'emit'
      ? [
          e.event.type === 'epoch'
            ? `epoch:${e.event.epoch}`
            : `${e.event.type}:${e.event.member.name}`,
        ]
      : [],
  );
}
