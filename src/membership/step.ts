/**
 * The membership core: `step(state, input, ctx) -> { state, effects }` (STYLE.md section 2).
 * Synchronous and deterministic: time arrives as `input.now`, randomness as `ctx.rng`. Inputs
 * that need a running node are ignored and counted otherwise. Per-step cost is O(updates in the
 * message + due deadlines + log N) apart from push-pull (O(N), once per period).
 *
 * The state is mutated in place and returned (see types.ts for why).
 */
import { incarnation as toIncarnation } from '../base/units.js';
import { sameLabels } from './merge.js';
import { assertNever } from '../base/assert.js';
import type { Millis } from '../base/time.js';
import type { Message } from './messages.js';
import type { NodeId } from '../identity/node-id.js';
import type { Address } from '../base/address.js';
import type { Channel } from '../base/channel.js';
import { applyUpdate, expireSuspicion } from './apply-update.js';
import { INCARNATION_MAX } from './record.js';
import { applyAwarenessDelta, loopDelayAwarenessDelta } from './awareness.js';
import { estimateUpdateBytes, labelsBytes, transmitsOf } from './broadcast-queue.js';
import { LEAVE_TRANSMITS_MIN } from './config.js';
import {
  expireRelays,
  failProbe,
  onAck,
  onLeaseRound,
  onNack,
  onPing,
  onPingReq,
  sendIndirectProbes,
  startProbe,
} from './probe.js';
import {
  maybeExpireJoin,
  retrySeeds,
  onPushPull,
  onPushPullDigest,
  onRefused,
  onReject,
  onSendFailed,
  periodicPushPull,
  reconnect,
  startJoin,
} from './push-pull.js';
import {
  broadcast,
  changeState,
  count,
  emitMember,
  heldRecord,
  ownLabels,
  persistIncarnation,
  piggyback,
  randomMembers,
  reapCheckMs,
  removeMember,
  self,
  selfAliveUpdate,
  send,
  setIncarnation,
  signSelf,
  type Turn,
} from './state.js';
import { pruneTombstones } from './tombstones.js';
import { postponeWaits } from './late-wakeup.js';
import type { Input, SizeOf, State, StepContext, StepResult } from './types.js';
import type { Labels } from './messages.js';

/** `sizeOf` defaults to `estimateUpdateBytes` (conservative); the driver passes the codec's exact count. */
export function step(
  state: State,
  input: Input,
  ctx: StepContext,
  sizeOf: SizeOf = estimateUpdateBytes,
): StepResult {
  const turn: Turn = {
    state,
    effects: [],
    persist: [],
    afterPersist: [],
    rng: ctx.rng,
    sizeOf,
    now: input.now,
  };
  const epochBefore = state.epoch;
  if (input.kind !== 'start') discountLateWakeup(turn);
  state.lastStepMs = input.now;
  dispatch(turn, input);
  if (state.phase === 'leaving') maybeFinishLeave(turn);
  if (state.epoch !== epochBefore)
    turn.effects.push({ kind: 'emit', event: { type: 'epoch', epoch: state.epoch } });
  return { state, effects: turn.effects, persist: turn.persist, afterPersist: turn.afterPersist };
}

/**
 * An input later than the deadline the driver was asked to wake us at: the node did not run for
 * the late part (a stall, or a clock step), so no wait on a peer may count it (late-wakeup.ts).
 * Runs before `lastStepMs` moves, so `nextDeadline` is the one the driver armed its timer for.
 */
function discountLateWakeup(turn: Turn): void {
  const { state, now } = turn;
  const due = nextDeadline(state);
  if (due === undefined || now <= due) return;
  const lateMs = now - due;
  postponeWaits(state, lateMs);
  // Late enough that, without the postponement, this wake-up alone could have failed a probe.
  if (lateMs >= state.config.probeTimeoutMs) count(state, 'lateWakeups');
}

