/**
 * Step tests of the registry core (docs/design/data-plane.md, "Registry replication"): local
 * writes and their limits (limit-1, limit, limit+1), the causal delta-merging condition (Almeida
 * et al. 2018, §6: apply at fromSeq, ignore stale, pull on a gap), the HLC drift bound (Kulkarni
 * et al. 2014), withdrawal timing, tombstones, restamping, and the queries: resolve with a
 * preferred node and weighted round-robin, the process finders and the least-loaded node.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { ms } from '../../src/base/time.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { checkLocalOp } from '../../src/crdt/registry/local.js';
import { deltaBytes, partitionBytes } from '../../src/crdt/registry/codec.js';
import { registryConfig } from '../../src/crdt/registry/config.js';
import { queuedDelta } from '../../src/crdt/registry/queue.js';
import { REGISTRY_CORE } from '../../src/crdt/registry/protocol.js';
import {
  findByCapability,
  findByType,
  leastLoadedNode,
  listServices,
  pickInstance,
  ServiceResolver,
} from '../../src/crdt/registry/queries.js';
import type {
  Delta,
  LocalOp,
  Partition,
  RegistryInput,
  RegistryState,
  ViewMember,
} from '../../src/crdt/registry/types.js';
import {
  addressOf,
  nodeIdOf,
  publicKeyOf,
  securityOf,
  signedDeltas,
} from '../../src/sim/registry-cluster.js';
import type { Signature } from '../../src/identity/signed.js';

/** A delta as a test writes it: `step` signs it as its owner would, unless it carries a signature. */
type Draft = Omit<Delta, 'signature'> & { signature?: Signature | undefined };
type TestInput =
  | Exclude<RegistryInput, { kind: 'deltas' }>
  | {
      kind: 'deltas';
      now: ReturnType<typeof ms>;
      from: ReturnType<typeof addressOf>;
      deltas: Draft[];
    };

const WALL = 1_700_000_000_000;

function queued(s: RegistryState, owner: NodeId): Draft | undefined {
  const q = s.queue.get(owner);
  return q === undefined ? undefined : queuedDelta(q);
}
const SELF = nodeIdOf(0);
const PEER = nodeIdOf(1);
const rng = new Rng(5);

function fresh(settings = {}): RegistryState {
  const config = registryConfig('simMin', settings);
  return REGISTRY_CORE.init(
    { config, selfId: SELF, wallOffsetMs: WALL, security: securityOf(0) },
    undefined,
    {
      now: ms(1000),
      rng,
    },
  );
}

function step(state: RegistryState, test: TestInput) {
  const input: RegistryInput =
    test.kind === 'deltas' ? { ...test, deltas: signedDeltas(state, test.deltas) } : test;
  const ready = REGISTRY_CORE.step(state, input, { rng });
  expect(REGISTRY_CORE.checkInvariants(state)).toEqual([]);
  return ready;
}

const at = (now: number) => ms(now);
const service = (name: string, weight = 1): LocalOp => ({
  op: 'advertise-service',
  name,
  value: { address: `h:${name}`, tags: ['b', 'a', 'a'], weight },
});
const proc = (
  pid: string,
  type: string,
  load: number,
  caps: string[] = [],
  status = 'running',
): LocalOp => ({
  op: 'advertise-process',
  pid,
  value: { type, capabilities: caps, status, load },
});

function view(state: RegistryState, now: number, members: [number, ViewMember['state']][]): void {
  step(state, {
    kind: 'view',
    now: at(now),
    members: members.map(([i, s]) => ({
      id: nodeIdOf(i),
      address: addressOf(i),
      state: s,
      publicKey: publicKeyOf(i),
    })),
  });
}

function peerDelta(fromSeq: number, toSeq: number, key: string, epochWall = WALL + 500): Draft {
  return {
    owner: PEER,
    epoch: { wallMs: epochWall, logical: 0 },
    fromSeq,
    toSeq,
    upserts: [
      {
        table: 'service',
        key,
        seq: toSeq,
        stamp: { wallMs: epochWall, logical: toSeq },
        value: { address: 'p:1', tags: [], weight: 1 },
      },
    ],
    removals: [],
  };
}

