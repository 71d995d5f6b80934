/**
 * The agent's structured log: pino JSON lines on stderr, each carrying the node's name and id,
 * so lines from many agents can be merged and still be told apart. Writes are synchronous:
 * the last lines before an exit (leave, shutdown) must not be lost in a buffer.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LeaderEvent, MemberEvent } from '../node/events.js';
import type { AgentNode } from './agent-node.js';
import type { AgentConfig } from './config.js';

export function createAgentLogger(
  level: AgentConfig['logLevel'],
  node: { name: string; id: string },
  destination?: DestinationStream,
): Logger {
  return pino(
    { level, base: { name: node.name, id: node.id }, timestamp: pino.stdTimeFunctions.isoTime },
    destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

/** Logs member and leader events at info; returns a function that stops logging them. */
export function logNodeEvents(node: AgentNode, log: Logger): () => void {
  const onMember = (e: MemberEvent): void => {
    const { id, name, address, state, incarnation } = e.member;
    log.info(
      { event: e.type, member: { id, name, address, state, incarnation } },
      `member ${name} ${e.type}`,
    );
  };
  const onLeader = (e: LeaderEvent): void => {
    log.info(
      { event: 'leader', leader: e.leader ?? null, term: e.term },
      `leader ${e.leader ?? 'none'} (term ${e.term})`,
    );
  };
  node.on('member', onMember);
  node.on('leader', onLeader);
  return () => {
    node.off('member', onMember as (e: never) => void);
    node.off('leader', onLeader as (e: never) => void);
  };
}
