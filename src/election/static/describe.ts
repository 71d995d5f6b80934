/** One line of text for every `static` input, effect and record (traces, debug logs). */
import { assertNever } from '../../base/assert.js';
import { describeElectionMessage, shortId } from '../describe.js';
import type { StaticEffect, StaticInput, StaticRecord } from './types.js';

export function describeInput(input: StaticInput): string {
  switch (input.kind) {
    case 'tick':
      return `@${input.now} tick`;
    case 'persisted':
      return `@${input.now} persisted ${input.records.map(describeRecord).join(', ')}`;
    case 'receive':
      return `@${input.now} recv ${describeElectionMessage(input.message)}`;
    default:
      return assertNever(input, 'static input');
  }
}

export function describeEffect(effect: StaticEffect): string {
  switch (effect.kind) {
    case 'send':
      return `send to ${effect.to}: ${describeElectionMessage(effect.message)}`;
    case 'leader':
      return `leader ${effect.leader === undefined ? 'none' : shortId(effect.leader)} t${effect.term}`;
    case 'member':
      return `member ${effect.type} ${shortId(effect.id)} at ${effect.address}`;
    default:
      return assertNever(effect, 'static effect');
  }
}

export function describeRecord(record: StaticRecord): string {
  return `term=${record.term}`;
}
