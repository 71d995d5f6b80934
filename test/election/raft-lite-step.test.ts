import { describe, expect, test } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { Rng } from '../../src/base/rng.js';
import type { Millis } from '../../src/base/time.js';
import type { Ready } from '../../src/base/protocol.js';
import { term } from '../../src/base/units.js';
import { RAFT_LITE_DEFAULTS, raftLiteConfig } from '../../src/election/raft-lite/config.js';
import { checkInvariants } from '../../src/election/raft-lite/invariants.js';
import {
  hasQuorum,
  initRaftLite,
  leaderOf,
  nextDeadline,
  recordOf,
  step,
} from '../../src/election/raft-lite/step.js';
import type { Effect, RaftLiteRecord, State } from '../../src/election/raft-lite/types.js';
import { parseRaftLiteFile, RAFT_LITE_STORE } from '../../src/election/raft-lite/protocol.js';
import type { NodeId } from '../../src/identity/node-id.js';

const addr = (i: number): Address => `127.0.0.1:${7000 + i}` as Address;
const id = (c: string): NodeId => c.repeat(32) as NodeId;
const rng = new Rng(1);

function fresh(peers = 3, startTerm = 0, config = raftLiteConfig()): State {
  return initRaftLite(
    {
      config,
      selfId: id('1'),
      selfAddress: addr(1),
      peers: Array.from({ length: peers }, (_, i) => addr(i + 1)),
    },
    { term: term(startTerm), votedFor: undefined },
    0 as Millis,
    rng,
  );
}
type Out = Ready<State, Effect, RaftLiteRecord>;
/** Every effect of a step, immediate ones first, then those that wait for its write. */
const all = (out: Out): Effect[] => [...out.effects, ...out.afterPersist];
const tickOut = (s: State, now: number): Out =>
  step(s, { kind: 'tick', now: now as Millis }, { rng });
const tickAt = (s: State, now: number): Effect[] => all(tickOut(s, now));
type Message = Parameters<typeof step>[1] extends infer I
  ? I extends { kind: 'receive'; message: infer M }
    ? M
    : never
  : never;
const recvOut = (s: State, now: number, message: Message): Out =>
  step(s, { kind: 'receive', now: now as Millis, from: message.fromAddress, message }, { rng });
const recv = (s: State, now: number, message: Message): Effect[] => all(recvOut(s, now, message));
const sends = (effects: Effect[]): Effect[] => effects.filter((e) => e.kind === 'send');

function electSelf(s: State): number {
  let now: number = nextDeadline(s);
  tickAt(s, now); // pre-vote
  recv(s, now, {
    type: 'vote-response',
    from: id('2'),
    fromAddress: addr(2),
    term: term(s.term + 1),
    preVote: true,
    granted: true,
  });
  recv(s, now, {
    type: 'vote-response',
    from: id('2'),
    fromAddress: addr(2),
    term: term(s.term),
    preVote: false,
    granted: true,
  });
  now += 1;
  return now;
}

