/**
 * Table tests for Raft's pure helpers: the config (defaults, validation naming both fields, the
 * derived values docs/design/raft.md quotes), configurations (majorities of every voter set,
 * encoding), the log (term hints, durability marks) and the whole-file store.
 */
import { describe, expect, it } from 'vitest';
import { logIndex, term } from '../../src/base/units.js';
import { Rng } from '../../src/base/rng.js';
import { SimStorage } from '../../src/sim/storage.js';
import {
  leaseMsFor,
  RAFT_PROFILES,
  raftConfig,
  readTimeoutMsFor,
  transferTimeoutMsFor,
} from '../../src/raft/config.js';
import {
  bootstrapConfiguration,
  decodeConfiguration,
  encodeConfiguration,
  hasQuorum,
  quorumIndex,
  type Configuration,
} from '../../src/raft/configuration.js';
import { decodeRaftState, raftFileStore, RAFT_STATE_FILE } from '../../src/raft/file-store.js';
import {
  appendEntries,
  entriesDurable,
  findConflictByTerm,
  loadedLog,
  type RaftLog,
} from '../../src/raft/log.js';
import type { Entry } from '../../src/raft/log-types.js';
import { nodeAddress, nodeId } from './harness.js';

const entry = (index: number, t: number): Entry => ({
  index: logIndex(index),
  term: term(t),
  kind: 'normal',
  data: new Uint8Array([index]),
});
const logOf = (terms: number[]): RaftLog =>
  loadedLog(
    logIndex(0),
    term(0),
    terms.map((t, i) => entry(i + 1, t)),
  );

describe('raft config', () => {
  it('fills each profile and validates it', () => {
    for (const profile of ['LAN', 'WAN', 'LOCAL', 'SIM_MIN'] as const)
      expect(raftConfig({}, profile)).toEqual(RAFT_PROFILES[profile]);
  });

  it.each([
    [
      { heartbeatIntervalMs: 600 },
      /heartbeatIntervalMs \(600\) must be at most half of electionTimeoutMinMs \(1000\)/,
    ],
    [
      { electionTimeoutMaxMs: 900 },
      /electionTimeoutMaxMs \(900\) must be at least electionTimeoutMinMs \(1000\)/,
    ],
    [
      { readMode: 'lease', checkQuorum: false },
      /readMode \(lease\) requires checkQuorum \(false\)/,
    ],
    [
      { snapshotChunkBytes: 2048, snapshotBytesMax: 1024 },
      /snapshotChunkBytes \(2048\) must be at most snapshotBytesMax \(1024\)/,
    ],
    [{ appendBytesMax: 8 * 1024 * 1024 }, /appendBytesMax \(8388608\) must be an integer in 1\.\./],
    [{ maxInflightAppends: 0 }, /maxInflightAppends \(0\) must be an integer in 1\.\./],
  ] as const)('refuses %j naming the fields', (settings, message) => {
    expect(() => raftConfig(settings as never)).toThrow(message);
  });

  it.each([
    ['LAN', 990, 4000, 2000],
    ['LOCAL', 247, 1000, 500],
    ['SIM_MIN', 148, 600, 300],
  ] as const)(
    '%s: lease %i ms, read timeout %i ms, transfer timeout %i ms',
    (profile, lease, read, transfer) => {
      const config = raftConfig({}, profile);
      expect(leaseMsFor(config)).toBe(lease);
      expect(readTimeoutMsFor(config)).toBe(read);
      expect(transferTimeoutMsFor(config)).toBe(transfer);
    },
  );
});

describe('configurations', () => {
  const three = bootstrapConfiguration([
    nodeAddress(3),
    nodeAddress(1),
    nodeAddress(2),
    nodeAddress(1),
  ]);
  const joint: Configuration = {
    members: [
      { address: nodeAddress(2), id: nodeId(2), role: 'voter' },
      { address: nodeAddress(3), id: nodeId(3), role: 'voter' },
      { address: nodeAddress(4), id: undefined, role: 'voter' },
    ],
    outgoing: three.members,
  };

  it('the bootstrap list is sorted and unique', () => {
    expect(three.members.map((m) => m.address)).toEqual([
      nodeAddress(1),
      nodeAddress(2),
      nodeAddress(3),
    ]);
  });

  it.each([
    [[1], false],
    [[1, 2], true],
    [[2, 3], true],
  ])('majority of 3 with supporters %j: %s', (supporters, expected) => {
    const set = new Set(supporters.map(nodeAddress));
    expect(hasQuorum(three, (m) => set.has(m.address))).toBe(expected);
  });

  it.each([
    // C_new = {2,3,4}, C_old = {1,2,3}: both majorities are needed (thesis §4.3).
    [[2, 3], true],
    [[1, 2], false],
    [[3, 4], false],
    [[1, 3, 4], true],
  ])('joint majority with supporters %j: %s', (supporters, expected) => {
    const set = new Set(supporters.map(nodeAddress));
    expect(hasQuorum(joint, (m) => set.has(m.address))).toBe(expected);
  });

  it("the committed index is the lowest of each voter set's majority match", () => {
    const match = new Map([
      [nodeAddress(1), 9],
      [nodeAddress(2), 7],
      [nodeAddress(3), 5],
      [nodeAddress(4), 2],
    ]);
    expect(quorumIndex(three, (m) => match.get(m.address) ?? 0)).toBe(7);
    expect(quorumIndex(joint, (m) => match.get(m.address) ?? 0)).toBe(5);
  });

  it('encodes and decodes', () => {
    expect(decodeConfiguration(encodeConfiguration(joint))).toEqual(joint);
    expect(decodeConfiguration(encodeConfiguration(three))).toEqual(three);
  });
});

