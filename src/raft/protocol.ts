/**
 * Raft as the generic driver runs it (src/base/protocol.ts): the core, its wire (Raft messages
 * in the envelope; appends and snapshot chunks as stream frames, votes and heartbeats as
 * packets: turn.ts `channelOf`) and its store, whoever builds the node's choice: the write-ahead
 * log (`walStore()`, src/raft/wal) in production, or `raftFileStore()` (one file, rewritten
 * whole: simple, for tests).
 */
import {
  kinds,
  type Core,
  type CoreInput,
  type LogStore,
  type Protocol,
  type Store,
  type Wire,
} from '../base/protocol.js';
import { decodeRaftMessage, encodeRaftMessage } from './codec.js';
import { describeEffect, describeInput, describeRecord } from './describe.js';
import { raftFileStore } from './file-store.js';
import { checkInvariants, checkTransition } from './invariants.js';
import type { RaftPersisted, RaftRecord } from './log-types.js';
import type { RaftMessage } from './messages.js';
import { initRaft, nextDeadline, step } from './step.js';
import type { RaftInput, RaftTypes } from './types.js';

export const RAFT_CORE: Core<RaftTypes> = {
  name: 'raft',
  inputKinds: kinds<CoreInput<RaftTypes>['kind']>()([
    'tick',
    'persisted',
    'receive',
    'propose',
    'propose-batch',
    'read-index',
    'transfer-leader',
    'change-config',
    'snapshot-taken',
    'peer-refused',
  ]),
  effectKinds: kinds<RaftTypes['effect']['kind']>()([
    'send',
    'apply',
    'restore-snapshot',
    'take-snapshot',
    'propose-result',
    'config-result',
    'read-ready',
    'read-failed',
    'transfer-failed',
    'leader',
    'rejected',
  ]),
  init: (config, persisted, ctx) => initRaft(config, persisted, ctx.now, ctx.rng),
  step,
  nextDeadline,
  describeInput,
  describeEffect,
  describeRecord,
  checkInvariants,
  snapshot: (state) => ({
    term: state.term,
    vote: state.vote,
    commitIndex: state.commitIndex,
    appliedIndex: state.appliedIndex,
    role: state.role,
  }),
  checkTransition,
};

/**
 * Raft messages in the envelope; a refusal (bad bytes, another cluster or protocol) never reaches
 * the core. A refused stream connection does, as `peer-refused` (election.ts `onPeerRefused`).
 */
export function raftWire(clusterId: string): Wire<RaftInput, RaftMessage> {
  return {
    decode(data, from, _channel, now) {
      const decoded = decodeRaftMessage(data, { clusterId });
      if (!decoded.ok) return { ok: false, code: decoded.error.code, detail: decoded.error.detail };
      return { ok: true, input: { kind: 'receive', now, from, message: decoded.message } };
    },
    encode: (message) => encodeRaftMessage(message, clusterId),
    // Only "nothing listens there" says the process is gone; a reasoned refusal is a live one.
    refused: (to, now, listening) =>
      listening ? undefined : { kind: 'peer-refused', now, address: to },
  };
}

export function raftProtocol(
  clusterId: string,
  store: Store<RaftPersisted, RaftRecord> | LogStore<RaftPersisted, RaftRecord> = raftFileStore(),
): Protocol<RaftTypes> {
  return { core: RAFT_CORE, wire: raftWire(clusterId), store };
}
