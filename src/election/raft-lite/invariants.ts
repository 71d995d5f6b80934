/**
 * raft-lite invariants, checked after every step in tests, the simulator and (cheap enough)
 * production. Cluster-wide safety (one leader per term) is the simulator's checker, which sees
 * every node; these are the per-node ones.
 */
import { compareConfig } from './step.js';
import type { ElectionMessage } from '../messages.js';
import type { Term } from '../../base/units.js';
import type { Input, RaftLiteSnapshot, State } from './types.js';

/** Human-readable violations; empty when the state is sound. */
export function checkInvariants(state: State): string[] {
  const out: string[] = [];
  if (!state.peers.has(state.selfAddress)) out.push('self is not in the known cluster');
  if (!Number.isSafeInteger(state.term) || state.term < 0)
    out.push(`term ${state.term} is not a non-negative safe integer`);
  if (state.role === 'leader' && state.leader?.id !== state.selfId)
    out.push('a leader must know itself as leader');
  if (state.role === 'candidate' && state.votedFor !== state.selfId)
    out.push('a candidate must have voted for itself (Raft §5.2)');
  if (state.role !== 'leader' && state.heartbeatDeadlineMs !== undefined)
    out.push(`a ${state.role} must not schedule heartbeats`);
  if (state.peers.size > state.config.peersMax)
    out.push(`known cluster of ${state.peers.size} exceeds peersMax ${state.config.peersMax}`);
  for (const [address, id] of state.idAt) {
    if (!state.peers.has(address))
      out.push(`${id} speaks for ${address}, outside the known cluster`);
    if (state.heard.get(id)?.address !== address)
      out.push(`${id} speaks for ${address} but was last heard elsewhere`);
  }
  if (state.heard.has(state.selfId)) out.push('self is tracked as a peer');
  if (state.configVersion < 0 || !Number.isSafeInteger(state.configVersion))
    out.push(`configuration version ${state.configVersion} is not a non-negative safe integer`);
  if (state.configTerm > state.term)
    out.push(`configuration of term ${state.configTerm} is ahead of the term ${state.term}`);
  if (state.joining && state.role !== 'follower')
    out.push(`a joining node must not be a ${state.role}`);
  if (state.joining && state.configVersion > 0) out.push('a configured node is not joining');
  if (state.role === 'leader' && (state.configTerm !== state.term || state.configVersion < 1))
    out.push(
      `a leader's configuration ${state.configTerm}.${state.configVersion} is not stamped with its term ${state.term}`,
    );
  for (const address of state.pins.keys())
    if (!state.peers.has(address)) out.push(`${address} is pinned but not a member`);
  if (state.role === 'leader' && state.pins.get(state.selfAddress) !== state.selfId)
    out.push('a leader must pin itself at its address');
  for (const [address, id] of state.idAt)
    if (state.pins.has(address) && state.pins.get(address) !== id)
      out.push(`${id} speaks for ${address}, pinned to ${state.pins.get(address)}`);
  if (state.previousPeers !== undefined) {
    if (state.role !== 'leader') out.push('only a leader has a configuration change in flight');
    const added = [...state.peers].filter((p) => !state.previousPeers?.has(p));
    const removed = [...state.previousPeers].filter((p) => !state.peers.has(p));
    if (added.length + removed.length !== 1)
      out.push(`a change must add or remove one member, not ${added.length + removed.length}`);
  }
  return out;
}

/**
 * Compares successive states of one node: the term never decreases (Raft §5.1), a vote cast in
 * a term is never changed, the configuration id never goes back, and a newer term heard makes
 * any role, a leader's included, a follower of it.
 */
export function checkTransition(before: RaftLiteSnapshot, after: State, input?: Input): string[] {
  const out: string[] = [];
  const heard = input?.kind === 'receive' ? input.message : undefined;
  const newer = heard === undefined ? undefined : adoptedTerm(heard, after);
  if (heard !== undefined && newer !== undefined && newer > before.term && after.term < newer)
    out.push(
      `a ${before.role} of term ${before.term} heard ${heard.type} of term ${newer} and is still at term ${after.term} (Raft §5.1)`,
    );
  if (
    compareConfig(
      { term: after.configTerm, version: after.configVersion },
      { term: before.configTerm, version: before.configVersion },
    ) < 0
  )
    out.push(
      `configuration went back from ${before.configTerm}.${before.configVersion} to ${after.configTerm}.${after.configVersion}`,
    );
  if (after.term < before.term) out.push(`term went back from ${before.term} to ${after.term}`);
  if (
    after.term === before.term &&
    before.votedFor !== undefined &&
    after.votedFor !== before.votedFor
  )
    out.push(
      `vote in term ${after.term} changed from ${before.votedFor} to ${String(after.votedFor)}`,
    );
  return out;
}

/**
 * The term a received message makes its receiver adopt when it is newer (Raft §5.1): a leader's
 * heartbeat from anyone, and a member's ack or vote response (a granted pre-vote only echoes
 * the proposed term). Vote requests are left out: refusing them in a leader's lease is the rule.
 */
function adoptedTerm(m: ElectionMessage, after: State): Term | undefined {
  if (m.type === 'leader-heartbeat') return m.term;
  if (!after.peers.has(m.fromAddress)) return undefined;
  if (m.type === 'heartbeat-ack') return m.term;
  if (m.type === 'vote-response' && !(m.preVote && m.granted)) return m.term;
  return undefined;
}
