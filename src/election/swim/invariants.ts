/**
 * `swim` leader invariants, per node, checked after every step in tests and the simulator.
 * Cluster-wide ones (a shared view names one leader; none in a minority with requireQuorum)
 * are the simulator's checkers (sim/scenarios/election-checkers.ts).
 */
import type { Term } from '../../base/units.js';
import type { SwimLeaderState } from './types.js';

export function checkInvariants(state: SwimLeaderState): string[] {
  const out: string[] = [];
  if (state.claim !== undefined && state.claim > state.highestTermSeen)
    out.push(`claim ${state.claim} above the highest term seen ${state.highestTermSeen}`);
  if (state.reportedTerm > state.highestTermSeen)
    out.push(
      `reported term ${state.reportedTerm} above the highest term seen ${state.highestTermSeen}`,
    );
  if (state.persistedTerm !== state.highestTermSeen)
    out.push(
      `highest term seen ${state.highestTermSeen} is not being persisted (${state.persistedTerm})`,
    );
  if (state.persistedStableSize !== state.stableSize)
    out.push(
      `stable size ${state.stableSize} is not being persisted (${state.persistedStableSize})`,
    );
  if (state.leader !== undefined && state.leader.term !== state.reportedTerm)
    out.push(`leader term ${state.leader.term} is not the reported term ${state.reportedTerm}`);
  if (state.claim !== undefined && state.leader?.id !== state.selfId)
    out.push(`claims t${state.claim} but reports ${state.leader?.id ?? 'no leader'}`);
  return out;
}

export function checkTransition(
  before: { highestTermSeen: Term; reportedTerm: Term },
  after: SwimLeaderState,
): string[] {
  const out: string[] = [];
  if (after.highestTermSeen < before.highestTermSeen)
    out.push(
      `highest term seen went back from ${before.highestTermSeen} to ${after.highestTermSeen}`,
    );
  if (after.reportedTerm < before.reportedTerm)
    out.push(`reported term went back from ${before.reportedTerm} to ${after.reportedTerm}`);
  return out;
}
