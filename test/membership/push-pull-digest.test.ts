/**
 * Digest-first periodic push-pull (docs/design/membership.md, "Push-pull digest"): equal digests
 * end the round with two small frames and no merge; any difference turns into a full exchange in
 * both directions, after which views and digests agree; config differences still end in a
 * readable `config_mismatch` reject; join and reconnect stay full.
 */
import { describe, expect, it } from 'vitest';
import { ms, type Millis } from '../../src/base/time.js';
import type { Message } from '../../src/membership/messages.js';
import { membershipConfig } from '../../src/membership/config.js';
import { digestHex } from '../../src/membership/digest.js';
import type { State, StepContext } from '../../src/membership/types.js';
import type { FlatEffect as Effect } from './helpers.js';
import {
  address,
  alive,
  checkedStep,
  ctx,
  dead,
  nodeId,
  receiveGossip,
  sends,
  startedWith,
  suspect,
} from './helpers.js';

interface Node {
  state: State;
  context: StepContext;
  index: number;
}

function node(i: number, others: number[], config = membershipConfig('SIM_MIN')): Node {
  return { ...startedWith(i, others, config), index: i };
}

/** Delivers every stream send of `effects` addressed to `to` (from node `from`); returns `to`'s effects. */
function deliver(effects: Effect[], from: Node, to: Node, now: Millis): Effect[] {
  const out: Effect[] = [];
  for (const send of sends(effects)) {
    if (send.channel !== 'stream' || send.to !== address(to.index)) continue;
    out.push(
      ...checkedStep(
        to.state,
        {
          kind: 'receive',
          now,
          from: address(from.index),
          channel: 'stream',
          message: send.message,
        },
        to.context,
      ),
    );
  }
  return out;
}

function streamMessages(effects: Effect[]): Message[] {
  return sends(effects)
    .filter((s) => s.channel === 'stream')
    .map((s) => s.message);
}

function digestOf(state: State): string {
  return digestHex(state.viewDigest.hi, state.viewDigest.lo);
}

function digestRequest(from: Node, reply = true): Message {
  return {
    type: 'push-pull-digest',
    from: nodeId(from.index),
    fromAddress: address(from.index),
    reply,
    configDigest: from.state.fingerprintDigest,
    viewDigest: digestOf(from.state),
  };
}

/** Runs node `a`'s periodic push-pull: ticks at its due time and returns the tick's effects. */
function periodic(a: Node): { effects: Effect[]; now: Millis } {
  const now = a.state.nextPushPullAtMs;
  return { effects: checkedStep(a.state, { kind: 'tick', now }, a.context), now };
}

/**
 * Node `i` knowing `others`, and its first periodic push-pull, with the first random stream (of
 * 50) whose digest goes to member `to` (the peer is drawn at random).
 */
function periodicTo(i: number, others: number[], to: number): Node & ReturnType<typeof periodic> {
  for (let seed = 1; seed < 50; seed++) {
    const a: Node = { state: startedWith(i, others).state, context: ctx(seed), index: i };
    const round = periodic(a);
    if (
      sends(round.effects).some(
        (s) => s.message.type === 'push-pull-digest' && s.to === address(to),
      )
    )
      return { ...a, ...round };
  }
  throw new Error(`no stream sends the digest to ${to}`);
}

