/**
 * Step tests of the membership core. Each names the rule it checks: SWIM (Das et al. 2002) §4.2
 * precedence, Lifeguard (Dadgar et al. 2018) §IV-A/B/C.
 */
import { incarnation as asIncarnation } from '../../src/base/units.js';
import { describe, expect, it } from 'vitest';
import { ms } from '../../src/base/time.js';
import type { Message } from '../../src/membership/messages.js';
import { membershipConfig } from '../../src/membership/config.js';
import { nackTimeoutMs } from '../../src/membership/probe.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { retransmitLimit } from '../../src/membership/scaling.js';
import { nextDeadline } from '../../src/membership/step.js';
import { piggyback } from '../../src/membership/state.js';
import { suspicionTimeoutMinMs } from '../../src/membership/suspicion.js';
import { INCARNATION_MAX } from '../../src/membership/record.js';
import {
  address,
  alive,
  checkedStep,
  ctx,
  dead,
  events,
  left,
  memberRecord,
  newState,
  nodeId,
  pushPullFrom,
  receiveGossip,
  sends,
  startedWith,
  suspect,
  tickThrough,
} from './helpers.js';

describe('SWIM §4.2 precedence', () => {
  it('a suspect update about self with our incarnation makes us refute with incarnation+1, persisting first', () => {
    const { state, context } = startedWith(1, [2]);
    const before = state.members.get(nodeId(1))!.incarnation;
    const effects = checkedStep(state, receiveGossip(ms(1), 2, [suspect(1, before, 2)]), context);
    expect(state.members.get(nodeId(1))!.incarnation).toBe(before + 1);
    expect(effects[0]).toEqual({ kind: 'persist', incarnation: asIncarnation(before + 1) });
    expect(state.queue.byMember.get(nodeId(1))?.update).toMatchObject({
      kind: 'alive',
      incarnation: asIncarnation(before + 1),
    });
    expect(state.counters.refutes).toBe(1);
  });

  it('an accusation about self above our incarnation names one we never signed: refused, no refute', () => {
    const { state, context } = startedWith(1, [2]);
    checkedStep(state, receiveGossip(ms(1), 2, [dead(1, 9, 2)]), context);
    expect(state.members.get(nodeId(1))).toMatchObject({
      state: 'alive',
      incarnation: asIncarnation(1),
    });
    expect(state.counters.refutes).toBe(0);
    expect(state.counters.accusationsRefused).toBe(1);
  });

  it('a record of ours above our incarnation, signed with our key (an earlier life), is refuted above it', () => {
    const { state, context } = startedWith(1, [2]);
    checkedStep(
      state,
      receiveGossip(ms(1), 2, [alive(1, 9, {}, { address: address(7) })]),
      context,
    );
    expect(state.members.get(nodeId(1))).toMatchObject({
      state: 'alive',
      incarnation: asIncarnation(10),
      address: address(1),
    });
    expect(state.counters.refutes).toBe(1);
  });

  it('a suspect update about self with an older incarnation is ignored', () => {
    const { state, context } = startedWith(1, [2]);
    checkedStep(state, receiveGossip(ms(1), 2, [dead(1, 0, 2)]), context);
    expect(state.counters.refutes).toBe(0);
  });

  it('suspect with incarnation >= current is accepted over alive; a lower one is ignored', () => {
    const { state, context } = startedWith(1, [2, 3]);
    checkedStep(state, receiveGossip(ms(1), 3, [suspect(2, 0, 3)]), context);
    expect(state.members.get(nodeId(2))!.state).toBe('alive');
    checkedStep(state, receiveGossip(ms(1), 3, [suspect(2, 1, 3)]), context);
    expect(state.members.get(nodeId(2))!.state).toBe('suspect');
  });

  it('alive with equal incarnation does not clear suspect; a strictly higher one does', () => {
    const { state, context } = startedWith(1, [2, 3]);
    checkedStep(state, receiveGossip(ms(1), 3, [suspect(2, 1, 3)]), context);
    checkedStep(state, receiveGossip(ms(2), 3, [alive(2, 1)]), context);
    expect(state.members.get(nodeId(2))!.state).toBe('suspect');
    checkedStep(state, receiveGossip(ms(3), 3, [alive(2, 2)]), context);
    expect(state.members.get(nodeId(2))!.state).toBe('alive');
  });

  it('dead is final for that incarnation: equal-incarnation alive and suspect are ignored', () => {
    const { state, context } = startedWith(1, [2, 3]);
    checkedStep(state, receiveGossip(ms(1), 3, [dead(2, 1, 3)]), context);
    checkedStep(state, receiveGossip(ms(2), 3, [alive(2, 1), suspect(2, 1, 3)]), context);
    expect(state.members.get(nodeId(2))!.state).toBe('dead');
    checkedStep(state, receiveGossip(ms(3), 2, [alive(2, 2)]), context);
    expect(state.members.get(nodeId(2))!.state).toBe('alive');
  });

  it('left is recorded as left, not dead', () => {
    const { state, context } = startedWith(1, [2, 3]);
    const effects = checkedStep(state, receiveGossip(ms(1), 2, [left(2, 1)]), context);
    expect(state.members.get(nodeId(2))!.state).toBe('left');
    expect(events(effects)).toContain('left:n2');
    expect(events(effects)).not.toContain('dead:n2');
  });

  it.each([
    [INCARNATION_MAX - 1, true],
    [INCARNATION_MAX, true],
    [INCARNATION_MAX + 1, false],
    [Number.MAX_SAFE_INTEGER, false],
  ])(
    'a record at incarnation %i (INCARNATION_MAX = 2^48 - 1) is accepted: %s; never a crash',
    (incarnation, accepted) => {
      const { state, context } = startedWith(1, [2]);
      checkedStep(state, receiveGossip(ms(1), 2, [alive(2, incarnation)]), context);
      expect(state.members.get(nodeId(2))!.incarnation).toBe(accepted ? incarnation : 1);
      expect(state.counters.incarnationsRefused).toBe(accepted ? 0 : 1);
    },
  );
});

