/**
 * Raft mode without a keyring (docs/security.md, "Raft mode"): a sender holding no member's key
 * cannot change what a member believes about another member, itself or the leader. Over real
 * loopback sockets, an attacker who can reach every cluster port claims a member's address and
 * sends (a) a vote request with term 10^6 (it would depose the leader), (b) an AppendEntries in
 * a newer term that would overwrite the follower's log and commit a forged entry, (c) a node
 * channel hello renaming a member: on a stream opened with a plain hello, on a stream opened
 * with a hello signed by a key of its own, and as a UDP packet. Nothing changes (term, leader,
 * log, names) and a counter moves for each. The same attacks on a cluster with verification
 * off (`unsafeSkipVerification`) do change the term and the name: the positive control.
 * Last, a stranger speaking as itself (a key of its own, its own address): without admission it
 * connects, but a member takes Raft messages only from its configuration's members, so its
 * overwriting AppendEntries and its vote request are dropped (`raft_not_member`) and nothing
 * changes; with admission it cannot connect at all.
 */
import { createSocket } from 'node:dgram';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { logIndex, term, type Term } from '../../src/base/units.js';
import {
  generateRawKeyPair,
  nodeIdFromPublicKey,
  privateKeyFromSeed,
  signWith,
} from '../../src/identity/keys.js';
import { loadOrCreateIdentity } from '../../src/identity/identity.js';
import type { NodeId } from '../../src/identity/node-id.js';
import type { ShoalNode } from '../../src/node/node.js';
import { encodeRaftNodeMessage } from '../../src/node/raft-rpc-codec.js';
import { encodeRaftMessage } from '../../src/raft/codec.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import { PeerAuthenticator } from '../../src/transport/peer-auth.js';
import { destroyRawClients, frame, helloFrame, rawClient } from '../transport/raw-stream.js';
import { waitFor } from '../helpers/wait.js';
import { startRaftCluster, type RaftCluster } from '../node/raft-cluster.js';

const CLUSTER = 'raft-test';
const HUGE_TERM = term(1_000_000);

/** A key of the attacker's own (it holds no member's). */
const attackerPair = generateRawKeyPair();
const attackerKey = privateKeyFromSeed(attackerPair.privateSeed);
const attacker = {
  publicKey: attackerPair.publicKey,
  id: nodeIdFromPublicKey(attackerPair.publicKey),
  sign: (data: Uint8Array) => signWith(attackerKey, data),
};

type Route = 'plain-hello' | 'own-key-hello' | 'packet';
const ROUTES: readonly Route[] = ['plain-hello', 'own-key-hello', 'packet'];

/** Sends `payload` to `to` as if from `claimed`, by `route`. */
async function forge(
  route: Route,
  to: string,
  claimed: string,
  payload: Uint8Array,
  identity: { publicKey: Uint8Array; sign(data: Uint8Array): Uint8Array } = attacker,
): Promise<void> {
  if (route === 'packet') {
    const udp = createSocket('udp4');
    const port = Number(to.slice(to.lastIndexOf(':') + 1));
    await new Promise<void>((resolve, reject) =>
      udp.send(payload, port, '127.0.0.1', (err) => (err === null ? resolve() : reject(err))),
    );
    udp.close();
    return;
  }
  const client = await rawClient(to);
  const hello =
    route === 'plain-hello'
      ? helloFrame(claimed)
      : frame(
          new PeerAuthenticator({ clusterId: CLUSTER, identity }).hello(
            claimed as Address,
            to as Address,
          ),
        );
  client.socket.write(hello);
  client.socket.write(frame(payload));
}

interface Snapshot {
  terms: number[];
  leaders: (NodeId | undefined)[];
  names: string[];
}

function snapshot(nodes: readonly ShoalNode[]): Snapshot {
  return {
    terms: nodes.map((n) => n.raft.status().term),
    leaders: nodes.map((n) => n.raft.status().leader),
    names: nodes.map((n) =>
      n
        .members()
        .map((m) => `${m.id}=${m.name}`)
        .sort()
        .join(','),
    ),
  };
}

function dropped(nodes: readonly ShoalNode[], reason: string): number {
  return nodes.reduce((sum, n) => sum + (n.stats().transport?.dropped[reason] ?? 0), 0);
}

