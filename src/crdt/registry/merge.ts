/**
 * How a replica takes in what it hears (docs/design/data-plane.md, "Registry replication"): local
 * writes, deltas (the causal delta-merging condition of Almeida et al. 2018, §6), whole
 * partitions and tombstones from push-pull, and the membership view that schedules withdrawals.
 * Every join here keeps the larger (epoch, seq) of an owner; a replica that holds a newer version
 * of our own partition (a previous life of this node, or a tombstone of us after a false death)
 * makes us restamp: a new, larger epoch carrying all our rows, as a SWIM refutation does.
 * Control flow stays in step.ts; these are its `onX` handlers.
 */
import type { Address } from '../../base/address.js';
import type { Ready } from '../../base/protocol.js';
import { ms, type Millis } from '../../base/time.js';
import type { NodeId } from '../../identity/node-id.js';
import { compareHlc, hlcAcceptable, hlcClock, hlcNow, hlcReceive, type Hlc } from '../hlc.js';
import { OverlayMap } from '../overlay-map.js';
import { enqueue } from './queue.js';
import { checkLocalOp, rowOf } from './local.js';
import {
  compareVersion,
  deltaOutcome,
  diffRows,
  partitionAfter,
  partitionDelta,
  tombstoneCovers,
} from './partition.js';
import { rowsDigest, versionBytes } from './signing.js';
import type { Signature } from '../../identity/signed.js';
import {
  REGISTRY_COUNTER_NAMES,
  rowId,
  type Delta,
  type LocalOp,
  type Partition,
  type RegistryEffect,
  type RegistryInit,
  type RegistryMessage,
  type RegistryState,
  type RowChange,
  type Tombstone,
  type ViewMember,
} from './types.js';

type Out = Ready<RegistryState, RegistryEffect, never>;

const wallOf = (state: RegistryState, now: Millis): number => now + state.wallOffsetMs;

export function initRegistry(init: RegistryInit, now: Millis): RegistryState {
  const clock = hlcClock(init.config.clockDriftMaxMs);
  const epoch = hlcNow(clock, now + init.wallOffsetMs);
  const own: Partition = {
    owner: init.selfId,
    epoch,
    seq: 0,
    rows: new Map(),
    signature: undefined,
  };
  return {
    config: init.config,
    selfId: init.selfId,
    wallOffsetMs: init.wallOffsetMs,
    clock,
    partitions: new OverlayMap<NodeId, Partition>().set(init.selfId, own),
    tombstones: new Map(),
    live: new OverlayMap(),
    members: new OverlayMap(),
    security: init.security,
    viewSeen: false,
    withdrawAtMs: new Map(),
    queue: new Map(),
    pulledAtMs: new Map(),
    nextGossipMs: ms(now + init.config.gossipIntervalMs),
    eagerPushesLeft: init.config.eagerPushesMax,
    nextPushPullMs: ms(now + init.config.pushPullIntervalMs),
    lastNowMs: now,
    counters: Object.fromEntries(
      REGISTRY_COUNTER_NAMES.map((n) => [n, 0]),
    ) as RegistryState['counters'],
  };
}

function own(state: RegistryState): Partition {
  return state.partitions.get(state.selfId) as Partition;
}

export function onLocal(state: RegistryState, write: LocalOp, now: Millis, out: Out): void {
  if (checkLocalOp(state, write) !== undefined) {
    state.counters.localRefused++;
    return;
  }
  const p = own(state);
  const stamp = hlcNow(state.clock, wallOf(state, now));
  const seq = p.seq + 1;
  const row = rowOf(write, seq, stamp);
  const changes: RowChange[] = [];
  if (row === undefined) {
    if (write.op !== 'withdraw') return;
    const id = rowId(write.table, write.key);
    const before = p.rows.get(id);
    if (before === undefined) return; // withdrawing what is not advertised writes nothing
    p.rows.delete(id);
    p.seq = seq;
    p.signature = undefined;
    changes.push({
      kind: 'changed',
      table: write.table,
      key: write.key,
      node: state.selfId,
      before,
      after: undefined,
    });
    enqueue(state, {
      owner: state.selfId,
      epoch: p.epoch,
      fromSeq: seq - 1,
      toSeq: seq,
      upserts: [],
      removals: [{ table: write.table, key: write.key, seq }],
      signature: undefined,
    });
  } else {
    const id = rowId(row.table, row.key);
    changes.push({
      kind: 'changed',
      table: row.table,
      key: row.key,
      node: state.selfId,
      before: p.rows.get(id),
      after: row,
    });
    p.rows.set(id, row);
    p.seq = seq;
    p.signature = undefined;
    enqueue(state, {
      owner: state.selfId,
      epoch: p.epoch,
      fromSeq: seq - 1,
      toSeq: seq,
      upserts: [row],
      removals: [],
      signature: undefined,
    });
  }
  state.counters.localWrites++;
  out.effects.push(...changes);
}

