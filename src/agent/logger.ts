/**
 * The agent's structured log: pino JSON lines on stderr, each carrying the node's name and id,
 * so lines from many agents can be merged and still be told apart. Writes are synchronous:
 * the last lines before an exit (leave, shutdown) must not be lost in a buffer.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { reportDue, type ReportLog } from '../base/report-limit.js';
import type { JoinEvent, LeaderEvent, MemberEvent, SecurityEvent } from '../node/events.js';
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

/**
 * Logs member and leader events at info, join outcomes (failures at warn, rate-limited) and
 * security events at warn; returns a function that stops logging them.
 */
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
  const onJoin = joinLogger(node, log);
  const onSecurity = securityLogger(log);
  node.on('member', onMember);
  node.on('leader', onLeader);
  node.on('join', onJoin);
  node.on('security', onSecurity);
  return () => {
    node.off('member', onMember as (e: never) => void);
    node.off('leader', onLeader as (e: never) => void);
    node.off('join', onJoin as (e: never) => void);
    node.off('security', onSecurity as (e: never) => void);
  };
}

/** A join failure (same reason and detail) is logged at most once per this interval (the rest are counted). */
export const JOIN_FAILURE_LOG_INTERVAL_MS = 60_000;
/** Distinct failures remembered by the rate limit; beyond, it starts over (a few more lines, never more memory). */
export const JOIN_FAILURES_TRACKED_MAX = 64;

/**
 * Logs join outcomes: a success at info, a failure at warn with its reason and detail, at most
 * once per distinct failure per `intervalMs` (seed retries fail every few seconds while a seed is down;
 * the next line says how many were not logged). While the node is not joined the line says so:
 * it reports no leader until a seed or member answers.
 */
export function joinLogger(
  node: Pick<AgentNode, 'joinStatus'>,
  log: Logger,
  intervalMs = JOIN_FAILURE_LOG_INTERVAL_MS,
  nowMs: () => number = Date.now,
): (event: JoinEvent) => void {
  const reports = new Map<string, ReportLog>();
  return (e) => {
    const fields = { event: 'join', by: e.by, addresses: e.addresses };
    if (e.ok) {
      log.info(
        { ...fields, contacted: e.contacted },
        `joined through ${e.contacted ?? 0} of ${e.addresses.length} addresses`,
      );
      return;
    }
    const reason = e.reason ?? 'unreachable';
    // One line per distinct failure (reason and detail): a new reason or detail is news.
    const key = `${reason} ${e.detail ?? ''}`;
    if (reports.size >= JOIN_FAILURES_TRACKED_MAX && !reports.has(key)) reports.clear();
    const suppressed = reportDue(reports, key, nowMs(), intervalMs);
    if (suppressed === undefined) return;
    const status = node.joinStatus();
    const tail = status.joined ? '' : '; not joined: no leader until a seed or member answers';
    log.warn(
      { ...fields, reason, detail: e.detail, joined: status.joined },
      `join through ${e.addresses.join(', ')} failed (${reason}): ${e.detail ?? ''}${tail}${notLogged(suppressed)}`,
    );
  };
}

function notLogged(suppressed: number): string {
  return suppressed > 0 ? ` (${suppressed} more like it not logged)` : '';
}

/**
 * Logs a `security` event at warn: a refused forgery, a member the admission policy refuses,
 * another process with this node's identity, this node refused at join (docs/security.md). The
 * node already rate-limits them per reason (`securityLogIntervalMs`), so every event is a line;
 * `suppressed` says how many of that reason were counted but not reported since the last.
 */
export function securityLogger(log: Logger): (event: SecurityEvent) => void {
  return (e) => {
    log.warn(
      { event: 'security', reason: e.reason, detail: e.detail, suppressed: e.suppressed },
      `security: refused (${e.reason}): ${e.detail}${notLogged(e.suppressed)}`,
    );
  };
}