/** The three forgeries, each by every route, claiming follower `f1` (or the leader, for the append). */
async function attack(cluster: RaftCluster, leader: ShoalNode): Promise<void> {
  const [f1, f2] = cluster.nodes.filter((n) => n !== leader) as [ShoalNode, ShoalNode];
  const address = (n: ShoalNode): string => cluster.addresses[cluster.nodes.indexOf(n)] as string;
  const status = f2.raft.status();
  const lastIndex = status.members.find((m) => m.id === f2.id)?.matchIndex ?? 0;
  const vote: RaftMessage = {
    type: 'raft-vote-request',
    from: f1.id,
    fromAddress: address(f1) as Address,
    term: HUGE_TERM,
    lastIndex: logIndex(1_000_000),
    lastTerm: HUGE_TERM,
    preVote: false,
    transfer: true,
  };
  const nextTerm = term(status.term + 1) as Term;
  const append: RaftMessage = {
    type: 'raft-append',
    from: leader.id,
    fromAddress: address(leader) as Address,
    term: nextTerm,
    prevIndex: logIndex(lastIndex),
    prevTerm: term(status.term),
    commit: logIndex(lastIndex + 1),
    entries: [
      { index: logIndex(lastIndex + 1), term: nextTerm, kind: 'normal', data: Uint8Array.of(9, 9) },
    ],
  };
  const rename = encodeRaftNodeMessage(
    {
      type: 'raft-node-hello',
      from: f1.id,
      fromAddress: address(f1) as Address,
      name: 'mallory',
      labels: {},
      httpUrls: [],
      grpcUrls: [],
    },
    CLUSTER,
  );
  for (const route of ROUTES) {
    await forge(route, address(leader), address(f1), encodeRaftMessage(vote, CLUSTER));
    await forge(route, address(f2), address(f1), encodeRaftMessage(vote, CLUSTER));
    await forge(route, address(f2), address(leader), encodeRaftMessage(append, CLUSTER));
    await forge(route, address(leader), address(f1), rename);
  }
}