function dispatch(turn: Turn, input: Input): void {
  const { state } = turn;
  if (input.kind === 'start') return onStart(turn, input.seeds);
  // The disk confirmed an incarnation: every send that depends on it already waited for it.
  if (input.kind === 'persisted') return;
  if (state.phase === 'idle' || state.phase === 'stopped') {
    count(state, 'inputsIgnored');
    if (input.kind === 'leave' || input.kind === 'join' || input.kind === 'update-labels')
      reject(turn, input.kind, `membership is ${state.phase}`);
    return;
  }
  switch (input.kind) {
    case 'tick':
      return onTick(turn);
    case 'receive':
      return onReceive(turn, input.from, input.channel, input.message);
    case 'join':
      return state.phase === 'running'
        ? startJoin(turn, input.addresses)
        : reject(turn, 'join', 'leaving');
    case 'leave':
      return onLeave(turn);
    case 'update-labels':
      return onUpdateLabels(turn, input.labels);
    case 'loop-delay':
      return onLoopDelay(turn, input.delayMs);
    case 'send-failed':
      return onSendFailed(turn, input.to);
    // A foreign-version frame means something only while a join of ours waits for an answer.
    case 'refused':
      return state.join === undefined ? undefined : onRefused(turn, input.reason, input.detail);
    case 'lease-round':
      return onLeaseRound(turn);
    default:
      return assertNever(input, 'membership input');
  }
}

function reject(turn: Turn, input: Input['kind'], detail: string): void {
  turn.effects.push({ kind: 'rejected', input, detail });
}

/** Persist the incarnation we start at before anything goes on the wire, then join the seeds. */
function onStart(turn: Turn, seeds: readonly Address[]): void {
  const { state, now, rng } = turn;
  if (state.phase !== 'idle') {
    count(state, 'inputsIgnored');
    return;
  }
  state.phase = 'running';
  // Seed the member index's hash from our rng (a forked stream: the main one is not disturbed).
  state.members.reseed(rng.fork('member-table').next32());
  const me = self(state);
  persistIncarnation(turn, me.incarnation);
  broadcast(turn, selfAliveUpdate(state));
  const { probeIntervalMs, gossipIntervalMs, pushPullIntervalMs, reconnectIntervalMs } =
    state.config;
  // Stagger the first probe so nodes started together do not probe in lockstep.
  state.nextProbeAtMs = (now + rng.int(probeIntervalMs) + 1) as Millis;
  state.nextGossipAtMs = (now + gossipIntervalMs) as Millis;
  state.nextPushPullAtMs = (now + pushPullIntervalMs) as Millis;
  state.nextReconnectAtMs = (now + reconnectIntervalMs) as Millis;
  state.seeds = [...new Set(seeds)].filter((s) => s !== me.address);
  state.nextSeedRetryAtMs = (now + state.config.joinTimeoutMs) as Millis;
  if (state.seeds.length > 0) startJoin(turn, state.seeds);
  else changeState(turn, me, 'alive');
}

/** Handles every deadline that is due at `now`, in protocol order. */
function onTick(turn: Turn): void {
  const { state, now } = turn;
  const { gossipIntervalMs, pushPullIntervalMs, reconnectIntervalMs } = state.config;
  maybeExpireJoin(turn);
  expireRelays(turn);
  if (state.probe !== undefined && !state.probe.indirectSent && state.probe.ackTimeoutAtMs <= now)
    sendIndirectProbes(turn);
  if (state.probe !== undefined && state.probe.endAtMs <= now) failProbe(turn);
  expireSuspicions(turn);
  if (state.probe === undefined && state.nextProbeAtMs <= now) startProbe(turn);
  if (gossipIntervalMs > 0 && state.nextGossipAtMs <= now) gossip(turn);
  if (pushPullIntervalMs > 0 && state.nextPushPullAtMs <= now && state.phase === 'running')
    periodicPushPull(turn);
  if (reconnectIntervalMs > 0 && state.nextReconnectAtMs <= now && state.phase === 'running')
    reconnect(turn);
  if (state.departed.size > 0 && state.nextReapAtMs <= now) reap(turn);
  if (seedRetryDue(state, now)) retrySeeds(turn);
}

