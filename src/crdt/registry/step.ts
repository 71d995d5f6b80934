/**
 * The registry replication core's `step` (docs/design/data-plane.md, "Registry replication"):
 * pure and synchronous, run by the generic driver (src/base/protocol.ts). Inputs: local writes,
 * the membership view, data-plane messages, deltas piggybacked by another carrier, and ticks.
 *
 * - Every `gossipIntervalMs` queued deltas go to `gossipFanout` random live members, each delta
 *   `retransmitLimit` times (SWIM §4.1), in one datagram of at most `deltaBytesMax`; a larger
 *   delta spreads by push-pull only.
 * - Eager push: a local write or a received delta that taught us something goes out at once, in
 *   the same step, to `gossipFanout` random live members (infection style: each delta at most
 *   once per member, its sends counted against the retransmit limit), at most `eagerPushesMax`
 *   times between two rounds.
 * - Every `pushPullIntervalMs`, digest-first push-pull with one random live member: equal
 *   digests end it (2 small frames); otherwise summaries, then the partitions and tombstones
 *   each side lacks (a data-state each way, within `pushPullBytesMax`).
 * - Withdrawals fall due on ticks; tombstones are collected once every live member has seen them.
 */
import type { Address } from '../../base/address.js';
import { assertNever } from '../../base/assert.js';
import type { CoreInput, Ready, StepContext } from '../../base/protocol.js';
import { ms, type Millis } from '../../base/time.js';
import type { NodeId } from '../../identity/node-id.js';
import { encodeDeltaPayload, partitionBytes } from './codec.js';
import { PARTITION_OVERHEAD_BYTES, retransmitLimitFor } from './config.js';
import {
  collectTombstones,
  mergePartition,
  mergeTombstone,
  newerOwnVersion,
  onDeltas,
  onLocal,
  onView,
  own,
  runWithdrawals,
  signOwn,
} from './merge.js';
import { assert } from '../../base/assert.js';
import { queuedDelta, type QueuedDelta } from './queue.js';
import { compareVersion, digestOf, summaryOf, tombstoneCovers } from './partition.js';
import type {
  Delta,
  Partition,
  RegistryEffect,
  RegistryMessage,
  RegistryState,
  RegistryTypes,
  SummaryEntry,
  Tombstone,
} from './types.js';

export { initRegistry } from './merge.js';

type Out = Ready<RegistryState, RegistryEffect, never>;

export function step(state: RegistryState, input: CoreInput<RegistryTypes>, ctx: StepContext): Out {
  const out: Out = { state, effects: [], persist: [], afterPersist: [] };
  const now = input.now;
  state.lastNowMs = ms(Math.max(state.lastNowMs, now));
  switch (input.kind) {
    case 'local':
      onLocal(state, input.write, now, out);
      eagerPush(state, ctx, out);
      break;
    case 'view':
      onView(state, input.members, [], true, now, out);
      break;
    case 'members':
      onView(state, input.members, input.removed, false, now, out);
      break;
    case 'deltas':
      onDeltas(state, input.deltas, input.from, now, out);
      eagerPush(state, ctx, out);
      break;
    case 'receive':
      onMessage(state, input.message, input.from, now, out);
      if (input.message.type === 'data-gossip') eagerPush(state, ctx, out);
      break;
    case 'tick':
      onTick(state, now, ctx, out);
      break;
    case 'persisted':
      break;
    default:
      assertNever(input, 'registry input');
  }
  return out;
}

function onMessage(
  state: RegistryState,
  msg: RegistryMessage,
  from: Address,
  now: Millis,
  out: Out,
): void {
  if (msg.from === state.selfId) return;
  if (!state.live.has(msg.from)) state.counters.strangerMessages++;
  switch (msg.type) {
    case 'data-gossip':
      return onDeltas(state, msg.deltas, from, now, out);
    case 'data-digest':
      return onDigest(state, msg.from, msg.reply, msg.digest, from, out);
    case 'data-summary':
      return onSummary(state, msg.from, msg.partial, msg.entries, from, out);
    case 'data-state':
      for (const p of msg.partitions) mergePartition(state, p, now, out);
      for (const t of msg.tombstones) mergeTombstone(state, t, msg.from, now, out);
      if (!msg.reply && msg.want.length > 0) {
        const wanted = new Set(msg.want);
        const { partitions, tombstones } = stateFor(state, (owner) => wanted.has(owner));
        send(out, from, {
          type: 'data-state',
          from: state.selfId,
          reply: true,
          partitions,
          tombstones,
          want: [],
        });
      }
      collectTombstones(state);
      return;
    default:
      assertNever(msg, 'registry message');
  }
}

function send(out: Out, to: Address, message: RegistryMessage): void {
  out.effects.push({ kind: 'send', to, channel: 'stream', message });
}