describe('digest-first periodic push-pull', () => {
  it('sends a digest, not the view, to one live member', () => {
    const a = node(1, [2]);
    const { effects } = periodic(a);
    const messages = streamMessages(effects);
    expect(messages).toEqual([digestRequest(a)]);
    expect(a.state.counters.pushPullDigestsSent).toBe(1);
    expect(a.state.counters.pushPullsSent).toBe(0);
  });

  it('equal digests: a tiny in-sync answer, no merge, counted on both sides', () => {
    const a = node(1, [2]);
    const b = node(2, [1]);
    expect(digestOf(a.state)).toBe(digestOf(b.state));
    const { effects, now } = periodic(a);
    const answer = deliver(effects, a, b, now);
    expect(streamMessages(answer)).toEqual([digestRequest(b, false)]);
    expect(b.state.counters.pushPullsInSync).toBe(1);
    expect(b.state.counters.pushPullsReceived).toBe(0);
    const last = deliver(answer, b, a, now);
    expect(streamMessages(last)).toEqual([]);
    expect(a.state.counters.pushPullsInSync).toBe(1);
    expect(a.state.counters.updatesApplied + b.state.counters.updatesApplied).toBe(2); // the setup gossip only
  });

  it('suspect vs alive does not count as a difference (suspicion is local)', () => {
    const a = node(1, [2, 3]);
    const b = node(2, [1, 3]);
    checkedStep(b.state, receiveGossip(ms(1), 1, [suspect(3, 1, 1)]), b.context);
    expect(b.state.members.get(nodeId(3))?.state).toBe('suspect');
    expect(digestOf(a.state)).toBe(digestOf(b.state));
  });

  it('different digests: full views both ways, after which views and digests agree', () => {
    const { effects, now, ...a } = periodicTo(1, [2, 3], 2);
    const b = node(2, [1, 4]);
    expect(digestOf(a.state)).not.toBe(digestOf(b.state));
    const bFull = deliver(effects, a, b, now);
    const [full] = streamMessages(bFull);
    expect(full).toMatchObject({
      type: 'push-pull',
      reply: true,
      join: false,
      configFingerprint: b.state.fingerprint,
    });
    expect(full?.type === 'push-pull' ? full.members.map((m) => m.id).sort() : []).toEqual([
      nodeId(1),
      nodeId(2),
      nodeId(4),
    ]);
    const aFull = deliver(bFull, b, a, now);
    expect(streamMessages(aFull)).toMatchObject([{ type: 'push-pull', reply: false }]);
    expect(streamMessages(deliver(aFull, a, b, now))).toEqual([]);
    for (const n of [a, b])
      expect([...n.state.members.keys()].sort()).toEqual([1, 2, 3, 4].map(nodeId));
    expect(digestOf(a.state)).toBe(digestOf(b.state));
  });

  it('an in-sync answer that no longer matches (our view changed meanwhile) starts a full exchange', () => {
    const a = node(1, [2]);
    const b = node(2, [1]);
    const { effects, now } = periodic(a);
    const answer = deliver(effects, a, b, now);
    checkedStep(a.state, receiveGossip(now, 2, [alive(5, 1)]), a.context);
    const full = deliver(answer, b, a, now);
    expect(streamMessages(full)).toMatchObject([{ type: 'push-pull', reply: true }]);
    expect(a.state.counters.pushPullsInSync).toBe(0);
    const back = deliver(full, a, b, now);
    expect(b.state.members.has(nodeId(5))).toBe(true);
    deliver(back, b, a, now);
    expect(digestOf(a.state)).toBe(digestOf(b.state));
  });

  it('a different config digest ends in a readable config_mismatch reject, never a merge', () => {
    const a = node(1, [2]);
    const b = node(2, [1, 4], membershipConfig('SIM_MIN', { suspicionMult: 7 }));
    const { effects, now } = periodic(a);
    const bFull = deliver(effects, a, b, now);
    expect(streamMessages(bFull)).toMatchObject([{ type: 'push-pull', reply: true }]);
    const aReject = deliver(bFull, b, a, now);
    const [reject] = streamMessages(aReject);
    expect(reject).toMatchObject({ type: 'reject', reason: 'config_mismatch' });
    expect(reject?.type === 'reject' ? reject.detail : '').toContain('suspicionMult');
    expect(a.state.counters.configMismatchRejected).toBe(1);
    expect(a.state.members.has(nodeId(4))).toBe(false);
    deliver(aReject, a, b, now);
    expect(b.state.counters.rejectsReceived).toBe(1);
  });

  it('a round over differing views ends after three legs (no livelock)', () => {
    const round = periodicTo(1, [2, 3], 2);
    const a: Node = round;
    const b = node(2, [1]);
    let { effects, now } = round;
    let [from, to] = [a, b];
    let legs = 0;
    while (streamMessages(effects).length > 0 && legs < 10) {
      effects = deliver(effects, from, to, now);
      [from, to] = [to, from];
      legs++;
      now = (now + 1) as Millis;
    }
    expect(legs).toBe(3); // digest -> full (reply) -> full (no reply)
  });

  it('join and reconnect stay full push-pulls', () => {
    const joiner = startedWith(1, []);
    const effects = checkedStep(
      joiner.state,
      { kind: 'join', now: ms(1), addresses: [address(2)] },
      joiner.context,
    );
    expect(streamMessages(effects)).toMatchObject([{ type: 'push-pull', join: true, reply: true }]);
    const a = node(1, [2, 3]);
    checkedStep(a.state, receiveGossip(ms(1), 2, [dead(3, 1, 2)]), a.context);
    const now = a.state.nextReconnectAtMs;
    const reconnect = checkedStep(a.state, { kind: 'tick', now }, a.context);
    expect(streamMessages(reconnect).filter((m) => m.type === 'push-pull')).toMatchObject([
      { type: 'push-pull', join: false, reply: true },
    ]);
  });
});
