/**
 * SWIM §3.1 failure detection with Lifeguard §IV: one probe per (awareness-scaled) protocol
 * period to the next member in randomized round-robin order; after the (scaled) probe timeout,
 * `ping-req` through `indirectChecks` other alive members plus a ping over the stream channel
 * (TCP fallback); no ack by the end of the period means suspect. Acks lower the awareness score,
 * failed probes raise it by the missing nacks (Lifeguard §IV-A). Also the intermediary side:
 * relaying a `ping-req` and answering with `nack` when the target stays silent.
 *
 * Hostile input (docs/security.md, "Probing"): sequence numbers are random 32-bit values, so an
 * ack or nack cannot be forged without seeing the probe; a `ping-req` is honoured only from a
 * live member about a member, and both the probe and the answer go to the addresses of our own
 * records of them (never to addresses the request names); a ping from anyone but a member at
 * its own address is answered without piggybacked updates (no amplification).
 */
import type { Address } from '../base/address.js';
import type { Millis } from '../base/time.js';
import type { Message, Update } from './messages.js';
import type { Channel } from '../base/channel.js';
import type { NodeId } from '../identity/node-id.js';
import { suspectLocally } from './apply-update.js';
import { refuse, short } from './security.js';
import { applyAwarenessDelta, failedProbeAwarenessDelta, scaleByAwareness } from './awareness.js';
import { nextProbeTarget } from './probe-order.js';
import {
  count,
  heldAccusation,
  heldRecord,
  isLive,
  piggyback,
  randomMembers,
  self,
  selfAliveUpdate,
  send,
  type Turn,
} from './state.js';

/** Draws before a sequence number is taken as is (a collision with one in flight is ~N/2^32). */
const SEQ_DRAWS_MAX = 16;

/**
 * A random 32-bit sequence number not in flight (our probe, relays, lease pings): an off-path
 * sender cannot guess the one an ack or nack must echo.
 */
function drawSeq(turn: Turn): number {
  const { state } = turn;
  let seq = turn.rng.next32();
  for (let draw = 1; draw < SEQ_DRAWS_MAX; draw++) {
    if (!state.relays.has(seq) && !state.leasePings.has(seq) && state.probe?.seq !== seq) break;
    seq = turn.rng.next32();
  }
  return seq;
}

type Ping = Extract<Message, { type: 'ping' }>;
type PingReq = Extract<Message, { type: 'ping-req' }>;
type Ack = Extract<Message, { type: 'ack' }>;
type Nack = Extract<Message, { type: 'nack' }>;

/** Starts this period's probe and schedules the next period (scaled by awareness). */
export function startProbe(turn: Turn): void {
  const { state, now } = turn;
  const periodMs = scaleByAwareness(state.config.probeIntervalMs, state.awareness);
  state.nextProbeAtMs = (now + periodMs) as Millis;
  const target = nextProbeTarget(
    state.probeOrder,
    state.members,
    (m) => m.slot !== 0 && isLive(m.state),
    turn.rng,
  );
  if (target === undefined) return;
  const targetId = target.id;
  const seq = drawSeq(turn);
  state.probe = {
    seq,
    target: targetId,
    targetAddress: target.address,
    indirectSent: false,
    expectedNacks: 0,
    nacksReceived: 0,
    nacksPending: [],
    ackTimeoutAtMs: (now +
      scaleByAwareness(state.config.probeTimeoutMs, state.awareness)) as Millis,
    endAtMs: (now + periodMs) as Millis,
  };
  // Lifeguard §IV-C buddy system: tell a suspect first (the signed accusation we hold), so it
  // can refute at once.
  const accusation = target.state === 'suspect' ? heldAccusation(target) : undefined;
  const buddy: Update[] = accusation === undefined ? [] : [accusation];
  count(state, 'probesSent');
  send(turn, target.address, 'packet', {
    type: 'ping',
    seq,
    from: state.selfId,
    fromAddress: self(state).address,
    target: targetId,
    updates: piggyback(turn, buddy),
  });
}

