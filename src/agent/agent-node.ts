/**
 * What the agent's HTTP server needs from a node: a structural slice of `ShoalNode`, so the
 * server can be tested against a scripted node (e.g. one that emits thousands of events to
 * overflow a slow SSE client) and reused by `shoal demo` for in-process nodes.
 */
import type { ShoalNode } from '../node/node.js';

/**
 * `kvService` and `raft`: a raft member's replicated store; `workers`: a worker-server's tier
 * (absent on other nodes and fakes).
 */
export type AgentNode = Partial<Pick<ShoalNode, 'kvService' | 'workers'>> &
  Pick<
    ShoalNode,
    | 'id'
    | 'name'
    | 'address'
    | 'mode'
    | 'epoch'
    | 'members'
    | 'leader'
    | 'on'
    | 'off'
    | 'join'
    | 'joinStatus'
    | 'leave'
    | 'stats'
    | 'services'
    | 'processes'
    | 'placement'
    | 'chain'
    | 'trees'
  >;
