/**
 * raft-lite as the generic driver runs it (src/base/protocol.ts): the core, its wire (election
 * messages) and its store, `election/raft-lite.json` =
 * `{"term":N,"votedFor":"<NodeId>"|null,"config":{"term":T,"version":V,"peers":["h:p",...],"pins":[["h:p","<NodeId>"],...]},"joining":false}`
 * (the format is on disk: keep it; `config` and `joining` are optional, a file written before
 * them reads as the bootstrap list; `pins` too, read as nothing pinned). A file that is not that is refused, never read as term 0:
 * forgetting a vote would let this node vote twice in one term (Raft §5.2), and forgetting an
 * acked configuration could undo a committed one.
 */
import { ShoalError } from '../../base/errors.js';
import { parseJsonRecord, persistedCount } from '../../base/persisted.js';
import { readDurable } from '../../base/storage.js';
import {
  kinds,
  type Core,
  type CoreInput,
  type Protocol,
  type Store,
} from '../../base/protocol.js';
import { term } from '../../base/units.js';
import { isNodeId, type NodeId } from '../../identity/node-id.js';
import { parseAddress, type Address } from '../../base/address.js';
import { electionWire } from '../wire.js';
import { describeEffect, describeInput, describeRecord } from './describe.js';
import { checkInvariants, checkTransition } from './invariants.js';
import { initRaftLite, nextDeadline, step } from './step.js';
import type { Input, RaftLiteRecord, RaftLiteTypes } from './types.js';

export const RAFT_LITE_FILE = 'election/raft-lite.json';

export const RAFT_LITE_CORE: Core<RaftLiteTypes> = {
  name: 'raft-lite',
  inputKinds: kinds<CoreInput<RaftLiteTypes>['kind']>()([
    'tick',
    'persisted',
    'receive',
    'join',
    'broadcast',
  ]),
  effectKinds: kinds<RaftLiteTypes['effect']['kind']>()([
    'send',
    'leader',
    'term',
    'peer-joined',
    'peer-left',
    'delivered',
    'rejected',
  ]),
  init: (config, persisted, ctx) => initRaftLite(config, persisted, ctx.now, ctx.rng),
  step,
  nextDeadline,
  describeInput,
  describeEffect,
  describeRecord,
  checkInvariants,
  snapshot: (state) => ({
    term: state.term,
    role: state.role,
    votedFor: state.votedFor,
    configTerm: state.configTerm,
    configVersion: state.configVersion,
  }),
  checkTransition,
};

function corrupt(why: string): ShoalError {
  return new ShoalError(
    'ERR_STORAGE_CORRUPT',
    `${RAFT_LITE_FILE} ${why}; the file was left untouched: restore it from a backup, or write {"term":N,"votedFor":null} with N no lower than the last term this node used (when unsure, a larger one is safe)`,
  );
}

/** Parses the durable (term, votedFor); a fresh node starts at term 0 with no vote. */
export function parseRaftLiteFile(bytes: Uint8Array): RaftLiteRecord {
  const fields = parseJsonRecord(bytes, corrupt);
  const votedFor = fields.votedFor;
  if (votedFor !== null && !(typeof votedFor === 'string' && isNodeId(votedFor)))
    throw corrupt(`has votedFor ${JSON.stringify(votedFor)}, not a NodeId or null`);
  if (fields.joining !== undefined && typeof fields.joining !== 'boolean')
    throw corrupt(`has joining ${JSON.stringify(fields.joining)}, not true or false`);
  return {
    term: term(persistedCount(fields.term, RAFT_LITE_FILE, 'term')),
    votedFor: (votedFor ?? undefined) as NodeId | undefined,
    config: fields.config === undefined ? undefined : parseConfig(fields.config),
    joining: fields.joining === true,
  };
}

function parseConfig(value: unknown): NonNullable<RaftLiteRecord['config']> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw corrupt('has a config that is not a JSON object');
  const c = value as { term?: unknown; version?: unknown; peers?: unknown; pins?: unknown };
  if (!Array.isArray(c.peers)) throw corrupt('has config.peers that is not a list');
  const peers: Address[] = [];
  for (const peer of c.peers as unknown[]) {
    if (typeof peer !== 'string') throw corrupt(`has config peer ${JSON.stringify(peer)}`);
    try {
      peers.push(parseAddress(peer));
    } catch {
      throw corrupt(`has config peer ${JSON.stringify(peer)}, not host:port`);
    }
  }
  return {
    term: term(persistedCount(c.term, RAFT_LITE_FILE, 'config.term')),
    version: persistedCount(c.version, RAFT_LITE_FILE, 'config.version'),
    peers,
    pins: c.pins === undefined ? [] : parsePins(c.pins, peers),
  };
}

/** `[["h:p","<NodeId>"],...]`, each address one of the configuration's peers. */
function parsePins(value: unknown, peers: readonly Address[]): [Address, NodeId][] {
  if (!Array.isArray(value)) throw corrupt('has config.pins that is not a list');
  return (value as unknown[]).map((pin) => {
    const [address, id] = Array.isArray(pin) ? (pin as unknown[]) : [];
    if (
      !Array.isArray(pin) ||
      pin.length !== 2 ||
      typeof address !== 'string' ||
      !peers.includes(address as Address) ||
      typeof id !== 'string' ||
      !isNodeId(id)
    )
      throw corrupt(`has config pin ${JSON.stringify(pin)}, not [member address, NodeId]`);
    return [address as Address, id];
  });
}

export const RAFT_LITE_STORE: Store<RaftLiteRecord, RaftLiteRecord> = {
  load: (storage) => {
    // A name only the page cache holds is made durable before it is believed.
    const bytes = readDurable(storage, RAFT_LITE_FILE);
    return bytes === undefined ? { term: term(0), votedFor: undefined } : parseRaftLiteFile(bytes);
  },
  write: (record) => ({
    path: RAFT_LITE_FILE,
    data: new TextEncoder().encode(
      JSON.stringify({
        term: record.term,
        votedFor: record.votedFor ?? null,
        ...(record.config === undefined ? {} : { config: record.config }),
        joining: record.joining === true,
      }),
    ),
  }),
};

export function raftLiteProtocol(clusterId: string): Protocol<RaftLiteTypes> {
  return {
    core: RAFT_LITE_CORE,
    wire: electionWire<Input>(clusterId, (message, from, now) => ({
      kind: 'receive',
      now,
      from,
      message,
    })),
    store: RAFT_LITE_STORE,
  };
}