/** SWIM §3.1: the direct ack is late; ask k others (with nacks, Lifeguard §IV-A) and try the stream channel. */
export function sendIndirectProbes(turn: Turn): void {
  const { state } = turn;
  const probe = state.probe;
  if (probe === undefined) return;
  probe.indirectSent = true;
  const me = self(state);
  const helpers = randomMembers(
    turn,
    state.config.indirectChecks,
    (m) => m.id !== state.selfId && m.id !== probe.target && m.state === 'alive',
  );
  probe.expectedNacks = helpers.length;
  probe.nacksPending = helpers.map((h) => h.id);
  for (const helper of helpers) {
    count(state, 'indirectProbesSent');
    send(turn, helper.address, 'packet', {
      type: 'ping-req',
      seq: probe.seq,
      from: state.selfId,
      target: probe.target,
      nack: true,
      updates: piggyback(turn),
    });
  }
  if (state.config.tcpFallback) {
    send(turn, probe.targetAddress, 'stream', {
      type: 'ping',
      seq: probe.seq,
      from: state.selfId,
      fromAddress: me.address,
      target: probe.target,
      updates: piggyback(turn),
    });
  }
}

/** The period ended without any ack: raise our awareness by the missing nacks and suspect the target. */
export function failProbe(turn: Turn): void {
  const { state } = turn;
  const probe = state.probe;
  if (probe === undefined) return;
  state.probe = undefined;
  count(state, 'probesFailed');
  count(state, 'nacksMissed', probe.expectedNacks - probe.nacksReceived);
  const delta = failedProbeAwarenessDelta(probe.expectedNacks, probe.nacksReceived);
  state.awareness = applyAwarenessDelta(
    state.awareness,
    delta,
    state.config.awarenessMultiplierMax,
  );
  const target = state.members.get(probe.target);
  if (target !== undefined) suspectLocally(turn, target);
}

/**
 * The stream fallback to the target was refused (nothing listens on its port: the process is
 * gone or moved), so the period need not run out: suspect now. Not a sign of our own slowness,
 * so unlike `failProbe` the nacks still in flight do not raise the awareness score. A live
 * target refutes as usual; the suspicion timeout is untouched. memberlist waits for the period.
 */
export function refuseProbe(turn: Turn): void {
  const { state } = turn;
  const probe = state.probe;
  if (probe === undefined) return;
  state.probe = undefined;
  count(state, 'probesFailed');
  count(state, 'probesRefused');
  const target = state.members.get(probe.target);
  if (target !== undefined) suspectLocally(turn, target);
}

/**
 * SWIM §3.1: answer a ping addressed to us on the channel it came in on. Queued updates ride
 * along only to a member pinging from its own address: a ping with a forged source must not
 * turn into a larger answer to someone else. What we hold of the sender leads when it is news to
 * it (at most one signed update: a departure, or its record at another address).
 */
export function onPing(turn: Turn, from: Address, channel: Channel, message: Ping): void {
  const { state } = turn;
  if (message.target !== state.selfId) {
    // A probe for whoever used to live at this address: answering would vouch for the wrong node.
    count(state, 'pingsWrongTarget');
    return;
  }
  const sender = state.members.get(message.from);
  const leading = [
    ...departureNotice(turn, message.from),
    ...buddyRefutation(turn, message),
    ...elsewhereNotice(turn, message.from, from),
  ];
  send(turn, from, channel, {
    type: 'ack',
    seq: message.seq,
    from: state.selfId,
    updates: sender?.address === from ? piggyback(turn, leading) : leading,
  });
}

/**
 * Lifeguard §IV-C buddy system, completed: a prober that tells us we are suspect (or dead) holds
 * a stale view of us, and it is exactly the member that must hear our refutation. When the
 * accusation is older than our incarnation (we refuted already and the alive did not reach this
 * prober) `applyUpdate` ignores it, so without this the prober would wait for gossip that may
 * never come and declare us dead when its suspicion runs out. Found by the swim-loss10 sweep.
 */
