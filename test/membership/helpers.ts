/**
 * Test helpers for the membership core: deterministic ids and addresses, a state factory, and
 * `checkedStep`, which runs `step` and checks every invariant and transition rule after it.
 */
import type { Address } from '../../src/base/address.js';
import { Rng } from '../../src/base/rng.js';
import { ms, type Millis } from '../../src/base/time.js';
import type { MemberRecord, Update, WireMemberState } from '../../src/membership/messages.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { membershipConfig, type MembershipConfig } from '../../src/membership/config.js';
import { checkInvariants, checkTransition, snapshot } from '../../src/membership/invariants.js';
import { createState } from '../../src/membership/state.js';
import { nextDeadline, step } from '../../src/membership/step.js';
import {
  testAccusation,
  testId,
  testRecord,
  testSecurity,
  type RecordOptions,
} from '../helpers/member-keys.js';
import type { Effect, Input, State, StepContext } from '../../src/membership/types.js';

/** Member `i`'s NodeId: the hash of its deterministic test key (helpers/member-keys.ts). */
export function nodeId(i: number): NodeId {
  return testId(i);
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
    testSecurity(i),
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
  for (const j of others) checkedStep(state, receiveGossip(ms(0), j, [alive(j, 1)]), context);
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

/** A `ping-req` (with nack) from member `from` asking us to probe member `target`. */
export function receivePingReq(now: Millis, from: number, target: number, seq: number): Input {
  return {
    kind: 'receive',
    now,
    from: address(from),
    channel: 'packet',
    message: {
      type: 'ping-req',
      seq,
      from: nodeId(from),
      target: nodeId(target),
      nack: true,
      updates: [],
    },
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

/** Member `i`'s signed alive record at `incarnation` (labels, name, address as options). */
export function alive(
  i: number,
  incarnation: number,
  labels: Record<string, string> = {},
  options: RecordOptions = {},
): Update {
  return testRecord('alive', i, incarnation, { labels, ...options });
}

/** Member `i`'s signed left record. */
export function left(i: number, incarnation: number, options: RecordOptions = {}): Update {
  return testRecord('left', i, incarnation, options);
}

/** `from`'s signed suspicion of `i` at `incarnation`. */
export function suspect(i: number, incarnation: number, from: number): Update {
  return testAccusation('suspect', i, incarnation, from);
}

/** `from`'s signed declaration that `i` is dead at `incarnation`. */
export function dead(i: number, incarnation: number, from: number): Update {
  return testAccusation('dead', i, incarnation, from);
}

/**
 * Member `i`'s record as a push-pull carries it: its own signed record (left when `state` is
 * left) and, when suspect or dead, `accuser`'s signed accusation.
 */
export function memberRecord(
  i: number,
  incarnation: number,
  state: WireMemberState = 'alive',
  options: RecordOptions & { accuser?: number; accuserSigner?: number } = {},
): MemberRecord {
  const record = testRecord(state === 'left' ? 'left' : 'alive', i, incarnation, options);
  const { kind: _kind, ...fields } = record;
  const accuser = options.accuser ?? 1;
  const accusation =
    state === 'suspect' || state === 'dead'
      ? testAccusation(state, i, incarnation, accuser, options.accuserSigner ?? accuser)
      : undefined;
  return {
    ...fields,
    state,
    accusation:
      accusation === undefined
        ? undefined
        : { from: accusation.from, signature: accusation.signature },
  };
}

/** A push-pull from member `from` (its own alive record at incarnation 1 first, then `members`). */
export function pushPullFrom(
  now: Millis,
  from: number,
  fingerprint: string,
  members: MemberRecord[],
  flags: { join?: boolean; reply?: boolean; fromIncarnation?: number } = {},
): Input {
  return {
    kind: 'receive',
    now,
    from: address(from),
    channel: 'stream',
    message: {
      type: 'push-pull',
      from: nodeId(from),
      fromAddress: address(from),
      join: flags.join ?? false,
      reply: flags.reply ?? false,
      configFingerprint: fingerprint,
      members: [memberRecord(from, flags.fromIncarnation ?? 1), ...members],
    },
  };
}

/** Most ticks `tickThrough` runs: a bound, far above what the tests below need. */
const TICKS_MAX = 10_000;

/** Ticks at every deadline up to `untilMs`, as the driver does (each timer fires on time). */
export function tickThrough(state: State, context: StepContext, untilMs: number): FlatEffect[] {
  const out: FlatEffect[] = [];
  for (let i = 0; i < TICKS_MAX; i++) {
    const due = nextDeadline(state);
    if (due === undefined || due > untilMs) return out;
    out.push(...checkedStep(state, { kind: 'tick', now: due }, context));
  }
  throw new Error(`tickThrough: more than ${TICKS_MAX} ticks before ${untilMs} ms`);
}