describe('raft-lite step', () => {
  test('§9.6 PreVote: timeout asks for pre-votes at term+1 without bumping the term', () => {
    const s = fresh();
    const out = tickOut(s, nextDeadline(s));
    expect(s.role).toBe('pre-candidate');
    expect(s.term).toBe(0);
    expect(sends(all(out))).toHaveLength(2);
    expect(out.persist).toEqual([]);
  });

  test('§5.2: a pre-vote majority starts an election: term+1, vote for self, persist before sends', () => {
    const s = fresh();
    tickAt(s, nextDeadline(s));
    const out = recvOut(s, 200, {
      type: 'vote-response',
      from: id('2'),
      fromAddress: addr(2),
      term: term(1),
      preVote: true,
      granted: true,
    });
    expect(s.role).toBe('candidate');
    expect(s.term).toBe(1);
    expect(s.votedFor).toBe(id('1'));
    expect(out.persist).toMatchObject([{ term: 1, votedFor: id('1') }]);
    expect(sends(out.effects)).toEqual([]);
    expect(sends(out.afterPersist)).toHaveLength(2);
  });

  test('§5.2: a majority counting self makes a leader that heartbeats', () => {
    const s = fresh();
    electSelf(s);
    expect(s.role).toBe('leader');
    expect(leaderOf(s)).toEqual({ id: id('1'), term: 1 });
    expect(checkInvariants(s)).toEqual([]);
  });

  test('failure story 2: a lone node never elects itself (pre-votes refused, quorum counts self over 3)', () => {
    const s = fresh();
    for (let i = 0; i < 20; i++) tickAt(s, nextDeadline(s));
    expect(s.role).toBe('pre-candidate');
    expect(s.term).toBe(0);
    expect(leaderOf(s)).toBeUndefined();
  });

  test('failure story 3: minClusterSize blocks an election while too few peers are known', () => {
    const s = fresh(2);
    tickAt(s, nextDeadline(s));
    expect(s.role).toBe('follower');
    expect(s.counters.electionsDeferredSmallCluster).toBe(1);
  });

  test('§5.2: one vote per term, durable before the grant', () => {
    const s = fresh();
    const out = recvOut(s, 400, {
      type: 'vote-request',
      from: id('2'),
      fromAddress: addr(2),
      term: term(5),
      preVote: false,
      configTerm: term(0),
      configVersion: 0,
    });
    expect(s.term).toBe(5);
    expect(s.votedFor).toBe(id('2'));
    expect(out.persist).toMatchObject([{ term: 5, votedFor: id('2') }]);
    expect(out.effects.some((e) => e.kind === 'send')).toBe(false);
    expect(
      out.afterPersist.some(
        (e) => e.kind === 'send' && e.message.type === 'vote-response' && e.message.granted,
      ),
    ).toBe(true);
    const second = recv(s, 401, {
      type: 'vote-request',
      from: id('3'),
      fromAddress: addr(3),
      term: term(5),
      preVote: false,
      configTerm: term(0),
      configVersion: 0,
    });
    expect(
      second.some(
        (e) => e.kind === 'send' && e.message.type === 'vote-response' && !e.message.granted,
      ),
    ).toBe(true);
  });

  test('§5.1: a leader steps down on a newer term', () => {
    const s = fresh();
    const now = electSelf(s);
    recv(s, now + 200, {
      type: 'heartbeat-ack',
      from: id('3'),
      fromAddress: addr(3),
      term: term(9),
      configTerm: term(0),
      configVersion: 0,
    });
    expect(s.role).toBe('follower');
    expect(s.term).toBe(9);
  });

  test('etcd check-quorum: a leader without acks from a majority steps down', () => {
    const s = fresh();
    const now = electSelf(s);
    tickAt(s, now + RAFT_LITE_DEFAULTS.electionTimeoutMinMs + 1);
    expect(s.role).toBe('follower');
    expect(s.counters.checkQuorumStepDowns).toBe(1);
  });

  test('etcd lease: a follower hearing its leader refuses a disruptive candidate', () => {
    const s = fresh();
    recv(s, 10, {
      type: 'leader-heartbeat',
      from: id('2'),
      fromAddress: addr(2),
      term: term(3),
      configTerm: term(3),
      configVersion: 1,
      peers: [addr(1), addr(2), addr(3)],
      pins: [],
    });
    const effects = recv(s, 20, {
      type: 'vote-request',
      from: id('3'),
      fromAddress: addr(3),
      term: term(4),
      preVote: false,
      configTerm: term(0),
      configVersion: 0,
    });
    expect(s.term).toBe(3);
    expect(
      effects.some(
        (e) => e.kind === 'send' && e.message.type === 'vote-response' && !e.message.granted,
      ),
    ).toBe(true);
  });

  test('a vote request from outside the known cluster is ignored and counted', () => {
    const s = fresh();
    const effects = recv(s, 10, {
      type: 'vote-request',
      from: id('9'),
      fromAddress: addr(9),
      term: term(4),
      preVote: false,
      configTerm: term(0),
      configVersion: 0,
    });
    expect(effects).toEqual([]);
    expect(s.counters.strangerMessages).toBe(1);
  });

  test('join adds a peer and asks it to add us; peersMax refuses more', () => {
    const s = fresh(1);
    const effects = all(step(s, { kind: 'join', now: 1 as Millis, address: addr(5) }, { rng }));
    expect(s.peers.has(addr(5))).toBe(true);
    expect(sends(effects)).toHaveLength(1);
    const small = fresh(0, 0, raftLiteConfig({ peersMax: 1, minClusterSize: 1 }));
    const refused = all(step(small, { kind: 'join', now: 1 as Millis, address: addr(5) }, { rng }));
    expect(refused.some((e) => e.kind === 'rejected')).toBe(true);
  });

  test('cold start: a new joiner is forwarded to every known peer and learns us; a forwarded request for a known peer is dropped', () => {
    const s = fresh(3);
    const join = {
      type: 'join-cluster' as const,
      from: id('5'),
      fromAddress: addr(5),
      configVersion: 0,
      joining: false,
    };
    const effects = sends(recv(s, 10, join));
    expect(s.peers.has(addr(5))).toBe(true);
    const to = (e: Effect): string =>
      e.kind === 'send'
        ? `${e.to}<-${e.message.type === 'join-cluster' ? e.message.fromAddress : e.message.type}`
        : '';
    expect(effects.map(to).sort()).toEqual(
      [`${addr(2)}<-${addr(5)}`, `${addr(3)}<-${addr(5)}`, `${addr(5)}<-${addr(1)}`].sort(),
    );
    const forwarded = all(
      step(s, { kind: 'receive', now: 20 as Millis, from: addr(2), message: join }, { rng }),
    );
    expect(sends(forwarded)).toEqual([]);
  });

  test('failure story 3: a node short of minClusterSize asks its known peers again every election timeout', () => {
    const s = fresh(2);
    const effects = sends(tickAt(s, nextDeadline(s)));
    expect(effects).toHaveLength(1);
    expect(effects[0]?.kind === 'send' && effects[0].message.type).toBe('join-cluster');
  });

  test('issue 11 bug 1: a node whose bootstrap list leaves itself out only asks to join, never stands', () => {
    const s = initRaftLite(
      { config: raftLiteConfig(), selfId: id('4'), selfAddress: addr(4), peers: [addr(3)] },
      { term: term(0), votedFor: undefined },
      0 as Millis,
      rng,
    );
    expect(s.joining).toBe(true);
    const effects = sends(tickAt(s, nextDeadline(s)));
    expect(s.role).toBe('follower');
    expect(effects.map((e) => e.kind === 'send' && e.message.type)).toEqual(['join-cluster']);
    expect(s.counters.electionsDeferredJoining).toBe(1);
  });

  test('issue 11 bug 1: a vote is refused to a candidate whose configuration is older', () => {
    const s = fresh();
    recv(s, 10, {
      type: 'leader-heartbeat',
      from: id('2'),
      fromAddress: addr(2),
      term: term(3),
      configTerm: term(3),
      configVersion: 2,
      peers: [addr(1), addr(2), addr(3)],
      pins: [],
    });
    expect(s.configVersion).toBe(2);
    const effects = recv(s, 10_000, {
      type: 'vote-request',
      from: id('3'),
      fromAddress: addr(3),
      term: term(4),
      preVote: false,
      configTerm: term(3),
      configVersion: 1,
    });
    expect(s.votedFor).toBeUndefined();
    expect(s.counters.votesRefusedOlderConfig).toBe(1);
    expect(
      effects.some(
        (e) => e.kind === 'send' && e.message.type === 'vote-response' && !e.message.granted,
      ),
    ).toBe(true);
  });

  test('issue 11 bug 1: a leader adds one joiner at a time, committed by majorities of the old and new members', () => {
    const s = fresh();
    const now = electSelf(s);
    expect(s.configTerm).toBe(s.term);
    step(s, { kind: 'persisted', now: now as Millis, records: [recordOf(s)] }, { rng });
    const ack = (from: number, at: number): void =>
      void recv(s, at, {
        type: 'heartbeat-ack',
        from: id(String(from)),
        fromAddress: addr(from),
        term: s.term,
        configTerm: s.configTerm,
        configVersion: s.configVersion,
      });
    ack(2, now + 1);
    expect(s.configCommitted).toBe(true);
    const joiner = (n: number) => ({
      type: 'join-cluster' as const,
      from: id(String(n)),
      fromAddress: addr(n),
      configVersion: 0,
      joining: true,
    });
    recv(s, now + 2, joiner(4));
    recv(s, now + 2, joiner(5));
    expect([...s.peers].sort()).toEqual([addr(1), addr(2), addr(3), addr(4)].sort());
    expect(s.joinQueue).toEqual([addr(5)]);
    step(s, { kind: 'persisted', now: (now + 3) as Millis, records: [recordOf(s)] }, { rng });
    ack(2, now + 4); // 2 of the old 3, but 2 of the new 4 is not a majority
    expect(s.configCommitted).toBe(false);
    ack(3, now + 5);
    // Committed, so the next queued joiner goes in flight at once.
    expect(s.previousPeers?.size).toBe(4);
    expect(s.configCommitted).toBe(false);
    expect(s.peers.has(addr(5))).toBe(true);
    expect(s.configVersion).toBe(3);
  });
  test('issue 11 bug 10: a pre-vote from a member removed while it was down reaches the leader as a join request', () => {
    const s = fresh();
    const now = electSelf(s);
    step(s, { kind: 'persisted', now: now as Millis, records: [recordOf(s)] }, { rng });
    recv(s, now + 1, {
      type: 'heartbeat-ack',
      from: id('2'),
      fromAddress: addr(2),
      term: s.term,
      configTerm: s.configTerm,
      configVersion: s.configVersion,
    });
    expect(s.configCommitted).toBe(true);
    const effects = sends(
      recv(s, now + 2, {
        type: 'vote-request',
        from: id('7'),
        fromAddress: addr(7),
        term: term(1),
        preVote: true,
        configTerm: term(0),
        configVersion: 0,
      }),
    );
    expect(s.counters.strangerMessages).toBe(1);
    expect(s.peers.has(addr(7))).toBe(true);
    expect(s.configCommitted).toBe(false);
    expect(
      effects.some(
        (e) => e.kind === 'send' && e.to === addr(7) && e.message.type === 'join-cluster',
      ),
    ).toBe(true);
    expect(effects.some((e) => e.kind === 'send' && e.message.type === 'vote-response')).toBe(
      false,
    );
  });
  test('amnesia (issue 11): a leader pins the members it heard; a new identity at a pinned address gives no vote and is refused', () => {
    const s = fresh();
    const now = electSelf(s);
    expect(s.role).toBe('leader');
    // Restamped with the voter it heard (n2) and itself; n3 is unheard, so unpinned.
    expect([...s.pins]).toEqual([
      [addr(1), id('1')],
      [addr(2), id('2')],
    ]);
    expect(recordOf(s).config?.pins).toEqual([...s.pins]);
    // n2 lost its data dir and came back as id 9: its join request is refused, said so.
    const effects = recv(s, now + 1, {
      type: 'join-cluster',
      from: id('9'),
      fromAddress: addr(2),
      configVersion: 0,
      joining: true,
    });
    expect(s.counters.identitiesRefused).toBe(1);
    expect(effects.some((e) => e.kind === 'rejected' && e.detail.includes('new identity'))).toBe(
      true,
    );
    expect(s.idAt.get(addr(2))).toBe(id('2'));
    expect(hasQuorum(s, new Set([id('1'), id('9')]))).toBe(false);
    expect(hasQuorum(s, new Set([id('1'), id('2')]))).toBe(true);
  });

  test('amnesia: a node whose address the configuration pins to another identity does not take that place', () => {
    const s = fresh();
    const effects = recv(s, 10, {
      type: 'leader-heartbeat',
      from: id('2'),
      fromAddress: addr(2),
      term: term(4),
      configTerm: term(4),
      configVersion: 1,
      peers: [addr(1), addr(2), addr(3)],
      pins: [
        [addr(1), id('7')],
        [addr(2), id('2')],
      ],
    });
    expect(s.configVersion).toBe(0);
    expect(s.joining).toBe(true);
    expect(s.counters.identitiesRefused).toBe(1);
    expect(effects.some((e) => e.kind === 'rejected' && e.detail.includes('data dir'))).toBe(true);
    // It never stands for election in the old identity's place.
    const later = tickAt(s, nextDeadline(s));
    expect(sends(later).every((e) => e.kind === 'send' && e.message.type === 'join-cluster')).toBe(
      true,
    );
  });
  test('the raft-lite file keeps the pins; a pin that is not [member address, NodeId] is refused, naming it', () => {
    const s = fresh();
    electSelf(s);
    const written = RAFT_LITE_STORE.write(recordOf(s));
    expect(parseRaftLiteFile(written.data).config?.pins).toEqual([...s.pins]);
    const bad = (pins: unknown): Uint8Array =>
      new TextEncoder().encode(
        JSON.stringify({
          term: 1,
          votedFor: null,
          config: { term: 1, version: 1, peers: [addr(1), addr(2)], pins },
        }),
      );
    expect(() => parseRaftLiteFile(bad([[addr(5), id('5')]]))).toThrow(/config pin/);
    expect(() => parseRaftLiteFile(bad([[addr(1), 'x']]))).toThrow(/config pin/);
    expect(() => parseRaftLiteFile(bad('no'))).toThrow(/config.pins/);
    // A file written before pins reads as nothing pinned.
    const old = new TextEncoder().encode(
      JSON.stringify({
        term: 1,
        votedFor: null,
        config: { term: 1, version: 1, peers: [addr(1)] },
      }),
    );
    expect(parseRaftLiteFile(old).config?.pins).toEqual([]);
  });
});