/**
 * Another replica holds (epoch, seq) of our own partition, newer than ours or withdrawn: take an
 * epoch past it (HLC receive, then a local event) and republish every row as (0, 1].
 */
function restamp(state: RegistryState, seen: Hlc, now: Millis): void {
  const wall = wallOf(state, now);
  if (hlcReceive(state.clock, seen, wall) === undefined) return;
  const p = own(state);
  p.epoch = hlcNow(state.clock, wall);
  p.seq = 1;
  p.signature = undefined;
  for (const [id, row] of p.rows) p.rows.set(id, { ...row, seq: 1 });
  state.queue.delete(state.selfId);
  enqueue(state, partitionDelta(p));
  state.counters.restamps++;
}

/** True when a replica's version of our partition should make us restamp. */
function outdatesUs(state: RegistryState, epoch: Hlc, seq: number, departed: boolean): boolean {
  const p = own(state);
  const order = compareVersion(epoch, seq, p.epoch, p.seq);
  return order > 0 || (departed && order === 0);
}

/**
 * Our own partition's signature of its current version, made now if the version is new: a
 * burst of writes between two sends costs one signature (signing.ts).
 */
export function signOwn(state: RegistryState): Signature {
  const p = own(state);
  if (p.signature !== undefined) return p.signature;
  const { crypto, clusterId } = state.security;
  const digest = rowsDigest(p.rows.values(), state.config, crypto.sha256);
  p.signature = crypto.sign(versionBytes(clusterId, p.owner, p.epoch, p.seq, digest));
  state.counters.signaturesMade++;
  return p.signature;
}

/**
 * True when `p` is a version its owner signed, checked against the key the owner signed its
 * membership record with (our own key for our own partition). An owner whose key the view does
 * not hold cannot be checked: refused, counted `unverifiable` (a later push-pull repairs it once
 * membership knows the member); a signature that does not verify is counted `signaturesInvalid`.
 */
function verified(state: RegistryState, p: Partition): boolean {
  const { crypto, clusterId, verifySignatures } = state.security;
  if (!verifySignatures) return true;
  const key =
    p.owner === state.selfId ? state.security.publicKey : state.members.get(p.owner)?.publicKey;
  if (key === undefined || p.signature === undefined) {
    state.counters.unverifiable++;
    return false;
  }
  state.counters.signaturesChecked++;
  const digest = rowsDigest(p.rows.values(), state.config, crypto.sha256);
  if (crypto.verify(key, versionBytes(clusterId, p.owner, p.epoch, p.seq, digest), p.signature))
    return true;
  state.counters.signaturesInvalid++;
  return false;
}

/** Drift check on every timestamp a delta or partition carries (Kulkarni et al. 2014). */
function acceptable(
  state: RegistryState,
  epoch: Hlc,
  rows: Iterable<{ stamp: Hlc }>,
  now: Millis,
): boolean {
  const wall = wallOf(state, now);
  if (!hlcAcceptable(state.clock, epoch, wall)) return false;
  for (const row of rows) if (!hlcAcceptable(state.clock, row.stamp, wall)) return false;
  return true;
}

/** Advances our clock past every stamp we accepted, so our later epochs order after them. */
function observe(
  state: RegistryState,
  epoch: Hlc,
  rows: Iterable<{ stamp: Hlc }>,
  now: Millis,
): void {
  const wall = wallOf(state, now);
  let top = epoch;
  for (const row of rows) if (compareHlc(row.stamp, top) > 0) top = row.stamp;
  hlcReceive(state.clock, top, wall);
}

