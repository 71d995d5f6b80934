/**
 * Step tests for Raft's rules, each citing the rule it checks (Raft paper §5, Ongaro thesis),
 * driven through the real core on the harness (harness.ts) with writes and messages released by
 * hand, so the ordering rules (persist before send, ack after durable) are observable.
 */
import { describe, expect, test } from 'vitest';
import { ms } from '../../src/base/time.js';
import { logIndex, term } from '../../src/base/units.js';
import { raftConfig } from '../../src/raft/config.js';
import { lastIndex } from '../../src/raft/log.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import { initRaft, step } from '../../src/raft/step.js';
import { isVoter } from '../../src/raft/turn.js';
import type { RaftState } from '../../src/raft/types.js';
import { Rng } from '../../src/base/rng.js';
import { Cluster, nodeAddress, nodeId } from './harness.js';

/** A 3-node cluster with n1 elected and its first entries committed everywhere. */
function elected(settings = {}): Cluster {
  const c = new Cluster(settings);
  c.addNodes(3);
  c.state(1).electionDeadlineMs = ms(c.now);
  c.input(1, { kind: 'tick', now: ms(c.now) });
  c.stabilize();
  c.take();
  return c;
}

const sent = (c: Cluster, type: RaftMessage['type']) =>
  c.inFlight.filter((m) => m.message.type === type);

function fresh(peers = 3): RaftState {
  return initRaft(
    {
      config: raftConfig({}, 'SIM_MIN'),
      selfId: nodeId(1),
      selfAddress: nodeAddress(1),
      peers: Array.from({ length: peers }, (_, i) => nodeAddress(i + 1)),
    },
    {
      hardState: { term: term(0), vote: undefined, commit: logIndex(0) },
      snapshot: undefined,
      entries: [],
    },
    ms(0),
    new Rng(1),
  );
}