describe('registry core: local writes', () => {
  it('an advertise bumps seq, stamps the row with the HLC, reports the change and queues a delta', () => {
    const s = fresh();
    const ready = step(s, { kind: 'local', now: at(1010), write: service('api') });
    expect(ready.effects).toEqual([
      expect.objectContaining({
        kind: 'changed',
        table: 'service',
        key: 'api',
        node: SELF,
        before: undefined,
      }),
    ]);
    const own = s.partitions.get(SELF);
    expect(own?.seq).toBe(1);
    expect(own?.rows.get('service\u0000api')?.stamp.wallMs).toBe(WALL + 1010);
    expect(queued(s, SELF)).toMatchObject({ fromSeq: 0, toSeq: 1 });
    expect(listServices(s)).toEqual([
      { name: 'api', node: SELF, address: 'h:api', tags: ['a', 'b'], weight: 1 },
    ]);
    step(s, {
      kind: 'local',
      now: at(1011),
      write: { op: 'withdraw', table: 'service', key: 'api' },
    });
    expect(listServices(s)).toEqual([]);
    expect(queued(s, SELF)).toMatchObject({
      fromSeq: 0,
      toSeq: 2,
      upserts: [],
      removals: [{ key: 'api', seq: 2 }],
    });
    step(s, {
      kind: 'local',
      now: at(1012),
      write: { op: 'withdraw', table: 'service', key: 'api' },
    });
    expect(s.partitions.get(SELF)?.seq, 'withdrawing what is not there writes nothing').toBe(2);
  });

  it('refuses bad writes, counts them and changes nothing', () => {
    const s = fresh();
    for (const bad of [
      service('x', -1),
      service('x', 1.5),
      proc('p', 'w', Number.NaN),
      proc('p', 'w', -0.1),
      {
        op: 'advertise-service',
        name: 7,
        value: { address: 'a', tags: [], weight: 1 },
      } as unknown as LocalOp,
    ]) {
      expect(checkLocalOp(s, bad)).toBeDefined();
      step(s, { kind: 'local', now: at(1010), write: bad });
    }
    expect(s.counters.localRefused).toBe(5);
    expect(s.partitions.get(SELF)?.seq).toBe(0);
  });

  it('rowsPerNodeMax at limit-1, limit, limit+1 (an update of an existing row still passes)', () => {
    const s = fresh({ rowsPerNodeMax: 3 });
    for (const name of ['a', 'b']) step(s, { kind: 'local', now: at(1010), write: service(name) });
    expect(checkLocalOp(s, service('c'))).toBeUndefined();
    step(s, { kind: 'local', now: at(1010), write: service('c') });
    expect(checkLocalOp(s, service('d'))).toMatch(/rowsPerNodeMax \(3\)/);
    expect(checkLocalOp(s, service('c', 5))).toBeUndefined();
  });

  it('fieldBytesMax, listItemsMax and rowBytesMax at limit-1, limit, limit+1', () => {
    const s = fresh({
      fieldBytesMax: 10,
      listItemsMax: 2,
      rowBytesMax: 64,
      rowsPerNodeMax: 10,
      pushPullBytesMax: 2048,
    });
    const named = (name: string): LocalOp => ({
      op: 'advertise-service',
      name,
      value: { address: 'a', tags: [], weight: 1 },
    });
    expect(checkLocalOp(s, named('n'.repeat(9)))).toBeUndefined();
    expect(checkLocalOp(s, named('n'.repeat(10)))).toBeUndefined();
    expect(checkLocalOp(s, named('n'.repeat(11)))).toMatch(/fieldBytesMax/);
    const tags = (n: number): LocalOp => ({
      op: 'advertise-service',
      name: 's',
      value: { address: 'a', tags: Array.from({ length: n }, (_, i) => `t${i}`), weight: 1 },
    });
    expect(checkLocalOp(s, tags(1))).toBeUndefined();
    expect(checkLocalOp(s, tags(2))).toBeUndefined();
    expect(checkLocalOp(s, tags(3))).toMatch(/listItemsMax/);
    // A row with fixed worst-case stamp and seq is 34 bytes plus the three strings below.
    const sized = (extra: number): LocalOp => ({
      op: 'advertise-process',
      pid: 'p'.repeat(10),
      value: { type: 't'.repeat(10), capabilities: [], status: 's'.repeat(extra), load: 0 },
    });
    const big = fresh({
      fieldBytesMax: 40,
      rowBytesMax: 64,
      rowsPerNodeMax: 10,
      pushPullBytesMax: 2048,
    });
    const fits = Array.from({ length: 41 }, (_, n) => n).filter(
      (n) => checkLocalOp(big, sized(n)) === undefined,
    );
    const last = Math.max(...fits);
    expect(fits).toEqual(Array.from({ length: last + 1 }, (_, n) => n));
    expect(last).toBeLessThan(40);
    expect(checkLocalOp(big, sized(last + 1))).toMatch(/rowBytesMax \(64\)/);
  });
});

