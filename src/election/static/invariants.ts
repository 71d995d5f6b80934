/**
 * `static` invariants, checked after every step in tests and the simulator. Cluster-wide ones
 * (nodes sharing a majority view name one leader; none in a minority) are the simulator's
 * checkers (sim/scenarios/election-checkers.ts); these are per node.
 */
import { majorityOf } from '../quorum.js';
import { healthyIds } from './step.js';
import type { StaticState } from './types.js';
import type { Term } from '../../base/units.js';

export function checkInvariants(state: StaticState): string[] {
  const out: string[] = [];
  if (!Number.isSafeInteger(state.term) || state.term < 0)
    out.push(`term ${state.term} is not a non-negative safe integer`);
  if (!state.peers.includes(state.selfAddress)) out.push('self is not among the peers');
  const addresses = new Set<string>();
  for (const [id, record] of state.heard) {
    if (id === state.selfId) out.push('self is tracked as a peer');
    if (!state.peers.includes(record.address))
      out.push(`${id} is tracked at ${record.address}, not a configured peer`);
    if (addresses.has(record.address)) out.push(`two NodeIds tracked at ${record.address}`);
    addresses.add(record.address);
  }
  const healthy = healthyIds(state);
  if (state.leader !== undefined && !healthy.includes(state.leader))
    out.push(`leader ${state.leader} is not healthy`);
  if (state.leader !== undefined && state.leader !== healthy[0])
    out.push(`leader ${state.leader} is not the lowest healthy NodeId ${healthy[0]}`);
  if (
    state.config.requireQuorum &&
    state.leader !== undefined &&
    healthy.length < majorityOf(state.peers.length)
  ) {
    out.push(
      `a leader with ${healthy.length} of ${state.peers.length} peers healthy, below a majority`,
    );
  }
  return out;
}

export function checkTransition(before: { term: Term }, after: StaticState): string[] {
  return after.term < before.term ? [`term went back from ${before.term} to ${after.term}`] : [];
}