/**
 * True (counted) when our view holds `owner` dead or left: its data is not taken at all (it would
 * only wait for its withdrawal, and is never shown), so a replica holds no rows of a member it
 * saw depart past `withdrawDelayMs`, whatever laggards keep sending. A member that refutes or
 * restarts is alive again and its rows come back with the next push-pull.
 */
function departed(state: RegistryState, owner: NodeId): boolean {
  const m = state.members.get(owner);
  if (m === undefined || (m.state !== 'dead' && m.state !== 'left')) return false;
  state.counters.departedRefused++;
  return true;
}

function scheduleWithdrawal(state: RegistryState, owner: NodeId, now: Millis): void {
  if (!state.viewSeen || owner === state.selfId) return;
  if (state.live.has(owner) || state.withdrawAtMs.has(owner)) return;
  state.withdrawAtMs.set(owner, ms(now + state.config.withdrawDelayMs));
}

function pull(state: RegistryState, owner: NodeId, to: Address, now: Millis, out: Out): void {
  const last = state.pulledAtMs.get(owner);
  if (last !== undefined && now - last < state.config.pushPullIntervalMs) return;
  // At most partitionsMax pulls per interval, whatever a peer sends: the next push-pull repairs.
  if (last === undefined && state.pulledAtMs.size >= state.config.partitionsMax) return;
  state.pulledAtMs.set(owner, now);
  const p = state.partitions.get(owner);
  const entry = { owner, epoch: p?.epoch ?? { wallMs: 0, logical: 0 }, seq: p?.seq ?? 0 };
  const message: RegistryMessage = {
    type: 'data-summary',
    from: state.selfId,
    partial: true,
    entries: [entry],
  };
  out.effects.push({ kind: 'send', to, channel: 'stream', message });
}

export function onDeltas(
  state: RegistryState,
  deltas: readonly Delta[],
  from: Address,
  now: Millis,
  out: Out,
): void {
  for (const delta of deltas) {
    if (delta.owner === state.selfId) {
      // Evidence of a newer version of ours is only believed signed: pull the whole partition.
      if (outdatesUs(state, delta.epoch, delta.toSeq, false))
        pull(state, delta.owner, from, now, out);
      continue;
    }
    if (departed(state, delta.owner)) continue;
    if (!acceptable(state, delta.epoch, delta.upserts, now)) {
      state.counters.deltasRefused++;
      continue;
    }
    const t = state.tombstones.get(delta.owner);
    if (t !== undefined && tombstoneCovers(t.tombstone, delta.epoch, delta.toSeq)) {
      state.counters.deltasStale++;
      continue;
    }
    const current = state.partitions.get(delta.owner);
    if (current === undefined && state.partitions.size >= state.config.partitionsMax) {
      state.counters.partitionsRefused++;
      continue;
    }
    const outcome = deltaOutcome(current, delta);
    if (outcome === 'stale') state.counters.deltasStale++;
    else if (outcome === 'gap') {
      state.counters.deltasGap++;
      pull(state, delta.owner, from, now, out);
    } else {
      const next = partitionAfter(current, delta);
      if (!verified(state, next)) {
        state.counters.deltasRefused++;
        continue;
      }
      state.counters.deltasApplied++;
      observe(state, delta.epoch, delta.upserts, now);
      const changes: RowChange[] = [];
      diffRows(delta.owner, current?.rows ?? new Map(), next.rows, changes);
      state.partitions.set(delta.owner, next);
      if (t !== undefined) state.tombstones.delete(delta.owner);
      scheduleWithdrawal(state, delta.owner, now);
      enqueue(state, delta);
      out.effects.push(...changes);
    }
  }
}

/** True when a peer's version of our own partition is newer than ours (we then ask for it). */
export function newerOwnVersion(state: RegistryState, seen: { epoch: Hlc; seq: number }): boolean {
  return outdatesUs(state, seen.epoch, seen.seq, false);
}