describe('registry core: deltas (causal delta-merging condition, §6)', () => {
  it('applies a delta at fromSeq, ignores a stale one, and pulls the partition on a gap', () => {
    const s = fresh();
    view(s, 1000, [[1, 'alive']]);
    const from = addressOf(1);
    step(s, { kind: 'deltas', now: at(1001), from, deltas: [peerDelta(0, 1, 'a')] });
    expect(s.partitions.get(PEER)?.seq).toBe(1);
    step(s, { kind: 'deltas', now: at(1002), from, deltas: [peerDelta(0, 1, 'a')] });
    expect(s.counters.deltasStale).toBe(1);
    const gap = step(s, { kind: 'deltas', now: at(1003), from, deltas: [peerDelta(2, 3, 'c')] });
    expect(s.counters.deltasGap).toBe(1);
    expect(s.partitions.get(PEER)?.seq).toBe(1);
    expect(gap.effects).toEqual([
      {
        kind: 'send',
        to: from,
        channel: 'stream',
        message: {
          type: 'data-summary',
          from: SELF,
          partial: true,
          entries: [{ owner: PEER, epoch: { wallMs: WALL + 500, logical: 0 }, seq: 1 }],
        },
      },
    ]);
    step(s, {
      kind: 'deltas',
      now: at(1004),
      from,
      deltas: [peerDelta(1, 2, 'b'), peerDelta(2, 3, 'c')],
    });
    expect([...(s.partitions.get(PEER)?.rows.keys() ?? [])].length).toBe(3);
    expect(queued(s, PEER), 'relayed deltas are joined into one interval').toMatchObject({
      fromSeq: 0,
      toSeq: 3,
    });
  });

  it('a newer epoch replaces the partition only from seq 0', () => {
    const s = fresh();
    view(s, 1000, [[1, 'alive']]);
    step(s, { kind: 'deltas', now: at(1001), from: addressOf(1), deltas: [peerDelta(0, 1, 'a')] });
    step(s, {
      kind: 'deltas',
      now: at(1002),
      from: addressOf(1),
      deltas: [peerDelta(3, 4, 'z', WALL + 900)],
    });
    expect(s.counters.deltasGap).toBe(1);
    step(s, {
      kind: 'deltas',
      now: at(1003),
      from: addressOf(1),
      deltas: [peerDelta(0, 1, 'z', WALL + 900)],
    });
    expect([...(s.partitions.get(PEER)?.rows.values() ?? [])].map((r) => r.key)).toEqual(['z']);
  });

  it('refuses data stamped more than clockDriftMaxMs ahead (limit-1, limit, limit+1), counted', () => {
    const s = fresh({ clockDriftMaxMs: 1000 });
    view(s, 1000, [[1, 'alive']]);
    const now = 2000;
    const d = (lead: number, seq: number) => ({
      ...peerDelta(seq - 1, seq, `k${seq}`, WALL + now + lead - 5),
    });
    // epoch 5 ms before the row stamp; the row stamp carries the lead.
    const lead = (ms_: number, seq: number): Draft => {
      const base = d(0, seq);
      return {
        ...base,
        epoch: { wallMs: WALL, logical: 0 },
        upserts: base.upserts.map((r) => ({
          ...r,
          stamp: { wallMs: WALL + now + ms_, logical: 0 },
        })),
      };
    };
    step(s, { kind: 'deltas', now: at(now), from: addressOf(1), deltas: [lead(999, 1)] });
    step(s, { kind: 'deltas', now: at(now), from: addressOf(1), deltas: [lead(1000, 2)] });
    step(s, { kind: 'deltas', now: at(now), from: addressOf(1), deltas: [lead(1001, 3)] });
    expect(s.partitions.get(PEER)?.seq).toBe(2);
    expect(s.counters.deltasRefused).toBe(1);
    expect(s.clock.last.wallMs, 'our clock moved past the accepted stamps').toBe(WALL + now + 1000);
  });
});

