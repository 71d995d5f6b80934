/**
 * The liveness tracker's core (docs/design/worker-tier.md, "Liveness"), after Nomad's heartbeat
 * tracker (nomad/heartbeat.go) with its gaps closed:
 *
 * - Only the leader keeps deadlines, in one ordered index swept by one timer (`nextSweepMs`,
 *   every sweepIntervalMs), so 10,000 workers cost one timer, not 10,000.
 * - A heartbeat renews the worker for `staggeredTtlMs(heartbeatTtlBaseMsFor(N))`, in
 *   [base, 2·base), and the reply carries that TTL. A worker is down once
 *   `now > renewed + ttl + heartbeatGraceMs` (`isExpired`).
 * - On becoming leader (and after a stall of the leader itself: a pause, a frozen VM, a clock
 *   step), every live worker is renewed with the failover TTL, `failoverHeartbeatTtlMsFor(N)`
 *   unless configured. The new leader never saw the old one's renewals, so it must assume the
 *   longest TTL any worker may hold, plus time for all of them to find it: no worker is
 *   declared down because of the leader change itself. (Nomad parses this value and never
 *   applies it.)
 * - Heartbeats are never store writes. Expiry and recovery are: `mark` effects the shell turns
 *   into compare-and-swap txns on the record's modRevision, so a mark racing a concurrent
 *   change (a re-registration, a revocation) is refused instead of overwriting it.
 */
import { assertNever } from '../../../base/assert.js';
import type { Ready, StepContext } from '../../../base/protocol.js';
import { BTree } from '../../../kv/btree.js';
import { failoverHeartbeatTtlMsFor, heartbeatTtlBaseMsFor, staggeredTtlMs } from '../config.js';
import {
  SWEEP_MARKS_MAX,
  type LivenessEffect,
  type LivenessInit,
  type LivenessInput,
  type LivenessState,
  type RecordChange,
  type TrackedWorker,
} from './types.js';

type Out = Ready<LivenessState, LivenessEffect, never>;

export function initLiveness(init: LivenessInit, now: number): LivenessState {
  return {
    config: init.config,
    noFailoverTtl: init.noFailoverTtl === true,
    leading: false,
    term: 0,
    workers: new Map(),
    deadlines: new BTree<[number, string], true>(undefined, compareDeadlines),
    live: 0,
    lastStepMs: now,
    nextSweepMs: now,
    counters: {
      heartbeats: 0,
      refused: {},
      downMarksAsked: 0,
      upMarksAsked: 0,
      leads: 0,
      stalls: 0,
      staleRecords: 0,
    },
  };
}

/**
 * Orders [deadlineMs, id] keys by time, then id. sorted-btree's default comparator compares
 * arrays with `<`, that is as strings ("100058,a" < "65000,a"): never rely on it for tuples.
 */
export function compareDeadlines(a: [number, string], b: [number, string]): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

const isLive = (w: TrackedWorker): boolean => w.status === 'registered' || w.status === 'drained';

export function step(state: LivenessState, input: LivenessInput, ctx: StepContext): Out {
  const out: Out = { state, effects: [], persist: [], afterPersist: [] };
  const now = input.now;
  if (state.leading && now - state.lastStepMs > state.config.stallThresholdMs) {
    // Our own clock jumped (we were paused or stepped): heartbeats that arrived meanwhile were
    // never seen, so treat the cluster as a new leader would rather than expire everyone.
    state.counters.stalls++;
    renewAllForFailover(state, now, ctx);
  }
  switch (input.kind) {
    case 'records':
      for (const change of input.changes) onRecord(state, change, now, ctx);
      break;
    case 'lead':
      onLead(state, input.term, now, ctx);
      break;
    case 'unlead':
      onUnlead(state);
      break;
    case 'heartbeat':
      onHeartbeat(state, input.id, input.requestId, now, ctx, out);
      break;
    case 'marked':
      onMarked(state, input.id, input.applied, now);
      break;
    case 'tick':
    case 'persisted':
      break;
    default:
      assertNever(input, 'liveness input');
  }
  if (state.leading && now >= state.nextSweepMs) sweep(state, now, out);
  state.lastStepMs = Math.max(state.lastStepMs, now);
  return out;
}

/** The earliest time a tick has work: the next sweep, while leading. */
export function nextDeadline(state: LivenessState): number | undefined {
  return state.leading ? Math.max(state.nextSweepMs, state.lastStepMs) : undefined;
}

function setDeadline(state: LivenessState, w: TrackedWorker, deadlineMs: number | undefined): void {
  if (w.deadlineMs !== undefined) state.deadlines.delete([w.deadlineMs, w.id]);
  w.deadlineMs = deadlineMs;
  if (deadlineMs !== undefined) state.deadlines.set([deadlineMs, w.id], true);
}

function renew(state: LivenessState, w: TrackedWorker, now: number, ttlMs: number): void {
  w.renewedMs = now;
  w.ttlMs = ttlMs;
  setDeadline(state, w, now + ttlMs + state.config.heartbeatGraceMs);
}

