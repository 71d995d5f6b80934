/**
 * Raft's per-node invariants, checked after every step in tests, the simulator and production
 * (cheap: bounded work per step), and the transition rules between two successive states.
 * Cluster-wide safety (Election Safety, Log Matching, Leader Completeness, State Machine Safety)
 * is the simulator's checkers (src/sim/scenarios/raft-checkers.ts), which see every node.
 */
import { incomingVoters, memberAt, sameConfiguration } from './configuration.js';
import { durableIndex, lastIndex, lastTerm, termAt } from './log.js';
import type { RaftMessage } from './messages.js';
import { configAt } from './membership.js';
import type { RaftInput, RaftSnapshot, RaftState } from './types.js';

/** Entries at the end of the log whose order is checked after each step (bounded work). */
export const LOG_CHECK_ENTRIES_MAX = 64;

function checkLog(state: RaftState, out: string[]): void {
  const { log } = state;
  const last = lastIndex(log);
  const from = Math.max(0, log.entries.length - LOG_CHECK_ENTRIES_MAX);
  let previous = from === 0 ? log.snapshotTerm : (log.entries[from - 1]?.term ?? 0);
  for (let k = from; k < log.entries.length; k++) {
    const entry = log.entries[k];
    if (entry === undefined) continue;
    if (entry.index !== log.snapshotIndex + 1 + k)
      out.push(`entry at position ${k} has index ${entry.index}, not ${log.snapshotIndex + 1 + k}`);
    if (entry.term < previous)
      out.push(`entry ${entry.index} of term ${entry.term} follows term ${previous}`);
    previous = entry.term;
  }
  if (lastTerm(log) > state.term)
    out.push(`the log holds term ${lastTerm(log)} beyond the current term ${state.term}`);
  if (log.stableIndex > last)
    out.push(`stable index ${log.stableIndex} beyond the last index ${last}`);
  if (state.commitIndex > last)
    out.push(`commit ${state.commitIndex} beyond the last index ${last}`);
  if (state.commitIndex < log.snapshotIndex)
    out.push(`commit ${state.commitIndex} below the snapshot index ${log.snapshotIndex}`);
  if (state.appliedIndex > state.commitIndex)
    out.push(`applied ${state.appliedIndex} beyond commit ${state.commitIndex}`);
  if (state.appliedIndex > Math.max(durableIndex(log), log.snapshotIndex))
    out.push(`applied ${state.appliedIndex} beyond what is durable (${durableIndex(log)})`);
}

function checkRole(state: RaftState, out: string[]): void {
  const leader = state.leaderState;
  if ((state.role === 'leader') !== (leader !== undefined))
    out.push(`a ${state.role} ${leader === undefined ? 'without' : 'with'} leader state`);
  if (state.role === 'leader' && state.leader?.id !== state.selfId)
    out.push('a leader must know itself as leader');
  if (state.role === 'candidate' && state.vote !== state.selfId)
    out.push('a candidate must have voted for itself (Raft §5.2)');
  if (state.role === 'leader' && lastTerm(state.log) !== state.term)
    out.push(
      `a leader's last entry is of term ${lastTerm(state.log)}, not its term ${state.term} (no-op missing)`,
    );
  if (state.role !== 'leader' && state.heartbeatDeadlineMs !== undefined)
    out.push(`a ${state.role} must not schedule heartbeats`);
  if (state.durableTerm > state.term)
    out.push(`durable term ${state.durableTerm} beyond the term ${state.term}`);
  if (leader === undefined) return;
  if (leader.progress.has(state.selfId)) out.push('a leader tracks its own progress');
  for (const [id, pr] of leader.progress) {
    if (pr.match >= pr.next) out.push(`${id}: match ${pr.match} not below next ${pr.next}`);
    if (pr.match > lastIndex(state.log)) out.push(`${id}: match ${pr.match} beyond the last index`);
    if (pr.inflight.length > state.config.maxInflightAppends)
      out.push(`${id}: ${pr.inflight.length} appends in flight exceed maxInflightAppends`);
    for (let i = 1; i < pr.inflight.length; i++)
      if ((pr.inflight[i] as number) <= (pr.inflight[i - 1] as number))
        out.push(`${id}: in-flight appends out of order`);
  }
}

function checkMembership(state: RaftState, out: string[]): void {
  const { config } = state.membership;
  if (config.members.length > state.config.membersMax)
    out.push(`${config.members.length} members exceed membersMax ${state.config.membersMax}`);
  const inLog = configAt(state, lastIndex(state.log));
  if (config !== inLog && !sameConfiguration(config, inLog))
    out.push('the configuration in force is not the last one in the log');
  for (const [address, id] of state.idAt) {
    const member = memberAt(config, address);
    if (member === undefined) out.push(`${id} speaks for ${address}, not a member`);
    else if (member.id !== undefined && member.id !== id)
      out.push(`${id} speaks for ${address}, pinned to ${member.id}`);
  }
  if (
    state.role === 'leader' &&
    incomingVoters(config).length === 0 &&
    config.outgoing === undefined
  )
    out.push('a leader of a configuration without voters');
  for (const index of state.tracked.keys())
    if (index <= state.appliedIndex || index > lastIndex(state.log))
      out.push(
        `a request tracked at ${index} outside (applied ${state.appliedIndex}, last ${lastIndex(state.log)}]`,
      );
}

/** Human-readable violations; empty when the state is sound. */
export function checkInvariants(state: RaftState): string[] {
  const out: string[] = [];
  checkLog(state, out);
  checkRole(state, out);
  checkMembership(state, out);
  return out;
}

/** Messages whose newer term the receiver must adopt (Raft §5.1); vote traffic has exceptions. */
function adoptedTerm(m: RaftMessage): number | undefined {
  if (m.type === 'raft-vote-request') return undefined;
  if (m.type === 'raft-vote-response' && m.preVote && m.granted) return undefined;
  return m.term;
}

/**
 * Between two successive states of one node: the term never decreases and a vote cast in a term
 * never changes (§5.1, §5.2), the commit and applied indexes never go back within a life, and a
 * newer term heard makes the node adopt it.
 */
export function checkTransition(
  before: RaftSnapshot,
  after: RaftState,
  input: RaftInput,
): string[] {
  const out: string[] = [];
  if (after.term < before.term) out.push(`term went back from ${before.term} to ${after.term}`);
  if (after.term === before.term && before.vote !== undefined && after.vote !== before.vote)
    out.push(`vote in term ${after.term} changed from ${before.vote} to ${String(after.vote)}`);
  if (after.commitIndex < before.commitIndex)
    out.push(`commit went back from ${before.commitIndex} to ${after.commitIndex}`);
  if (after.appliedIndex < before.appliedIndex)
    out.push(`applied went back from ${before.appliedIndex} to ${after.appliedIndex}`);
  if (input.kind === 'receive') {
    const heard = adoptedTerm(input.message);
    const admitted = memberAt(after.membership.config, input.message.fromAddress);
    const refused =
      (admitted?.id !== undefined && admitted.id !== input.message.from) ||
      input.message.fromAddress === after.selfAddress ||
      input.message.from === after.selfId;
    if (heard !== undefined && !refused && heard > before.term && after.term < heard)
      out.push(
        `a ${before.role} of term ${before.term} heard ${input.message.type} of term ${heard} and is still at term ${after.term} (Raft §5.1)`,
      );
  }
  if (
    termAt(after.log, after.commitIndex) === undefined &&
    after.commitIndex > after.log.snapshotIndex
  )
    out.push(`commit ${after.commitIndex} is not in the log`);
  return out;
}