describe('registry core: departures, tombstones, restamps', () => {
  it('a dead member is hidden at once and withdrawn after withdrawDelayMs; a left one at once', () => {
    const s = fresh({ withdrawDelayMs: 500 });
    view(s, 1000, [
      [1, 'alive'],
      [2, 'alive'],
      [9, 'alive'],
    ]);
    const two: Draft = { ...peerDelta(0, 1, 'b'), owner: nodeIdOf(2) };
    step(s, {
      kind: 'deltas',
      now: at(1001),
      from: addressOf(1),
      deltas: [peerDelta(0, 1, 'a'), two],
    });
    expect(listServices(s)).toHaveLength(2);
    view(s, 1100, [
      [1, 'dead'],
      [2, 'left'],
      [9, 'alive'],
    ]);
    expect(listServices(s)).toEqual([]);
    expect(s.partitions.has(nodeIdOf(2))).toBe(false);
    expect(s.partitions.has(PEER)).toBe(true);
    expect(REGISTRY_CORE.nextDeadline(s)).toBeLessThanOrEqual(1600);
    step(s, { kind: 'tick', now: at(1599) });
    expect(s.partitions.has(PEER)).toBe(true);
    const ready = step(s, { kind: 'tick', now: at(1600) });
    expect(s.partitions.has(PEER)).toBe(false);
    expect(ready.effects).toContainEqual(
      expect.objectContaining({ kind: 'changed', key: 'a', node: PEER, after: undefined }),
    );
    expect(s.tombstones.has(PEER)).toBe(true);
    step(s, { kind: 'deltas', now: at(1650), from: addressOf(3), deltas: [peerDelta(0, 1, 'a')] });
    expect(s.counters.departedRefused, 'a departed member is not taken from laggards').toBe(1);
    view(s, 1690, [
      [1, 'alive'],
      [9, 'alive'],
    ]); // it restarted
    step(s, { kind: 'deltas', now: at(1700), from: addressOf(3), deltas: [peerDelta(0, 1, 'a')] });
    expect(s.partitions.has(PEER), 'the tombstone blocks the old version').toBe(false);
    step(s, {
      kind: 'deltas',
      now: at(1701),
      from: addressOf(3),
      deltas: [peerDelta(0, 1, 'a2', WALL + 1650)],
    });
    expect(s.partitions.has(PEER), 'a new epoch (restart) passes').toBe(true);
  });

  it('nothing is withdrawn before the first view arrives (a node just started)', () => {
    const s = fresh({ withdrawDelayMs: 0 });
    step(s, { kind: 'tick', now: at(5000) });
    expect(s.withdrawAtMs.size).toBe(0);
    view(s, 5001, [[1, 'alive']]);
    step(s, { kind: 'deltas', now: at(5002), from: addressOf(1), deltas: [peerDelta(0, 1, 'a')] });
    expect(listServices(s)).toHaveLength(1);
  });

  it('a node that had no live peer pushes-pulls at the next tick once it has one, not an interval later', () => {
    const s = fresh({ pushPullIntervalMs: 10_000 });
    const digests = (now: number) =>
      step(s, { kind: 'tick', now: at(now) }).effects.filter(
        (e) => e.kind === 'send' && e.message.type === 'data-digest',
      );
    expect(digests(1500)).toEqual([]);
    view(s, 1600, [[1, 'alive']]);
    expect(digests(1601)).toEqual([expect.objectContaining({ to: addressOf(1) })]);
    // With a live peer already, a view change leaves the interval alone.
    view(s, 1700, [
      [1, 'alive'],
      [2, 'alive'],
    ]);
    expect(digests(1701)).toEqual([]);
    // Cut off from every peer, then one is back: at once again.
    view(s, 2000, [
      [1, 'dead'],
      [2, 'dead'],
    ]);
    view(s, 2100, [
      [1, 'alive'],
      [2, 'dead'],
    ]);
    expect(digests(2101)).toHaveLength(1);
  });

  it('a partition never written is announced at the first live peer as version 1 with no rows', () => {
    const s = fresh();
    let now = 1500;
    const gossip = () =>
      step(s, { kind: 'tick', now: at((now += 1000)) }).effects.flatMap((e) =>
        e.kind === 'send' && e.message.type === 'data-gossip' ? e.message.deltas : [],
      );
    expect(gossip()).toEqual([]);
    view(s, 2600, [[1, 'alive']]);
    expect(s.partitions.get(SELF)?.seq).toBe(1);
    expect(gossip()).toEqual([
      expect.objectContaining({ owner: SELF, fromSeq: 0, toSeq: 1, upserts: [], removals: [] }),
    ]);
    // A written partition is not bumped: its writes are already queued.
    const w = fresh();
    step(w, { kind: 'local', now: at(1100), write: service('a') });
    view(w, 1600, [[1, 'alive']]);
    expect(w.partitions.get(SELF)?.seq).toBe(1);
  });

  it('a member that refutes in time keeps its partition', () => {
    const s = fresh({ withdrawDelayMs: 500 });
    view(s, 1000, [[1, 'alive']]);
    step(s, { kind: 'deltas', now: at(1001), from: addressOf(1), deltas: [peerDelta(0, 1, 'a')] });
    view(s, 1100, [[1, 'dead']]);
    view(s, 1400, [[1, 'alive']]);
    step(s, { kind: 'tick', now: at(2000) });
    expect(s.partitions.get(PEER)?.rows.size).toBe(1);
  });

  it('tombstonesMax at limit-1, limit, limit+1: the oldest is evicted and counted', () => {
    const s = fresh({ tombstonesMax: 2, withdrawDelayMs: 0 });
    view(s, 1000, [
      [1, 'alive'],
      [2, 'alive'],
      [3, 'alive'],
    ]);
    for (let i = 1; i <= 3; i++) {
      step(s, {
        kind: 'deltas',
        now: at(1000 + i),
        from: addressOf(i),
        deltas: [{ ...peerDelta(0, 1, 'k'), owner: nodeIdOf(i) }],
      });
    }
    // No live member is left to acknowledge them, so they are collected at once; keep one live.
    view(s, 1010, [
      [9, 'alive'],
      [1, 'dead'],
      [2, 'alive'],
      [3, 'alive'],
    ]);
    expect(s.tombstones.size).toBe(1);
    view(s, 1011, [
      [9, 'alive'],
      [1, 'dead'],
      [2, 'dead'],
      [3, 'alive'],
    ]);
    expect(s.tombstones.size).toBe(2);
    expect(s.counters.tombstonesEvicted).toBe(0);
    view(s, 1012, [
      [9, 'alive'],
      [1, 'dead'],
      [2, 'dead'],
      [3, 'dead'],
    ]);
    expect(s.tombstones.size).toBe(2);
    expect(s.counters.tombstonesEvicted).toBe(1);
    expect(s.tombstones.has(nodeIdOf(1))).toBe(false);
  });

  it('restamps when a peer holds a newer version of our own partition signed by our key (a previous life)', () => {
    const s = fresh();
    step(s, { kind: 'local', now: at(1001), write: service('api') });
    const before = s.partitions.get(SELF)?.epoch;
    const previous: Draft = { ...peerDelta(0, 9, 'old', WALL + 5000), owner: SELF };
    // A delta is only a claim: the node asks the sender for the whole partition.
    const pulled = step(s, {
      kind: 'deltas',
      now: at(1002),
      from: addressOf(1),
      deltas: [previous],
    });
    expect(s.counters.restamps).toBe(0);
    expect(pulled.effects).toContainEqual(
      expect.objectContaining({
        kind: 'send',
        message: expect.objectContaining({ type: 'data-summary', partial: true }),
      }),
    );
    const [signed] = signedDeltas(s, [{ ...previous, fromSeq: 0 }]) as [Delta];
    const oldLife: Partition = {
      owner: SELF,
      epoch: signed.epoch,
      seq: signed.toSeq,
      rows: new Map(signed.upserts.map((r) => [`${r.table}\u0000${r.key}`, r])),
      signature: signed.signature,
    };
    const state = (partition: Partition) =>
      step(s, {
        kind: 'receive',
        now: at(1003),
        from: addressOf(1),
        message: {
          type: 'data-state',
          from: PEER,
          reply: true,
          partitions: [partition],
          tombstones: [],
          want: [],
        },
      });
    state({ ...oldLife, signature: signedDeltas(s, [{ ...previous, owner: PEER }])[0]?.signature });
    expect(s.counters.restamps, 'a version of ours signed by another key is refused').toBe(0);
    expect(s.counters.signaturesInvalid).toBe(1);
    state(oldLife);
    const p = s.partitions.get(SELF);
    expect(s.counters.restamps).toBe(1);
    expect(p?.epoch.wallMs).toBe(WALL + 5000);
    expect(p?.epoch).not.toEqual(before);
    expect(
      [...(p?.rows.values() ?? [])].map((r) => r.key),
      'our rows, not the old life',
    ).toEqual(['api']);
    expect(queued(s, SELF)).toMatchObject({ fromSeq: 0, toSeq: 1 });
  });
});

