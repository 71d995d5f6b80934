import { describe, expect, test } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { ms, type Millis } from '../../src/base/time.js';
import { term } from '../../src/base/units.js';
import { computeLeader, initStatic, step } from '../../src/election/static/step.js';
import type { StaticState } from '../../src/election/static/types.js';
import { hrwScore, hrwWinner } from '../../src/election/swim/hrw.js';
import {
  evaluateView,
  initSwimLeader,
  liveSetKey,
  liveViewOf,
  nextDeadline as swimNextDeadline,
  step as swimStep,
} from '../../src/election/swim/step.js';
import type { LiveMember, SwimLeaderState } from '../../src/election/swim/types.js';
import { swimLeaderConfig } from '../../src/election/swim/config.js';
import { parseSwimLeaderFile, SWIM_LEADER_STORE } from '../../src/election/swim/protocol.js';
import type { NodeId } from '../../src/identity/node-id.js';

const addr = (i: number): Address => `127.0.0.1:${7000 + i}` as Address;
const id = (c: string): NodeId => c.repeat(32) as NodeId;
const config = { failureThresholdMs: 1000, heartbeatIntervalMs: 200, requireQuorum: true };
const createStaticState = (
  selfId: NodeId,
  selfAddress: Address,
  peers: Address[],
  persistedTerm: number,
  now: Millis,
): StaticState => initStatic({ config, selfId, selfAddress, peers }, term(persistedTerm), now);