describe('raft mode without a keyring: forged senders change nothing', () => {
  let cluster: RaftCluster | undefined;
  afterEach(async () => {
    destroyRawClients();
    await cluster?.stop();
    cluster = undefined;
  });
  afterAll(() => destroyRawClients());

  it('a vote request with term 10^6, an overwriting AppendEntries and a renaming hello, by every route', async () => {
    cluster = await startRaftCluster(3);
    const leader = await cluster.leader();
    await leader.kv.put('before', 'v0');
    // Hellos have named every member on every member.
    await waitFor(
      () => cluster!.nodes.every((n) => n.members().every((m) => /^r\d$/.test(m.name))),
      20_000,
      'every member named',
    );
    const before = snapshot(cluster.nodes);
    const commitBefore = cluster.nodes.map((n) => n.raft.status().commitIndex);
    await attack(cluster, leader);
    const nodes = cluster.nodes;
    await waitFor(
      () =>
        dropped(nodes, 'peer_auth_malformed') >= 4 &&
        dropped(nodes, 'sender_mismatch') >= 4 &&
        dropped(nodes, 'packet_unauthenticated') >= 4,
      20_000,
      () =>
        `every forgery refused: ${JSON.stringify(nodes.map((n) => n.stats().transport?.dropped))}`,
    );
    expect(snapshot(nodes)).toEqual(before);
    for (const [i, n] of nodes.entries()) {
      expect(n.raft.status().commitIndex).toBeGreaterThanOrEqual(commitBefore[i] as number);
      expect(n.raft.status().term).toBeLessThan(HUGE_TERM);
      expect(n.stats().protocol['identitiesRefused'] ?? 0).toBe(0);
    }
    // The log was not overwritten: the store reads the same, and keeps replicating.
    const after = await leader.kv.put('after', 'v1');
    for (const n of nodes) {
      expect(new TextDecoder().decode((await n.kv.get('before'))?.value)).toBe('v0');
      await waitFor(
        () => n.raft.status().appliedIndex >= n.raft.status().commitIndex,
        10_000,
        'applied',
      );
      expect((await n.kv.get('after'))?.modRevision).toBe(after.revision);
    }
    expect(snapshot(nodes)).toEqual(before);
    expect(nodes.every((n) => n.failure === undefined)).toBe(true);
  }, 90_000);

  it('a sender with a key of its own claiming a pinned member address is dropped as no member (raft_not_member)', async () => {
    cluster = await startRaftCluster(3);
    const leader = await cluster.leader();
    await leader.kv.put('pins', 'committed');
    const nodes = cluster.nodes;
    // The leader's pin-only configuration names every slot's NodeId once committed.
    await waitFor(
      () =>
        nodes.every((n) => {
          const state = n.internals.raft?.state;
          return (
            state !== undefined &&
            state.membership.index <= state.commitIndex &&
            state.membership.config.members.every((m) => m.id !== undefined)
          );
        }),
      20_000,
      'pins committed everywhere',
    );
    const before = snapshot(nodes);
    const f1 = nodes.find((n) => n !== leader) as ShoalNode;
    const f1Address = cluster.addresses[nodes.indexOf(f1)] as Address;
    const vote: RaftMessage = {
      type: 'raft-vote-request',
      from: attacker.id,
      fromAddress: f1Address,
      term: HUGE_TERM,
      lastIndex: logIndex(1_000_000),
      lastTerm: HUGE_TERM,
      preVote: false,
      transfer: true,
    };
    for (const n of nodes)
      if (n !== f1)
        await forge(
          'own-key-hello',
          cluster.addresses[nodes.indexOf(n)] as string,
          f1Address,
          encodeRaftMessage(vote, CLUSTER),
        );
    // Its NodeId is no member's: the transport drops it before the core's slot rule would.
    await waitFor(() => dropped(nodes, 'raft_not_member') >= 2, 20_000, 'both members dropped it');
    expect(nodes.reduce((s, n) => s + (n.stats().protocol['identitiesRefused'] ?? 0), 0)).toBe(0);
    expect(snapshot(nodes)).toEqual(before);
  }, 90_000);

  it('a removed member is a stranger: its vote request with term 10^6, signed with its own key, is dropped (thesis §4.2.3)', async () => {
    cluster = await startRaftCluster(3);
    const leader = await cluster.leader();
    const nodes = cluster.nodes;
    const removed = nodes.find((n) => n !== leader) as ShoalNode;
    const removedAddress = cluster.addresses[nodes.indexOf(removed)] as Address;
    const removedKey = await loadOrCreateIdentity(cluster.dirs[nodes.indexOf(removed)] as string);
    expect(removedKey.nodeId).toBe(removed.id);
    const rest = nodes.filter((n) => n !== removed);
    await leader.raft.removeMember(removed.id);
    await waitFor(
      () => rest.every((n) => n.raft.status().members.every((m) => m.address !== removedAddress)),
      20_000,
      'the removal reached the other members',
    );
    const before = snapshot(rest);
    const droppedBefore = dropped(rest, 'raft_not_member');
    const vote: RaftMessage = {
      type: 'raft-vote-request',
      from: removed.id,
      fromAddress: removedAddress,
      term: HUGE_TERM,
      lastIndex: logIndex(1_000_000),
      lastTerm: HUGE_TERM,
      preVote: false,
      transfer: true,
    };
    for (const n of rest)
      await forge(
        'own-key-hello',
        cluster.addresses[nodes.indexOf(n)] as string,
        removedAddress,
        encodeRaftMessage(vote, CLUSTER),
        removedKey,
      );
    await waitFor(
      () => dropped(rest, 'raft_not_member') >= droppedBefore + 2,
      20_000,
      'both remaining members dropped it',
    );
    expect(snapshot(rest)).toEqual(before);
    for (const n of rest) expect(n.raft.status().term).toBeLessThan(HUGE_TERM);
    // The remaining two still commit.
    await leader.kv.put('after-removal', 'ok');
  }, 90_000);

  it('positive control: with verification off the same forgeries depose the leader and rename a member', async () => {
    cluster = await startRaftCluster(3, { internals: { unsafeSkipVerification: true } });
    const leader = await cluster.leader();
    await leader.kv.put('before', 'v0');
    await waitFor(
      () => cluster!.nodes.every((n) => n.members().every((m) => /^r\d$/.test(m.name))),
      20_000,
      'every member named',
    );
    await attack(cluster, leader);
    const nodes = cluster.nodes;
    await waitFor(
      () =>
        nodes.some((n) => n.raft.status().term >= HUGE_TERM) &&
        leader.members().some((m) => m.name === 'mallory'),
      20_000,
      () => `the forgeries took: ${JSON.stringify(snapshot(nodes))}`,
    );
  }, 90_000);

  it('a stranger with a key of its own, speaking as itself: its overwriting AppendEntries and its vote request are dropped (raft_not_member); with admission it cannot connect', async () => {
    // An append in a newer term whose first entry conflicts with the follower's committed
    // index 1: heard, it would adopt the stranger as leader and truncate its whole log.
    const strangerAppend = (to: ShoalNode): RaftMessage => {
      const next = term(to.raft.status().term + 1);
      return {
        type: 'raft-append',
        from: attacker.id,
        fromAddress: '127.0.0.1:9' as Address,
        term: next,
        prevIndex: logIndex(0),
        prevTerm: term(0),
        commit: logIndex(1),
        entries: [{ index: logIndex(1), term: next, kind: 'normal', data: Uint8Array.of(6, 6) }],
      };
    };
    const strangerVote: RaftMessage = {
      type: 'raft-vote-request',
      from: attacker.id,
      fromAddress: '127.0.0.1:9' as Address,
      term: HUGE_TERM,
      lastIndex: logIndex(1_000_000),
      lastTerm: HUGE_TERM,
      preVote: false,
      transfer: true,
    };
    const strangersRefused = (n: ShoalNode): number =>
      n.stats().transport?.dropped['raft_not_member'] ?? 0;
    // Without admission: connected, but not a member, so no Raft message of its reaches the core.
    cluster = await startRaftCluster(3);
    let leader = await cluster.leader();
    await leader.kv.put('before', 'v0');
    let nodes = cluster.nodes;
    await waitFor(
      () => nodes.every((n) => n.raft.status().appliedIndex >= leader.raft.status().commitIndex),
      20_000,
      'every member applied the put',
    );
    let follower = nodes.find((n) => n !== leader) as ShoalNode;
    const followerAddress = cluster.addresses[nodes.indexOf(follower)] as string;
    const logOf = (n: ShoalNode): string =>
      JSON.stringify(
        n.internals.raft?.state.log.entries.map((e) => [e.index, e.term, e.kind]) ?? [],
      );
    const before = snapshot(nodes);
    const logBefore = logOf(follower);
    const open = follower;
    await forge(
      'own-key-hello',
      followerAddress,
      '127.0.0.1:9',
      encodeRaftMessage(strangerAppend(follower), CLUSTER),
    );
    await forge(
      'own-key-hello',
      followerAddress,
      '127.0.0.1:9',
      encodeRaftMessage(strangerVote, CLUSTER),
    );
    await waitFor(() => strangersRefused(open) >= 2, 20_000, 'the stranger dropped');
    expect(snapshot(nodes)).toEqual(before);
    expect(open.raft.status().leader).toBe(leader.id);
    expect(logOf(open).startsWith(logBefore.slice(0, -1))).toBe(true);
    expect(open.stats().protocol['strangersRefused']).toBeGreaterThanOrEqual(2);
    expect(open.stats().protocol['peerHellosAccepted']).toBeGreaterThan(0);
    // The follower still follows: a later write reaches it, the first one is still there.
    const after = await leader.kv.put('after', 'v1');
    const target = leader.raft.status().commitIndex;
    await waitFor(
      () => open.raft.status().appliedIndex >= target,
      20_000,
      'the follower applied the later write',
    );
    expect(new TextDecoder().decode((await open.kv.get('before'))?.value)).toBe('v0');
    expect((await open.kv.get('after'))?.modRevision).toBe(after.revision);
    expect(snapshot(nodes)).toEqual(before);
    await cluster.stop();
    destroyRawClients();
    // With admission (allow: the members), the stranger's connection is refused.
    cluster = await startRaftCluster(3, { allowMembersOnly: true });
    leader = await cluster.leader();
    await leader.kv.put('admitted', 'only');
    nodes = cluster.nodes;
    follower = nodes.find((n) => n !== leader) as ShoalNode;
    const termBefore = follower.raft.status().term;
    const closed = follower;
    await forge(
      'own-key-hello',
      cluster.addresses[nodes.indexOf(follower)] as string,
      '127.0.0.1:9',
      encodeRaftMessage(strangerAppend(follower), CLUSTER),
    );
    await waitFor(
      () => (closed.stats().transport?.dropped['peer_auth_not_admitted'] ?? 0) >= 1,
      20_000,
      'the stranger refused',
    );
    expect(closed.raft.status().term).toBe(termBefore);
    expect(closed.raft.status().leader).toBe(leader.id);
  }, 120_000);
});