describe('elections', () => {
  test('thesis §9.6 PreVote: a timeout asks for pre-votes at term + 1 without raising the term', () => {
    const s = fresh();
    const out = step(s, { kind: 'tick', now: s.electionDeadlineMs }, { rng: new Rng(2) });
    expect(s.role).toBe('pre-candidate');
    expect(s.term).toBe(0);
    expect(out.persist).toEqual([]);
    const requests = [...out.effects, ...out.afterPersist].filter((e) => e.kind === 'send');
    expect(requests).toHaveLength(2);
    for (const r of requests)
      expect(
        r.kind === 'send' &&
          r.message.type === 'raft-vote-request' &&
          r.message.preVote &&
          r.message.term,
      ).toBe(1);
  });

  test('§5.2: a candidate persists term and self-vote before its vote requests leave', () => {
    const s = fresh();
    step(s, { kind: 'tick', now: s.electionDeadlineMs }, { rng: new Rng(2) });
    const grant = (from: number): RaftMessage => ({
      type: 'raft-vote-response',
      from: nodeId(from),
      fromAddress: nodeAddress(from),
      term: term(1),
      preVote: true,
      granted: true,
    });
    const out = step(
      s,
      { kind: 'receive', now: ms(s.nowMs), from: nodeAddress(2), message: grant(2) },
      { rng: new Rng(3) },
    );
    expect(s.role).toBe('candidate');
    expect(out.persist).toEqual([
      { kind: 'hard-state', hardState: { term: 1, vote: nodeId(1), commit: 0 } },
    ]);
    expect(out.effects.filter((e) => e.kind === 'send')).toEqual([]);
    expect(out.afterPersist.filter((e) => e.kind === 'send')).toHaveLength(2);
  });

  test('§5.2: a vote grant waits for the vote to be durable (afterPersist), a refusal does not need one', () => {
    const c = elected();
    const candidate: RaftMessage = {
      type: 'raft-vote-request',
      from: nodeId(3),
      fromAddress: nodeAddress(3),
      term: term(5),
      lastIndex: lastIndex(c.state(2).log),
      lastTerm: term(1),
      preVote: false,
      transfer: true,
    };
    const s2 = c.state(2);
    const out = step(
      s2,
      { kind: 'receive', now: ms(c.now), from: nodeAddress(3), message: candidate },
      { rng: new Rng(4) },
    );
    expect(s2.vote).toBe(nodeId(3));
    expect(out.persist.some((r) => r.kind === 'hard-state' && r.hardState.vote === nodeId(3))).toBe(
      true,
    );
    expect(out.effects.some((e) => e.kind === 'send')).toBe(false);
    const grant = out.afterPersist.find((e) => e.kind === 'send');
    expect(
      grant?.kind === 'send' &&
        grant.message.type === 'raft-vote-response' &&
        grant.message.granted,
    ).toBe(true);
  });

  test("§5.2: a grant in a term already durable still waits for the vote's write", () => {
    const c = elected();
    const s2 = c.state(2);
    const ask = (from: number, lastTerm: number): RaftMessage => ({
      type: 'raft-vote-request',
      from: nodeId(from),
      fromAddress: nodeAddress(from),
      term: term(5),
      lastIndex: lastIndex(s2.log),
      lastTerm: term(lastTerm),
      preVote: false,
      transfer: true,
    });
    // n1's request is refused (its log looks older) but teaches term 5, made durable.
    c.input(2, { kind: 'receive', now: ms(c.now), from: nodeAddress(1), message: ask(1, 0) });
    c.persistAll(2);
    expect(s2.term).toBe(5);
    expect(s2.durableTerm).toBe(5);
    expect(s2.vote).toBeUndefined();
    const out = step(
      s2,
      { kind: 'receive', now: ms(c.now), from: nodeAddress(3), message: ask(3, 1) },
      { rng: new Rng(4) },
    );
    expect(s2.vote).toBe(nodeId(3));
    expect(out.effects.filter((e) => e.kind === 'send')).toEqual([]);
    expect(out.afterPersist.filter((e) => e.kind === 'send')).toHaveLength(1);
  });

  test('§5.1: a step that takes a new term writes it before the entries of that term (every durable prefix is consistent)', () => {
    const c = elected();
    const s2 = c.state(2);
    const append: RaftMessage = {
      type: 'raft-append',
      from: nodeId(3),
      fromAddress: nodeAddress(3),
      term: term(4),
      prevIndex: logIndex(2),
      prevTerm: term(1),
      commit: logIndex(3),
      entries: [{ index: logIndex(3), term: term(4), kind: 'noop', data: new Uint8Array(0) }],
    };
    const out = step(
      s2,
      { kind: 'receive', now: ms(c.now), from: nodeAddress(3), message: append },
      { rng: new Rng(6) },
    );
    expect(out.persist.map((r) => r.kind)).toEqual(['hard-state', 'entries', 'hard-state']);
    const [first, , last] = out.persist;
    // The first carries the commit last written (1: commit 2 moved alone, so it was not
    // written on its own, step.ts `writeHardState`); the last carries the new commit.
    expect(first?.kind === 'hard-state' && [first.hardState.term, first.hardState.commit]).toEqual([
      4, 1,
    ]);
    expect(last?.kind === 'hard-state' && [last.hardState.term, last.hardState.commit]).toEqual([
      4, 3,
    ]);
  });

  test('§5.4.1: a vote is refused to a candidate whose log is less up to date', () => {
    const c = elected();
    c.propose(1, 'x');
    c.stabilize();
    const s2 = c.state(2);
    const stale: RaftMessage = {
      type: 'raft-vote-request',
      from: nodeId(3),
      fromAddress: nodeAddress(3),
      term: term(5),
      lastIndex: logIndex(lastIndex(s2.log) - 1),
      lastTerm: term(1),
      preVote: false,
      transfer: true,
    };
    const out = step(
      s2,
      { kind: 'receive', now: ms(c.now), from: nodeAddress(3), message: stale },
      { rng: new Rng(4) },
    );
    expect(s2.vote).toBeUndefined();
    const reply = [...out.effects, ...out.afterPersist].find((e) => e.kind === 'send');
    expect(
      reply?.kind === 'send' &&
        reply.message.type === 'raft-vote-response' &&
        reply.message.granted,
    ).toBe(false);
  });

  test('thesis §6.2: a follower that heard its leader within electionTimeoutMinMs ignores a vote request (lease)', () => {
    const c = elected({ preVote: false });
    const s2 = c.state(2);
    s2.leaderContactMs = ms(c.now);
    const request: RaftMessage = {
      type: 'raft-vote-request',
      from: nodeId(3),
      fromAddress: nodeAddress(3),
      term: term(2),
      lastIndex: lastIndex(s2.log),
      lastTerm: term(1),
      preVote: false,
      transfer: false,
    };
    const out = step(
      s2,
      { kind: 'receive', now: ms(c.now + 10), from: nodeAddress(3), message: request },
      { rng: new Rng(4) },
    );
    expect(s2.term).toBe(1);
    expect([...out.effects, ...out.afterPersist]).toEqual([]);
  });

  test("a refused connection to the leader's port: the followers drop their lease and stand in distinct slots, long before a timeout", () => {
    const c = elected();
    const minMs = c.state(2).config.electionTimeoutMinMs;
    const before = [c.state(2).electionDeadlineMs, c.state(3).electionDeadlineMs];
    c.input(2, { kind: 'peer-refused', now: ms(c.now), address: nodeAddress(1) });
    c.input(3, { kind: 'peer-refused', now: ms(c.now), address: nodeAddress(1) });
    const waits = [2, 3].map((n) => c.state(n).electionDeadlineMs - c.now).sort((a, b) => a - b);
    for (const n of [2, 3]) {
      expect(c.state(n).leaderContactMs).toBeUndefined();
      expect(c.state(n).counters.leaderRefusals).toBe(1);
    }
    expect(c.state(2).electionDeadlineMs).toBeLessThan(before[0] as number);
    expect(c.state(3).electionDeadlineMs).toBeLessThan(before[1] as number);
    // Slot 0 at [0.1, 0.15) timeouts, slot 1 at [0.3, 0.35): one stands first, never both at once.
    expect(waits[0]).toBeGreaterThanOrEqual(minMs * 0.1);
    expect(waits[0]).toBeLessThan(minMs * 0.15);
    expect(waits[1]).toBeGreaterThanOrEqual(minMs * 0.3);
    expect(waits[1]).toBeLessThan(minMs * 0.35);
    // The first to stand gets the other's pre-vote and vote (thesis §9.6 without the lease) and
    // leads long before a timeout would have fired.
    c.partition([[1], [2, 3]]);
    c.advance(Math.ceil(minMs * 0.35) + 1);
    c.stabilize();
    const leaders = [2, 3].filter((n) => c.state(n).role === 'leader');
    expect(leaders).toHaveLength(1);
    expect(c.state(leaders[0] as number).term).toBe(2);
  });

  test('a refused connection changes nothing when it is not the leader, on a leader, or under lease reads', () => {
    const c = elected();
    const s2 = c.state(2);
    const deadline = s2.electionDeadlineMs;
    const contact = s2.leaderContactMs;
    c.input(2, { kind: 'peer-refused', now: ms(c.now), address: nodeAddress(3) });
    expect([s2.electionDeadlineMs, s2.leaderContactMs]).toEqual([deadline, contact]);
    const s1 = c.state(1);
    c.input(1, { kind: 'peer-refused', now: ms(c.now), address: nodeAddress(2) });
    expect(s1.role).toBe('leader');
    const leased = elected({ readMode: 'lease' });
    const l2 = leased.state(2);
    const leasedDeadline = l2.electionDeadlineMs;
    leased.input(2, { kind: 'peer-refused', now: ms(leased.now), address: nodeAddress(1) });
    expect(l2.electionDeadlineMs).toBe(leasedDeadline);
    expect(l2.leaderContactMs).toBeDefined();
    expect(l2.counters.leaderRefusals).toBe(0);
  });

  test('§5.1: a newer term in any message makes the leader a follower of it', () => {
    const c = elected();
    const s1 = c.state(1);
    const answer: RaftMessage = {
      type: 'raft-heartbeat-response',
      from: nodeId(2),
      fromAddress: nodeAddress(2),
      term: term(7),
      readSeq: 0,
    };
    step(
      s1,
      { kind: 'receive', now: ms(c.now), from: nodeAddress(2), message: answer },
      { rng: new Rng(5) },
    );
    expect(s1.role).toBe('follower');
    expect(s1.term).toBe(7);
    expect(s1.vote).toBeUndefined();
  });

  test('thesis §4.2.2: a removed leader whose C_new is not committed still stands (it may be needed to commit it)', () => {
    const c = elected();
    c.input(1, { kind: 'change-config', now: ms(c.now), change: { op: 'remove', id: nodeId(1) } });
    for (let i = 0; i < 50 && c.state(1).membership.config.outgoing === undefined; i++)
      c.persistAll(1);
    // C_old,new reaches n2 and n3; their acks commit it, and n1 appends C_new...
    c.deliverAll();
    c.persistAll(2);
    c.persistAll(3);
    c.deliverAll(new Set([1]));
    const s1 = c.state(1);
    expect(s1.membership.config.outgoing).toBeUndefined();
    // ...which the partition keeps from n2 and n3: not committed.
    c.partition([[1], [2, 3]]);
    c.deliverAll();
    expect(s1.membership.index).toBeGreaterThan(s1.commitIndex);
    expect(isVoter(s1)).toBe(true);
    c.crash(1);
    c.restart(1);
    const restarted = c.state(1);
    restarted.electionDeadlineMs = ms(c.now);
    c.input(1, { kind: 'tick', now: ms(c.now) });
    expect(restarted.role).toBe('pre-candidate');
  });

  test('thesis §6.2 check-quorum: a leader that heard no majority for electionTimeoutMinMs steps down', () => {
    const c = elected();
    c.partition([[1], [2, 3]]);
    c.advance(250);
    expect(c.state(1).role).toBe('follower');
    expect(c.state(1).counters.checkQuorumStepDowns).toBe(1);
  });
});

