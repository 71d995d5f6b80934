/**
 * State construction and the few mutators every handler shares: adding, removing and changing
 * the state of members in the member table (member-table.ts; keeping the live count, the epoch,
 * the suspect/departed indexes and the probe order in step, and emitting the matching events),
 * and building outgoing messages with piggybacked updates.
 *
 * Invariants kept here: `epoch` moves only when a member enters or leaves the live set
 * (alive|suspect); `liveCount` equals the number of live members; `viewDigest` is the XOR of the
 * live members' hashes (digest.ts; incarnations change only through `setIncarnation`);
 * `suspects` and `departed` index exactly the members in those states.
 */
import { epoch as toEpoch, incarnation as toIncarnation, type Incarnation } from '../base/units.js';
import type { Address } from '../base/address.js';
import { assert } from '../base/assert.js';
import type { Rng } from '../base/rng.js';
import type { Millis } from '../base/time.js';
import type {
  Accusation,
  AccusationUpdate,
  Labels,
  Message,
  RecordFields,
  RecordUpdate,
  Update,
} from './messages.js';
import type { NodeId } from '../identity/node-id.js';
import type { Channel } from '../base/channel.js';
import { createQueue, enqueue, takeUpdates } from './broadcast-queue.js';
import { clusterWideOf, configFingerprint, type MembershipConfig } from './config.js';
import { textDigest, toggleMember } from './digest.js';
import { MemberTable, type Member } from './member-table.js';
import { insertProbeTarget, createProbeOrder } from './probe-order.js';
import { retransmitLimit } from './scaling.js';
import { bury } from './tombstones.js';
import { INCARNATION_MAX, signRecord } from './record.js';
import {
  COUNTER_NAMES,
  type CounterName,
  type Counters,
  type Effect,
  type MembershipRecord,
  type MemberEventType,
  type MemberState,
  type MemberView,
  type MembershipSecurity,
  type State,
} from './types.js';

/**
 * One step's working set: the state, what the step asks of the driver so far (`Ready`: local
 * outputs at once, the incarnation to persist, sends after it), and the injected capabilities.
 */
export interface Turn {
  state: State;
  /** Local outputs (events, request results): performed at once. */
  effects: Effect[];
  /** The incarnation to make durable, at most one per step (the last one wins). */
  persist: MembershipRecord[];
  /** Sends: they wait for every write issued so far (an alive at a new incarnation must). */
  afterPersist: Effect[];
  rng: Rng;
  sizeOf: (update: Update) => number;
  now: Millis;
  /**
   * Set while a peer's push-pull view is merged (`mergeRemoteState`): that peer's id. What we
   * learn from it, except about the peer itself and about us, is relayed with a small budget
   * (`broadcast`).
   */
  mergingFrom?: NodeId | undefined;
}

export interface SelfIdentity {
  id: NodeId;
  name: string;
  address: Address;
  labels: Labels;
}

/**
 * A fresh state for this node, not yet started. `persistedIncarnation` is the highest incarnation
 * this identity ever persisted (0 if none): we start one above it, so that after a restart our
 * alive beats anything a previous life of ours said (and `start` persists it before any send).
 * The caller refuses a persisted incarnation at INCARNATION_MAX (the store does, protocol.ts).
 */