describe('epoch', () => {
  it('moves when the live set changes, never on suspect <-> alive', () => {
    const { state, context } = startedWith(1, [2, 3]);
    const start = state.epoch;
    expect(start).toBe(3); // self alive, then 2 and 3 joined
    checkedStep(state, receiveGossip(ms(1), 3, [suspect(2, 1, 3)]), context);
    checkedStep(state, receiveGossip(ms(2), 2, [alive(2, 2)]), context);
    expect(state.epoch).toBe(start);
    const effects = checkedStep(state, receiveGossip(ms(3), 3, [dead(2, 2, 3)]), context);
    expect(state.epoch).toBe(start + 1);
    expect(events(effects)).toContain(`epoch:${start + 1}`);
  });
});

describe('probing (SWIM §3.1, Lifeguard §IV-A)', () => {
  function runToProbe(others: number[]) {
    const setup = startedWith(1, others);
    const { state, context } = setup;
    const at = state.nextProbeAtMs;
    const effects = checkedStep(state, { kind: 'tick', now: at }, context);
    return { ...setup, at, effects };
  }

  it('probes one member per period with a ping, then ping-req to k others and a stream ping after the timeout', () => {
    const { state, context, at, effects } = runToProbe([2, 3, 4]);
    const pings = sends(effects).filter((s) => s.message.type === 'ping');
    expect(pings).toHaveLength(1);
    const probe = state.probe!;
    const after = checkedStep(state, { kind: 'tick', now: ms(at + 40) }, context);
    const reqs = sends(after).filter((s) => s.message.type === 'ping-req');
    expect(reqs).toHaveLength(2); // indirectChecks in SIM_MIN
    expect(reqs.every((s) => s.to !== probe.targetAddress)).toBe(true);
    expect(
      sends(after).filter((s) => s.channel === 'stream' && s.message.type === 'ping'),
    ).toHaveLength(1);
  });

  it('no ack by the end of the period: suspect, and awareness rises by the missing nacks', () => {
    const { state, context, at } = runToProbe([2, 3, 4]);
    const target = state.probe!.target;
    checkedStep(state, { kind: 'tick', now: ms(at + 40) }, context);
    const helper = state.probe!.nacksPending[0]!;
    checkedStep(
      state,
      {
        kind: 'receive',
        now: ms(at + 60),
        from: address(3),
        channel: 'packet',
        message: { type: 'nack', seq: state.probe!.seq, from: helper },
      },
      context,
    );
    checkedStep(state, { kind: 'tick', now: ms(at + 100) }, context);
    expect(state.members.get(target)!.state).toBe('suspect');
    expect(state.awareness).toBe(1); // 2 expected nacks, 1 received
  });

  it('a nack counts once, and only from a helper that was asked', () => {
    const { state, context, at } = runToProbe([2, 3, 4]);
    const after = checkedStep(state, { kind: 'tick', now: ms(at + 40) }, context);
    const asked = sends(after)
      .filter((s) => s.message.type === 'ping-req')
      .map((s) => s.to);
    const helperIds = [2, 3, 4].filter((i) => asked.includes(address(i))).map((i) => nodeId(i));
    const stranger = [2, 3, 4, 5].map((i) => nodeId(i)).find((id) => !helperIds.includes(id))!;
    const nack = (from: NodeId, t: number) =>
      checkedStep(
        state,
        {
          kind: 'receive',
          now: ms(t),
          from: address(9),
          channel: 'packet',
          message: { type: 'nack', seq: state.probe!.seq, from },
        },
        context,
      );
    nack(helperIds[0]!, at + 60);
    nack(helperIds[0]!, at + 61); // a replay
    nack(stranger, at + 62); // never asked
    expect(state.probe!.nacksReceived).toBe(1);
    expect(state.counters.nacksReceived).toBe(1);
    expect(state.counters.nacksUnexpected).toBe(2);
    checkedStep(state, { kind: 'tick', now: ms(at + 100) }, context);
    expect(state.awareness).toBe(1); // 2 asked, 1 nacked
  });

  it.each(['LAN', 'WAN', 'LOCAL', 'SIM_MIN'] as const)(
    '%s profile: a helper nacks early enough for the prober to hear it before its period ends',
    (profile) => {
      const c = membershipConfig(profile);
      // ping-req leaves at probeTimeoutMs; the nack must be back before probeIntervalMs with a
      // quarter of the gap left for each of the two one-way trips.
      const gap = c.probeIntervalMs - c.probeTimeoutMs;
      expect(c.probeTimeoutMs + nackTimeoutMs(c) + gap / 2).toBeLessThanOrEqual(c.probeIntervalMs);
      expect(nackTimeoutMs(c)).toBeGreaterThan(0);
    },
  );

  it('an ack completes the probe and lowers awareness', () => {
    const { state, context, at } = runToProbe([2]);
    state.awareness = 2;
    const probe = state.probe!;
    checkedStep(
      state,
      {
        kind: 'receive',
        now: ms(at + 5),
        from: address(2),
        channel: 'packet',
        message: { type: 'ack', seq: probe.seq, from: probe.target, updates: [] },
      },
      context,
    );
    expect(state.probe).toBeUndefined();
    expect(state.awareness).toBe(1);
  });

  it('awareness scales the probe interval by (score + 1)', () => {
    const { state, context } = startedWith(1, [2]);
    checkedStep(state, { kind: 'loop-delay', now: ms(0), delayMs: 1000 }, context);
    checkedStep(state, { kind: 'loop-delay', now: ms(0), delayMs: 1000 }, context);
    expect(state.awareness).toBe(2);
    const at = state.nextProbeAtMs;
    checkedStep(state, { kind: 'tick', now: at }, context);
    expect(state.nextProbeAtMs).toBe(at + 300);
    expect(state.probe!.ackTimeoutAtMs).toBe(at + 120);
  });

  it('Lifeguard §IV-C buddy system: a ping to a suspect carries the suspect update first', () => {
    const { state, context } = startedWith(1, [2]);
    checkedStep(state, receiveGossip(ms(1), 2, [alive(3, 1)]), context);
    checkedStep(state, receiveGossip(ms(1), 2, [suspect(3, 1, 2)]), context);
    checkedStep(state, receiveGossip(ms(1), 3, [suspect(2, 1, 3)]), context);
    for (let i = 0; i < 4; i++) {
      const effects = checkedStep(state, { kind: 'tick', now: state.nextProbeAtMs }, context);
      const ping = sends(effects).find((s) => s.message.type === 'ping');
      if (ping === undefined || ping.message.type !== 'ping') continue;
      expect(ping.message.updates[0]).toMatchObject({ kind: 'suspect', id: ping.message.target });
      return;
    }
    expect.fail('no ping sent to a suspect');
  });

  it('a suspicion heard from another member is probed at our next period, out of walk order', () => {
    // Lifeguard §IV-B: the timeout shrinks with independent confirmations; probing the suspect at
    // once yields ours within one period. Over many seeds the first probe after hearing must hit it.
    for (let seed = 1; seed <= 20; seed++) {
      const { state } = startedWith(1, [2, 3, 4, 5, 6, 7, 8]);
      const context = ctx(seed);
      checkedStep(state, receiveGossip(ms(1), 2, [suspect(8, 1, 2)]), context);
      let target: string | undefined;
      for (let i = 0; i < 3 && target === undefined; i++) {
        const ping = sends(
          checkedStep(state, { kind: 'tick', now: state.nextProbeAtMs }, context),
        ).find((e) => e.message.type === 'ping');
        if (ping?.message.type === 'ping') target = ping.message.target;
      }
      expect(target).toBe(nodeId(8));
    }
  });

  it('update-labels with the labels we already have changes nothing and sends nothing', () => {
    const { state, context } = startedWith(1, [2]);
    checkedStep(state, { kind: 'update-labels', now: ms(1), labels: { zone: 'a' } }, context);
    const incarnation = state.members.get(nodeId(1))?.incarnation;
    const queued = state.queue.byMember.size;
    const effects = checkedStep(
      state,
      { kind: 'update-labels', now: ms(2), labels: { zone: 'a' } },
      context,
    );
    expect(effects).toEqual([]);
    expect(state.members.get(nodeId(1))?.incarnation).toBe(incarnation);
    expect(state.queue.byMember.size).toBe(queued);
  });

  it('retries a seed outside the live view with doubling backoff, and stops once it is live', () => {
    // Slow probes: the seed, once a member, must stay alive here without answering any probe.
    const state = newState(
      1,
      membershipConfig('SIM_MIN', { probeIntervalMs: 60_000, probeTimeoutMs: 30_000 }),
    );
    const context = ctx(1);
    const joinsTo = (effects: ReturnType<typeof checkedStep>) =>
      sends(effects)
        .filter((e) => e.message.type === 'push-pull' && e.message.join)
        .map((e) => e.to);
    expect(
      joinsTo(checkedStep(state, { kind: 'start', now: ms(0), seeds: [address(9)] }, context)),
    ).toEqual([address(9)]);
    const retryTimes: number[] = [];
    for (let i = 0; i < 2000 && retryTimes.length < 3; i++) {
      const at = nextDeadline(state) as number;
      if (joinsTo(checkedStep(state, { kind: 'tick', now: ms(at) }, context)).includes(address(9)))
        retryTimes.push(at);
    }
    const { joinTimeoutMs } = state.config;
    expect(retryTimes[1]! - retryTimes[0]!).toBeGreaterThanOrEqual(joinTimeoutMs);
    expect(retryTimes[2]! - retryTimes[1]!).toBeGreaterThan(retryTimes[1]! - retryTimes[0]!);
    // The seed turns up as a live member: the retry that falls due finds nothing to join and
    // waits the longest backoff before looking again.
    checkedStep(state, receiveGossip(ms(retryTimes[2]! + 1), 9, [alive(9, 1)]), context);
    const due = state.nextSeedRetryAtMs;
    expect(joinsTo(tickThrough(state, context, due))).toEqual([]);
    expect(state.nextSeedRetryAtMs).toBe(
      due + Math.max(joinTimeoutMs, state.config.reconnectIntervalMs),
    );
  });

  it('a ping for another node id at our address is not answered', () => {
    const { state, context } = startedWith(1, [2]);
    const effects = checkedStep(
      state,
      {
        kind: 'receive',
        now: ms(1),
        from: address(2),
        channel: 'packet',
        message: {
          type: 'ping',
          seq: 7,
          from: nodeId(2),
          fromAddress: address(2),
          target: nodeId(9),
          updates: [],
        },
      },
      context,
    );
    expect(sends(effects)).toHaveLength(0);
    expect(state.counters.pingsWrongTarget).toBe(1);
  });

  it('relays a ping-req and nacks when the target stays silent; bounded by pendingProbesMax', () => {
    const config = membershipConfig('SIM_MIN', { pendingProbesMax: 1 });
    const { state, context } = startedWith(1, [2, 3], config);
    const req = (seq: number): Message => ({
      type: 'ping-req',
      seq,
      from: nodeId(2),
      target: nodeId(3),
      nack: true,
      updates: [],
    });
    const first = checkedStep(
      state,
      { kind: 'receive', now: ms(1), from: address(2), channel: 'packet', message: req(1) },
      context,
    );
    expect(sends(first)[0]).toMatchObject({
      to: address(3),
      message: { type: 'ping', target: nodeId(3) },
    });
    checkedStep(
      state,
      { kind: 'receive', now: ms(1), from: address(2), channel: 'packet', message: req(2) },
      context,
    );
    expect(state.counters.relayedProbesDropped).toBe(1);
    // SIM_MIN: probe interval 100 ms, timeout 40 ms, so the nack goes out 30 ms after the ping-req.
    expect(nackTimeoutMs(config)).toBe(30);
    const early = tickThrough(state, context, 30);
    expect(sends(early).find((s) => s.message.type === 'nack')).toBeUndefined();
    const expired = tickThrough(state, context, 31);
    expect(sends(expired).find((s) => s.message.type === 'nack')).toMatchObject({
      to: address(2),
      message: { seq: 1 },
    });
  });
});