describe('replication and commitment', () => {
  test("§5.4.2: an entry of an earlier term on a majority is not committed by counting; the current term's entry commits it", () => {
    // n1 and n2 hold 2@2; n1 is elected in term 4 and replicates one entry per append, so 2@2
    // reaches n3 (a majority: n1 n2 n3) before the no-op of term 4 does.
    const c2 = new Cluster({ appendEntriesMax: 1 });
    c2.addNodes(5);
    for (const n of [1, 2]) c2.setLog(n, [1, 2], 3);
    for (const n of [3, 4, 5]) c2.setLog(n, [1], 3);
    for (const n of [1, 2, 3, 4, 5]) c2.restart(n);
    c2.partition([
      [1, 2, 3],
      [4, 5],
    ]);
    c2.state(1).electionDeadlineMs = ms(c2.now);
    c2.input(1, { kind: 'tick', now: ms(c2.now) });
    for (let i = 0; i < 200 && c2.state(1).log.entries.length > 0; i++) {
      c2.persistAll(1);
      c2.persistAll(2);
      c2.persistAll(3);
      c2.deliverAll();
      const match3 = c2.state(1).leaderState?.progress.get(nodeId(3))?.match ?? 0;
      if (match3 === 2) break;
    }
    const leader = c2.state(1);
    expect(leader.role).toBe('leader');
    expect(leader.leaderState?.progress.get(nodeId(3))?.match).toBe(2);
    expect(leader.log.entries[1]?.term).toBe(2);
    // 2@2 is on n1, n2, n3 (3 of 5) but of term 2: not committed by counting.
    expect(leader.commitIndex).toBe(0);
    c2.stabilize();
    // Once the term-4 no-op (index 3) is on a majority, everything up to it commits.
    expect(c2.state(1).log.entries[2]?.term).toBe(4);
    expect(c2.state(1).commitIndex).toBeGreaterThanOrEqual(3);
  });

  test('a follower acks an append only once its entries are durable (persisted input), never before', () => {
    const c = elected();
    c.propose(1, 'x');
    c.persistAll(1);
    c.deliverAll(new Set([2]));
    expect(sent(c, 'raft-append-response').filter((m) => m.from === 2)).toEqual([]);
    c.persistOne(2);
    const acks = sent(c, 'raft-append-response').filter((m) => m.from === 2);
    expect(acks).toHaveLength(1);
    expect(acks[0]?.message.type === 'raft-append-response' && acks[0].message.index).toBe(3);
  });

  test('the leader counts itself for commitment only as far as its own log is durable', () => {
    const c = elected();
    c.propose(1, 'x');
    // Followers ack; the leader's own write has not finished: 1 of 3 durable is no majority...
    c.deliverAll();
    c.persistAll(2);
    c.deliverAll(new Set([1]));
    // ...but n2's durable ack and n3 pending: n1 + n2 would be a majority only with n1 durable.
    expect(c.state(1).commitIndex).toBe(2);
    c.persistOne(1);
    expect(c.state(1).commitIndex).toBe(3);
  });

  test('§5.3 / State Machine Safety: a follower applies a committed entry only once it is durable locally', () => {
    const c = elected();
    c.propose(1, 'x');
    c.persistAll(1);
    c.deliverAll(new Set([2, 3]));
    c.persistAll(3);
    c.deliverAll(new Set([1]));
    expect(c.state(1).commitIndex).toBe(3);
    // n2 learns commit 3 while its entry 3 is still being written.
    c.input(1, { kind: 'tick', now: ms(c.now + 100) });
    c.deliverAll(new Set([2]));
    expect(c.state(2).commitIndex).toBe(3);
    expect(c.state(2).appliedIndex).toBe(2);
    c.persistAll(2);
    expect(c.state(2).appliedIndex).toBe(3);
  });

  test('§5.3: with entry 3 durable and entry 4 not, a follower that learns commit 4 applies up to 3 only', () => {
    const c = elected();
    for (const text of ['x', 'y']) {
      c.propose(1, text);
      c.persistAll(1);
      c.deliverAll(new Set([2, 3]));
    }
    c.persistOne(2); // n2: entry 3 durable, entry 4 still being written
    c.partition([[1, 3], [2]]);
    c.persistAll(3);
    c.deliverAll(); // n1 commits 4 with n3...
    c.deliverAll(); // ...and its commit notices to n2 are lost
    expect(c.state(1).commitIndex).toBe(4);
    c.heal();
    c.propose(1, 'z');
    c.deliverAll(new Set([2])); // an append carrying commit 4 reaches n2
    expect(c.state(2).commitIndex).toBe(4);
    expect(c.state(2).appliedIndex).toBe(3);
  });

  test('etcd ABA: an earlier write finishing after a later one rewrote its suffix does not make the rewritten entries stable', () => {
    const c = elected();
    const s = c.state(2);
    const append = (prev: number, prevTerm: number, t: number, count: number): void => {
      const entries = Array.from({ length: count }, (_, i) => ({
        index: logIndex(prev + 1 + i),
        term: term(t),
        kind: 'normal' as const,
        data: new Uint8Array([t]),
      }));
      const message: RaftMessage = {
        type: 'raft-append',
        from: nodeId(t === 1 ? 1 : 3),
        fromAddress: nodeAddress(t === 1 ? 1 : 3),
        term: term(t),
        prevIndex: logIndex(prev),
        prevTerm: term(prevTerm),
        commit: logIndex(2),
        entries,
      };
      c.input(2, { kind: 'receive', now: ms(c.now), from: message.fromAddress, message });
    };
    append(2, 1, 1, 3); // 3..5 @1, not durable yet
    append(2, 1, 2, 1); // term 2 leader replaces 3.. with 3@2
    expect(s.log.stableIndex).toBe(2);
    c.persistOne(2); // the first record (3..5@1) is durable: 3@2 is not
    expect(s.log.stableIndex).toBe(2);
    c.persistAll(2);
    expect(s.log.stableIndex).toBe(3);
  });
});