function buddyRefutation(turn: Turn, ping: Ping): Update[] {
  const { state } = turn;
  if (state.phase !== 'running') return [];
  const accused = ping.updates.some(
    (u) => u.id === state.selfId && (u.kind === 'suspect' || u.kind === 'dead'),
  );
  return accused ? [selfAliveUpdate(state)] : [];
}

/**
 * A ping from a member we hold as dead or left (a restart that lost its incarnation, or the other
 * side of a healed partition): tell it first, like the buddy system, so it refutes at once instead
 * of waiting for the next push-pull. What we send is the signed departure we hold.
 */
function departureNotice(turn: Turn, senderId: NodeId): Update[] {
  const sender = turn.state.members.get(senderId);
  if (sender === undefined) return [];
  if (sender.state === 'dead') {
    const accusation = heldAccusation(sender);
    return accusation === undefined ? [] : [accusation];
  }
  if (sender.state === 'left') return [heldRecord(sender)];
  return [];
}

/**
 * A ping from a live member's id at another address than the one its record here names: tell the
 * sender what we hold (one signed record, as a departure notice is one). A process running with a
 * copy of that identity hears of the other only this way: we gossip, probe and push-pull only to
 * the address we hold, its periodic digests are refused (not at that address) and its acks carry
 * no piggyback, so without this it could stay unaware for good while the other one refutes
 * (found by agent-startup.test.ts under load: the twin whose join sync came before the seed
 * settled on the other's record never reported `identity_conflict`). A member that really moved
 * already holds a higher incarnation and ignores the record. Our own id is the same case seen
 * from the other side and is left to `applyAlive`.
 */
function elsewhereNotice(turn: Turn, senderId: NodeId, from: Address): Update[] {
  const sender = turn.state.members.get(senderId);
  if (sender === undefined || senderId === turn.state.selfId) return [];
  if (!isLive(sender.state) || sender.address === from) return [];
  return [heldRecord(sender)];
}

/**
 * How long an intermediary waits for the target before it nacks (Lifeguard §IV-A). The requester
 * asks at `probeTimeoutMs` and gives up at `probeIntervalMs` (both scaled by its awareness, which
 * only widens the gap), so the nack must fit in what is left: half the gap leaves the other half
 * for the ping-req and the nack on the wire (one-way delays up to a quarter of the gap: 125 ms on
 * the LAN profile, 500 ms on WAN). Waiting a whole `probeTimeoutMs`, as memberlist does, makes
 * every nack arrive after the probe ended, and each failed probe then raises the prober's
 * awareness by `indirectChecks` instead of by the helpers that really went quiet.
 */
export function nackTimeoutMs(config: { probeIntervalMs: number; probeTimeoutMs: number }): Millis {
  return Math.max(1, Math.floor((config.probeIntervalMs - config.probeTimeoutMs) / 2)) as Millis;
}

/**
 * SWIM §3.1 intermediary: probe the target for the requester; bounded by pendingProbesMax. Only
 * a live member may ask, only about another member, and the probe and the answer go to the
 * addresses of our own records of them: a ping-req is no reflector (docs/security.md).
 */
export function onPingReq(turn: Turn, message: PingReq): void {
  const { state } = turn;
  const requester = state.members.get(message.from);
  const target = state.members.get(message.target);
  if (
    requester === undefined ||
    !isLive(requester.state) ||
    target === undefined ||
    message.from === state.selfId ||
    message.target === state.selfId ||
    message.target === message.from
  ) {
    refuse(
      turn,
      'ping_req_refused',
      `ping-req from ${short(message.from)} about ${short(message.target)}: ${requester === undefined || !isLive(requester.state) ? 'the requester is not a live member here' : 'the target is not another member here'}`,
    );
    return;
  }
  if (state.relays.size >= state.config.pendingProbesMax) {
    count(state, 'relayedProbesDropped');
    return;
  }
  const seq = drawSeq(turn);
  state.relays.set(seq, {
    requesterAddress: requester.address,
    requesterSeq: message.seq,
    target: message.target,
    wantNack: message.nack,
    deadlineMs: (turn.now + nackTimeoutMs(state.config)) as Millis,
  });
  count(state, 'relayedProbes');
  send(turn, target.address, 'packet', {
    type: 'ping',
    seq,
    from: state.selfId,
    fromAddress: self(state).address,
    target: message.target,
    updates: piggyback(turn),
  });
}