export function createState(
  config: MembershipConfig,
  self: SelfIdentity,
  persistedIncarnation: number,
  now: Millis,
  security: MembershipSecurity,
): State {
  assert(
    Number.isSafeInteger(persistedIncarnation) &&
      persistedIncarnation >= 0 &&
      persistedIncarnation < INCARNATION_MAX,
    `persistedIncarnation must be a safe integer in 0..${INCARNATION_MAX - 1}, got ${persistedIncarnation}`,
  );
  const counters = Object.fromEntries(COUNTER_NAMES.map((name) => [name, 0])) as Counters;
  const members = new MemberTable();
  const start = toIncarnation(persistedIncarnation + 1);
  const labels = ownLabels(self.labels);
  const record = signRecord(security.crypto, security.clusterId, 'alive', {
    id: self.id,
    incarnation: start,
    name: self.name,
    address: self.address,
    labels,
    publicKey: security.publicKey,
    certificate: security.certificate,
  });
  counters.recordsSigned++;
  members.insert({ ...record, state: 'joining', labels, stateChangedAtMs: now });
  const fingerprint = configFingerprint(clusterWideOf(config));
  // Self starts `joining` (not live): the digest starts empty and takes us in when we become alive.
  return {
    config,
    fingerprint,
    fingerprintDigest: textDigest(fingerprint),
    viewDigest: { hi: 0, lo: 0 },
    selfId: self.id,
    phase: 'idle',
    members,
    suspects: new Set(),
    departed: new Set(),
    tombstones: new Map(),
    liveCount: 0,
    epoch: toEpoch(0),
    awareness: 0,
    probeOrder: createProbeOrder(),
    probe: undefined,
    relays: new Map(),
    leasePings: new Map(),
    queue: createQueue(),
    nextProbeAtMs: now,
    nextGossipAtMs: now,
    lastGossipAtMs: Number.NEGATIVE_INFINITY,
    lastStepMs: now,
    nextPushPullAtMs: now,
    joinSyncDue: false,
    nextReconnectAtMs: now,
    nextReapAtMs: now,
    seeds: [],
    nextSeedRetryAtMs: now,
    seedRetryDelayMs: config.joinTimeoutMs,
    join: undefined,
    leaveDeadlineMs: undefined,
    counters,
    security,
    lifeStartIncarnation: start,
    selfSigned: { incarnation: start, left: false },
    securityLog: new Map(),
  };
}

/**
 * Signs our own record as it now stands (a new incarnation or labels, or our leave) and keeps
 * the signature: every alive or left we send about ourselves is this one, so it is signed once
 * however often it is gossiped.
 */
export function signSelf(state: State, kind: 'alive' | 'left'): void {
  const me = self(state);
  const { security } = state;
  me.signature = signRecord(
    security.crypto,
    security.clusterId,
    kind,
    recordFieldsOf(me),
  ).signature;
  state.selfSigned = { incarnation: me.incarnation, left: kind === 'left' };
  count(state, 'recordsSigned');
}

/** The accusation update that holds `member` suspect or dead here (verified when it was stored). */
export function heldAccusation(member: Member): AccusationUpdate | undefined {
  const accusation = member.accusation;
  if (accusation === undefined) return undefined;
  return {
    kind: member.state === 'dead' ? 'dead' : 'suspect',
    id: member.id,
    incarnation: member.incarnation,
    from: accusation.from,
    signature: accusation.signature,
  };
}

/** A member's held record as an update: its alive record, or its left one once it left. */
export function heldRecord(member: Member): RecordUpdate {
  return { kind: member.state === 'left' ? 'left' : 'alive', ...recordFieldsOf(member) };
}

/** The signed record fields of a member as held (its alive record, or its left one once left). */
export function recordFieldsOf(member: Member): RecordFields {
  return {
    id: member.id,
    incarnation: member.incarnation,
    name: member.name,
    address: member.address,
    labels: member.labels,
    publicKey: member.publicKey,
    certificate: member.certificate,
    signature: member.signature,
  };
}

/** Shared by every member and update without labels: one frozen object instead of one per record per node. */
export const EMPTY_LABELS: Labels = Object.freeze({});

function hasLabels(labels: Labels): boolean {
  for (const key in labels) if (Object.hasOwn(labels, key)) return true;
  return false;
}

/**
 * A frozen copy of `labels` the state may keep (the caller's object may change later), or the
 * shared EMPTY_LABELS. Records never mutate labels in place (a change replaces the object), so
 * records and queued updates share them freely.
 */
export function ownLabels(labels: Labels): Labels {
  return hasLabels(labels) ? Object.freeze({ ...labels }) : EMPTY_LABELS;
}

/** Self was inserted first by createState and is never removed, so it keeps slot 0. */
export function self(state: State): Member {
  return state.members.at(0);
}

export function isLive(memberState: MemberState): boolean {
  return memberState === 'alive' || memberState === 'suspect';
}

export function count(state: State, name: CounterName, by = 1): void {
  state.counters[name] += by;
}

/** A copy safe to hand out: no internal fields, no shared label object. */
export function memberView(member: Member): MemberView {
  const { id, name, address, state, incarnation, labels, stateChangedAtMs } = member;
  return { id, name, address, state, incarnation, labels: { ...labels }, stateChangedAtMs };
}

export function emitMember(turn: Turn, type: MemberEventType, member: Member): void {
  turn.effects.push({ kind: 'emit', event: { type, member: memberView(member) } });
}

