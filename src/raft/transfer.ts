/**
 * Leadership transfer (thesis §3.10). The leader stops taking proposals, brings the target's log
 * up to date, then sends it TimeoutNow; the target starts an election at once, without PreVote,
 * and voters set their lease aside for it (`transfer` in the vote request), so it wins unless it
 * is cut off. A transfer not done within transferTimeoutMsFor(config) is abandoned and
 * proposals are taken again; its success shows as the leader stepping down to the new term.
 */
import { addMs } from '../base/time.js';
import type { NodeId } from '../identity/node-id.js';
import { transferTimeoutMsFor } from './config.js';
import { isVoterAt, memberAt } from './configuration.js';
import { lastIndex } from './log.js';
import type { Progress } from './progress.js';
import { addressOf, sendAppends } from './replication.js';
import { header, send, type Turn } from './turn.js';
import type { RequestFailure } from './types.js';

function refuse(turn: Turn, to: NodeId, reason: RequestFailure, detail: string): void {
  turn.state.counters.transfersAborted++;
  turn.out.effects.push({ kind: 'transfer-failed', to, reason, detail });
}

export function onTransferLeader(turn: Turn, to: NodeId): void {
  const { state } = turn;
  const leader = state.leaderState;
  if (leader === undefined)
    return refuse(
      turn,
      to,
      state.leader === undefined ? 'no-leader' : 'not-leader',
      'only the leader transfers leadership',
    );
  if (to === state.selfId) return refuse(turn, to, 'invalid', 'this node is already the leader');
  const address = addressOf(state, to);
  const member = address === undefined ? undefined : memberAt(state.membership.config, address);
  if (address === undefined || member === undefined || !isVoterAt(state.membership.config, address))
    return refuse(turn, to, 'invalid', `${to} is not a voter of the configuration`);
  if (leader.transfer?.to === to) return;
  if (leader.transfer !== undefined)
    refuse(turn, leader.transfer.to, 'dropped', `replaced by a transfer to ${to}`);
  leader.transfer = { to, deadlineMs: addMs(turn.now, transferTimeoutMsFor(state.config)) };
  state.counters.transfersStarted++;
  const pr = leader.progress.get(to);
  if (pr === undefined) return;
  if (!maybeSendTimeoutNow(turn, to, pr)) sendAppends(turn, to, pr, true);
}

/** The transfer's target has the whole log: tell it to campaign now. */
export function maybeSendTimeoutNow(turn: Turn, id: NodeId, pr: Progress): boolean {
  const { state } = turn;
  const leader = state.leaderState;
  const address = addressOf(state, id);
  if (leader?.transfer?.to !== id || address === undefined) return false;
  if (pr.match !== lastIndex(state.log)) return false;
  leader.leaseDisabled = true;
  send(turn, address, { type: 'raft-timeout-now', ...header(state) });
  return true;
}

/** Tick: a transfer past its deadline is abandoned. */
export function checkTransfer(turn: Turn): void {
  const leader = turn.state.leaderState;
  const transfer = leader?.transfer;
  if (leader === undefined || transfer === undefined || turn.now < transfer.deadlineMs) return;
  leader.transfer = undefined;
  refuse(
    turn,
    transfer.to,
    'timeout',
    `no new leader within ${transferTimeoutMsFor(turn.state.config)} ms`,
  );
}
