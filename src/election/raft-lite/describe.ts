/** One line of text for every raft-lite input, effect and record (traces, debug logs). */
import { assertNever } from '../../base/assert.js';
import { describeElectionMessage, shortId } from '../describe.js';
import type { Effect, Input, RaftLiteRecord } from './types.js';

export function describeInput(input: Input): string {
  switch (input.kind) {
    case 'tick':
      return `@${input.now} tick`;
    case 'persisted':
      return `@${input.now} persisted ${input.records.map(describeRecord).join(', ')}`;
    case 'receive':
      return `@${input.now} recv from ${input.from}: ${describeElectionMessage(input.message)}`;
    case 'join':
      return `@${input.now} join ${input.address}`;
    case 'broadcast':
      return `@${input.now} broadcast (${input.payload.length} chars)`;
    default:
      return assertNever(input, 'raft-lite input');
  }
}

export function describeEffect(effect: Effect): string {
  switch (effect.kind) {
    case 'send':
      return `send to ${effect.to}: ${describeElectionMessage(effect.message)}`;
    case 'leader':
      return `leader ${effect.leader === undefined ? 'none' : shortId(effect.leader)} t${effect.term}${effect.self ? ' (self)' : ''}`;
    case 'term':
      return `term ${effect.oldTerm} -> ${effect.newTerm}`;
    case 'peer-joined':
      return `peer-joined ${effect.address}`;
    case 'peer-left':
      return `peer-left ${effect.address}`;
    case 'delivered':
      return `delivered from ${shortId(effect.from)} (${effect.payload.length} chars)`;
    case 'rejected':
      return `rejected ${effect.input}: ${effect.detail}`;
    default:
      return assertNever(effect, 'raft-lite effect');
  }
}

export function describeRecord(record: RaftLiteRecord): string {
  const config =
    record.config === undefined
      ? ''
      : ` config=${record.config.term}.${record.config.version}(${record.config.peers.length})`;
  return `term=${record.term} votedFor=${record.votedFor === undefined ? '-' : shortId(record.votedFor)}${config}${record.joining === true ? ' joining' : ''}`;
}