describe('static step', () => {
  /** A heartbeat from peer `i` with id `c`, echoing our heartbeat of `echoMs` (fresh by default). */
  const hb = (i: number, c: string, t = 0, echoMs: number | undefined = 0) => ({
    type: 'heartbeat' as const,
    from: id(c),
    fromAddress: addr(i),
    term: term(t),
    sentAtMs: 0,
    echoMs,
  });

  test('leader = lowest healthy NodeId, self counted healthy', () => {
    const s = createStaticState(id('5'), addr(1), [addr(1), addr(2), addr(3)], 0, 0 as Millis);
    step(s, { kind: 'receive', now: 10 as Millis, message: hb(2, '3') });
    expect(s.leader).toBe(id('3'));
    expect(s.term).toBe(1);
  });

  test('failure story 2: a node alone in a 1|2 partition has no leader (requireQuorum counts self)', () => {
    const s = createStaticState(id('1'), addr(1), [addr(1), addr(2), addr(3)], 0, 0 as Millis);
    step(s, { kind: 'tick', now: 0 as Millis });
    expect(computeLeader(s)).toBeUndefined();
  });

  test('a silent peer becomes unhealthy and the leader moves; the term only increases', () => {
    const s = createStaticState(id('5'), addr(1), [addr(1), addr(2), addr(3)], 0, 0 as Millis);
    step(s, { kind: 'receive', now: 0 as Millis, message: hb(2, '3') });
    step(s, { kind: 'receive', now: 0 as Millis, message: hb(3, '4') });
    expect(s.leader).toBe(id('3'));
    const before = s.term;
    // A running driver ticks every heartbeat interval; a longer gap would be a stall (next test).
    for (let now = 200; now <= 1000; now += 200) step(s, { kind: 'tick', now: now as Millis });
    // Peer 3 echoes our heartbeat of t=800; peer 2 echoed only t=0, which is 1200 ms old at t=1200.
    step(s, { kind: 'receive', now: 1100 as Millis, message: hb(3, '4', 0, 800) });
    const out = step(s, { kind: 'tick', now: 1200 as Millis });
    expect(s.leader).toBe(id('4'));
    expect(s.term).toBeGreaterThan(before);
    expect(out.persist).toEqual([{ term: s.term }]);
    expect(out.afterPersist).toContainEqual({ kind: 'leader', leader: id('4'), term: s.term });
    expect(out.effects.some((e) => e.kind === 'leader' || e.kind === 'send')).toBe(false);
  });

  test('after a stall, heartbeats that queued meanwhile are not trusted: the stalled node has no leader until fresh ones arrive', () => {
    const s = createStaticState(id('5'), addr(1), [addr(1), addr(2), addr(3)], 0, 0 as Millis);
    step(s, { kind: 'receive', now: 0 as Millis, message: hb(2, '3') });
    expect(s.leader).toBe(id('3'));
    // Paused from t=0 to t=2000: both heartbeats below queued up during the pause, echoing
    // only our heartbeat of t=0.
    step(s, { kind: 'receive', now: 2000 as Millis, message: hb(2, '3') });
    step(s, { kind: 'receive', now: 2000 as Millis, message: hb(3, '4') });
    expect(s.staleHeartbeats).toBe(2);
    expect(s.leader).toBeUndefined();
    // One that echoes the heartbeat we sent on waking up is fresh.
    step(s, { kind: 'receive', now: 2050 as Millis, message: hb(3, '4', 0, 2000) });
    expect(s.leader).toBe(id('4'));
  });

  test('found by the long-delay nemesis: a heartbeat delivered late, after its sender crashed, does not make it healthy again (election-static seed 15, 5 nodes, all)', () => {
    const s = createStaticState(id('5'), addr(1), [addr(1), addr(2), addr(3)], 0, 0 as Millis);
    step(s, { kind: 'receive', now: 100 as Millis, message: hb(2, '3', 0, 0) });
    expect(s.leader).toBe(id('3'));
    for (let now = 200; now <= 1400; now += 200) step(s, { kind: 'tick', now: now as Millis });
    expect(s.leader).toBeUndefined(); // alone of three: no quorum
    // Sent at about t=150 (echoing our t=0), delivered at t=1400: it proves nothing recent.
    step(s, { kind: 'receive', now: 1400 as Millis, message: hb(2, '3', 0, 0) });
    expect(s.leader).toBeUndefined();
    expect(s.staleHeartbeats).toBe(1);
    // No echo (it never heard us) and an echo from our future prove nothing either.
    step(s, { kind: 'receive', now: 1400 as Millis, message: hb(2, '3', 0, undefined) });
    step(s, { kind: 'receive', now: 1400 as Millis, message: hb(2, '3', 0, 5000) });
    expect(s.staleHeartbeats).toBe(3);
    expect(s.leader).toBeUndefined();
  });

  test('each heartbeat echoes the sentAtMs last heard from its recipient, even a lower one (a restarted peer counts from a new origin)', () => {
    const s = createStaticState(id('5'), addr(1), [addr(1), addr(2), addr(3)], 0, 0 as Millis);
    step(s, { kind: 'receive', now: 10 as Millis, message: { ...hb(2, '3'), sentAtMs: 90_000 } });
    step(s, { kind: 'receive', now: 20 as Millis, message: { ...hb(2, '3'), sentAtMs: 700 } });
    const out = step(s, { kind: 'tick', now: 250 as Millis });
    const sends = out.afterPersist.filter((e) => e.kind === 'send');
    const echoOf = (to: Address) =>
      sends.find((e) => e.kind === 'send' && e.to === to)?.message as { echoMs?: number };
    expect(echoOf(addr(2)).echoMs).toBe(700);
    expect(echoOf(addr(3)).echoMs).toBeUndefined();
  });

  test('heartbeats from addresses outside the peer list are refused and counted', () => {
    const s = createStaticState(id('5'), addr(1), [addr(1), addr(2), addr(3)], 0, 0 as Millis);
    step(s, { kind: 'receive', now: 0 as Millis, message: hb(9, '0') });
    expect(s.strangerMessages).toBe(1);
    expect(s.heard.size).toBe(0);
  });

  test("peers are tracked by NodeId: a new NodeId at a peer's address replaces the old one, never both count", () => {
    const s = createStaticState(id('5'), addr(1), [addr(1), addr(2), addr(3)], 0, 0 as Millis);
    step(s, { kind: 'receive', now: 0 as Millis, message: hb(2, '3') });
    const out = step(s, { kind: 'receive', now: 10 as Millis, message: hb(2, '7') });
    expect([...s.heard.keys()]).toEqual([id('7')]);
    expect(out.effects).toContainEqual({
      kind: 'member',
      type: 'dead',
      address: addr(2),
      id: id('3'),
    });
    expect(s.leader).toBe(id('5'));
  });
});

