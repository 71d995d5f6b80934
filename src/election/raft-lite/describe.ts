/** One line of text for every raft-lite input and effect (traces, debug logs). */
import { assertNever } from '../../base/assert.js';
import type { ElectionMessage } from '../../codec/messages.js';
import type { Effect, Input } from './types.js';

const short = (id: string): string => id.slice(0, 6);

export function describeElectionMessage(m: ElectionMessage): string {
  switch (m.type) {
    case 'heartbeat': return `heartbeat from ${short(m.from)} t${m.term}`;
    case 'vote-request': return `${m.preVote ? 'pre-vote' : 'vote'}-request from ${short(m.from)} t${m.term}`;
    case 'vote-response': return `${m.preVote ? 'pre-vote' : 'vote'}-${m.granted ? 'granted' : 'refused'} from ${short(m.from)} t${m.term}`;
    case 'leader-heartbeat': return `leader-heartbeat from ${short(m.from)} t${m.term} peers=${m.peers.length}`;
    case 'heartbeat-ack': return `heartbeat-ack from ${short(m.from)} t${m.term}`;
    case 'join-cluster': return `join-cluster from ${short(m.from)} at ${m.fromAddress}`;
    case 'peer-broadcast': return `broadcast from ${short(m.from)} (${m.payload.length} chars)`;
    default: return assertNever(m, 'election message');
  }
}

export function describeInput(input: Input): string {
  switch (input.kind) {
    case 'tick': return `@${input.now} tick`;
    case 'receive': return `@${input.now} recv from ${input.from}: ${describeElectionMessage(input.message)}`;
    case 'join': return `@${input.now} join ${input.address}`;
    case 'broadcast': return `@${input.now} broadcast (${input.payload.length} chars)`;
    default: return assertNever(input, 'raft-lite input');
  }
}

export function describeEffect(effect: Effect): string {
  switch (effect.kind) {
    case 'persist': return `persist term=${effect.term} votedFor=${effect.votedFor === undefined ? '-' : short(effect.votedFor)}`;
    case 'send': return `send to ${effect.to}: ${describeElectionMessage(effect.message)}`;
    case 'leader': return `leader ${effect.leader === undefined ? 'none' : short(effect.leader)} t${effect.term}${effect.self ? ' (self)' : ''}`;
    case 'term': return `term ${effect.oldTerm} -> ${effect.newTerm}`;
    case 'peer-joined': return `peer-joined ${effect.address}`;
    case 'peer-left': return `peer-left ${effect.address}`;
    case 'delivered': return `delivered from ${short(effect.from)} (${effect.payload.length} chars)`;
    case 'rejected': return `rejected ${effect.input}: ${effect.detail}`;
    default: return assertNever(effect, 'raft-lite effect');
  }
}