/** Joins a whole partition (push-pull): the larger (epoch, seq) wins. */
export function mergePartition(state: RegistryState, p: Partition, now: Millis, out: Out): void {
  if (p.owner === state.selfId) {
    // A previous life of ours (the same key signed it): take an epoch past it.
    if (outdatesUs(state, p.epoch, p.seq, false) && verified(state, p))
      restamp(state, p.epoch, now);
    return;
  }
  if (departed(state, p.owner)) return;
  if (!acceptable(state, p.epoch, p.rows.values(), now)) {
    state.counters.partitionsRefused++;
    return;
  }
  const t = state.tombstones.get(p.owner);
  if (t !== undefined && tombstoneCovers(t.tombstone, p.epoch, p.seq)) return;
  const current = state.partitions.get(p.owner);
  if (current !== undefined && compareVersion(p.epoch, p.seq, current.epoch, current.seq) <= 0)
    return;
  if (current === undefined && state.partitions.size >= state.config.partitionsMax) {
    state.counters.partitionsRefused++;
    return;
  }
  if (!verified(state, p)) {
    state.counters.partitionsRefused++;
    return;
  }
  observe(state, p.epoch, p.rows.values(), now);
  const changes: RowChange[] = [];
  diffRows(p.owner, current?.rows ?? new Map(), p.rows, changes);
  state.partitions.set(p.owner, p);
  if (t !== undefined) state.tombstones.delete(p.owner);
  state.queue.delete(p.owner); // a queued interval of an older version would only make gaps
  state.counters.partitionsMerged++;
  scheduleWithdrawal(state, p.owner, now);
  out.effects.push(...changes);
}

/** Withdraws an owner's partition now: its rows go, a tombstone blocks its older versions. */
function withdraw(
  state: RegistryState,
  owner: NodeId,
  tombstone: Tombstone,
  now: Millis,
  out: Out,
): void {
  const p = state.partitions.get(owner);
  if (p !== undefined) {
    const changes: RowChange[] = [];
    diffRows(owner, p.rows, new Map(), changes);
    out.effects.push(...changes);
    state.partitions.delete(owner);
  }
  state.queue.delete(owner);
  state.withdrawAtMs.delete(owner);
  state.tombstones.set(owner, { tombstone, seenBy: new Set(), atMs: now });
  state.counters.withdrawn++;
  if (state.tombstones.size <= state.config.tombstonesMax) return;
  let oldest: NodeId | undefined;
  let at = Infinity;
  for (const [o, t] of state.tombstones) if (t.atMs < at) [oldest, at] = [o, t.atMs];
  state.tombstones.delete(oldest as NodeId);
  state.counters.tombstonesEvicted++;
}

export function mergeTombstone(
  state: RegistryState,
  t: Tombstone,
  from: NodeId,
  now: Millis,
  out: Out,
): void {
  if (t.owner === state.selfId) {
    if (outdatesUs(state, t.epoch, t.seq, true)) restamp(state, t.epoch, now);
    return;
  }
  // Tombstones are not signed: an owner live in our view withdraws only by our own view, so a
  // member cannot take another's rows away (only the owner itself restamps on one).
  if (state.live.has(t.owner)) {
    state.counters.tombstonesIgnored++;
    return;
  }
  const kept = state.tombstones.get(t.owner);
  if (
    kept !== undefined &&
    compareVersion(kept.tombstone.epoch, kept.tombstone.seq, t.epoch, t.seq) >= 0
  ) {
    kept.seenBy.add(from);
    return;
  }
  const p = state.partitions.get(t.owner);
  if (p !== undefined && !tombstoneCovers(t, p.epoch, p.seq)) return;
  if (!hlcAcceptable(state.clock, t.epoch, wallOf(state, now))) return;
  withdraw(state, t.owner, t, now, out);
  state.tombstones.get(t.owner)?.seenBy.add(from);
}

const isLive = (m: ViewMember): boolean => m.state === 'alive' || m.state === 'suspect';

interface ViewBase {
  readonly members: ReadonlyMap<NodeId, ViewMember>;
  readonly live: ReadonlyMap<NodeId, Address>;
}

/**
 * The tables of a whole view, self included, built once per input array: a cache only (what it
 * holds is a function of the array, which a `view` input hands over and never changes), so a
 * simulated cluster whose members were all given one array holds one copy of the view, not N.
 */
const viewBases = new WeakMap<readonly ViewMember[], ViewBase>();