function normalTtlMs(state: LivenessState, ctx: StepContext): number {
  return staggeredTtlMs(heartbeatTtlBaseMsFor(state.live, state.config), (b) => ctx.rng.int(b));
}

function renewAllForFailover(state: LivenessState, now: number, ctx: StepContext): void {
  const ttlMs = failoverHeartbeatTtlMsFor(state.live, state.config);
  for (const w of state.workers.values())
    if (isLive(w)) renew(state, w, now, state.noFailoverTtl ? normalTtlMs(state, ctx) : ttlMs);
}

function onLead(state: LivenessState, term: number, now: number, ctx: StepContext): void {
  state.leading = true;
  state.term = Math.max(state.term, term);
  state.counters.leads++;
  renewAllForFailover(state, now, ctx);
  state.nextSweepMs = now + state.config.sweepIntervalMs;
}

function onUnlead(state: LivenessState): void {
  state.leading = false;
  state.deadlines.clear();
  for (const w of state.workers.values()) {
    w.deadlineMs = undefined;
    w.renewedMs = 0;
    w.ttlMs = 0;
    w.markAskedMs = undefined;
  }
}

function onRecord(state: LivenessState, change: RecordChange, now: number, ctx: StepContext): void {
  const known = state.workers.get(change.id);
  if (known !== undefined && change.modRevision < known.modRevision) {
    state.counters.staleRecords++;
    return;
  }
  const removed = 'removed' in change || change.status === 'revoked';
  if (known !== undefined && isLive(known)) state.live--;
  if (removed) {
    if (known !== undefined) {
      setDeadline(state, known, undefined);
      state.workers.delete(change.id);
    }
    return;
  }
  const w: TrackedWorker = known ?? {
    id: change.id,
    status: change.status,
    modRevision: change.modRevision,
    renewedMs: 0,
    ttlMs: 0,
    deadlineMs: undefined,
    markAskedMs: undefined,
  };
  w.status = change.status;
  w.modRevision = change.modRevision;
  w.markAskedMs = undefined;
  state.workers.set(w.id, w);
  if (isLive(w)) state.live++;
  if (!state.leading) return;
  if (!isLive(w)) setDeadline(state, w, undefined);
  // A new registration (or a record that became live): tracked from now; its first heartbeat
  // follows the registration at once and brings the real TTL.
  else if (w.deadlineMs === undefined) renew(state, w, now, normalTtlMs(state, ctx));
}

function onHeartbeat(
  state: LivenessState,
  id: string,
  requestId: number,
  now: number,
  ctx: StepContext,
  out: Out,
): void {
  state.counters.heartbeats++;
  const refuse = (reason: 'not-leader' | 'unknown-worker'): void => {
    state.counters.refused[reason] = (state.counters.refused[reason] ?? 0) + 1;
    out.effects.push({ kind: 'reply', requestId, id, outcome: { kind: 'refused', reason } });
  };
  if (!state.leading) return refuse('not-leader');
  const w = state.workers.get(id);
  if (w === undefined) return refuse('unknown-worker');
  const ttlMs = normalTtlMs(state, ctx);
  if (isLive(w)) renew(state, w, now, ttlMs);
  else if (w.markAskedMs === undefined) {
    // Back from down: tracked again once the record says registered (onRecord renews it then).
    w.markAskedMs = now;
    state.counters.upMarksAsked++;
    out.effects.push({
      kind: 'mark',
      id,
      status: 'registered',
      reason: 'heartbeat after down',
      expectRevision: w.modRevision,
    });
  }
  out.effects.push({ kind: 'reply', requestId, id, outcome: { kind: 'ok', ttlMs } });
}

function onMarked(state: LivenessState, id: string, applied: boolean, now: number): void {
  const w = state.workers.get(id);
  // Applied: the record change arrives through `records` (and clears markAskedMs there).
  if (applied || w === undefined || w.markAskedMs === undefined) return;
  // Refused (a concurrent change or no leader): a still-expired worker is asked again next sweep.
  w.markAskedMs = undefined;
  if (state.leading && isLive(w) && w.deadlineMs === undefined) setDeadline(state, w, now);
}

function sweep(state: LivenessState, now: number, out: Out): void {
  state.nextSweepMs = now + state.config.sweepIntervalMs;
  const expired: [number, string][] = [];
  for (const [key] of state.deadlines.entries()) {
    // isExpired: now > renewed + ttl + grace, and the deadline key is renewed + ttl + grace.
    if (key[0] >= now || expired.length === SWEEP_MARKS_MAX) break;
    expired.push(key);
  }
  for (const [, id] of expired) {
    const w = state.workers.get(id);
    if (w === undefined) continue;
    setDeadline(state, w, undefined);
    w.markAskedMs = now;
    state.counters.downMarksAsked++;
    out.effects.push({
      kind: 'mark',
      id,
      status: 'down',
      reason: `no heartbeat for ${now - w.renewedMs} ms (ttl ${w.ttlMs} ms + grace ${state.config.heartbeatGraceMs} ms)`,
      expectRevision: w.modRevision,
    });
  }
}