function seedRetryDue(state: State, atMs: number): boolean {
  return (
    state.phase === 'running' &&
    state.seeds.length > 0 &&
    state.join === undefined &&
    state.nextSeedRetryAtMs <= atMs
  );
}

/** Lifeguard §IV-B: a suspicion that ran out without a refute declares the member dead. */
function expireSuspicions(turn: Turn): void {
  const { state, now } = turn;
  const due: NodeId[] = [];
  for (const id of state.suspects) {
    const deadline = state.members.get(id)?.suspicion?.deadlineMs;
    if (deadline !== undefined && deadline <= now) due.push(id);
  }
  for (const id of due) {
    const member = state.members.get(id);
    if (member === undefined) continue;
    count(state, 'membersDeclaredDead');
    expireSuspicion(turn, member);
  }
}

/** Gossip tick: queued updates to `gossipFanout` random live members, one packet each. */
function gossip(turn: Turn): void {
  const { state } = turn;
  state.nextGossipAtMs = (turn.now + state.config.gossipIntervalMs) as Millis;
  if (state.queue.byMember.size === 0) return;
  state.lastGossipAtMs = turn.now;
  const peers = randomMembers(
    turn,
    state.config.gossipFanout,
    (m) => m.id !== state.selfId && (m.state === 'alive' || m.state === 'suspect'),
  );
  for (const peer of peers) {
    const updates = piggyback(turn);
    if (updates.length === 0) return;
    send(turn, peer.address, 'packet', { type: 'gossip', from: state.selfId, updates });
  }
}

/** Forgets dead and left members after deadReclaimMs (leaving tombstones); drops expired tombstones. */
function reap(turn: Turn): void {
  const { state, now } = turn;
  state.nextReapAtMs = (now + reapCheckMs(state.config)) as Millis;
  pruneTombstones(state, now);
  const expired = [...state.departed].filter((id) => {
    const member = state.members.get(id);
    return member !== undefined && member.stateChangedAtMs + state.config.deadReclaimMs <= now;
  });
  for (const id of expired) {
    removeMember(state, id, now);
    count(state, 'membersReaped');
  }
}

function onReceive(turn: Turn, from: Address, channel: Channel, message: Message): void {
  // Piggybacked updates first, so a reply already carries what they changed (e.g. our refute).
  // A forged one ends the list: a packet costs at most one failed signature check.
  if ('updates' in message)
    for (const update of message.updates) if (!applyUpdate(turn, update)) break;
  switch (message.type) {
    case 'ping':
      return onPing(turn, from, channel, message);
    case 'ping-req':
      return onPingReq(turn, message);
    case 'ack':
      return onAck(turn, channel, message);
    case 'nack':
      return onNack(turn, message);
    case 'gossip':
      return;
    case 'push-pull':
      return onPushPull(turn, message);
    case 'push-pull-digest':
      return onPushPullDigest(turn, message);
    case 'reject':
      return onReject(turn, message);
    default:
      return assertNever(message, 'membership message');
  }
}

/** Graceful leave: broadcast `left` at our current incarnation; others record left, not dead. */
function onLeave(turn: Turn): void {
  const { state, now } = turn;
  if (state.phase !== 'running') return reject(turn, 'leave', 'already leaving');
  state.phase = 'leaving';
  state.join = undefined;
  const me = self(state);
  changeState(turn, me, 'left');
  signSelf(state, 'left');
  broadcast(turn, heldRecord(me));
  state.leaveDeadlineMs = (now + state.config.leavePropagateMs) as Millis;
}

/** Done once the `left` update went out LEAVE_TRANSMITS_MIN times, left the queue, nobody is left to tell, or the deadline passed. */
function maybeFinishLeave(turn: Turn): void {
  const { state, now } = turn;
  const transmits = transmitsOf(state.queue, state.selfId);
  const deadline = state.leaveDeadlineMs ?? now;
  if (
    transmits !== undefined &&
    transmits < LEAVE_TRANSMITS_MIN &&
    state.liveCount > 0 &&
    deadline > now
  )
    return;
  state.phase = 'stopped';
  state.probe = undefined;
  state.relays.clear();
  turn.effects.push({ kind: 'left-done' });
}

