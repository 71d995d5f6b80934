/**
 * raft-lite invariants, checked after every step in tests and the simulator (assertions stay on).
 * Cluster-wide safety (one leader per term) is checked by the simulator's checker, which sees
 * every node; these are the per-node ones.
 */
import type { State } from './types.js';

/** Human-readable violations; empty when the state is sound. */
export function checkInvariants(state: State): string[] {
  const out: string[] = [];
  if (!state.peers.has(state.selfAddress)) out.push('self is not in the known cluster');
  if (!Number.isSafeInteger(state.term) || state.term < 0) out.push(`term ${state.term} is not a non-negative safe integer`);
  if (state.role === 'leader' && state.leader?.id !== state.selfId) out.push('a leader must know itself as leader');
  if (state.role === 'candidate' && state.votedFor !== state.selfId) out.push('a candidate must have voted for itself (Raft §5.2)');
  if (state.role !== 'leader' && state.heartbeatDeadlineMs !== undefined) out.push(`a ${state.role} must not schedule heartbeats`);
  for (const voter of state.votes) if (!state.peers.has(voter)) out.push(`vote from ${voter}, outside the known cluster`);
  if (state.peers.size > state.config.peersMax) out.push(`known cluster of ${state.peers.size} exceeds peersMax ${state.config.peersMax}`);
  return out;
}

/** Compares successive states of one node: the term never decreases (Raft §5.1), and a vote cast in a term is never changed. */
export function checkTransition(before: { term: number; votedFor: string | undefined }, after: State): string[] {
  const out: string[] = [];
  if (after.term < before.term) out.push(`term went back from ${before.term} to ${after.term}`);
  if (after.term === before.term && before.votedFor !== undefined && after.votedFor !== before.votedFor) out.push(`vote in term ${after.term} changed from ${before.votedFor} to ${String(after.votedFor)}`);
  return out;
}
