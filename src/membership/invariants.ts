/**
 * Invariants of the membership state, checked after every step in tests and the simulator.
 * `checkInvariants` looks at one state (O(N)); `checkTransition` compares a state with a snapshot
 * taken before the step (epoch and incarnations never decrease; a forgotten member comes back
 * only above its live tombstone, tombstones.ts). Both return the broken rules. The incrementally
 * kept view digest is recomputed from scratch here, so a missed update at any choke point fails
 * the next check.
 */
import type { Epoch, Incarnation } from '../base/units.js';
import type { NodeId } from '../identity/node-id.js';
import { computeViewDigest, digestHex } from './digest.js';
import { INCARNATION_MAX } from './record.js';
import { isLive } from './state.js';
import { tombstoneLifetimeMs, tombstonesMax, type Tombstone } from './tombstones.js';
import type { State } from './types.js';

export interface Snapshot {
  epoch: Epoch;
  incarnations: Map<NodeId, Incarnation>;
  /** Tombstone objects are never mutated (bury replaces them), so a shallow copy is a snapshot. */
  tombstones: ReadonlyMap<NodeId, Tombstone>;
}

export function snapshot(state: State): Snapshot {
  return {
    epoch: state.epoch,
    incarnations: new Map([...state.members.values()].map((m) => [m.id, m.incarnation])),
    tombstones: new Map(state.tombstones),
  };
}

/** Tombstones (tombstones.ts): never of a member (so never of self), at most tombstonesMax. */
function tombstoneRules(state: State, holds: (condition: boolean, rule: string) => void): void {
  holds(
    state.tombstones.size <= tombstonesMax(state.config),
    `tombstones (${state.tombstones.size}) within tombstonesMax (${tombstonesMax(state.config)})`,
  );
  for (const id of state.tombstones.keys())
    holds(!state.members.has(id), `${id}: a tombstoned id is not in the member table`);
}

/** The rules broken by `state`, each stated as the rule; empty when the state is sound. */
export function checkInvariants(state: State): string[] {
  const broken: string[] = [];
  const holds = (condition: boolean, rule: string): void => {
    if (!condition) broken.push(rule);
  };
  const me = state.members.get(state.selfId);
  if (me === undefined || me.slot !== 0) return ['self is in the member table, at slot 0'];
  holds(me.state !== 'dead', 'self is never dead in its own view (it refutes instead)');
  holds(me.state !== 'suspect', 'self is never suspect in its own view');
  holds(me.publicKey === state.security.publicKey, 'self holds its own public key');
  holds(
    state.selfSigned.incarnation === me.incarnation &&
      state.selfSigned.left === (me.state === 'left'),
    `self's held record is signed for its incarnation ${me.incarnation} and state ${me.state} (signed for ${state.selfSigned.incarnation}${state.selfSigned.left ? ' left' : ''})`,
  );
  let live = 0;
  let departedOrSuspect = 0;
  for (const member of state.members.values()) {
    const id = member.id;
    holds(
      state.members.get(id)?.slot === member.slot,
      `${id}: the table's index finds it at its slot ${member.slot}`,
    );
    if (isLive(member.state)) live++;
    holds(
      (member.state === 'suspect') === (member.suspicion !== undefined),
      `${id}: a suspicion exists exactly when suspect (state ${member.state})`,
    );
    holds(
      (member.state === 'suspect') === state.suspects.has(id),
      `${id}: suspects index agrees with state ${member.state}`,
    );
    holds(
      (member.state === 'dead' || member.state === 'left') === state.departed.has(id),
      `${id}: departed index agrees with state ${member.state}`,
    );
    holds(id === state.selfId || member.state !== 'joining', `${id}: only self may be joining`);
    holds(
      Number.isSafeInteger(member.incarnation) &&
        member.incarnation >= 0 &&
        member.incarnation <= INCARNATION_MAX,
      `${id}: incarnation is an integer in 0..INCARNATION_MAX`,
    );
    const accused = member.state === 'suspect' || member.state === 'dead';
    if (accused) departedOrSuspect++;
    holds(
      accused === (member.accusation !== undefined),
      `${id}: a signed accusation is held exactly when suspect or dead (state ${member.state})`,
    );
  }
  tombstoneRules(state, holds);
  holds(live === state.liveCount, `liveCount ${state.liveCount} equals the live members ${live}`);
  const digest = computeViewDigest(
    [...state.members.values()].map((m) => ({
      id: m.id,
      incarnation: m.incarnation,
      live: isLive(m.state),
    })),
  );
  holds(
    digest.hi === state.viewDigest.hi && digest.lo === state.viewDigest.lo,
    `viewDigest ${digestHex(state.viewDigest.hi, state.viewDigest.lo)} equals the digest recomputed from the members ${digestHex(digest.hi, digest.lo)}`,
  );
  holds(
    state.members.suspicions.size === state.suspects.size,
    `suspicions (${state.members.suspicions.size}) belong to suspects only`,
  );
  holds(
    state.members.accusations.size === departedOrSuspect,
    `accusations (${state.members.accusations.size}) belong to suspect and dead members only`,
  );
  holds(
    state.members.size <= state.config.membersMax,
    `members (${state.members.size}) within membersMax`,
  );
  holds(
    state.queue.byMember.size <= state.config.broadcastQueueMax,
    `broadcast queue (${state.queue.byMember.size}) within broadcastQueueMax`,
  );
  holds(
    state.relays.size <= state.config.pendingProbesMax,
    `relayed probes (${state.relays.size}) within pendingProbesMax`,
  );
  holds(
    state.awareness >= 0 && state.awareness < state.config.awarenessMultiplierMax,
    `awareness ${state.awareness} in range`,
  );
  return broken;
}

export function checkTransition(before: Snapshot, after: State): string[] {
  const broken: string[] = [];
  const holds = (condition: boolean, rule: string): void => {
    if (!condition) broken.push(rule);
  };
  holds(after.epoch >= before.epoch, `epoch never decreases (${before.epoch} -> ${after.epoch})`);
  const lifetimeMs = tombstoneLifetimeMs(after.config);
  for (const member of after.members.values()) {
    const previous = before.incarnations.get(member.id);
    holds(
      previous === undefined || member.incarnation >= previous,
      `${member.id}: incarnation never decreases (${previous} -> ${member.incarnation})`,
    );
    const tombstone = previous === undefined ? before.tombstones.get(member.id) : undefined;
    if (tombstone === undefined || after.lastStepMs - tombstone.forgottenAtMs >= lifetimeMs)
      continue;
    holds(
      member.incarnation > tombstone.incarnation,
      `${member.id}: a forgotten member comes back only above its tombstone (${tombstone.state}@${tombstone.incarnation}, back at ${member.incarnation})`,
    );
  }
  return broken;
}
