/** One line of text for every worker-client input and effect (traces, debug logs). */
import { assertNever } from '../../../base/assert.js';
import type { CoreInput } from '../../../base/protocol.js';
import type { CallRequest, ClientEffect, ClientTypes } from './types.js';

function describeRequest(request: CallRequest): string {
  return request.kind === 'assignments'
    ? `${request.mode} from r${request.fromRevision}${request.snapshot ? ' +snapshot' : ''}`
    : request.kind;
}

export function describeInput(input: CoreInput<ClientTypes>): string {
  const at = `@${input.now}`;
  switch (input.kind) {
    case 'tick':
      return `${at} tick`;
    case 'persisted':
      return `${at} persisted`;
    case 'registered':
      return `${at} #${input.callId} registered, renew at ${input.renewAtMs}`;
    case 'renewed':
      return `${at} #${input.callId} renewed, next at ${input.renewAtMs}`;
    case 'heartbeat-ok':
      return `${at} #${input.callId} heartbeat ok, ttl ${input.ttlMs} ms`;
    case 'assignments': {
      const snap = input.snapshot === undefined ? '' : ` snapshot r${input.snapshot.revision}`;
      const revs = input.batches.map((b) => `r${b.revision}`).join(',');
      return `${at} #${input.callId} assignments${snap} [${revs}]${input.end ? ' end' : ''}`;
    }
    case 'failed':
      return `${at} #${input.callId} failed ${input.failure.kind}${
        input.failure.kind === 'refused' ? `: ${input.failure.reason}` : ''
      }`;
    case 'stop':
      return `${at} stop`;
    default:
      return assertNever(input, 'worker client input');
  }
}

export function describeEffect(effect: ClientEffect): string {
  switch (effect.kind) {
    case 'call':
      return `call #${effect.callId} ${effect.server} ${describeRequest(effect.request)}`;
    case 'cancel':
      return `cancel #${effect.callId}`;
    case 'deliver':
      return `deliver r${effect.batch.revision} (${effect.batch.events.length} events)`;
    case 'deliver-snapshot':
      return `deliver snapshot r${effect.snapshot.revision} (${effect.snapshot.assignments.length} assignments)`;
    case 'report-status':
      return `report status to ${effect.server}`;
    case 'stopped':
      return `stopped: ${effect.reason}`;
    default:
      return assertNever(effect, 'worker client effect');
  }
}
