/**
 * The tree service (node/data-tree.ts; docs/design/data-plane.md, "Merkle sync on the network")
 * against in-memory twins: services on a simulated clock whose frames arrive 1 ms after they
 * leave. Replicas converge to one root by last writer wins (values, deletes, concurrent writes of
 * one key), whatever each wrote; a new member learns a tree it never opened; the shallower side
 * grows to the deeper one's shape; a proof from one replica verifies against another's root and
 * fails when tampered; forged, unknown-writer, future-stamped and non-member entries and bytes
 * that do not decode are refused and counted, and change no root.
 */
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { toHex } from '../../src/base/hex.js';
import { Rng } from '../../src/base/rng.js';
import { encodeWith } from '../../src/codec/codec.js';
import { compareStamp } from '../../src/crdt/hlc.js';
import type { ViewMember } from '../../src/crdt/registry/types.js';
import { identityFromSeed, type SigningIdentity } from '../../src/identity/member-crypto.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { CHAIN_CRYPTO } from '../../src/node/data-crypto.js';
import {
  NodeTrees,
  TreeService,
  treeSettings,
  verifyTreeProof,
  type TreeSettings,
} from '../../src/node/data-tree.js';
import { SimClock } from '../../src/sim/clock.js';
import { treeMessages, type TreeBody } from '../../src/tree/messages.js';
import { signedEntryBytes, type TreeEntry } from '../../src/tree/shared.js';
import { emptyStats, type ReceiveHandler, type Transport } from '../../src/transport/types.js';

const CLUSTER = 'c';
const WALL_MS = 1_700_000_000_000;

interface Twin {
  id: NodeId;
  identity: SigningIdentity;
  address: Address;
  service: TreeService;
  trees: NodeTrees;
  deliver(body: TreeBody, from: Address): void;
  raw(bytes: Uint8Array, from: Address): void;
}

function cluster(n: number, settings: Partial<TreeSettings> = {}, verify = true) {
  const clock = new SimClock();
  const handlers = new Map<Address, ReceiveHandler>();
  const members: ViewMember[] = [];
  const identities = Array.from({ length: n }, (_, i) =>
    identityFromSeed(new Uint8Array(32).fill(i + 1)),
  );
  identities.forEach((identity, i) =>
    members.push({
      id: identity.nodeId,
      address: `127.0.0.1:${1000 + i}` as Address,
      state: 'alive',
      publicKey: toHex(identity.publicKey),
    } as ViewMember),
  );
  const s = treeSettings({ syncIntervalMs: 100, ...settings });
  const table = treeMessages(s);
  const twins: Twin[] = identities.map((identity, i) => {
    const address = members[i]?.address as Address;
    const transport: Transport = {
      localAddress: address,
      sendPacket: () => undefined,
      sendFrame: (to, data) =>
        void clock.setTimer(1 as never, () => handlers.get(to)?.(address, 'stream', data)),
      onReceive: (h) => void handlers.set(address, h),
      onStreamRefused: () => undefined,
      stats: emptyStats,
      close: () => Promise.resolve(),
    };
    const others = () => members.filter((m) => m.id !== identity.nodeId);
    const service = new TreeService({
      id: identity.nodeId,
      publicKey: identity.publicKey,
      sign: (d) => identity.sign(d),
      verify: verify ? CHAIN_CRYPTO.verify : () => true,
      sha256: CHAIN_CRYPTO.sha256,
      clusterId: CLUSTER,
      clock,
      rng: new Rng(i + 1),
      wallOffsetMs: WALL_MS,
      transport,
      membership: {
        all: others,
        get: (id) => others().find((m) => m.id === id),
        count: () => others().length,
      },
      settings: s,
    });
    return {
      id: identity.nodeId,
      identity,
      address,
      service,
      trees: new NodeTrees(service),
      deliver: (body, from) =>
        void handlers.get(address)?.(
          from,
          'stream',
          encodeWith(table, { type: 'data-tree', body }, CLUSTER),
        ),
      raw: (bytes, from) => void handlers.get(address)?.(from, 'stream', bytes),
    };
  });
  const run = (forMs: number) => clock.runUntil(clock.now() + forMs, { eventsMax: 1_000_000 });
  return { clock, twins, run };
}

const rootOf = (t: Twin, name: string) => toHex(t.trees.get(name)?.root() ?? new Uint8Array());