describe('registry core: rows only from their owner (signing.ts)', () => {
  it('a delta or partition not signed by its owner is refused and counted; the owner-signed one applies', () => {
    const s = fresh();
    view(s, 1000, [
      [1, 'alive'],
      [2, 'alive'],
    ]);
    const forged = { ...peerDelta(0, 1, 'evil'), signature: undefined };
    const [byOther] = signedDeltas(s, [{ ...forged, owner: nodeIdOf(2) }]) as [Delta];
    step(s, {
      kind: 'deltas',
      now: at(1001),
      from: addressOf(2),
      deltas: [{ ...forged, signature: byOther.signature }],
    });
    expect(s.partitions.has(PEER)).toBe(false);
    expect(s.counters.signaturesInvalid).toBe(1);
    // The owner's signature of another version (a replay with other rows) does not verify either.
    const [genuine] = signedDeltas(s, [peerDelta(0, 1, 'a')]) as [Delta];
    step(s, {
      kind: 'deltas',
      now: at(1002),
      from: addressOf(2),
      deltas: [{ ...forged, signature: genuine.signature }],
    });
    expect(s.counters.signaturesInvalid).toBe(2);
    expect(listServices(s)).toEqual([]);
    step(s, { kind: 'deltas', now: at(1003), from: addressOf(1), deltas: [genuine] });
    expect(listServices(s).map((x) => x.name)).toEqual(['a']);
    expect(s.counters.signaturesChecked).toBe(3);
  });

  it('an owner the view holds no key of cannot be checked: refused, counted unverifiable', () => {
    const s = fresh();
    step(s, { kind: 'deltas', now: at(1001), from: addressOf(1), deltas: [peerDelta(0, 1, 'a')] });
    expect(s.partitions.has(PEER)).toBe(false);
    expect(s.counters.unverifiable).toBe(1);
    view(s, 1002, [[1, 'alive']]);
    step(s, { kind: 'deltas', now: at(1003), from: addressOf(1), deltas: [peerDelta(0, 1, 'a')] });
    expect(listServices(s)).toHaveLength(1);
  });

  it('our own version is signed once per send, not per write', () => {
    const s = fresh({ eagerPushesMax: 0 });
    view(s, 1000, [[1, 'alive']]);
    for (let i = 0; i < 5; i++)
      step(s, { kind: 'local', now: at(1001 + i), write: service(`s${i}`) });
    expect(s.counters.signaturesMade).toBe(0);
    step(s, { kind: 'tick', now: at(5000) });
    expect(s.counters.signaturesMade).toBe(1);
  });

  it('a tombstone of an owner live in our view is ignored: only our own view withdraws a live member', () => {
    const s = fresh();
    view(s, 1000, [[1, 'alive']]);
    step(s, { kind: 'deltas', now: at(1001), from: addressOf(1), deltas: [peerDelta(0, 1, 'a')] });
    const tombstone = { owner: PEER, epoch: { wallMs: WALL + 600, logical: 0 }, seq: 5 };
    step(s, {
      kind: 'receive',
      now: at(1002),
      from: addressOf(2),
      message: {
        type: 'data-state',
        from: nodeIdOf(2),
        reply: false,
        partitions: [],
        tombstones: [tombstone],
        want: [],
      },
    });
    expect(listServices(s)).toHaveLength(1);
    expect(s.counters.tombstonesIgnored).toBe(1);
  });
});

