/**
 * One step's working context and the helpers every rule file shares: sending (with the
 * persist-before-send rule of Raft §5.1/§5.2 decided in one place), the identity rule for
 * senders, and small queries (am I a voter, who leads).
 *
 * Persist-before-send: a message carries this node's term, and a term that left must survive a
 * crash (§5.1), so a send waits in `afterPersist` while the current term is not yet known
 * durable; a vote grant always waits (the vote must be durable, §5.2). Everything else (a
 * leader's appends, thesis §10.2.1: the leader writes its own log in parallel) goes at once.
 */
import type { Address } from '../base/address.js';
import type { Channel } from '../base/channel.js';
import type { Ready } from '../base/protocol.js';
import type { Rng } from '../base/rng.js';
import type { Millis } from '../base/time.js';
import { logIndex } from '../base/units.js';
import type { NodeId } from '../identity/node-id.js';
import { isVoterAt, memberAt } from './configuration.js';
import type { RaftRecord } from './log-types.js';
import type { RaftMessage } from './messages.js';
import { newProgress } from './progress.js';
import { lastIndex } from './log.js';
import { configAt } from './membership.js';
import type { LeaderHint, RaftEffect, RaftState } from './types.js';

export type Out = Ready<RaftState, RaftEffect, RaftRecord>;

export interface Turn {
  readonly state: RaftState;
  readonly now: Millis;
  readonly rng: Rng;
  readonly out: Out;
}

/** Messages that carry log data go on the reliable, ordered stream; the small ones as packets. */
const STREAM_TYPES: ReadonlySet<RaftMessage['type']> = new Set([
  'raft-append',
  'raft-append-response',
  'raft-snapshot',
  'raft-snapshot-response',
]);

export function channelOf(message: RaftMessage): Channel {
  return STREAM_TYPES.has(message.type) ? 'stream' : 'packet';
}

/** Sends `message`; it waits for the disk when its term is not durable yet, or when `afterWrite`. */
export function send(turn: Turn, to: Address, message: RaftMessage, afterWrite = false): void {
  const { state, out } = turn;
  const effect: RaftEffect = { kind: 'send', to, channel: channelOf(message), message };
  if (afterWrite || state.durableTerm < state.term) out.afterPersist.push(effect);
  else out.effects.push(effect);
}

/** The common header of every message this node sends now. */
export function header(state: RaftState): {
  from: NodeId;
  fromAddress: Address;
  term: RaftState['term'];
} {
  return { from: state.selfId, fromAddress: state.selfAddress, term: state.term };
}

export function selfHint(state: RaftState): LeaderHint {
  return { id: state.selfId, address: state.selfAddress };
}

/**
 * Whether this node may stand for election: its slot votes in the configuration (C_new or, while
 * joint, C_old) and is not pinned to another identity (a node that lost its data dir). Thesis
 * §4.2.2: a node its latest configuration leaves out still stands while that configuration is not
 * committed, if the committed one counts it as a voter: it may be the one whose log can commit
 * it (a removed leader that crashed before its C_new committed; without this no one could win).
 */
export function isVoter(state: RaftState): boolean {
  const { config } = state.membership;
  const mine = memberAt(config, state.selfAddress);
  if (mine?.id !== undefined && mine.id !== state.selfId) return false;
  if (isVoterAt(config, state.selfAddress)) return true;
  return (
    state.membership.index > state.commitIndex &&
    isVoterAt(configAt(state, state.commitIndex), state.selfAddress)
  );
}

/**
 * The identity rule (docs/design/raft.md, "Bootstrap and identities"): a message from a member's
 * address counts only from the NodeId pinned there; at an unpinned slot, the last NodeId heard
 * there speaks for it. Returns false (counted) when the message must be ignored. A sender that
 * is no member passes: what a stranger may do is each handler's business.
 */
export function admitSender(turn: Turn, m: RaftMessage): boolean {
  const { state } = turn;
  if (m.fromAddress === state.selfAddress || m.from === state.selfId) {
    state.counters.identitiesRefused++;
    return false;
  }
  const member = memberAt(state.membership.config, m.fromAddress);
  if (member === undefined) return true;
  if (member.id !== undefined && member.id !== m.from) {
    state.counters.identitiesRefused++;
    return false;
  }
  speakFor(turn, m.fromAddress, m.from);
  return true;
}

/** `id` now speaks for the slot at `address`; a leader tracks its progress from now on. */
export function speakFor(turn: Turn, address: Address, id: NodeId): void {
  const { state } = turn;
  const previous = state.idAt.get(address);
  if (previous === id) return;
  state.idAt.set(address, id);
  const leader = state.leaderState;
  if (leader === undefined) return;
  if (previous !== undefined) leader.progress.delete(previous);
  if (!leader.progress.has(id))
    leader.progress.set(id, newProgress(logIndex(lastIndex(state.log) + 1)));
}

/** The NodeId that speaks for the slot at `address` now, if known. */
export function idOfSlot(state: RaftState, address: Address): NodeId | undefined {
  if (address === state.selfAddress) return state.selfId;
  return memberAt(state.membership.config, address)?.id ?? state.idAt.get(address);
}