/** A peer whose digest equals ours holds every tombstone we hold. */
function seenAll(state: RegistryState, peer: NodeId): void {
  for (const t of state.tombstones.values()) t.seenBy.add(peer);
  collectTombstones(state);
}

function onDigest(
  state: RegistryState,
  peer: NodeId,
  reply: boolean,
  digest: string,
  from: Address,
  out: Out,
): void {
  const ours = digestOf(state);
  if (digest === ours) {
    state.counters.digestsEqual++;
    seenAll(state, peer);
    if (!reply)
      send(out, from, { type: 'data-digest', from: state.selfId, reply: true, digest: ours });
    return;
  }
  state.counters.digestsDiffer++;
  // A reply digest that differs means the state moved in between: the next round repairs it.
  if (!reply)
    send(out, from, {
      type: 'data-summary',
      from: state.selfId,
      partial: false,
      entries: summaryOf(state),
    });
}

/** The version of an owner's partition we hold, if any. */
function partitionVersion(state: RegistryState, owner: NodeId): SummaryEntry | undefined {
  const p = state.partitions.get(owner);
  return p === undefined ? undefined : { owner, epoch: p.epoch, seq: p.seq };
}

/** True when version a is later than b (or b is absent). */
function ahead(a: SummaryEntry, b: SummaryEntry | undefined): boolean {
  return b === undefined || compareVersion(a.epoch, a.seq, b.epoch, b.seq) > 0;
}

/**
 * A peer's summary: we send the partitions we hold newer (or, unless `partial`, that it lacks),
 * our tombstones that cover a partition it lists, and ask for the partitions it holds newer. A
 * full summary that lists no partition a tombstone of ours covers acknowledges that tombstone.
 */
function onSummary(
  state: RegistryState,
  peer: NodeId,
  partial: boolean,
  entries: readonly SummaryEntry[],
  from: Address,
  out: Out,
): void {
  const theirs = new Map(entries.map((e) => [e.owner, e]));
  const own = theirs.get(state.selfId);
  // A newer version of our own partition (a previous life's) counts only signed: ask for it.
  const want: NodeId[] = own !== undefined && newerOwnVersion(state, own) ? [state.selfId] : [];
  const covering = new Set<NodeId>();
  for (const e of entries) {
    if (e.owner === state.selfId) continue;
    const t = state.tombstones.get(e.owner);
    if (t !== undefined && tombstoneCovers(t.tombstone, e.epoch, e.seq)) covering.add(e.owner);
    else if (!partial && ahead(e, partitionVersion(state, e.owner))) want.push(e.owner);
  }
  if (!partial)
    for (const [owner, t] of state.tombstones) if (!covering.has(owner)) t.seenBy.add(peer);
  const { partitions, tombstones } = stateFor(state, (owner) => {
    if (covering.has(owner)) return true;
    const e = theirs.get(owner);
    if (partial && e === undefined) return false;
    const mine = partitionVersion(state, owner);
    return mine !== undefined && ahead(mine, e);
  });
  collectTombstones(state);
  if (partitions.length + tombstones.length + want.length === 0) return;
  send(out, from, {
    type: 'data-state',
    from: state.selfId,
    reply: false,
    partitions,
    tombstones,
    want,
  });
}

/** Our partitions and tombstones of the owners `pick` chooses, within pushPullBytesMax. */
function stateFor(
  state: RegistryState,
  pick: (owner: NodeId) => boolean,
): { partitions: Partition[]; tombstones: Tombstone[] } {
  const partitions: Partition[] = [];
  const tombstones: Tombstone[] = [];
  let budget = state.config.pushPullBytesMax - PARTITION_OVERHEAD_BYTES;
  for (const { tombstone } of state.tombstones.values())
    if (pick(tombstone.owner)) {
      tombstones.push(tombstone);
      budget -= 40;
    }
  for (const p of state.partitions.values()) {
    if (state.tombstones.has(p.owner) || !pick(p.owner)) continue;
    if (p.owner === state.selfId) signOwn(state);
    const bytes = partitionBytes(p, state.config);
    if (bytes > budget) {
      state.counters.partitionsTruncated++;
      continue;
    }
    budget -= bytes;
    partitions.push(p);
  }
  return { partitions, tombstones };
}