describe('registry queries', () => {
  const peers = (s: RegistryState): void => {
    view(s, 1000, [
      [1, 'alive'],
      [2, 'alive'],
      [3, 'dead'],
    ]);
    const deltas = [1, 2, 3].map((i): Draft => ({
      owner: nodeIdOf(i),
      epoch: { wallMs: WALL, logical: 0 },
      fromSeq: 0,
      toSeq: 2,
      upserts: [
        {
          table: 'service',
          key: 'api',
          seq: 1,
          stamp: { wallMs: WALL, logical: 1 },
          value: { address: `10.0.0.${i}:80`, tags: [], weight: i },
        },
        {
          table: 'process',
          key: `w${i}`,
          seq: 2,
          stamp: { wallMs: WALL, logical: 2 },
          value: {
            type: 'worker',
            capabilities: i === 2 ? ['gpu'] : [],
            status: 'running',
            load: i === 1 ? 0.9 : 0.2,
          },
        },
      ],
      removals: [],
    }));
    step(s, { kind: 'deltas', now: at(1001), from: addressOf(1), deltas });
  };

  it('resolve prefers the preferred live node, falls back when it is dead, never returns a dead node', () => {
    const s = fresh();
    peers(s);
    const resolver = new ServiceResolver();
    expect(resolver.resolve(s, 'api', nodeIdOf(2))?.node).toBe(nodeIdOf(2));
    const picks = new Map<NodeId, number>();
    for (let t = 0; t < 30; t++) {
      const node = resolver.resolve(s, 'api', nodeIdOf(3))?.node as NodeId;
      picks.set(node, (picks.get(node) ?? 0) + 1);
    }
    expect(picks.get(nodeIdOf(3))).toBeUndefined();
    expect(picks.get(nodeIdOf(1))).toBe(10); // weights 1 : 2 over 30 turns
    expect(picks.get(nodeIdOf(2))).toBe(20);
    expect(resolver.resolve(s, 'nope')).toBeUndefined();
  });

  it('an instance of weight 0 is listed but never picked unless preferred', () => {
    const zero = [{ name: 'a', node: nodeIdOf(1), address: 'x', tags: [], weight: 0 }];
    expect(pickInstance(zero, undefined, 0)).toBeUndefined();
    expect(pickInstance(zero, nodeIdOf(1), 0)?.node).toBe(nodeIdOf(1));
  });

  it('finds processes by type and capability, and the least-loaded live node', () => {
    const s = fresh();
    peers(s);
    step(s, { kind: 'local', now: at(1002), write: proc('mine', 'worker', 0.5, ['gpu']) });
    expect(
      findByType(s, 'worker')
        .map((p) => p.pid)
        .sort(),
    ).toEqual(['mine', 'w1', 'w2']);
    expect(findByType(s, 'worker')).toHaveLength(3);
    expect(
      findByCapability(s, 'gpu')
        .map((p) => p.node)
        .sort(),
    ).toEqual([SELF, nodeIdOf(2)].sort());
    expect(leastLoadedNode(s, { type: 'worker' })).toBe(nodeIdOf(2));
    expect(leastLoadedNode(s, { capability: 'gpu' })).toBe(nodeIdOf(2));
    expect(leastLoadedNode(s, { type: 'nothing' })).toBeUndefined();
  });
});