describe('tree sync between in-memory twins', () => {
  it('converges to one root by last writer wins: values, deletes, concurrent writes', () => {
    const { twins, run } = cluster(3);
    const [a, b, c] = twins as [Twin, Twin, Twin];
    const ta = a.trees.open('cfg');
    const tb = b.trees.open('cfg');
    for (let i = 0; i < 150; i++) ta.set(`k${i}`, `a${i}`);
    for (let i = 100; i < 200; i++) tb.set(`k${i}`, `b${i}`);
    // Concurrent writes of k110 (one wall ms): the larger (HLC, writer) stamp must win everywhere.
    const [ea, eb] = [ta.entry('k110'), tb.entry('k110')];
    if (ea === undefined || eb === undefined) throw new Error('k110 not written');
    const winner = compareStamp(ea.hlc, ea.writer, eb.hlc, eb.writer) > 0 ? 'a110' : 'b110';
    run(5);
    // Written after a's k100..k149 on the same clock: b's later writes win everywhere.
    for (let i = 120; i < 130; i++) tb.set(`k${i}`, `b-late${i}`);
    ta.delete('k3');
    run(3000);
    const roots = twins.map((t) => rootOf(t, 'cfg'));
    expect(new Set(roots).size).toBe(1);
    const tc = c.trees.get('cfg');
    expect(tc?.size).toBe(199);
    expect(new TextDecoder().decode(tc?.get('k125'))).toBe('b-late125');
    expect(new TextDecoder().decode(tc?.get('k110'))).toBe(winner);
    expect(tc?.get('k3')).toBeUndefined();
    expect(tc?.entry('k3')?.deleted).toBe(true);
    expect(c.service.stats().counters['treesLearned']).toBe(1);
    const stats = a.service.stats().counters;
    expect(stats['syncsDiffered']).toBeGreaterThan(0);
    expect(stats['syncsEqual']).toBeGreaterThan(0);
  });

  it('collects tombstones after tombstoneKeepMs and stays converged', () => {
    const { twins, run } = cluster(2, { tombstoneKeepMs: 2000 });
    const [a, b] = twins as [Twin, Twin];
    const t = a.trees.open('t');
    t.set('x', '1');
    t.set('y', '2');
    run(1000);
    t.delete('x');
    run(1000);
    expect(b.trees.get('t')?.entry('x')?.deleted).toBe(true);
    run(3000);
    expect(a.trees.get('t')?.entry('x')).toBeUndefined();
    expect(b.trees.get('t')?.entry('x')).toBeUndefined();
    expect(rootOf(a, 't')).toBe(rootOf(b, 't'));
    expect(a.service.stats().counters['tombstonesCollected']).toBe(1);
  });

  it('grows the shallower replica to the deeper shape, then syncs', () => {
    const { twins, run } = cluster(2, { fanout: 4 });
    const [a, b] = twins as [Twin, Twin];
    const t = a.trees.open('big');
    for (let i = 0; i < 700; i++) t.set(`key-${i}`, `v${i}`);
    expect(t.info().depth).toBe(3); // 700 keys > 4^2 buckets x 32
    b.trees.open('big').set('only-b', 'x');
    expect(b.trees.get('big')?.info().depth).toBe(2);
    run(3000);
    expect(b.trees.get('big')?.info().depth).toBe(3);
    expect(b.trees.get('big')?.size).toBe(701);
    expect(rootOf(a, 'big')).toBe(rootOf(b, 'big'));
  });

  it("a proof from one replica verifies against the other replica's root; tampering fails", () => {
    const { twins, run } = cluster(2);
    const [a, b] = twins as [Twin, Twin];
    const t = a.trees.open('p');
    for (let i = 0; i < 50; i++) t.set(`k${i}`, `v${i}`);
    run(2000);
    const rootA = a.trees.get('p')?.root() as Uint8Array;
    const proof = b.trees.get('p')?.proof('k7');
    if (proof === undefined) throw new Error('no tree at b');
    expect(verifyTreeProof(rootA, proof)).toBe(true);
    const absent = b.trees.get('p')?.proof('nope');
    expect(absent !== undefined && verifyTreeProof(rootA, absent)).toBe(true);
    const e = proof.entry as TreeEntry;
    const tampered = [
      { ...proof, entry: { ...e, value: new TextEncoder().encode('v8') } },
      { ...proof, entry: { ...e, hlc: { ...e.hlc, logical: e.hlc.logical + 1 } } },
      { ...proof, entry: { ...e, writer: b.id } },
      { ...proof, entry: { ...e, deleted: true, value: new Uint8Array() } },
      { ...proof, entry: undefined },
      { ...proof, key: 'k8' },
      { ...proof, tree: 'q' },
    ];
    for (const bad of tampered) expect(verifyTreeProof(rootA, bad)).toBe(false);
    const level = proof.merkle.levels[0] as Uint8Array[];
    const sibling = level.map((h, i) =>
      i === (proof.merkle.bucket + 1) % 16 ? h.map((x) => x ^ 1) : h,
    );
    const badSibling = {
      ...proof,
      merkle: { ...proof.merkle, levels: [sibling, ...proof.merkle.levels.slice(1)] },
    };
    expect(verifyTreeProof(rootA, badSibling)).toBe(false);
  });
});