describe('durable writes', () => {
  const propose = (s: RaftState, now: number) =>
    step(s, { kind: 'propose', now: ms(now), data: new Uint8Array([1]) }, { rng: new Rng(7) });

  test('etcd MustSync: a commit that moves alone costs no write; it rides with the next write', () => {
    const c = elected();
    const s1 = c.state(1);
    // Its first write carries the commit the election's entries reached (not written alone).
    const proposed = propose(s1, c.now);
    expect(proposed.persist.map((r) => r.kind)).toEqual(['entries', 'hard-state']);
    step(s1, { kind: 'persisted', now: ms(c.now), records: proposed.persist }, { rng: new Rng(8) });
    const index = lastIndex(s1.log);
    const ack: RaftMessage = {
      type: 'raft-append-response',
      from: nodeId(2),
      fromAddress: nodeAddress(2),
      term: s1.term,
      reject: false,
      index,
      hintIndex: logIndex(0),
      hintTerm: term(0),
    };
    const acked = step(
      s1,
      { kind: 'receive', now: ms(c.now), from: nodeAddress(2), message: ack },
      { rng: new Rng(9) },
    );
    expect(s1.commitIndex).toBe(index);
    expect(acked.effects.some((e) => e.kind === 'apply')).toBe(true);
    expect(acked.persist).toEqual([]);
    const next = propose(s1, c.now);
    expect(next.persist.map((r) => r.kind)).toEqual(['entries', 'hard-state']);
    const last = next.persist[1];
    expect(last?.kind === 'hard-state' && last.hardState.commit).toBe(index);
  });
});

