/** One line of text for every liveness input and effect (traces, debug logs). */
import { assertNever } from '../../../base/assert.js';
import type { CoreInput } from '../../../base/protocol.js';
import type { LivenessEffect, LivenessTypes } from './types.js';

const short = (id: string): string => id.slice(0, 8);

export function describeInput(input: CoreInput<LivenessTypes>): string {
  switch (input.kind) {
    case 'tick':
      return `@${input.now} tick`;
    case 'persisted':
      return `@${input.now} persisted`;
    case 'records':
      return `@${input.now} records ${input.changes
        .map((c) => `${short(c.id)}=${'removed' in c ? 'removed' : c.status}@${c.modRevision}`)
        .join(' ')}`;
    case 'lead':
      return `@${input.now} lead t${input.term}`;
    case 'unlead':
      return `@${input.now} unlead`;
    case 'heartbeat':
      return `@${input.now} heartbeat ${short(input.id)} #${input.requestId}`;
    case 'marked':
      return `@${input.now} marked ${short(input.id)} ${input.applied ? 'applied' : 'refused'}`;
    default:
      return assertNever(input, 'liveness input');
  }
}

export function describeEffect(effect: LivenessEffect): string {
  switch (effect.kind) {
    case 'reply':
      return `reply #${effect.requestId} ${short(effect.id)} ${
        effect.outcome.kind === 'ok' ? `ttl ${effect.outcome.ttlMs} ms` : effect.outcome.reason
      }`;
    case 'mark':
      return `mark ${short(effect.id)} ${effect.status} if @${effect.expectRevision}: ${effect.reason}`;
    default:
      return assertNever(effect, 'liveness effect');
  }
}
