/**
 * Clock steps and stalls (docs/design/membership.md, "Clock steps"): an input that arrives after
 * the core's own next deadline means the node was not running on time (a stalled process, a VM
 * resumed, a monotonic clock that stepped forward). That late part must not count as a peer's
 * silence: every wait that concludes something about a peer (ack timeout, probe period, nack
 * timer, suspicion timeout, join and leave waits) moves forward by it. Found by the swim sweep
 * (`no-false-death`, seed 29 of `npm run sim:sweep -- --scenarios swim --nodes 8 --faults
 * "dup,reorder,skew" --seeds 30 --seed-start 11`).
 */
import { describe, expect, it } from 'vitest';
import { ms } from '../../src/base/time.js';
import { membershipConfig } from '../../src/membership/config.js';
import { nextDeadline } from '../../src/membership/step.js';
import {
  alive,
  checkedStep,
  events,
  nodeId,
  receiveGossip,
  receivePingReq,
  sends,
  startedWith,
  suspect,
  tickThrough,
} from './helpers.js';

describe('a clock step of the prober is not a missed ack (SWIM §3.1)', () => {
  // SIM_MIN: probe interval 100 ms, probe timeout 40 ms. The ping goes out at `at`; 5 ms later
  // the prober's clock steps +434 ms, past both the ack timeout and the end of the period.
  function steppedProbe() {
    const { state, context } = startedWith(1, [2, 3, 4]);
    const at = state.nextProbeAtMs;
    tickThrough(state, context, at + 5);
    const probe = state.probe!;
    expect(probe).toBeDefined();
    const nowMs = at + 5 + 434;
    const effects = checkedStep(state, { kind: 'tick', now: ms(nowMs) }, context);
    return { state, context, probe, nowMs, effects };
  }

  it('the late tick sends the indirect probes and leaves them their whole window', () => {
    const { state, probe, nowMs, effects } = steppedProbe();
    expect(events(effects).filter((e) => e.startsWith('suspect'))).toEqual([]);
    expect(state.probe).toBe(probe);
    expect(sends(effects).filter((s) => s.message.type === 'ping-req')).toHaveLength(2);
    const { probeIntervalMs, probeTimeoutMs } = state.config;
    expect(probe.endAtMs).toBeGreaterThanOrEqual(nowMs + probeIntervalMs - probeTimeoutMs);
    expect(state.counters.lateWakeups).toBe(1);
  });

  it('an ack after the step completes the probe: nobody is suspected', () => {
    const { state, context, probe, nowMs } = steppedProbe();
    const effects = checkedStep(
      state,
      {
        kind: 'receive',
        now: ms(nowMs + 8),
        from: probe.targetAddress,
        channel: 'stream',
        message: { type: 'ack', seq: probe.seq, from: probe.target, updates: [] },
      },
      context,
    );
    expect(state.probe).toBeUndefined();
    expect(state.counters.probesAcked).toBe(1);
    expect(events([...effects, ...tickThrough(state, context, nowMs + 150)])).not.toContain(
      `suspect:${state.members.get(probe.target)!.name}`,
    );
  });

  it('no ack after the step either: the target is suspected when the moved period ends', () => {
    const { state, context, probe } = steppedProbe();
    const endAtMs = probe.endAtMs;
    tickThrough(state, context, endAtMs - 1);
    expect(state.members.get(probe.target)!.state).toBe('alive');
    tickThrough(state, context, endAtMs);
    expect(state.members.get(probe.target)!.state).toBe('suspect');
  });

  it('an input on time moves nothing', () => {
    const { state, context } = startedWith(1, [2, 3, 4]);
    const at = state.nextProbeAtMs;
    tickThrough(state, context, at);
    const { ackTimeoutAtMs, endAtMs } = state.probe!;
    checkedStep(state, receiveGossip(ms(at + 1), 2, []), context);
    expect(state.probe).toMatchObject({ ackTimeoutAtMs, endAtMs });
    expect(state.counters.lateWakeups).toBe(0);
  });
});

describe('a clock step of an observer does not run out a suspicion (Lifeguard §IV-B)', () => {
  // Slow probes keep the observer's own probes (and their suspicions) out of the picture.
  const config = membershipConfig('SIM_MIN', { probeIntervalMs: 60_000, probeTimeoutMs: 30_000 });

  function steppedSuspicion() {
    const { state, context } = startedWith(1, [2, 3, 4], config);
    checkedStep(state, receiveGossip(ms(10), 3, [suspect(2, 1, 3)]), context);
    const suspicion = state.members.get(nodeId(2))!.suspicion!;
    const deadlineMs = suspicion.deadlineMs;
    tickThrough(state, context, 20);
    // The step takes the clock 5 s past the suspicion's deadline in one go.
    const nowMs = deadlineMs + 5_000;
    const effects = checkedStep(state, { kind: 'tick', now: ms(nowMs) }, context);
    return { state, context, suspicion, deadlineMs, nowMs, effects };
  }

  it('the suspect is not declared dead by the step; its deadline moved by the late part', () => {
    const { state, suspicion, nowMs, effects } = steppedSuspicion();
    expect(events(effects)).not.toContain('dead:n2');
    expect(state.members.get(nodeId(2))!.state).toBe('suspect');
    expect(suspicion.deadlineMs).toBeGreaterThan(nowMs);
  });

  it('the suspect refutes after the step: alive again', () => {
    const { state, context, nowMs } = steppedSuspicion();
    checkedStep(state, receiveGossip(ms(nowMs + 20), 2, [alive(2, 2)]), context);
    expect(state.members.get(nodeId(2))!.state).toBe('alive');
  });

  it('no refute: dead once the moved deadline passes on time', () => {
    const { state, context, suspicion } = steppedSuspicion();
    const effects = tickThrough(state, context, suspicion.deadlineMs);
    expect(events(effects)).toContain('dead:n2');
  });
});

describe('a stalled helper still nacks only after its nack timer (Lifeguard §IV-A)', () => {
  it('a relay waiting on the target moves with the late part', () => {
    const { state, context } = startedWith(1, [2, 3, 4]);
    checkedStep(state, receivePingReq(ms(1), 2, 3, 7), context);
    const [relay] = state.relays.values();
    const before = relay!.deadlineMs;
    const late = (nextDeadline(state) as number) + 1_000;
    const effects = checkedStep(state, { kind: 'tick', now: ms(late) }, context);
    expect(sends(effects).filter((s) => s.message.type === 'nack')).toEqual([]);
    expect(relay!.deadlineMs).toBeGreaterThan(before);
    expect(relay!.deadlineMs).toBeGreaterThan(late);
  });
});