describe('suspicion (Lifeguard §IV-B)', () => {
  it('starts at the max timeout and an independent confirmation shortens it to the min', () => {
    const { state, context } = startedWith(1, [2, 3, 4]);
    checkedStep(state, receiveGossip(ms(10), 3, [suspect(2, 1, 3)]), context);
    const min = suspicionTimeoutMinMs(3, 4, 100);
    expect(state.members.get(nodeId(2))!.suspicion!.deadlineMs).toBe(10 + 3 * min);
    tickThrough(state, context, 20);
    checkedStep(state, receiveGossip(ms(20), 3, [suspect(2, 1, 3)]), context); // same accuser: not independent
    expect(state.members.get(nodeId(2))!.suspicion!.deadlineMs).toBe(10 + 3 * min);
    checkedStep(state, receiveGossip(ms(20), 4, [suspect(2, 1, 4)]), context);
    expect(state.members.get(nodeId(2))!.suspicion!.deadlineMs).toBe(10 + min);
    expect(nextDeadline(state)).toBeLessThanOrEqual(10 + min);
    tickThrough(state, context, 10 + min);
    expect(state.members.get(nodeId(2))!.state).toBe('dead');
  });
});

describe('dissemination (SWIM §4.1)', () => {
  it('an update is sent retransmitMult * ceil(log10(N + 1)) times, then no more', () => {
    const { state, context } = startedWith(1, [2, 3, 4]);
    checkedStep(state, receiveGossip(ms(1), 2, [alive(5, 1)]), context);
    state.queue.byMember.clear();
    checkedStep(state, receiveGossip(ms(1), 2, [alive(6, 1)]), context);
    const limit = retransmitLimit(2, state.members.size);
    let sent = 0;
    for (let t = 20; t < 2000; t += 20) {
      for (const s of sends(checkedStep(state, { kind: 'tick', now: ms(t) }, context))) {
        if (
          'updates' in s.message &&
          s.message.updates.some((u) => u.id === nodeId(6) && u.kind === 'alive')
        )
          sent++;
      }
    }
    expect(sent).toBe(limit);
  });

  it.each([
    [50, true],
    [200, false],
  ])(
    'news goes out newsGossipDelayMs (%i) after the previous gossip round: early %s',
    (newsGossipDelayMs, early) => {
      // Slow probes keep probe traffic (and suspicions) out of the picture.
      const config = membershipConfig('LAN', {
        newsGossipDelayMs,
        probeIntervalMs: 60_000,
        probeTimeoutMs: 30_000,
      });
      const { state, context } = startedWith(1, [2, 3, 4], config);
      for (let t = 0; t <= 5000 && state.queue.byMember.size > 0; t += 10)
        checkedStep(state, { kind: 'tick', now: ms(t) }, context);
      expect(state.queue.byMember.size).toBe(0);
      const last = state.lastGossipAtMs;
      checkedStep(state, receiveGossip(ms(last + 10), 2, [alive(5, 1)]), context);
      const gossipsAt = (t: number) =>
        sends(checkedStep(state, { kind: 'tick', now: ms(t) }, context)).filter(
          (s) => s.message.type === 'gossip',
        );
      expect(gossipsAt(last + 49)).toHaveLength(0);
      expect(gossipsAt(last + 50).length > 0).toBe(early);
      // Either way the regular tick (gossipIntervalMs after the previous round) is never later.
      if (!early) expect(gossipsAt(last + 200).length).toBeGreaterThan(0);
    },
  );
});