function onTick(state: RegistryState, now: Millis, ctx: StepContext, out: Out): void {
  runWithdrawals(state, now, out);
  collectTombstones(state);
  const config = state.config;
  // A pull is rate-limited for one interval; older marks only grow the map.
  for (const [owner, atMs] of state.pulledAtMs)
    if (now - atMs >= config.pushPullIntervalMs) state.pulledAtMs.delete(owner);
  if (config.gossipIntervalMs > 0 && now >= state.nextGossipMs) {
    gossip(state, ctx, out, false);
    state.eagerPushesLeft = config.eagerPushesMax;
    state.nextGossipMs = ms(now + config.gossipIntervalMs);
  }
  if (config.pushPullIntervalMs > 0 && now >= state.nextPushPullMs) {
    const peers = liveAddresses(state);
    if (peers.length > 0) {
      const address = ctx.rng.pick(peers);
      send(out, address, {
        type: 'data-digest',
        from: state.selfId,
        reply: false,
        digest: digestOf(state),
      });
    }
    state.nextPushPullMs = ms(now + config.pushPullIntervalMs);
  }
}

/** The live members' addresses in the view's order (forEach: no generator over a shared view). */
function liveAddresses(state: RegistryState): Address[] {
  const out: Address[] = [];
  state.live.forEach((address) => out.push(address));
  return out;
}

/** A queued delta with the owner's signature of the version it ends at (ours signed now if new). */
function signedDelta(state: RegistryState, q: QueuedDelta): Delta {
  if (q.owner === state.selfId) {
    assert(q.toSeq === own(state).seq, 'our queued delta ends at our current version');
    q.signature = signOwn(state);
  }
  const delta = queuedDelta(q);
  const signature = delta.signature;
  assert(signature !== undefined, `queued delta of ${q.owner} is unsigned`);
  return { ...delta, signature };
}

/**
 * An eager push: the queued deltas no gossip has sent yet go out now, as a round would send them,
 * while the interval's budget lasts (`eagerPushesMax`; the next round refills it). Own carrier
 * only: a piggyback round waits for membership's packets anyway.
 */
function eagerPush(state: RegistryState, ctx: StepContext, out: Out): void {
  const config = state.config;
  if (config.gossipIntervalMs === 0 || config.gossipCarrier !== 'own') return;
  if (state.eagerPushesLeft <= 0 || state.live.size === 0) return;
  let fresh = false;
  for (const q of state.queue.values()) if (q.fresh) fresh = true;
  if (!fresh) return;
  if (gossip(state, ctx, out, true)) state.eagerPushesLeft--;
}

/**
 * One gossip round: the least-sent deltas (only the fresh ones when `freshOnly`: an eager push)
 * that fit one datagram, to `gossipFanout` random live members. True when it sent something.
 */
function gossip(state: RegistryState, ctx: StepContext, out: Out, freshOnly: boolean): boolean {
  if (state.queue.size === 0 || state.live.size === 0) return false;
  const config = state.config;
  const queued = [...state.queue.entries()]
    .filter(([, q]) => !freshOnly || q.fresh)
    .sort(([, a], [, b]) => a.transmits - b.transmits);
  const deltas: Delta[] = [];
  const sent: NodeId[] = [];
  let bytes = 0;
  for (const [owner, q] of queued) {
    if (q.bytes > config.deltaBytesMax) {
      state.queue.delete(owner); // too large for a datagram: push-pull carries it
      continue;
    }
    if (bytes + q.bytes > config.deltaBytesMax) continue;
    bytes += q.bytes;
    deltas.push(signedDelta(state, q));
    sent.push(owner);
  }
  if (deltas.length === 0) return false;
  let sends = config.gossipFanout;
  if (config.gossipCarrier === 'piggyback') {
    const { bytes: payload, count } = encodeDeltaPayload(deltas, config.deltaBytesMax, config);
    out.effects.push({ kind: 'piggyback', payload, deltas: count });
    sent.length = count;
  } else {
    const targets = ctx.rng.shuffle(liveAddresses(state)).slice(0, config.gossipFanout);
    for (const to of targets)
      out.effects.push({
        kind: 'send',
        to,
        channel: 'packet',
        message: { type: 'data-gossip', from: state.selfId, deltas },
      });
    sends = targets.length;
  }
  state.counters.gossipSent += sends;
  const limit = retransmitLimitFor(config.retransmitMult, state.live.size + 1);
  for (const owner of sent) {
    const q = state.queue.get(owner);
    if (q === undefined) continue;
    q.transmits += sends;
    q.fresh = false;
    if (q.transmits >= limit) state.queue.delete(owner);
  }
  return true;
}

export function nextDeadline(state: RegistryState): Millis | undefined {
  let next = Infinity;
  if (state.config.gossipIntervalMs > 0 && state.queue.size > 0 && state.live.size > 0)
    next = state.nextGossipMs;
  if (state.config.pushPullIntervalMs > 0) next = Math.min(next, state.nextPushPullMs);
  for (const at of state.withdrawAtMs.values()) next = Math.min(next, at);
  return next === Infinity ? undefined : ms(Math.max(next, state.lastNowMs));
}
