/**
 * The Raft core passes the protocol contract suite (test/base/contract.ts): determinism, deadlines
 * never in the past (and later after a tick), one-line descriptions of every input, effect and
 * record, and its invariants after every step, over seeded random inputs of every kind: votes,
 * appends that match the node's own log (a conflicting suffix included), heartbeats, snapshot
 * chunks, answers to a leader, requests, and messages from a stranger and from an impostor at a
 * member's address.
 */
import { describe } from 'vitest';
import type { Address } from '../../src/base/address.js';
import type { Rng } from '../../src/base/rng.js';
import type { Millis } from '../../src/base/time.js';
import { logIndex, term } from '../../src/base/units.js';
import { raftConfig } from '../../src/raft/config.js';
import { bootstrapConfiguration, encodeConfiguration } from '../../src/raft/configuration.js';
import { lastIndex, termAt } from '../../src/raft/log.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import { RAFT_CORE } from '../../src/raft/protocol.js';
import type { RaftInput, RaftState } from '../../src/raft/types.js';
import { protocolContract } from '../base/contract.js';
import { nodeAddress, nodeId } from './harness.js';

const peers = [1, 2, 3].map(nodeAddress);
const config = encodeConfiguration(bootstrapConfiguration(peers));

function message(rng: Rng, state: RaftState, from: number): RaftMessage {
  const t = term(Math.max(0, state.term - 1 + rng.int(3)));
  const header = {
    from: nodeId(from === 9 ? 8 : from),
    fromAddress: nodeAddress(from === 9 ? 2 : from),
    term: t,
  };
  const last = lastIndex(state.log);
  switch (rng.int(9)) {
    case 0:
      return {
        type: 'raft-vote-request',
        ...header,
        lastIndex: logIndex(last + rng.int(2) - 1 < 0 ? 0 : last),
        lastTerm: term(Math.min(t, state.term)),
        preVote: rng.chance(1, 2),
        transfer: rng.chance(1, 5),
      };
    case 1:
      return {
        type: 'raft-vote-response',
        ...header,
        term: term(t + rng.int(2)),
        preVote: rng.chance(1, 2),
        granted: rng.chance(3, 4),
      };
    case 2: {
      // An append whose previous entry this node holds (so it is a legal leader's), at or past commit.
      const prevIndex =
        Math.max(state.commitIndex, state.log.snapshotIndex) +
        rng.int(Math.max(1, last - state.commitIndex + 1));
      const prevTerm = termAt(state.log, Math.min(prevIndex, last)) ?? 0;
      const msgTerm = term(Math.max(t, prevTerm, state.term));
      const entries = Array.from({ length: rng.int(3) }, (_, i) => ({
        index: logIndex(Math.min(prevIndex, last) + 1 + i),
        term: msgTerm,
        kind: 'normal' as const,
        data: new Uint8Array([i]),
      }));
      return {
        type: 'raft-append',
        ...header,
        term: msgTerm,
        prevIndex: logIndex(Math.min(prevIndex, last)),
        prevTerm: term(prevTerm),
        commit: logIndex(last + rng.int(3)),
        entries,
      };
    }
    case 3:
      return {
        type: 'raft-append-response',
        ...header,
        reject: rng.chance(1, 3),
        index: logIndex(rng.int(last + 1)),
        hintIndex: logIndex(rng.int(last + 1)),
        hintTerm: term(rng.int(state.term + 1)),
      };
    case 4:
      return {
        type: 'raft-heartbeat',
        ...header,
        commit: logIndex(rng.int(last + 1)),
        readSeq: rng.int(5),
      };
    case 5:
      return { type: 'raft-heartbeat-response', ...header, readSeq: rng.int(8) };
    case 6: {
      const total = 1 + rng.int(8);
      const offset = rng.int(total);
      return {
        type: 'raft-snapshot',
        ...header,
        term: term(Math.max(t, state.term)),
        meta: {
          index: logIndex(last + 1 + rng.int(3)),
          term: term(Math.max(t, state.term)),
          config,
        },
        totalBytes: total,
        offset: rng.chance(1, 2) ? 0 : offset,
        data: new Uint8Array(rng.chance(1, 2) ? total : Math.min(2, total - offset)),
      };
    }
    case 7:
      return rng.chance(1, 2)
        ? { type: 'raft-read-index', ...header, requestId: rng.int(5) }
        : {
            type: 'raft-read-index-response',
            ...header,
            requestId: rng.int(5),
            index: logIndex(rng.int(last + 1)),
            ok: rng.chance(1, 2),
          };
    default:
      return { type: 'raft-timeout-now', ...header };
  }
}