describe('labels', () => {
  const config = membershipConfig('SIM_MIN', { labelsBytesMax: 20 });
  it.each([
    [19, true],
    [20, true],
    [21, false],
  ])('local labels of %i bytes with labelsBytesMax 20: accepted %s', (bytes, ok) => {
    const { state, context } = startedWith(1, [], config);
    const before = state.members.get(nodeId(1))!.incarnation;
    const effects = checkedStep(
      state,
      { kind: 'update-labels', now: ms(1), labels: { k: 'v'.repeat(bytes - 1) } },
      context,
    );
    expect(state.members.get(nodeId(1))!.incarnation).toBe(ok ? before + 1 : before);
    expect(effects.some((e) => e.kind === 'rejected')).toBe(!ok);
    if (ok)
      expect(state.queue.byMember.get(nodeId(1))?.update).toMatchObject({
        kind: 'alive',
        labels: { k: 'v'.repeat(bytes - 1) },
      });
  });

  it.each([
    [20, true],
    [21, false],
  ])('remote labels of %i bytes with labelsBytesMax 20: applied %s', (bytes, ok) => {
    const { state, context } = startedWith(1, [2], config);
    checkedStep(
      state,
      receiveGossip(ms(1), 2, [alive(2, 2, { k: 'v'.repeat(bytes - 1) })]),
      context,
    );
    expect(state.members.get(nodeId(2))!.incarnation).toBe(ok ? 2 : 1);
    expect(state.counters.labelsRejected).toBe(ok ? 0 : 1);
  });

  it('a labels change spreads as an alive update and emits updated', () => {
    const { state, context } = startedWith(1, [2]);
    const effects = checkedStep(
      state,
      receiveGossip(ms(1), 2, [alive(2, 2, { zone: 'b' })]),
      context,
    );
    expect(events(effects)).toEqual(['updated:n2']);
  });
});