describe('batched proposals', () => {
  test('one turn of proposals is one entries record and one append per follower; each is refused or accepted alone', () => {
    const c = elected();
    const s1 = c.state(1);
    const before = lastIndex(s1.log);
    const out = step(
      s1,
      {
        kind: 'propose-batch',
        now: ms(c.now),
        proposals: [
          { data: new Uint8Array([1]), requestId: 1 },
          { data: new Uint8Array(s1.config.appendBytesMax + 1), requestId: 2 },
          { data: new Uint8Array([3]), requestId: 3 },
        ],
      },
      { rng: new Rng(10) },
    );
    expect(lastIndex(s1.log)).toBe(before + 2);
    const entries = out.persist.filter((r) => r.kind === 'entries');
    expect(entries).toHaveLength(1);
    expect(entries[0]?.kind === 'entries' && entries[0].entries.map((e) => e.index)).toEqual([
      before + 1,
      before + 2,
    ]);
    const appends = out.effects.filter(
      (e) => e.kind === 'send' && e.message.type === 'raft-append',
    );
    expect(appends).toHaveLength(2);
    for (const a of appends)
      expect(
        a.kind === 'send' && a.message.type === 'raft-append' && a.message.entries.length,
      ).toBe(2);
    const refused = out.effects.filter((e) => e.kind === 'propose-result');
    expect(refused).toHaveLength(1);
    expect(
      refused[0]?.kind === 'propose-result' &&
        !refused[0].outcome.ok && [refused[0].requestId, refused[0].outcome.reason],
    ).toEqual([2, 'too-large']);
    expect([...s1.tracked.values()].map((t) => t.requestId)).toEqual([1, 3]);
  });
});

