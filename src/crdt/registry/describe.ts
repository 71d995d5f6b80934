/** One line of text per input, effect and message of the registry core (traces, tests). */
import { assertNever } from '../../base/assert.js';
import type { CoreInput } from '../../base/protocol.js';
import { describeHlc } from '../hlc.js';
import type { Delta, RegistryEffect, RegistryMessage, RegistryTypes } from './types.js';

const short = (id: string): string => id.slice(0, 8);

function describeDelta(d: Delta): string {
  return `${short(d.owner)}@${describeHlc(d.epoch)} (${d.fromSeq},${d.toSeq}] +${d.upserts.length} -${d.removals.length}`;
}

export function describeMessage(msg: RegistryMessage): string {
  switch (msg.type) {
    case 'data-gossip':
      return `data-gossip from ${short(msg.from)}: ${msg.deltas.map(describeDelta).join(', ') || 'no deltas'}`;
    case 'data-digest':
      return `data-digest${msg.reply ? ' reply' : ''} from ${short(msg.from)} ${msg.digest}`;
    case 'data-summary':
      return `data-summary${msg.partial ? ' partial' : ''} from ${short(msg.from)}: ${msg.entries.length} owners`;
    case 'data-state':
      return `data-state${msg.reply ? ' reply' : ''} from ${short(msg.from)}: ${msg.partitions.length} partitions, ${msg.tombstones.length} tombstones, wants ${msg.want.length}`;
    default:
      return assertNever(msg, 'registry message');
  }
}

export function describeInput(input: CoreInput<RegistryTypes>): string {
  switch (input.kind) {
    case 'tick':
      return `tick at ${input.now}`;
    case 'persisted':
      return `persisted ${input.records.length} records`;
    case 'local': {
      const w = input.write;
      const what =
        w.op === 'advertise-service'
          ? `service ${w.name}`
          : w.op === 'advertise-process'
            ? `process ${w.pid}`
            : `${w.table} ${w.key}`;
      return `local ${w.op} ${what}`;
    }
    case 'view':
      return `view of ${input.members.length} members`;
    case 'members':
      return `view changes: ${input.members.map((m) => `${short(m.id)} ${m.state}`).join(', ') || 'none'}${input.removed.length > 0 ? `; removed ${input.removed.map(short).join(', ')}` : ''}`;
    case 'receive':
      return `receive from ${input.from}: ${describeMessage(input.message)}`;
    case 'deltas':
      return `piggybacked deltas from ${input.from}: ${input.deltas.map(describeDelta).join(', ') || 'none'}`;
    default:
      return assertNever(input, 'registry input');
  }
}

export function describeEffect(effect: RegistryEffect): string {
  switch (effect.kind) {
    case 'send':
      return `send ${effect.channel} to ${effect.to}: ${describeMessage(effect.message)}`;
    case 'changed':
      return `changed ${effect.table} ${effect.key} on ${short(effect.node)}: ${effect.after === undefined ? 'gone' : effect.before === undefined ? 'new' : 'updated'}`;
    case 'piggyback':
      return `piggyback ${effect.deltas} deltas in ${effect.payload.length} bytes`;
    default:
      return assertNever(effect, 'registry effect');
  }
}

export function describeRecord(record: never): string {
  return assertNever(record, 'registry record');
}