describe('registry core: queue and exchange limits at limit-1, limit, limit+1', () => {
  const ownerDelta = (i: number): Draft => ({ ...peerDelta(0, 1, 'k'), owner: nodeIdOf(i) });

  it('partitionsMax (self included): a new owner past it is refused and counted', () => {
    const s = fresh({ partitionsMax: 3 });
    view(s, 1000, [
      [1, 'alive'],
      [2, 'alive'],
      [3, 'alive'],
    ]);
    step(s, { kind: 'deltas', now: at(1001), from: addressOf(1), deltas: [ownerDelta(1)] });
    expect(s.partitions.size).toBe(2);
    step(s, { kind: 'deltas', now: at(1002), from: addressOf(1), deltas: [ownerDelta(2)] });
    expect(s.partitions.size).toBe(3);
    step(s, { kind: 'deltas', now: at(1003), from: addressOf(1), deltas: [ownerDelta(3)] });
    expect(s.partitions.size).toBe(3);
    expect(s.counters.partitionsRefused).toBe(1);
  });

  it('deltaQueueMax: past it the most-sent queued delta is evicted and counted', () => {
    const s = fresh({ deltaQueueMax: 2, eagerPushesMax: 0 });
    view(s, 1000, [
      [1, 'alive'],
      [2, 'alive'],
      [3, 'alive'],
    ]);
    s.queue.delete(SELF); // our own announcement (first live peer): not what this test counts
    step(s, { kind: 'deltas', now: at(1001), from: addressOf(1), deltas: [ownerDelta(1)] });
    expect(s.queue.size).toBe(1);
    step(s, { kind: 'deltas', now: at(1002), from: addressOf(1), deltas: [ownerDelta(2)] });
    expect(s.queue.size).toBe(2);
    expect(s.counters.deltaQueueEvicted).toBe(0);
    step(s, { kind: 'deltas', now: at(1003), from: addressOf(1), deltas: [ownerDelta(3)] });
    expect(s.queue.size).toBe(2);
    expect(s.counters.deltaQueueEvicted).toBe(1);
  });

  it('deltaBytesMax: a gossip datagram carries deltas up to it, a larger delta goes by push-pull', () => {
    const sent = (budget: number, owners: number): { deltas: number; queuedBytes: number } => {
      const s = fresh({ deltaBytesMax: budget, eagerPushesMax: 0 });
      view(s, 1000, [
        [1, 'alive'],
        [2, 'alive'],
        [3, 'alive'],
      ]);
      s.queue.delete(SELF); // our own announcement (first live peer): not what this test counts
      for (let i = 1; i <= owners; i++)
        step(s, { kind: 'deltas', now: at(1001), from: addressOf(1), deltas: [ownerDelta(i)] });
      const queuedBytes = s.queue.get(nodeIdOf(1))?.bytes ?? 0;
      const ready = step(s, { kind: 'tick', now: at(5000) });
      const gossip = ready.effects.find(
        (e) => e.kind === 'send' && e.message.type === 'data-gossip',
      );
      const deltas =
        gossip?.kind === 'send' && gossip.message.type === 'data-gossip'
          ? gossip.message.deltas.length
          : 0;
      return { deltas, queuedBytes };
    };
    // Every owner's delta has the same size bound b (the queue's upper bound of its encoding).
    const b = sent(1200, 1).queuedBytes;
    expect(b).toBeGreaterThanOrEqual(
      deltaBytes(
        { ...ownerDelta(1), signature: 'ab'.repeat(64) as Signature },
        registryConfig('simMin'),
      ),
    );
    expect(sent(2 * b + 1, 2).deltas).toBe(2);
    expect(sent(2 * b, 2).deltas).toBe(2);
    expect(sent(2 * b - 1, 2).deltas).toBe(1);
    expect(sent(b, 1).deltas).toBe(1);
    expect(sent(b - 1, 1).deltas, 'too large for a datagram: push-pull carries it').toBe(0);
  });

  it('pushPullBytesMax: partitions that do not fit one data-state wait for the next round, counted', () => {
    const carried = (
      extraBytes: number,
    ): { partitions: number; truncated: number; size: number } => {
      const s = fresh({
        rowsPerNodeMax: 1,
        rowBytesMax: 64,
        fieldBytesMax: 32,
        pushPullBytesMax: 1024 + extraBytes,
      });
      view(s, 1000, [
        [1, 'alive'],
        [2, 'alive'],
        [3, 'alive'],
      ]);
      for (let i = 1; i <= 3; i++)
        step(s, { kind: 'deltas', now: at(1001), from: addressOf(1), deltas: [ownerDelta(i)] });
      // The peer holds our own (empty) partition already: only the three others are sent.
      const own = s.partitions.get(SELF) as Partition;
      const summary = {
        type: 'data-summary' as const,
        from: nodeIdOf(2),
        partial: false,
        entries: [{ owner: SELF, epoch: own.epoch, seq: own.seq }],
      };
      const ready = step(s, {
        kind: 'receive',
        now: at(1002),
        from: addressOf(2),
        message: summary,
      });
      const sent = ready.effects.find((e) => e.kind === 'send' && e.message.type === 'data-state');
      const partitions =
        sent?.kind === 'send' && sent.message.type === 'data-state'
          ? sent.message.partitions.length
          : 0;
      const size = partitionBytes(s.partitions.get(nodeIdOf(1)) as Partition, s.config);
      return { partitions, truncated: s.counters.partitionsTruncated, size };
    };
    const size = carried(100).size;
    expect(carried(2 * size + 1)).toMatchObject({ partitions: 2, truncated: 1 });
    expect(carried(2 * size)).toMatchObject({ partitions: 2, truncated: 1 });
    expect(carried(2 * size - 1)).toMatchObject({ partitions: 1, truncated: 2 });
  });
});