function trackLiveness(
  state: State,
  before: MemberState | undefined,
  after: MemberState | undefined,
): void {
  const wasLive = before !== undefined && isLive(before);
  const nowLive = after !== undefined && isLive(after);
  if (wasLive === nowLive) return;
  state.liveCount += nowLive ? 1 : -1;
  // The epoch counts live-set changes only: suspect <-> alive flaps never move it.
  state.epoch++;
}

/** Keeps `state.viewDigest` (digest.ts): a member entering or leaving the live set toggles its hash. */
function trackDigest(
  state: State,
  member: Member,
  before: MemberState | undefined,
  after: MemberState | undefined,
): void {
  const wasLive = before !== undefined && isLive(before);
  const nowLive = after !== undefined && isLive(after);
  if (wasLive !== nowLive) toggleMember(state.viewDigest, member.id, member.incarnation);
}

/**
 * The one way to change a member's incarnation: a live member's digest contribution moves with
 * it. Callers write the incarnation before changing the state (changeState hashes the new one).
 */
export function setIncarnation(state: State, member: Member, incarnation: Incarnation): void {
  if (incarnation === member.incarnation) return;
  const live = isLive(member.state);
  if (live) toggleMember(state.viewDigest, member.id, member.incarnation);
  member.incarnation = incarnation;
  if (live) toggleMember(state.viewDigest, member.id, member.incarnation);
}

function trackIndexes(state: State, id: NodeId, after: MemberState | undefined): void {
  if (after === 'suspect') state.suspects.add(id);
  else state.suspects.delete(id);
  if (after === 'dead' || after === 'left') state.departed.add(id);
  else state.departed.delete(id);
}

/**
 * Adds a member we have never seen (or have forgotten) as alive, from its alive update, at a
 * random place in the probe order.
 */
export function addMember(turn: Turn, alive: RecordFields): Member {
  const { state } = turn;
  const { id, name, address, incarnation, labels, publicKey, signature, certificate } = alive;
  const member = state.members.insert({
    id,
    name,
    address,
    state: 'alive',
    incarnation,
    labels: ownLabels(labels),
    stateChangedAtMs: turn.now,
    publicKey,
    signature,
    certificate,
  });
  insertProbeTarget(state.probeOrder, member.slot, turn.rng);
  trackIndexes(state, id, 'alive');
  trackLiveness(state, undefined, 'alive');
  trackDigest(state, member, undefined, 'alive');
  return member;
}

/**
 * Forgets a departed member (dead or left for deadReclaimMs), leaving a tombstone of the
 * incarnation it departed at (tombstones.ts). O(1): the table swap-removes it.
 */
export function removeMember(state: State, id: NodeId, now: Millis): void {
  const member = state.members.get(id);
  assert(member !== undefined, `removeMember: ${id} is not a member`);
  assert(id !== state.selfId, 'removeMember: never forget self');
  const departure = member.state;
  assert(
    departure === 'dead' || departure === 'left',
    `removeMember: ${id} is ${departure}, not departed`,
  );
  const notice = departure === 'dead' ? heldAccusation(member) : heldRecord(member);
  assert(notice !== undefined, `removeMember: dead ${id} has no accusation`);
  bury(state, id, {
    incarnation: member.incarnation,
    state: departure,
    forgottenAtMs: now,
    notice,
    publicKey: member.publicKey,
  });
  trackIndexes(state, id, undefined);
  trackLiveness(state, member.state, undefined);
  trackDigest(state, member, member.state, undefined);
  // Last: the removal moves another member into this accessor's slot.
  state.members.remove(id);
}

/**
 * Moves a member to `next`, keeping indexes and epoch, and emits the event of the new state.
 * `accusation` is what holds it suspect or dead: given exactly for those two states (a member
 * is never suspect or dead without a signed accusation at its incarnation, invariants.ts).
 */
export function changeState(
  turn: Turn,
  member: Member,
  next: Exclude<MemberState, 'joining'>,
  accusation?: Accusation,
): void {
  const before = member.state;
  const accused = next === 'suspect' || next === 'dead';
  assert(
    accused === (accusation !== undefined),
    `changeState ${member.id} -> ${next}: an accusation exactly when suspect or dead`,
  );
  member.accusation = accusation;
  if (before === next) return;
  member.state = next;
  member.stateChangedAtMs = turn.now;
  if (next !== 'suspect') member.suspicion = undefined;
  trackIndexes(turn.state, member.id, next);
  trackLiveness(turn.state, before, next);
  trackDigest(turn.state, member, before, next);
  if (turn.state.departed.size === 1 && (next === 'dead' || next === 'left')) {
    turn.state.nextReapAtMs = (turn.now + reapCheckMs(turn.state.config)) as Millis;
  }
  emitMember(turn, next, member);
}