/** Labels change like any other member change: new incarnation, alive broadcast. */
function onUpdateLabels(turn: Turn, labels: Labels): void {
  const { state } = turn;
  const size = labelsBytes(labels);
  if (size > state.config.labelsBytesMax) {
    count(state, 'labelsRejected');
    return reject(
      turn,
      'update-labels',
      `labels are ${size} bytes, more than labelsBytesMax (${state.config.labelsBytesMax}); shorten keys or values`,
    );
  }
  if (state.phase !== 'running') return reject(turn, 'update-labels', 'leaving');
  const me = self(state);
  // Nothing new to say: gossiping an incarnation bump to every member would be pure cost.
  if (sameLabels(me.labels, labels)) return;
  if (me.incarnation >= INCARNATION_MAX) {
    count(state, 'incarnationsRefused');
    return reject(
      turn,
      'update-labels',
      `this node is at INCARNATION_MAX (${INCARNATION_MAX}) and cannot sign a new record; give it a new identity`,
    );
  }
  setIncarnation(state, me, toIncarnation(me.incarnation + 1));
  me.labels = ownLabels(labels);
  signSelf(state, 'alive');
  persistIncarnation(turn, me.incarnation);
  broadcast(turn, selfAliveUpdate(state));
  emitMember(turn, 'updated', me);
}

/** Lifeguard §IV-A extension: a delayed event loop is local slowness like a missed nack. */
function onLoopDelay(turn: Turn, delayMs: number): void {
  const { state } = turn;
  const delta = loopDelayAwarenessDelta(delayMs, state.config.loopDelayThresholdMs);
  if (delta === 0) return;
  count(state, 'loopDelaysHigh');
  state.awareness = applyAwarenessDelta(
    state.awareness,
    delta,
    state.config.awarenessMultiplierMax,
  );
}

/**
 * The earliest time a `tick` has work to do, or undefined when nothing is scheduled. Runs after
 * every step (the driver re-arms its timer), so it keeps a running minimum instead of building a list.
 */
export function nextDeadline(state: State): Millis | undefined {
  if (state.phase === 'idle' || state.phase === 'stopped') return undefined;
  const { gossipIntervalMs, pushPullIntervalMs, reconnectIntervalMs } = state.config;
  const probe = state.probe;
  let earliest: number =
    probe === undefined
      ? state.nextProbeAtMs
      : probe.indirectSent
        ? probe.endAtMs
        : probe.ackTimeoutAtMs;
  if (gossipIntervalMs > 0 && state.queue.byMember.size > 0)
    earliest = Math.min(earliest, state.nextGossipAtMs);
  if (pushPullIntervalMs > 0 && state.phase === 'running')
    earliest = Math.min(earliest, state.nextPushPullAtMs);
  if (reconnectIntervalMs > 0 && state.phase === 'running' && state.departed.size > 0)
    earliest = Math.min(earliest, state.nextReconnectAtMs);
  if (state.departed.size > 0) earliest = Math.min(earliest, state.nextReapAtMs);
  if (state.join !== undefined) earliest = Math.min(earliest, state.join.deadlineMs);
  else if (state.phase === 'running' && state.seeds.length > 0)
    earliest = Math.min(earliest, state.nextSeedRetryAtMs);
  if (state.leaveDeadlineMs !== undefined && state.phase === 'leaving')
    earliest = Math.min(earliest, state.leaveDeadlineMs);
  for (const id of state.suspects) {
    const deadline = state.members.get(id)?.suspicion?.deadlineMs;
    if (deadline !== undefined) earliest = Math.min(earliest, deadline);
  }
  for (const relay of state.relays.values()) earliest = Math.min(earliest, relay.deadlineMs);
  // A deadline kept while nothing depended on it (the gossip round of an empty queue, the reap
  // of no departed member) may be stale when something starts to: then it is due at once.
  return Math.max(earliest, state.lastStepMs) as Millis;
}