describe('registry core: eager push (a new delta goes out at once, bounded)', () => {
  const gossips = (ready: ReturnType<typeof step>) =>
    ready.effects.filter((e) => e.kind === 'send' && e.message.type === 'data-gossip');
  const three = (s: RegistryState) => {
    view(s, 1000, [
      [1, 'alive'],
      [2, 'alive'],
      [3, 'alive'],
    ]);
    s.queue.delete(SELF); // our own announcement (first live peer): not what these tests count
  };

  it('a local write is pushed in the same step to gossipFanout members, counted as transmits', () => {
    const s = fresh({ retransmitMult: 4 }); // limit 4 * ceil(log10(5)) = 4: the round finishes it
    three(s);
    const ready = step(s, { kind: 'local', now: at(1001), write: service('a') });
    expect(gossips(ready)).toHaveLength(s.config.gossipFanout);
    expect(s.queue.get(SELF)?.transmits).toBe(s.config.gossipFanout);
    expect(s.queue.get(SELF)?.fresh).toBe(false);
    expect(s.counters.gossipSent).toBe(s.config.gossipFanout);
  });

  it('a received delta that is new is forwarded once at once; the same delta again is not', () => {
    const s = fresh();
    three(s);
    const first = step(s, {
      kind: 'deltas',
      now: at(1001),
      from: addressOf(1),
      deltas: [peerDelta(0, 1, 'a')],
    });
    expect(gossips(first)).toHaveLength(s.config.gossipFanout);
    const again = step(s, {
      kind: 'deltas',
      now: at(1002),
      from: addressOf(2),
      deltas: [peerDelta(0, 1, 'a')],
    });
    expect(s.counters.deltasStale).toBe(1);
    expect(gossips(again)).toHaveLength(0);
    // A newer delta of the same owner is new again: forwarded once more.
    const next = step(s, {
      kind: 'deltas',
      now: at(1003),
      from: addressOf(2),
      deltas: [peerDelta(1, 2, 'b')],
    });
    expect(gossips(next)).toHaveLength(s.config.gossipFanout);
  });

  it('eagerPushesMax bounds the pushes between two rounds (limit-1, limit, limit+1); a round refills it', () => {
    const s = fresh({ eagerPushesMax: 2 });
    three(s);
    const pushed = [1, 2, 3].map(
      (i) => gossips(step(s, { kind: 'local', now: at(1000 + i), write: service(`s${i}`) })).length,
    );
    expect(pushed).toEqual([s.config.gossipFanout, s.config.gossipFanout, 0]);
    expect(s.queue.get(SELF)?.fresh, 'the third write waits for the round').toBe(true);
    const round = step(s, { kind: 'tick', now: at(s.nextGossipMs) });
    expect(gossips(round)).toHaveLength(s.config.gossipFanout);
    expect(s.eagerPushesLeft).toBe(2);
    const after = step(s, { kind: 'local', now: at(s.lastNowMs + 1), write: service('s4') });
    expect(gossips(after)).toHaveLength(s.config.gossipFanout);
  });

  it('eagerPushesMax 0 or the piggyback carrier: a write waits for the next round', () => {
    for (const settings of [{ eagerPushesMax: 0 }, { gossipCarrier: 'piggyback' as const }]) {
      const s = fresh(settings);
      three(s);
      const ready = step(s, { kind: 'local', now: at(1001), write: service('a') });
      expect(ready.effects.filter((e) => e.kind === 'send' || e.kind === 'piggyback')).toEqual([]);
      expect(s.queue.get(SELF)?.fresh).toBe(true);
    }
  });
});

describe('registry core: pulls on gaps are bounded', () => {
  it('one pull per owner per interval, at most partitionsMax owners, marks expire', () => {
    const s = fresh({ partitionsMax: 3 });
    view(s, 1000, [[1, 'alive']]);
    const gap = (i: number): Draft => ({ ...peerDelta(4, 5, 'k'), owner: nodeIdOf(i) });
    const pulls = (now: number, owners: number[]): number =>
      step(s, {
        kind: 'deltas',
        now: at(now),
        from: addressOf(1),
        deltas: owners.map(gap),
      }).effects.filter((e) => e.kind === 'send' && e.message.type === 'data-summary').length;
    expect(pulls(1001, [2, 2, 3])).toBe(2);
    expect(pulls(1002, [4, 5, 6]), 'partitionsMax (3) marks at most').toBe(1);
    expect(s.pulledAtMs.size).toBe(3);
    step(s, { kind: 'tick', now: at(1002 + s.config.pushPullIntervalMs) });
    expect(s.pulledAtMs.size, 'marks older than one interval are dropped').toBe(0);
    expect(pulls(1002 + s.config.pushPullIntervalMs, [2])).toBe(1);
  });
});
