/**
 * Membership changes (thesis chapter 4): one at a time, through the log, by joint consensus
 * whenever the voters change (§4.3), directly otherwise (learners, pins).
 *
 * - A change is taken only by a leader that has committed an entry of its term and whose
 *   configuration is committed and not joint: one change in flight at a time.
 * - Voters change in two entries: C_old,new (every majority needs both voter sets), appended at
 *   once; when it is committed, the leader appends C_new by itself (thesis §4.3). Each takes
 *   effect as soon as it is appended (membership.ts).
 * - `add` brings a member in as a learner (`as: 'learner'`) or as `staging` (`as: 'voter'`): a
 *   learner the leader promotes once its log is within promotionLagEntries of its own (thesis
 *   §4.2.1: a new server catches up before it can slow commits). `promote` refuses a learner
 *   further behind.
 * - Removing the leader (thesis §4.2.2): it keeps leading C_old,new without counting itself in
 *   C_new's majority, and steps down once C_new is committed (step.ts `finish`).
 * - Pins: once its configuration is committed, a leader pins the NodeId of every slot it has
 *   heard from (a pin-only change, same members), so the bootstrap configuration becomes a
 *   configuration in the log, with identities, as soon as a leader exists.
 */
import type { Address } from '../base/address.js';
import { encodeConfiguration } from './configuration.js';
import {
  incomingVoters,
  isJoint,
  isVoterAt,
  memberAt,
  unpinned,
  withPins,
  type Configuration,
  type Member,
  type MemberRole,
} from './configuration.js';
import { appendAsLeader } from './append.js';
import { lastIndex } from './log.js';
import { addressOf, broadcastAppend } from './replication.js';
import type { Turn } from './turn.js';
import type { ConfigChange, RaftState, RequestFailure } from './types.js';
import type { NodeId } from '../identity/node-id.js';

/** Why no change can start now, or undefined when one may. */
function pendingReason(state: RaftState): string | undefined {
  const leader = state.leaderState;
  if (leader === undefined) return 'not the leader';
  if (!leader.committedInTerm) return 'the leader has not committed an entry of its term yet';
  if (isJoint(state.membership.config)) return 'a joint configuration is still being left';
  if (state.membership.index > state.commitIndex)
    return `the configuration at ${state.membership.index} is not committed yet`;
  return undefined;
}

export function onChangeConfig(
  turn: Turn,
  change: ConfigChange,
  requestId: number | undefined,
): void {
  const { state } = turn;
  const refuse = (reason: RequestFailure, detail: string): void => {
    state.counters.configChangesRefused++;
    if (requestId !== undefined)
      turn.out.effects.push({
        kind: 'config-result',
        requestId,
        outcome: { ok: false, reason, detail, leader: state.leader },
      });
  };
  if (state.leaderState === undefined)
    return refuse(
      state.leader === undefined ? 'no-leader' : 'not-leader',
      'only the leader changes the configuration',
    );
  const pending = pendingReason(state);
  if (pending !== undefined) return refuse('change-pending', pending);
  if (state.leaderState.transfer !== undefined)
    return refuse('transferring', 'a leadership transfer is running');
  if (requestId !== undefined && state.tracked.size >= state.config.pendingRequestsMax)
    return refuse(
      'queue-full',
      `pendingRequestsMax (${state.config.pendingRequestsMax}) requests are waiting`,
    );
  const next = changed(state, change);
  if (typeof next === 'string') return refuse('invalid', next);
  appendConfig(turn, next, requestId);
}