function randomInput(rng: Rng, state: RaftState, now: Millis): RaftInput {
  const roll = rng.int(20);
  if (roll === 0)
    return { kind: 'propose', now, data: new Uint8Array([1]), requestId: rng.int(50) };
  if (roll === 1)
    return { kind: 'read-index', now, requestId: rng.int(50), serializable: rng.chance(1, 4) };
  if (roll === 2) return { kind: 'transfer-leader', now, to: nodeId(2 + rng.int(2)) };
  if (roll === 3)
    return {
      kind: 'change-config',
      now,
      requestId: rng.int(50),
      change: rng.pick([
        { op: 'add' as const, address: nodeAddress(4), as: 'voter' as const },
        { op: 'remove' as const, id: nodeId(2) },
        { op: 'promote' as const, id: nodeId(4) },
      ]),
    };
  if (roll === 4)
    return { kind: 'snapshot-taken', now, index: state.appliedIndex, data: new Uint8Array([3]) };
  if (roll === 6) return { kind: 'peer-refused', now, address: nodeAddress(rng.pick([2, 3, 7])) };
  if (roll === 5)
    return {
      kind: 'propose-batch',
      now,
      proposals: Array.from({ length: 1 + rng.int(4) }, () => ({
        data: new Uint8Array([2]),
        requestId: rng.int(50),
      })),
    };
  // Mostly members; sometimes a stranger (7) or an impostor at a member's address (9).
  const from = rng.pick([2, 3, 2, 3, 7, 9]);
  return {
    kind: 'receive',
    now,
    from: nodeAddress(from) as Address,
    message: message(rng, state, from),
  };
}

const send = {
  kind: 'send' as const,
  to: nodeAddress(2),
  channel: 'packet' as const,
  message: {
    type: 'raft-timeout-now' as const,
    from: nodeId(1),
    fromAddress: nodeAddress(1),
    term: term(1),
  },
};

describe('raft satisfies the protocol contract', () => {
  protocolContract({
    core: RAFT_CORE,
    config: () => ({
      config: raftConfig({ snapshotEntries: 4 }, 'SIM_MIN'),
      selfId: nodeId(1),
      selfAddress: nodeAddress(1),
      peers,
    }),
    persisted: () => ({
      hardState: { term: term(0), vote: undefined, commit: logIndex(0) },
      snapshot: undefined,
      entries: [],
    }),
    randomInput,
    steps: 600,
    sampleEffects: [
      send,
      { kind: 'apply', entries: [] },
      {
        kind: 'restore-snapshot',
        meta: { index: logIndex(3), term: term(1), config },
        data: new Uint8Array(1),
      },
      { kind: 'take-snapshot', index: logIndex(3) },
      {
        kind: 'propose-result',
        requestId: 1,
        outcome: { ok: true, index: logIndex(3), term: term(1) },
      },
      {
        kind: 'config-result',
        requestId: 1,
        outcome: { ok: false, reason: 'change-pending', detail: 'x', leader: undefined },
      },
      { kind: 'read-ready', requestId: 1, index: logIndex(3) },
      { kind: 'read-failed', requestId: 1, reason: 'no-leader', leader: undefined },
      { kind: 'transfer-failed', to: nodeId(2), reason: 'timeout', detail: 'x' },
      {
        kind: 'leader',
        leader: { id: nodeId(1), address: nodeAddress(1) },
        term: term(1),
        role: 'leader',
      },
      { kind: 'rejected', detail: 'x' },
    ],
  });
});