describe('the log', () => {
  it.each([
    // follower log, probe (index, term) -> hint (etcd findConflictByTerm)
    [[1, 1, 1, 4, 4, 5, 5, 6, 6, 6], 10, 6, 10],
    [[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], 10, 6, 10],
    [[1, 1, 1, 4, 4, 5, 5, 6, 6, 6], 10, 3, 3],
    [[1, 1, 1, 4], 10, 6, 4],
    [[2, 2, 2], 3, 1, 0],
  ])('log %j: the largest index <= %i with term <= %i is %i', (terms, index, t, hint) => {
    expect(findConflictByTerm(logOf(terms), index, t)).toBe(hint);
  });

  it('a record durable after a later one rewrote its suffix leaves only the untouched prefix stable', () => {
    const log = logOf([1, 1]);
    appendEntries(log, [entry(3, 1), entry(4, 1), entry(5, 1)]);
    appendEntries(log, [entry(4, 2)]);
    expect(log.stableIndex).toBe(2);
    entriesDurable(log);
    expect(log.stableIndex).toBe(3);
    entriesDurable(log);
    expect(log.stableIndex).toBe(4);
  });
});

describe('the whole-file store', () => {
  it('writes each record over its copy and reads back what it wrote', () => {
    const storage = new SimStorage({ rng: new Rng(1) });
    const store = raftFileStore();
    store.load(storage);
    const hs = {
      kind: 'hard-state' as const,
      hardState: { term: term(3), vote: nodeId(2), commit: logIndex(1) },
    };
    store.write({ kind: 'entries', entries: [entry(1, 1), entry(2, 3), entry(3, 3)] });
    store.write({ kind: 'entries', entries: [entry(3, 3)] });
    const last = store.write(hs);
    storage.writeFile(last.path, last.data);
    const loaded = raftFileStore().load(storage);
    expect(loaded.hardState).toEqual(hs.hardState);
    expect(loaded.entries.map((e) => `${e.index}@${e.term}`)).toEqual(['1@1', '2@3', '3@3']);
  });

  it('an installed snapshot replaces the whole log; a compaction keeps what follows it', () => {
    const storage = new SimStorage({ rng: new Rng(1) });
    const store = raftFileStore();
    store.load(storage);
    store.write({
      kind: 'hard-state',
      hardState: { term: term(1), vote: undefined, commit: logIndex(0) },
    });
    store.write({ kind: 'entries', entries: [entry(1, 1), entry(2, 1), entry(3, 1)] });
    const meta = {
      index: logIndex(2),
      term: term(1),
      config: encodeConfiguration(bootstrapConfiguration([nodeAddress(1)])),
    };
    const compacted = store.write({ kind: 'snapshot', meta, data: new Uint8Array([7]) });
    expect(decodeRaftState(compacted.data).entries.map((e) => e.index)).toEqual([3]);
    const installed = store.write({
      kind: 'snapshot',
      meta: { ...meta, index: logIndex(9) },
      data: new Uint8Array([8]),
      install: true,
    });
    expect(decodeRaftState(installed.data).entries).toEqual([]);
  });

  it('refuses a corrupt file with ERR_STORAGE_CORRUPT naming it', () => {
    const storage = new SimStorage({ rng: new Rng(1) });
    const store = raftFileStore();
    store.load(storage);
    const { data } = store.write({ kind: 'entries', entries: [entry(1, 1)] });
    data[6] = (data[6] as number) ^ 0xff;
    storage.writeFile(RAFT_STATE_FILE, data);
    expect(() => raftFileStore().load(storage)).toThrow(/raft\/state\.bin fails its checksum/);
  });
});
