/**
 * One-line text for every input, message, update and effect of the membership core, for traces
 * and golden interaction scripts. Ids are shortened to their first 8 hex characters.
 */
import { assertNever } from '../base/assert.js';
import type { Message, Update } from './messages.js';
import type { Effect, Input, MembershipRecord } from './types.js';

const short = (id: string): string => id.slice(0, 8);

export function describeUpdate(update: Update): string {
  switch (update.kind) {
    case 'alive':
      return `alive(${short(update.id)}@${update.incarnation})`;
    case 'suspect':
      return `suspect(${short(update.id)}@${update.incarnation} by ${short(update.from)})`;
    case 'dead':
      return `dead(${short(update.id)}@${update.incarnation} by ${short(update.from)})`;
    case 'left':
      return `left(${short(update.id)}@${update.incarnation})`;
    default:
      return assertNever(update, 'update');
  }
}

function updatesText(updates: readonly Update[]): string {
  return updates.length === 0 ? '' : ` [${updates.map(describeUpdate).join(' ')}]`;
}

export function describeMessage(message: Message): string {
  switch (message.type) {
    case 'ping':
      return `ping#${message.seq} ${short(message.from)}->${short(message.target)}${updatesText(message.updates)}`;
    case 'ack':
      return `ack#${message.seq} from ${short(message.from)}${updatesText(message.updates)}`;
    case 'nack':
      return `nack#${message.seq} from ${short(message.from)}`;
    case 'ping-req':
      return `ping-req#${message.seq} ${short(message.from)} asks to probe ${short(message.target)}${updatesText(message.updates)}`;
    case 'gossip':
      return `gossip from ${short(message.from)}${updatesText(message.updates)}`;
    case 'push-pull':
      return `push-pull from ${short(message.from)}${message.join ? ' join' : ''}${message.reply ? ' want-reply' : ''} ${message.members.length} members`;
    case 'push-pull-digest':
      return `push-pull-digest from ${short(message.from)}${message.reply ? ' want-reply' : ''} view ${message.viewDigest} config ${message.configDigest}`;
    case 'reject':
      return `reject from ${short(message.from)}: ${message.reason} (${message.detail})`;
    default:
      return assertNever(message, 'message');
  }
}

export function describeInput(input: Input): string {
  const at = `@${input.now}`;
  switch (input.kind) {
    case 'start':
      return `${at} start seeds=[${input.seeds.join(',')}]`;
    case 'tick':
      return `${at} tick`;
    case 'persisted':
      return `${at} persisted ${input.records.map(describeRecord).join(', ')}`;
    case 'receive':
      return `${at} recv ${input.channel} from ${input.from}: ${describeMessage(input.message)}`;
    case 'join':
      return `${at} join [${input.addresses.join(',')}]`;
    case 'leave':
      return `${at} leave`;
    case 'update-labels':
      return `${at} update-labels ${JSON.stringify(input.labels)}`;
    case 'loop-delay':
      return `${at} loop-delay ${input.delayMs}ms`;
    case 'send-failed':
      return `${at} send-failed ${input.channel} to ${input.to}`;
    case 'refused':
      return `${at} refused by ${input.from}: ${input.reason} (${input.detail})`;
    case 'lease-round':
      return `${at} lease-round`;
    default:
      return assertNever(input, 'input');
  }
}

export function describeRecord(record: MembershipRecord): string {
  return `incarnation ${record.incarnation}`;
}

export function describeEffect(effect: Effect): string {
  switch (effect.kind) {
    case 'send':
      return `send ${effect.channel} to ${effect.to}: ${describeMessage(effect.message)}`;
    case 'emit':
      return effect.event.type === 'epoch'
        ? `emit epoch ${effect.event.epoch}`
        : `emit ${effect.event.type} ${short(effect.event.member.id)}@${effect.event.member.incarnation}`;
    case 'join-result':
      return effect.ok
        ? `join ok (${effect.contacted} members)`
        : `join failed: ${effect.reason} (${effect.detail})`;
    case 'left-done':
      return 'left-done';
    case 'lease-ack':
      return `lease-ack from ${short(effect.id)} (ping of ${effect.sentAtMs})`;
    case 'rejected':
      return `rejected ${effect.input}: ${effect.detail}`;
    case 'security':
      return `security ${effect.reason}: ${effect.detail}${effect.suppressed > 0 ? ` (${effect.suppressed} more suppressed)` : ''}`;
    default:
      return assertNever(effect, 'effect');
  }
}
