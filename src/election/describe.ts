/** One line of text for every election message (traces, debug logs); shared by static and raft-lite. */
import { assertNever } from '../base/assert.js';
import type { ElectionMessage } from './messages.js';

/** The first six hex digits of a NodeId: enough to tell members apart in a trace. */
export const shortId = (id: string): string => id.slice(0, 6);

export function describeElectionMessage(m: ElectionMessage): string {
  switch (m.type) {
    case 'heartbeat':
      return `heartbeat from ${shortId(m.from)} t${m.term}`;
    case 'vote-request':
      return `${m.preVote ? 'pre-vote' : 'vote'}-request from ${shortId(m.from)} t${m.term} config=${m.configTerm}.${m.configVersion}`;
    case 'vote-response':
      return `${m.preVote ? 'pre-vote' : 'vote'}-${m.granted ? 'granted' : 'refused'} from ${shortId(m.from)} t${m.term}`;
    case 'leader-heartbeat':
      return `leader-heartbeat from ${shortId(m.from)} t${m.term} config=${m.configTerm}.${m.configVersion} peers=${m.peers.length}`;
    case 'heartbeat-ack':
      return `heartbeat-ack from ${shortId(m.from)} t${m.term} config=${m.configTerm}.${m.configVersion}`;
    case 'join-cluster':
      return `join-cluster from ${shortId(m.from)} at ${m.fromAddress} config=${m.configVersion}`;
    case 'peer-broadcast':
      return `broadcast from ${shortId(m.from)} (${m.payload.length} chars)`;
    default:
      return assertNever(m, 'election message');
  }
}
