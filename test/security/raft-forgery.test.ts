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
 * Last, the documented limit and its remedy: a stranger speaking as itself (a key of its own,
 * its own address) is heard as Raft requires without admission, and cannot connect with it.
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
          new PeerAuthenticator({ clusterId: CLUSTER, identity: attacker }).hello(
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

  it('a sender with a key of its own claiming a pinned member address is refused by the Raft core', async () => {
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
    await waitFor(
      () => nodes.reduce((s, n) => s + (n.stats().protocol['identitiesRefused'] ?? 0), 0) >= 2,
      20_000,
      'the core refused both',
    );
    expect(snapshot(nodes)).toEqual(before);
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

  it('a stranger with a key of its own: without admission it can lead a follower astray (Raft is not Byzantine-tolerant); with admission it cannot connect', async () => {
    const strangerAppend = (to: ShoalNode): RaftMessage => {
      const status = to.raft.status();
      const last = status.members.find((m) => m.id === to.id)?.matchIndex ?? 0;
      return {
        type: 'raft-append',
        from: attacker.id,
        fromAddress: '127.0.0.1:9' as Address,
        term: term(status.term + 1),
        prevIndex: logIndex(last),
        prevTerm: term(status.term),
        commit: logIndex(0),
        entries: [],
      };
    };
    // Without admission: the documented limit (docs/security.md, "Raft mode").
    cluster = await startRaftCluster(3);
    let leader = await cluster.leader();
    let follower = cluster.nodes.find((n) => n !== leader) as ShoalNode;
    let termBefore = follower.raft.status().term;
    await forge(
      'own-key-hello',
      cluster.addresses[cluster.nodes.indexOf(follower)] as string,
      '127.0.0.1:9',
      encodeRaftMessage(strangerAppend(follower), CLUSTER),
    );
    const open = follower;
    await waitFor(() => open.raft.status().term > termBefore, 20_000, 'the stranger was heard');
    await cluster.stop();
    destroyRawClients();
    // With admission (allow: the members), the stranger's connection is refused.
    cluster = await startRaftCluster(3, { allowMembersOnly: true });
    leader = await cluster.leader();
    await leader.kv.put('admitted', 'only');
    follower = cluster.nodes.find((n) => n !== leader) as ShoalNode;
    termBefore = follower.raft.status().term;
    const closed = follower;
    await forge(
      'own-key-hello',
      cluster.addresses[cluster.nodes.indexOf(follower)] as string,
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