describe('swim sticky HRW', () => {
  const cfg = {
    stabilizationMs: 100,
    requireQuorum: true,
    minClusterSize: 1,
    leaseMs: 100,
    leaseIntervalMs: 25,
  };
  const createSwimLeaderState = (
    config: typeof cfg,
    selfId: NodeId,
    persistedTerm: number,
    now: Millis,
  ): SwimLeaderState =>
    initSwimLeader({ config, selfId }, { term: term(persistedTerm), stableSize: 1 }, now);
  /** Evaluates `live` as the view, every other live member having just answered a lease ping. */
  const evaluate = (s: SwimLeaderState, live: LiveMember[], now: Millis): boolean => {
    for (const m of live) if (m.id !== s.selfId) s.leaseAcks.set(m.id, now);
    return evaluateView(s, liveViewOf(live), now, liveSetKey(live));
  };
  const ids = [id('1'), id('2'), id('3'), id('4')];
  /** requireQuorum over at least 2, with a lease long enough that answers given once last. */
  const quorum = { ...cfg, minClusterSize: 2, leaseMs: 10_000 };

  test('hrwScore is a stable pure function', () => {
    expect(hrwScore(id('a'))).toBe(hrwScore(id('a')));
    expect(hrwScore(id('a'))).not.toBe(hrwScore(id('b')));
  });

  test('after the window, the HRW winner of the live set claims term 1; nobody else does', () => {
    const live = ids.slice(0, 3);
    const winner = hrwWinner(live.map((i) => ({ id: i, score: hrwScore(i) })))?.id;
    for (const self of live) {
      const s = createSwimLeaderState(cfg, self, 0, 0 as Millis);
      evaluate(
        s,
        live.map((i) => ({ id: i, claimTerm: undefined })),
        0 as Millis,
      );
      evaluate(
        s,
        live.map((i) => ({ id: i, claimTerm: undefined })),
        100 as Millis,
      );
      expect(s.claim).toBe(self === winner ? 1 : undefined);
    }
  });

  test('failure story 1: members with different local histories agree on (leader, term) from the gossiped claim', () => {
    const view = ids.map((i) => ({ id: i, claimTerm: i === id('2') ? 7 : undefined }));
    const a = createSwimLeaderState(cfg, id('1'), 0, 0 as Millis);
    const b = createSwimLeaderState(cfg, id('4'), 3, 50 as Millis);
    evaluate(a, view, 500 as Millis);
    evaluate(b, view, 900 as Millis);
    expect(a.leader).toEqual({ id: id('2'), term: 7 });
    expect(b.leader).toEqual(a.leader);
  });

  test('sticky: a joining member never takes leadership from a live claimant (seen by another member, and by the claimant)', () => {
    const view = [
      { id: id('3'), claimTerm: 1 },
      { id: id('1'), claimTerm: undefined },
    ];
    const joined = [...view, ...ids.slice(3).map((i) => ({ id: i, claimTerm: undefined }))];
    const observer = createSwimLeaderState(cfg, id('1'), 0, 0 as Millis);
    evaluate(observer, view, 200 as Millis);
    evaluate(observer, joined, 400 as Millis);
    expect(observer.leader?.id).toBe(id('3'));
    const claimant = createSwimLeaderState(cfg, id('3'), 0, 0 as Millis);
    claimant.claim = term(1);
    evaluate(claimant, view, 200 as Millis);
    evaluate(claimant, joined, 400 as Millis);
    expect(claimant.leader).toEqual({ id: id('3'), term: 1 });
    expect(claimant.claim).toBe(1);
  });

  test('a claimant that learns of a higher seen term re-claims above it, so members that reported that term accept it', () => {
    const s = createSwimLeaderState({ ...cfg, requireQuorum: false }, id('1'), 0, 0 as Millis);
    const view = ids.slice(0, 3).map((i) => ({ id: i, claimTerm: i === id('1') ? 1 : undefined }));
    s.claim = term(1);
    evaluate(s, view, 0 as Millis);
    expect(s.leader).toEqual({ id: id('1'), term: 1 });
    evaluate(
      s,
      view.map((m) => (m.id === id('2') ? { ...m, seenTerm: 4 } : m)),
      10 as Millis,
    );
    expect(s.claim).toBe(5);
    expect(s.leader).toEqual({ id: id('1'), term: 5 });
  });

  test('requireQuorum: the quorum is a majority of the largest stable view, so a side cannot shrink it by stabilizing small', () => {
    const s = createSwimLeaderState(cfg, id('4'), 0, 0 as Millis);
    const all = ids.map((i) => ({ id: i, claimTerm: undefined }));
    evaluate(s, all, 0 as Millis);
    evaluate(s, all, 100 as Millis);
    const half = all.slice(2);
    evaluate(s, half, 200 as Millis);
    evaluate(s, half, 400 as Millis);
    expect(s.stableSize).toBe(4);
    expect(s.leader).toBeUndefined();
    expect(s.claim).toBeUndefined();
  });

  test('issue 11 bug 4: the largest stable view is persisted with the term, and a restart counts its quorum over it', () => {
    const s = initSwimLeader(
      { config: quorum, selfId: ids[0]! },
      { term: term(0), stableSize: 1 },
      ms(0),
    );
    const all = ids.map((i) => ({ id: i, claimTerm: undefined }));
    swimStep(s, { kind: 'view-changed', now: ms(0), viewKey: 'a', view: liveViewOf(all) });
    const out = swimStep(s, { kind: 'tick', now: ms(100) });
    expect(out.persist).toContainEqual({ term: s.highestTermSeen, stableSize: 4 });
    // Restarted with that record into a view of two (a majority of minClusterSize 2, not of 4).
    const restarted = initSwimLeader(
      { config: quorum, selfId: ids[0]! },
      out.persist.at(-1)!,
      ms(0),
    );
    const two = all.slice(0, 2);
    for (const m of two) restarted.leaseAcks.set(m.id, ms(0));
    swimStep(restarted, { kind: 'view-changed', now: ms(0), viewKey: 'b', view: liveViewOf(two) });
    swimStep(restarted, { kind: 'tick', now: ms(500) });
    expect(restarted.leader).toBeUndefined();
    expect(restarted.claim).toBeUndefined();
    // The same restart without the record (the bug) leads the two alone.
    const amnesiac = initSwimLeader(
      {
        config: quorum,
        selfId: hrwWinner(two.map((m) => ({ id: m.id, score: hrwScore(m.id) })))!.id,
      },
      { term: s.highestTermSeen, stableSize: 1 },
      ms(0),
    );
    for (const m of two) amnesiac.leaseAcks.set(m.id, ms(0)); // both answer its lease pings
    swimStep(amnesiac, { kind: 'view-changed', now: ms(0), viewKey: 'b', view: liveViewOf(two) });
    swimStep(amnesiac, { kind: 'tick', now: ms(500) });
    expect(amnesiac.claim).toBeDefined();
  });

  test('a node that joins under a leader still learns and persists its stable size (found by the disk nemesis)', () => {
    const s = initSwimLeader(
      { config: quorum, selfId: ids[3]! },
      { term: term(0), stableSize: 1 },
      ms(0),
    );
    const leaderId = hrwWinner(ids.map((i) => ({ id: i, score: hrwScore(i) })))!.id;
    const all = ids.map((i) => ({ id: i, claimTerm: i === leaderId ? term(1) : undefined }));
    swimStep(s, { kind: 'view-changed', now: ms(0), viewKey: 'a', view: liveViewOf(all) });
    expect(s.leader).toBeDefined(); // an existing leader's claim is followed at once
    expect(s.stableSize).toBe(1);
    // The view is still larger than the stable size: the window's end is a deadline.
    expect(swimNextDeadline(s)).toBe(100);
    const out = swimStep(s, { kind: 'tick', now: ms(100) });
    expect(s.stableSize).toBe(4);
    expect(out.persist.at(-1)).toEqual({ term: s.highestTermSeen, stableSize: 4 });
    expect(swimNextDeadline(s)).toBeUndefined();
  });

  test('issue 11 bug 4: requireQuorum with minClusterSize below 2 is refused, naming both fields', () => {
    expect(() => swimLeaderConfig({ requireQuorum: true }, 1000)).toThrow(
      /requireQuorum \(true\) needs minClusterSize \(1\) of at least 2/,
    );
    expect(swimLeaderConfig({ requireQuorum: true, minClusterSize: 2 }, 1000).minClusterSize).toBe(
      2,
    );
    expect(swimLeaderConfig({}, 1000).requireQuorum).toBe(false);
  });

  test('the swim leader file: JSON with term and stable size; the decimal term of earlier versions still reads', () => {
    const enc = (t: string) => new TextEncoder().encode(t);
    expect(parseSwimLeaderFile(enc('7\n'))).toEqual({ term: 7, stableSize: 1 });
    expect(parseSwimLeaderFile(enc('{"term":7,"stableSize":5}\n'))).toEqual({
      term: 7,
      stableSize: 5,
    });
    const written = SWIM_LEADER_STORE.write({ term: term(9), stableSize: 3 });
    expect(parseSwimLeaderFile(written.data)).toEqual({ term: 9, stableSize: 3 });
  });

  test('issue 11 bug 5: requireQuorum counts only members alive and not suspected, so a cut-off leader steps down once it suspects its majority', () => {
    const s = createSwimLeaderState(cfg, id('1'), 0, 0 as Millis);
    const full = ids.map((i) => ({ id: i, claimTerm: i === id('1') ? 2 : undefined }));
    evaluate(s, full, 0 as Millis);
    evaluate(s, full, 200 as Millis);
    s.claim = term(2);
    expect(s.leader?.id).toBe(id('1'));
    // Still live (suspect, not dead yet): three of four suspected leaves one alive, self.
    const suspected = full.map((m) => (m.id === id('1') ? m : { ...m, suspect: true }));
    evaluate(s, suspected, 300 as Millis);
    expect(s.leader).toBeUndefined();
    expect(s.claim).toBeUndefined();
  });

  test('issue 11 bug 5, the lease: a claimant claims only once a majority answered its lease pings, and lets go when they stop, whatever its view says', () => {
    const lease = { ...cfg, minClusterSize: 4 };
    const winner = hrwWinner(ids.map((i) => ({ id: i, score: hrwScore(i) })))!.id;
    const s = initSwimLeader(
      { config: lease, selfId: winner },
      { term: term(0), stableSize: 1 },
      ms(0),
    );
    const all = ids.map((i) => ({ id: i, claimTerm: undefined }));
    swimStep(s, { kind: 'view-changed', now: ms(0), viewKey: 'a', view: liveViewOf(all) });
    // Stable and the HRW winner, but no lease yet: it pings everyone instead of claiming.
    const due = swimStep(s, { kind: 'tick', now: ms(100) });
    expect(s.claim).toBeUndefined();
    expect(due.effects).toContainEqual({ kind: 'lease-round' });
    expect(swimNextDeadline(s)).toBe(125);
    const others = ids.filter((i) => i !== winner);
    swimStep(s, { kind: 'lease-ack', now: ms(102), id: others[0]!, sentAtMs: ms(100) });
    expect(s.claim).toBeUndefined(); // two of four is no majority
    swimStep(s, { kind: 'lease-ack', now: ms(103), id: others[1]!, sentAtMs: ms(100) });
    expect(s.claim).toBe(1);
    expect(s.leader?.id).toBe(winner);
    // Cut off: no more answers. Its view still shows everyone alive, yet leaseMs after the last
    // answered ping was sent (at a lease round) it has let go.
    for (let now = 125; now < 200; now += 25) swimStep(s, { kind: 'tick', now: ms(now) });
    expect(s.leader?.id).toBe(winner);
    swimStep(s, { kind: 'tick', now: ms(200) });
    expect(s.claim).toBeUndefined();
    expect(s.leader).toBeUndefined();
    // An answer that arrives late proves only its ping's send time: no lease from it.
    swimStep(s, { kind: 'lease-ack', now: ms(300), id: others[0]!, sentAtMs: ms(150) });
    swimStep(s, { kind: 'lease-ack', now: ms(300), id: others[1]!, sentAtMs: ms(150) });
    expect(s.claim).toBeUndefined();
  });

  test('requireQuorum: a minority view has no leader and drops its claim', () => {
    const s = createSwimLeaderState(cfg, id('1'), 0, 0 as Millis);
    const full = ids.map((i) => ({ id: i, claimTerm: i === id('1') ? 2 : undefined }));
    evaluate(s, full, 0 as Millis);
    evaluate(s, full, 200 as Millis);
    s.claim = term(2);
    evaluate(s, [{ id: id('1'), claimTerm: 2 }], 300 as Millis);
    expect(s.leader).toBeUndefined();
    expect(s.claim).toBeUndefined();
  });
});