function viewBase(members: readonly ViewMember[]): ViewBase {
  let base = viewBases.get(members);
  if (base !== undefined) return base;
  const byId = new Map<NodeId, ViewMember>();
  const live = new Map<NodeId, Address>();
  for (const m of members) {
    byId.set(m.id, m);
    if (isLive(m)) live.set(m.id, m.address);
    else live.delete(m.id);
  }
  base = { members: byId, live };
  viewBases.set(members, base);
  return base;
}

/**
 * A view input: the whole view (`full`: members absent from it count as dead) or changes to it
 * (`removed`: members membership no longer holds). Schedules the withdrawal of every departed
 * owner we hold rows of; a member that left withdrew on purpose and is withdrawn at once.
 */
export function onView(
  state: RegistryState,
  members: readonly ViewMember[],
  removed: readonly NodeId[],
  full: boolean,
  now: Millis,
  out: Out,
): void {
  const alone = state.live.size === 0;
  state.viewSeen = true;
  const touched: NodeId[] = [];
  if (full) {
    // The whole view: the tables read through to one base per input (shared by every replica
    // given the same array), with ourselves deleted; the same entries in the same order as
    // setting them one by one.
    const base = viewBase(members);
    state.members.reset(base.members);
    state.live.reset(base.live);
    state.members.delete(state.selfId);
    state.live.delete(state.selfId);
    for (const owner of [...state.withdrawAtMs.keys()])
      if (state.live.has(owner)) state.withdrawAtMs.delete(owner);
  } else {
    for (const id of removed) {
      if (id === state.selfId) continue;
      state.members.delete(id);
      state.live.delete(id);
      touched.push(id);
    }
    for (const m of members) {
      if (m.id === state.selfId) continue;
      state.members.set(m.id, m);
      touched.push(m.id);
      if (isLive(m)) {
        state.live.set(m.id, m.address);
        state.withdrawAtMs.delete(m.id);
      } else state.live.delete(m.id);
    }
  }
  const owners = full ? [...state.partitions.keys()] : touched;
  for (const owner of owners) {
    if (!state.partitions.has(owner)) continue;
    scheduleWithdrawal(state, owner, now);
    if (state.members.get(owner)?.state === 'left') state.withdrawAtMs.set(owner, now);
  }
  runWithdrawals(state, now, out);
  collectTombstones(state);
  if (alone && state.live.size > 0) announceSelf(state, now);
}

/**
 * Our first live peer (we just started, or were cut off from every peer): sync at the next tick
 * instead of up to pushPullIntervalMs later, so we list the cluster's rows right after joining;
 * and a partition never written takes version 1 with no rows and is gossiped (the wire carries
 * no empty delta), so a new life that advertises nothing replaces a previous life's rows by
 * gossip, not only by push-pull.
 */
function announceSelf(state: RegistryState, now: Millis): void {
  if (now < state.nextPushPullMs) state.nextPushPullMs = now;
  const p = own(state);
  if (p.seq !== 0) return;
  p.seq = 1;
  p.signature = undefined;
  enqueue(state, {
    owner: state.selfId,
    epoch: p.epoch,
    fromSeq: 0,
    toSeq: 1,
    upserts: [],
    removals: [],
    signature: undefined,
  });
}

export function runWithdrawals(state: RegistryState, now: Millis, out: Out): void {
  for (const [owner, atMs] of [...state.withdrawAtMs]) {
    if (atMs > now) continue;
    const p = state.partitions.get(owner);
    if (p === undefined) state.withdrawAtMs.delete(owner);
    else withdraw(state, owner, { owner, epoch: p.epoch, seq: p.seq }, now, out);
  }
}

/** Drops tombstones every live member has seen (and of owners not live: a live one refutes). */
export function collectTombstones(state: RegistryState): void {
  if (!state.viewSeen) return;
  for (const [owner, t] of [...state.tombstones]) {
    if (state.live.has(owner)) continue;
    let all = true;
    for (const id of state.live.keys()) if (!t.seenBy.has(id)) all = false;
    if (!all) continue;
    state.tombstones.delete(owner);
    state.counters.tombstonesCollected++;
  }
}

export { own, wallOf };