describe('push-pull and join', () => {
  it('a config mismatch is answered with a reject naming the field, and the joiner reports it', () => {
    const seed = startedWith(1, []);
    const joiner = newState(2, membershipConfig('SIM_MIN', { probeIntervalMs: 200 }));
    const joinerCtx = ctx(2);
    const out = sends(
      checkedStep(joiner, { kind: 'start', now: ms(0), seeds: [address(1)] }, joinerCtx),
    );
    expect(joiner.members.get(nodeId(2))!.state).toBe('joining');
    const pushPull = out[0]!;
    const answer = sends(
      checkedStep(
        seed.state,
        {
          kind: 'receive',
          now: ms(1),
          from: address(2),
          channel: 'stream',
          message: pushPull.message,
        },
        seed.context,
      ),
    );
    expect(answer[0]!.message).toMatchObject({ type: 'reject', reason: 'config_mismatch' });
    expect(answer[0]!.message.type === 'reject' && answer[0]!.message.detail).toContain(
      'probeIntervalMs: ours 100, theirs 200',
    );
    expect(seed.state.counters.configMismatchRejected).toBe(1);
    expect(seed.state.members.has(nodeId(2))).toBe(false);
    const result = checkedStep(
      joiner,
      {
        kind: 'receive',
        now: ms(2),
        from: address(1),
        channel: 'stream',
        message: answer[0]!.message,
      },
      joinerCtx,
    );
    expect(result.find((e) => e.kind === 'join-result')).toMatchObject({
      ok: false,
      reason: 'config_mismatch',
    });
  });

  it('a join fails as unreachable when every seed fails to connect', () => {
    const joiner = newState(2);
    const joinerCtx = ctx(2);
    checkedStep(joiner, { kind: 'start', now: ms(0), seeds: [address(1)] }, joinerCtx);
    const effects = checkedStep(
      joiner,
      { kind: 'send-failed', now: ms(1), to: address(1), channel: 'stream' },
      joinerCtx,
    );
    expect(effects.find((e) => e.kind === 'join-result')).toMatchObject({
      ok: false,
      reason: 'unreachable',
    });
    expect(joiner.members.get(nodeId(2))!.state).toBe('alive');
  });

  it('a refused stream fallback fails the probe at once: suspect before the period ends, no awareness penalty', () => {
    const { state, context } = startedWith(1, [2, 3]);
    let t = 0;
    while (t < 1000 && !(state.probe?.indirectSent ?? false))
      checkedStep(state, { kind: 'tick', now: ms(++t) }, context);
    const probe = state.probe!;
    expect(probe.indirectSent).toBe(true);
    const endAtMs = probe.endAtMs;
    const target = probe.target;
    // A refusal from another address says nothing about this probe.
    checkedStep(
      state,
      { kind: 'send-failed', now: ms(t + 1), to: address(9), channel: 'stream' },
      context,
    );
    expect(state.probe).toBe(probe);
    const awareness = state.awareness;
    const effects = checkedStep(
      state,
      { kind: 'send-failed', now: ms(t + 2), to: probe.targetAddress, channel: 'stream' },
      context,
    );
    expect(t + 2).toBeLessThan(endAtMs);
    expect(state.probe).toBeUndefined();
    expect(state.members.get(target)!.state).toBe('suspect');
    expect(events(effects)).toEqual([`suspect:${state.members.get(target)!.name}`]);
    expect(state.awareness).toBe(awareness);
    expect(state.counters.probesRefused).toBe(1);
  });

  it('a restarted node refutes the dead record of its previous life learned by push-pull', () => {
    // Our earlier life signed incarnation 7 and lost its incarnation file: this life started at 1.
    const { state, context } = startedWith(1, [2]);
    const effects = checkedStep(
      state,
      pushPullFrom(ms(5), 2, state.fingerprint, [memberRecord(1, 7, 'dead', { accuser: 2 })]),
      context,
    );
    expect(state.members.get(nodeId(1))).toMatchObject({
      state: 'alive',
      incarnation: asIncarnation(8),
    });
    expect(effects[0]).toEqual({ kind: 'persist', incarnation: asIncarnation(8) });
    // Indistinguishable from another process with our key: reported as such.
    expect(state.counters.identityConflicts).toBe(1);
  });

  it('what a push-pull teaches is relayed for one gossip round, except news about the peer itself and our refutation', () => {
    const { state, context } = startedWith(1, [2]);
    state.queue.byMember.clear();
    const ours = state.members.get(nodeId(1))!.incarnation;
    const effects = checkedStep(
      state,
      pushPullFrom(
        ms(5),
        2,
        state.fingerprint,
        [memberRecord(3, 1), memberRecord(1, ours, 'suspect', { accuser: 2 })],
        { fromIncarnation: 2 },
      ),
      context,
    );
    expect(events(effects)).toContain('joined:n3');
    const fanout = state.config.gossipFanout;
    expect(state.queue.byMember.get(nodeId(3))!.sendsMax).toBe(fanout);
    expect(state.queue.byMember.get(nodeId(2))!.sendsMax).toBeUndefined();
    expect(state.queue.byMember.get(nodeId(1))).toMatchObject({
      sendsMax: undefined,
      update: { kind: 'alive', incarnation: asIncarnation(ours + 1) },
    });
    // The relayed update leaves the queue after `fanout` sends; the others stay for the full limit.
    const sentAbout3 = (): number => {
      let sent = 0;
      for (let round = 0; round < 20; round++)
        sent += piggyback({
          state,
          effects: [],
          persist: [],
          afterPersist: [],
          rng: context.rng,
          sizeOf: (u) => JSON.stringify(u).length,
          now: ms(6),
        }).filter((u) => u.id === nodeId(3)).length;
      return sent;
    };
    expect(sentAbout3()).toBe(fanout);
    // Gossip heard first-hand (not by push-pull) keeps the full budget.
    checkedStep(state, receiveGossip(ms(7), 2, [alive(4, 1)]), context);
    expect(state.queue.byMember.get(nodeId(4))!.sendsMax).toBeUndefined();
  });

  it('a remote dead record is only believed as suspect (memberlist mergeRemoteState)', () => {
    const { state, context } = startedWith(1, [2, 3]);
    checkedStep(
      state,
      pushPullFrom(ms(5), 2, state.fingerprint, [memberRecord(3, 1, 'dead', { accuser: 2 })]),
      context,
    );
    expect(state.members.get(nodeId(3))!.state).toBe('suspect');
    // Believed on 2's signed word, but as our own suspicion (we accuse, and we sign it).
    expect(state.members.get(nodeId(3))!.accusation?.from).toBe(nodeId(1));
  });

  it('membersMax: a new member beyond the limit is ignored and counted', () => {
    const config = membershipConfig('SIM_MIN', { membersMax: 3 });
    const { state, context } = startedWith(1, [2], config);
    checkedStep(state, receiveGossip(ms(1), 2, [alive(3, 1)]), context);
    expect(state.members.size).toBe(3);
    checkedStep(state, receiveGossip(ms(1), 2, [alive(4, 1)]), context);
    expect(state.members.size).toBe(3);
    expect(state.counters.membersRejected).toBe(1);
  });
});

describe('leave', () => {
  it('broadcasts left with our incarnation, never refutes it, and finishes with left-done', () => {
    const { state, context } = startedWith(1, [2, 3]);
    const inc = state.members.get(nodeId(1))!.incarnation;
    checkedStep(state, { kind: 'leave', now: ms(1) }, context);
    expect(state.queue.byMember.get(nodeId(1))?.update).toMatchObject({
      kind: 'left',
      id: nodeId(1),
      incarnation: asIncarnation(inc),
    });
    checkedStep(state, receiveGossip(ms(2), 2, [suspect(1, inc, 2)]), context);
    expect(state.members.get(nodeId(1))).toMatchObject({
      state: 'left',
      incarnation: asIncarnation(inc),
    });
    let done = false;
    for (let t = 20; t <= 200 && !done; t += 20)
      done = checkedStep(state, { kind: 'tick', now: ms(t) }, context).some(
        (e) => e.kind === 'left-done',
      );
    expect(done).toBe(true);
    expect(state.phase).toBe('stopped');
    expect(nextDeadline(state)).toBeUndefined();
  });
});