describe('reads', () => {
  test('thesis §6.4 ReadIndex: a leader serves a read only after a majority answered a heartbeat round', () => {
    const c = elected();
    c.input(1, { kind: 'read-index', now: ms(c.now), requestId: 9 });
    expect(c.take().some((l) => l.includes('read-ready'))).toBe(false);
    expect(sent(c, 'raft-heartbeat')).toHaveLength(2);
    c.deliverAll(new Set([2]));
    c.deliverAll(new Set([1]));
    expect(c.take().some((l) => l.includes('read-ready request=9 index=2'))).toBe(true);
  });

  test('thesis §6.4: a new leader serves no read before an entry of its term is committed', () => {
    const c = new Cluster();
    c.addNodes(3);
    c.state(1).electionDeadlineMs = ms(c.now);
    c.input(1, { kind: 'tick', now: ms(c.now) });
    for (let i = 0; i < 20 && c.state(1).role !== 'leader'; i++) {
      for (const n of [1, 2, 3]) c.persistAll(n);
      c.deliverAll();
    }
    expect(c.state(1).role).toBe('leader');
    c.input(1, { kind: 'read-index', now: ms(c.now), requestId: 5 });
    expect(c.state(1).leaderState?.reads[0]?.seq).toBe(-1);
    c.stabilize();
    expect(c.take().some((l) => l.includes('read-ready request=5'))).toBe(true);
  });
});

describe('limits and bad input', () => {
  test('a proposal larger than appendBytesMax is refused (too-large), the log unchanged', () => {
    const c = elected();
    const before = lastIndex(c.state(1).log);
    c.input(1, { kind: 'propose', now: ms(c.now), data: new Uint8Array(2049), requestId: 1 });
    expect(c.take().join('\n')).toMatch(/propose-result request=1 too-large/);
    expect(lastIndex(c.state(1).log)).toBe(before);
  });

  test('uncommittedEntriesMax: a leader cut off stops taking proposals (queue-full)', () => {
    const c = elected({ uncommittedEntriesMax: 3 });
    c.partition([[1], [2, 3]]);
    for (let i = 0; i < 3; i++) c.propose(1, `x${i}`);
    c.take();
    c.propose(1, 'over', 99);
    expect(c.take().join('\n')).toMatch(/request=99 queue-full/);
    expect(lastIndex(c.state(1).log)).toBe(5);
  });

  test('a message from a NodeId other than the one pinned at its address is ignored (identities)', () => {
    const c = elected();
    const s2 = c.state(2);
    expect(s2.membership.config.members.every((m) => m.id !== undefined)).toBe(true);
    const impostor: RaftMessage = {
      type: 'raft-heartbeat',
      from: nodeId(9),
      fromAddress: nodeAddress(1),
      term: term(9),
      commit: logIndex(0),
      readSeq: 1,
    };
    c.input(2, { kind: 'receive', now: ms(c.now), from: nodeAddress(1), message: impostor });
    expect(s2.term).toBe(1);
    expect(s2.counters.identitiesRefused).toBe(1);
  });
});