/** How often dead/left members are checked for reaping: members are forgotten within deadReclaimMs + this. */
export function reapCheckMs(config: MembershipConfig): number {
  return Math.max(10, Math.ceil(config.deadReclaimMs / 4));
}

/**
 * Queues an update for dissemination, counting entries dropped to stay within broadcastQueueMax,
 * and brings the next gossip round forward to `newsGossipDelayMs` after the last one.
 *
 * Relay budget: an update learned from a peer's push-pull view (not about that peer, not about
 * us) is sent `gossipFanout` times, one gossip round's worth, instead of the full retransmit
 * limit. The peer already held it, so its side of the cluster has it or got it from the peer's
 * own gossip; only after a partition is it news to ours, and then each member that hears it
 * from us is a first-hand learner that re-gossips it with the full limit. Without the budget a
 * joiner re-gossiped the whole view it had just been sent, `retransmitLimit` times per member:
 * at 1,000 members that was 12,000 redundant update copies per joiner, and a join batch of 25
 * kept every node's gossip saturated for half a minute (membership-scale).
 */
export function broadcast(turn: Turn, update: Update): void {
  const { state } = turn;
  const relayed =
    turn.mergingFrom !== undefined && update.id !== turn.mergingFrom && update.id !== state.selfId;
  count(
    state,
    'updatesDropped',
    enqueue(
      state.queue,
      update,
      state.config.broadcastQueueMax,
      relayed ? state.config.gossipFanout : undefined,
    ),
  );
  // News goes out within newsGossipDelayMs, not at the next regular tick (config.ts).
  if (state.config.gossipIntervalMs === 0) return;
  const atMs = Math.max(turn.now, state.lastGossipAtMs + state.config.newsGossipDelayMs);
  if (atMs < state.nextGossipAtMs) state.nextGossipAtMs = atMs as Millis;
}

/** The signed alive update that describes us now (me.labels is frozen: the queued update may share it). */
export function selfAliveUpdate(state: State): Update {
  return { kind: 'alive', ...recordFieldsOf(self(state)) };
}

/**
 * Updates for one outgoing packet: `leading` first (the buddy system's suspect update), then
 * queued updates, all within `packetBytesMax - packetEnvelopeBytes`.
 */
export function piggyback(turn: Turn, leading: Update[] = []): Update[] {
  const { config, queue, members } = turn.state;
  let budget = config.packetBytesMax - config.packetEnvelopeBytes;
  const out: Update[] = [];
  for (const update of leading) {
    budget -= turn.sizeOf(update);
    out.push(update);
  }
  const limit = retransmitLimit(config.retransmitMult, members.size);
  for (const update of takeUpdates(queue, budget, limit, turn.sizeOf)) {
    // The buddy update already carries news about this member; skip a duplicate.
    if (!leading.some((u) => u.id === update.id)) out.push(update);
  }
  return out;
}

export function send(turn: Turn, to: Address, channel: Channel, message: Message): void {
  turn.afterPersist.push({ kind: 'send', to, channel, message });
}

/** SWIM §4.2: our incarnation is durable before any message that carries it leaves (see `send`). */
export function persistIncarnation(turn: Turn, incarnation: Incarnation): void {
  turn.persist.length = 0;
  turn.persist.push({ incarnation });
}

/**
 * Up to `k` distinct random members for which `eligible` holds, by rejection sampling over the
 * member list: O(k) expected, bounded by `4 * k + 16` draws (so it may return fewer when most
 * members are ineligible; callers treat the result as best effort).
 */
export function randomMembers(
  turn: Turn,
  k: number,
  eligible: (member: Member) => boolean,
): Member[] {
  const { members } = turn.state;
  const out: Member[] = [];
  if (members.size === 0 || k <= 0) return out;
  if (members.size <= 4 * k + 16) {
    // Small clusters: scan them all, so an eligible member is never missed by bad luck.
    return turn.rng.shuffle([...members.values()].filter(eligible)).slice(0, k);
  }
  for (let draws = 0; draws < 4 * k + 16 && out.length < k; draws++) {
    const member = members.at(turn.rng.int(members.size));
    if (out.some((m) => m.slot === member.slot) || !eligible(member)) continue;
    out.push(member);
  }
  return out;
}