/**
 * A lease round: one ping to every live member, outside the probe schedule and without
 * piggybacked updates (gossip's own budget is untouched). Only the last round's pings are
 * awaited: an ack slower than the round interval is late for the lease anyway.
 */
export function onLeaseRound(turn: Turn): void {
  const { state } = turn;
  state.leasePings.clear();
  if (state.phase !== 'running') return;
  const me = self(state);
  for (const member of state.members.values()) {
    if (member.slot === 0 || !isLive(member.state)) continue;
    const seq = drawSeq(turn);
    state.leasePings.set(seq, { id: member.id, sentAtMs: turn.now });
    count(state, 'leasePingsSent');
    send(turn, member.address, 'packet', {
      type: 'ping',
      seq,
      from: state.selfId,
      fromAddress: me.address,
      target: member.id,
      updates: [],
    });
  }
}

/** An ack completes our probe (any channel, any path), answers a lease ping, or is one we relay back to a requester. */
export function onAck(turn: Turn, channel: Channel, message: Ack): void {
  const { state } = turn;
  const lease = state.leasePings.get(message.seq);
  if (lease !== undefined && lease.id === message.from) {
    state.leasePings.delete(message.seq);
    count(state, 'leaseAcks');
    turn.effects.push({ kind: 'lease-ack', id: message.from, sentAtMs: lease.sentAtMs });
    return;
  }
  const probe = state.probe;
  if (probe !== undefined && probe.seq === message.seq && probe.target === message.from) {
    state.probe = undefined;
    count(state, 'probesAcked');
    if (channel === 'stream') count(state, 'tcpFallbackAcks');
    // Lifeguard §IV-A: a successful probe is evidence of our own health.
    state.awareness = applyAwarenessDelta(state.awareness, -1, state.config.awarenessMultiplierMax);
    return;
  }
  const relay = state.relays.get(message.seq);
  if (relay === undefined || relay.target !== message.from) {
    // Late (the probe ended), duplicated, or forged: a sequence number nobody here waits on.
    count(state, 'acksUnexpected');
    return;
  }
  state.relays.delete(message.seq);
  send(turn, relay.requesterAddress, 'packet', {
    type: 'ack',
    seq: relay.requesterSeq,
    from: relay.target,
    updates: piggyback(turn),
  });
}

/** A nack counts once, and only from a helper this probe asked: anything else is noise or a replay. */
export function onNack(turn: Turn, message: Nack): void {
  const probe = turn.state.probe;
  if (probe === undefined || probe.seq !== message.seq) return;
  const at = probe.nacksPending.indexOf(message.from);
  if (at < 0) {
    count(turn.state, 'nacksUnexpected');
    return;
  }
  probe.nacksPending.splice(at, 1);
  probe.nacksReceived++;
  count(turn.state, 'nacksReceived');
}

/** Relays whose target stayed silent: tell the requester (Lifeguard §IV-A nack) and forget them. */
export function expireRelays(turn: Turn): void {
  const { state } = turn;
  for (const [seq, relay] of state.relays) {
    if (relay.deadlineMs > turn.now) continue;
    state.relays.delete(seq);
    if (relay.wantNack)
      send(turn, relay.requesterAddress, 'packet', {
        type: 'nack',
        seq: relay.requesterSeq,
        from: state.selfId,
      });
  }
}
