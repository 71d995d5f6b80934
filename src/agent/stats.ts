/**
 * `GET /v1/stats`: the node's counters as JSON (the dashboard's traffic charts diff successive
 * snapshots by `timeMs`). The same numbers feed `/metrics` (metrics.ts); both read
 * `node.stats()` at request time, so nothing is copied or cached between requests.
 */
import type { Member } from '../node/node.js';
import type { AgentNode } from './agent-node.js';
import type { SseCounters } from './sse.js';

export const MEMBER_STATES: readonly Member['state'][] = [
  'joining',
  'alive',
  'suspect',
  'dead',
  'left',
];

/** Member counts for every state (zeros included, so charts and metrics keep their series). */
export function membersByState(members: readonly Member[]): Record<Member['state'], number> {
  const counts = Object.fromEntries(MEMBER_STATES.map((s) => [s, 0])) as Record<
    Member['state'],
    number
  >;
  for (const member of members) counts[member.state]++;
  return counts;
}

export interface AgentStats {
  id: string;
  name: string;
  mode: string;
  epoch: number;
  /** Wall-clock time of the snapshot, for rate computations. */
  timeMs: number;
  members: Record<Member['state'], number>;
  protocol: Record<string, number>;
  decodeErrors: Record<string, number>;
  transport: ReturnType<AgentNode['stats']>['transport'] | null;
  sse: SseCounters;
}

export function agentStats(node: AgentNode, sse: SseCounters): AgentStats {
  const stats = node.stats();
  return {
    id: node.id,
    name: node.name,
    mode: node.mode.kind,
    epoch: node.epoch,
    timeMs: Date.now(),
    members: membersByState(node.members()),
    protocol: stats.protocol,
    decodeErrors: stats.decodeErrors,
    transport: stats.transport ?? null,
    sse,
  };
}