describe('the tree service refuses what it must not merge, and counts it', () => {
  function forged(writer: NodeId, signer: SigningIdentity, key = 'evil'): TreeEntry {
    const unsigned = {
      key,
      value: new TextEncoder().encode('forged'),
      deleted: false,
      hlc: { wallMs: WALL_MS + 10, logical: 0 },
      writer,
    };
    return { ...unsigned, signature: signer.sign(signedEntryBytes(CLUSTER, 't', unsigned)) };
  }

  it('refuses forged, unknown-writer, future-stamped and non-member entries; bad bytes', () => {
    const { twins, run } = cluster(2);
    const [a, b] = twins as [Twin, Twin];
    a.trees.open('t').set('good', '1');
    const before = rootOf(a, 't');
    const attacker = identityFromSeed(new Uint8Array(32).fill(99));
    a.deliver({ kind: 'push', id: 0, name: 't', entries: [forged(b.id, attacker)] }, b.address);
    a.deliver(
      { kind: 'push', id: 0, name: 't', entries: [forged(attacker.nodeId, attacker)] },
      b.address,
    );
    const future = forged(b.id, b.identity, 'late');
    const ahead = { ...future, hlc: { wallMs: WALL_MS + 3_600_000, logical: 0 } };
    const signedAhead = {
      ...ahead,
      signature: b.identity.sign(signedEntryBytes(CLUSTER, 't', ahead)),
    };
    a.deliver({ kind: 'push', id: 0, name: 't', entries: [signedAhead] }, b.address);
    a.deliver(
      { kind: 'push', id: 0, name: 't', entries: [forged(b.id, b.identity)] },
      '10.9.9.9:1' as Address,
    );
    a.deliver({ kind: 'entries', id: 424242, status: 'ok', entries: [], wants: [] }, b.address);
    a.raw(new Uint8Array([0x53, 0x48, 2, 46, 1, 0x63, 9, 9]), b.address);
    a.raw(new Uint8Array([1, 2, 3]), b.address);
    const stats = a.service.stats();
    expect(stats.refused).toMatchObject({
      'bad-signature': 1,
      'unknown-writer': 1,
      'future-hlc': 1,
      'not-a-member': 1,
      'unexpected-answer': 1,
    });
    expect(Object.values(stats.decodeErrors).reduce((x, y) => x + y, 0)).toBe(2);
    expect(rootOf(a, 't')).toBe(before);
    expect(a.trees.get('t')?.size).toBe(1);
    // The one honest entry (b's, signed by b) is taken.
    a.deliver({ kind: 'push', id: 0, name: 't', entries: [forged(b.id, b.identity)] }, b.address);
    expect(a.trees.get('t')?.size).toBe(2);
    run(10);
  });

  it('with verification off (the -unsafe twin) a forged entry is merged', () => {
    const { twins } = cluster(2, {}, false);
    const [a, b] = twins as [Twin, Twin];
    a.trees.open('t');
    const attacker = identityFromSeed(new Uint8Array(32).fill(99));
    a.deliver({ kind: 'push', id: 0, name: 't', entries: [forged(b.id, attacker)] }, b.address);
    expect(a.trees.get('t')?.get('evil')).toBeDefined();
  });

  it('checks its arguments: names, keys, values', () => {
    const { twins } = cluster(1);
    const a = twins[0] as Twin;
    expect(() => a.trees.open('bad name')).toThrow(/letters, digits/);
    expect(() => a.trees.open('x'.repeat(65))).toThrow(/nameBytesMax/);
    const t = a.trees.open('ok');
    expect(() => t.set('', 'v')).toThrow(/non-empty/);
    expect(() => t.set('k'.repeat(1025), 'v')).toThrow(/keyBytesMax/);
    expect(() => t.set('k', new Uint8Array(65_537))).toThrow(/valueBytesMax/);
    t.set('k', new Uint8Array(65_536));
    expect(t.size).toBe(1);
  });
});
