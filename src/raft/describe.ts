/** One line of text for every Raft message, input, effect and record (traces, interaction scripts). */
import { assertNever } from '../base/assert.js';
import { shortId } from '../election/describe.js';
import { decodeConfiguration, describeConfiguration } from './configuration.js';
import type { Entry, RaftRecord } from './log-types.js';
import type { RaftMessage } from './messages.js';
import type { RaftEffect, RaftInput, RequestOutcome } from './types.js';

/** `3@2` per entry (index@term), `c` for a configuration and `-` for a no-op, at most a few. */
export function describeEntries(entries: readonly Entry[]): string {
  if (entries.length === 0) return '[]';
  const shown = entries.slice(0, 6).map((e) => {
    const mark = e.kind === 'config' ? 'c' : e.kind === 'noop' ? '-' : '';
    return `${e.index}@${e.term}${mark}`;
  });
  return `[${shown.join(' ')}${entries.length > 6 ? ` +${entries.length - 6}` : ''}]`;
}

export function describeMessage(m: RaftMessage): string {
  const from = `${shortId(m.from)} t${m.term}`;
  switch (m.type) {
    case 'raft-vote-request':
      return `${m.preVote ? 'pre-vote' : 'vote'}-request from ${from} last=${m.lastIndex}@${m.lastTerm}${m.transfer ? ' transfer' : ''}`;
    case 'raft-vote-response':
      return `${m.preVote ? 'pre-vote' : 'vote'}-${m.granted ? 'granted' : 'refused'} from ${from}`;
    case 'raft-append':
      return `append from ${from} prev=${m.prevIndex}@${m.prevTerm} commit=${m.commit} ${describeEntries(m.entries)}`;
    case 'raft-append-response':
      return m.reject
        ? `append-rejected from ${from} index=${m.index} hint=${m.hintIndex}@${m.hintTerm}`
        : `append-ok from ${from} match=${m.index}`;
    case 'raft-heartbeat':
      return `heartbeat from ${from} commit=${m.commit} seq=${m.readSeq}`;
    case 'raft-heartbeat-response':
      return `heartbeat-ok from ${from} seq=${m.readSeq}`;
    case 'raft-snapshot':
      return `snapshot from ${from} at ${m.meta.index}@${m.meta.term} bytes ${m.offset}+${m.data.length}/${m.totalBytes}`;
    case 'raft-snapshot-response':
      return `snapshot-${m.reject ? 'refused' : 'progress'} from ${from} at ${m.index} offset=${m.offset}`;
    case 'raft-timeout-now':
      return `timeout-now from ${from}`;
    case 'raft-read-index':
      return `read-index from ${from} request=${m.requestId}`;
    case 'raft-read-index-response':
      return `read-index-${m.ok ? 'ok' : 'failed'} from ${from} request=${m.requestId} index=${m.index}`;
    default:
      return assertNever(m, 'raft message');
  }
}

function describeOutcome(outcome: RequestOutcome): string {
  if (outcome.ok) return `ok at ${outcome.index}@${outcome.term}`;
  const hint = outcome.leader === undefined ? '' : ` (leader ${shortId(outcome.leader.id)})`;
  return `${outcome.reason}${hint}: ${outcome.detail}`;
}

export function describeInput(input: RaftInput): string {
  switch (input.kind) {
    case 'tick':
      return `tick at ${input.now}`;
    case 'persisted':
      return `persisted ${input.records.map(describeRecord).join(', ')}`;
    case 'receive':
      return `receive ${describeMessage(input.message)}`;
    case 'propose':
      return `propose ${input.data.length} bytes${input.requestId === undefined ? '' : ` request=${input.requestId}`}`;
    case 'propose-batch':
      return `propose-batch ${input.proposals.length} proposals, ${input.proposals.reduce((n, p) => n + p.data.length, 0)} bytes`;
    case 'read-index':
      return `read-index request=${input.requestId}${input.serializable === true ? ' serializable' : ''}`;
    case 'transfer-leader':
      return `transfer-leader to ${shortId(input.to)}`;
    case 'change-config': {
      const c = input.change;
      const what = c.op === 'add' ? `add ${c.address} as ${c.as}` : `${c.op} ${shortId(c.id)}`;
      return `change-config ${what}${input.requestId === undefined ? '' : ` request=${input.requestId}`}`;
    }
    case 'snapshot-taken':
      return `snapshot-taken at ${input.index} (${input.data.length} bytes)`;
    case 'peer-refused':
      return `peer-refused ${input.address} at ${input.now}`;
    default:
      return assertNever(input, 'raft input');
  }
}

export function describeEffect(effect: RaftEffect): string {
  switch (effect.kind) {
    case 'send':
      return `send to ${effect.to} ${describeMessage(effect.message)}`;
    case 'apply':
      return `apply ${describeEntries(effect.entries)}`;
    case 'restore-snapshot':
      return `restore-snapshot at ${effect.meta.index}@${effect.meta.term} (${effect.data.length} bytes)`;
    case 'take-snapshot':
      return `take-snapshot at ${effect.index}`;
    case 'propose-result':
      return `propose-result request=${effect.requestId} ${describeOutcome(effect.outcome)}`;
    case 'config-result':
      return `config-result request=${effect.requestId} ${describeOutcome(effect.outcome)}`;
    case 'read-ready':
      return `read-ready request=${effect.requestId} index=${effect.index}`;
    case 'read-failed':
      return `read-failed request=${effect.requestId} ${effect.reason}`;
    case 'transfer-failed':
      return `transfer-failed to ${shortId(effect.to)} ${effect.reason}: ${effect.detail}`;
    case 'leader':
      return `${effect.role} t${effect.term} leader=${effect.leader === undefined ? '-' : shortId(effect.leader.id)}`;
    case 'rejected':
      return `rejected: ${effect.detail}`;
    default:
      return assertNever(effect, 'raft effect');
  }
}

export function describeRecord(record: RaftRecord): string {
  switch (record.kind) {
    case 'hard-state': {
      const h = record.hardState;
      return `hard-state term=${h.term} vote=${h.vote === undefined ? '-' : shortId(h.vote)} commit=${h.commit}`;
    }
    case 'entries':
      return `entries ${describeEntries(record.entries)}`;
    case 'snapshot':
      return `snapshot${record.install === true ? ' (install)' : ''} at ${record.meta.index}@${record.meta.term} config {${describeConfiguration(decodeConfiguration(record.meta.config))}} (${record.data.length} bytes)`;
    default:
      return assertNever(record, 'raft record');
  }
}
