/** One line of text for every `swim` leader input, effect and record (traces, debug logs). */
import { assertNever } from '../../base/assert.js';
import { shortId } from '../describe.js';
import type { SwimLeaderEffect, SwimLeaderInput, SwimLeaderRecord } from './types.js';

const termText = (term: number | undefined): string => (term === undefined ? '-' : `t${term}`);

export function describeInput(input: SwimLeaderInput): string {
  switch (input.kind) {
    case 'tick':
      return `@${input.now} tick`;
    case 'persisted':
      return `@${input.now} persisted ${input.records.map(describeRecord).join(', ')}`;
    case 'view-changed':
      return `@${input.now} view ${input.viewKey}: ${input.view.size} live, ${input.view.labelled.length} labelled`;
    case 'lease-ack':
      return `@${input.now} lease-ack from ${shortId(input.id)}`;
    default:
      return assertNever(input, 'swim leader input');
  }
}

export function describeEffect(effect: SwimLeaderEffect): string {
  switch (effect.kind) {
    case 'publish-claim':
      return `publish claim=${termText(effect.claim)} seen=${termText(effect.contested)}`;
    case 'leader':
      return `leader ${effect.leader === undefined ? 'none' : shortId(effect.leader.id)} t${effect.term}`;
    case 'lease-round':
      return 'lease-round';
    default:
      return assertNever(effect, 'swim leader effect');
  }
}

export function describeRecord(record: SwimLeaderRecord): string {
  return `term=${record.term} stableSize=${record.stableSize}`;
}