function sorted(members: readonly Member[]): Member[] {
  return [...members].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** C_new, or C_old,new when the voter sets differ (thesis §4.3). */
function toward(config: Configuration, members: readonly Member[]): Configuration {
  const before = incomingVoters(config)
    .map((m) => m.address)
    .join(',');
  const after = members
    .filter((m) => m.role === 'voter')
    .map((m) => m.address)
    .join(',');
  return {
    members: sorted(members),
    outgoing: before === after ? undefined : incomingVoters(config),
  };
}

function slotOf(state: RaftState, id: NodeId): Member | undefined {
  const address = id === state.selfId ? state.selfAddress : addressOf(state, id);
  const member = address === undefined ? undefined : memberAt(state.membership.config, address);
  return member !== undefined && (member.id ?? id) === id ? member : undefined;
}

/** The configuration `change` leads to, or why it cannot be made. */
function changed(state: RaftState, change: ConfigChange): Configuration | string {
  const { config } = state.membership;
  if (change.op === 'add') {
    if (memberAt(config, change.address) !== undefined)
      return `${change.address} is already a member`;
    if (config.members.length >= state.config.membersMax)
      return `the configuration has membersMax (${state.config.membersMax}) members`;
    const role: MemberRole = change.as === 'voter' ? 'staging' : 'learner';
    return toward(config, [...config.members, { address: change.address, id: change.id, role }]);
  }
  const member = slotOf(state, change.id);
  if (member === undefined) return `${change.id} is not a member we have heard from`;
  if (change.op === 'promote') {
    if (member.role === 'voter') return `${change.id} is already a voter`;
    const behind = behindBy(state, change.id);
    if (behind > state.config.promotionLagEntries)
      return `${change.id} is ${behind} entries behind (promotionLagEntries ${state.config.promotionLagEntries})`;
    return toward(config, promoted(config, member.address, change.id));
  }
  const rest = config.members.filter((m) => m.address !== member.address);
  if (member.role === 'voter' && !rest.some((m) => m.role === 'voter'))
    return 'the last voter cannot be removed';
  return toward(config, rest);
}

function promoted(config: Configuration, address: Address, id: NodeId): Member[] {
  return config.members.map((m) => (m.address === address ? { address, id, role: 'voter' } : m));
}

/** How many entries `id`'s log is behind the leader's (all of them while unknown). */
function behindBy(state: RaftState, id: NodeId): number {
  const pr = state.leaderState?.progress.get(id);
  return lastIndex(state.log) - (pr?.match ?? 0);
}

function appendConfig(turn: Turn, config: Configuration, requestId: number | undefined): void {
  const { state } = turn;
  const entry = appendAsLeader(turn, 'config', encodeConfiguration(config));
  if (requestId !== undefined)
    state.tracked.set(entry.index, { requestId, kind: 'change-config', term: state.term });
  state.counters.configChanges++;
  broadcastAppend(turn);
}

/**
 * What a leader does by itself once its configuration is committed: leave a joint configuration,
 * pin identities it has learned, promote a staging member that caught up. One at a time.
 */
export function maybeAdvanceConfig(turn: Turn): void {
  const { state } = turn;
  const leader = state.leaderState;
  if (leader === undefined || !leader.committedInTerm) return;
  const { config } = state.membership;
  if (state.membership.index > state.commitIndex) return;
  if (isJoint(config))
    return appendConfig(turn, { members: config.members, outgoing: undefined }, undefined);
  if (!isVoterAt(config, state.selfAddress)) return; // a removed leader steps down (step.ts)
  const pins = new Map<Address, NodeId>();
  for (const m of unpinned(config)) {
    const id = m.address === state.selfAddress ? state.selfId : state.idAt.get(m.address);
    if (id !== undefined) pins.set(m.address, id);
  }
  if (pins.size > 0) return appendConfig(turn, withPins(config, pins), undefined);
  for (const m of config.members) {
    if (m.role !== 'staging' || m.id === undefined) continue;
    if (behindBy(state, m.id) <= state.config.promotionLagEntries)
      return appendConfig(turn, toward(config, promoted(config, m.address, m.id)), undefined);
  }
}

/** A removed leader's C_new is committed: it no longer leads (thesis §4.2.2). */
export function removedFromCommittedConfig(state: RaftState): boolean {
  const { config } = state.membership;
  return (
    state.role === 'leader' &&
    !isJoint(config) &&
    state.membership.index <= state.commitIndex &&
    !isVoterAt(config, state.selfAddress)
  );
}
