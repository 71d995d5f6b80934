/**
 * The worker client's core (docs/design/worker-tier.md, "The worker"): see types.ts. Rules:
 *
 * - One server at a time. A call that fails for the server's sake (unavailable, timeout) moves
 *   every call to the next server, round-robin, after min·2^(failures-1) (capped) of backoff.
 * - Heartbeats: one right after registration, then one `ttlMs` after each ack (the TTL the ack
 *   carries, Nomad's client). Transient refusals (no leader yet, the leader has not applied our
 *   record yet) retry at the same server with backoff; the server's grace covers the gap.
 * - Assignments: the stream (or each long-poll) asks for revisions from lastRevision + 1, and a
 *   snapshot first on a fresh start or after compaction. Batches at or below lastRevision are
 *   dropped: every revision is delivered once, in order, whatever a server resends.
 * - A final registration refusal (bad, expired, used-up token) stops the client with its reason.
 */
import { assertNever } from '../../../base/assert.js';
import type { Ready, StepContext } from '../../../base/protocol.js';
import type { AssignmentBatch, AssignmentSnapshot } from '../assignments.js';
import { retryBackoffMsFor } from '../config.js';
import type {
  Call,
  CallFailure,
  CallKind,
  CallRequest,
  ClientEffect,
  ClientInit,
  ClientInput,
  ClientState,
} from './types.js';

type Out = Ready<ClientState, ClientEffect, never>;
const SLOTS = ['register', 'heartbeat', 'stream', 'renew'] as const;
type Slot = (typeof SLOTS)[number];
const slotOf = (kind: CallKind): Slot => (kind === 'assignments' ? 'stream' : kind);

export function initClient(init: ClientInit, now: number): ClientState {
  return {
    config: init.config,
    servers: init.servers,
    mode: init.mode,
    mutations: init.mutations ?? {},
    phase: init.registered ? 'registered' : 'unregistered',
    stopReason: undefined,
    serverIndex: 0,
    failures: 0,
    retryAtMs: now,
    nextCallId: 1,
    register: undefined,
    heartbeat: undefined,
    stream: undefined,
    renew: undefined,
    nextHeartbeatMs: now,
    heartbeatRetries: 0,
    ttlMs: undefined,
    lastAckMs: undefined,
    lastRevision: 0,
    needSnapshot: true,
    renewAtMs: init.renewAtMs,
    reportedServer: undefined,
    lastStepMs: now,
    counters: {
      calls: { register: 0, heartbeat: 0, assignments: 0, renew: 0 },
      failures: {},
      lateAnswers: 0,
      duplicateBatches: 0,
      gaps: 0,
      serverSwitches: 0,
      delivered: 0,
    },
  };
}

export function step(state: ClientState, input: ClientInput, _ctx?: StepContext): Out {
  const out: Out = { state, effects: [], persist: [], afterPersist: [] };
  const now = input.now;
  state.lastStepMs = Math.max(state.lastStepMs, now);
  switch (input.kind) {
    case 'tick':
    case 'persisted':
      expireCalls(state, now, out);
      break;
    case 'registered':
      if (!answers(state, 'register', input.callId)) break;
      state.phase = 'registered';
      state.failures = 0;
      state.renewAtMs = input.renewAtMs;
      state.nextHeartbeatMs = now;
      break;
    case 'renewed':
      if (answers(state, 'renew', input.callId)) state.renewAtMs = input.renewAtMs;
      break;
    case 'heartbeat-ok':
      if (!answers(state, 'heartbeat', input.callId)) break;
      state.failures = 0;
      state.heartbeatRetries = 0;
      state.ttlMs = input.ttlMs;
      state.lastAckMs = now;
      state.nextHeartbeatMs = now + input.ttlMs;
      break;
    case 'assignments':
      onAssignments(state, input, out);
      break;
    case 'failed':
      onFailed(state, input.callId, input.failure, now, out);
      break;
    case 'stop':
      stop(state, 'stopped by the application', out);
      break;
    default:
      assertNever(input, 'worker client input');
  }
  maybeStartCalls(state, now, out);
  return out;
}

/** True (and the slot cleared, unless a stream goes on) when `callId` is the call in flight there. */
function answers(state: ClientState, slot: Slot, callId: number, keep = false): boolean {
  const call = state[slot];
  if (call === undefined || call.id !== callId) {
    state.counters.lateAnswers++;
    return false;
  }
  if (!keep) state[slot] = undefined;
  return true;
}

function onAssignments(
  state: ClientState,
  input: Extract<ClientInput, { kind: 'assignments' }>,
  out: Out,
): void {
  if (!answers(state, 'stream', input.callId, !input.end)) return;
  state.failures = 0;
  const skipsGapCheck = state.mutations.resumeFromNow === true;
  if (
    input.afterRevision !== undefined &&
    input.afterRevision > state.lastRevision &&
    !skipsGapCheck
  ) {
    // A batch of this stream never arrived (a lossy path): start again after what we have.
    state.counters.gaps++;
    if (state.stream !== undefined) out.effects.push({ kind: 'cancel', callId: state.stream.id });
    state.stream = undefined;
    return;
  }
  if (input.snapshot !== undefined) deliverSnapshot(state, input.snapshot, out);
  for (const batch of input.batches) deliverBatch(state, batch, out);
}

function deliverSnapshot(state: ClientState, snapshot: AssignmentSnapshot, out: Out): void {
  // An unasked snapshot older than what we have would move us back: dropped.
  if (!state.needSnapshot && snapshot.revision <= state.lastRevision) {
    state.counters.duplicateBatches++;
    return;
  }
  state.needSnapshot = false;
  state.lastRevision = Math.max(state.lastRevision, snapshot.revision);
  state.counters.delivered++;
  out.effects.push({ kind: 'deliver-snapshot', snapshot });
}

function deliverBatch(state: ClientState, batch: AssignmentBatch, out: Out): void {
  if (batch.revision <= state.lastRevision && state.mutations.resumeWithoutDedup !== true) {
    state.counters.duplicateBatches++;
    return;
  }
  state.lastRevision = Math.max(state.lastRevision, batch.revision);
  state.counters.delivered++;
  out.effects.push({ kind: 'deliver', batch });
}

function callOf(state: ClientState, callId: number): Call | undefined {
  for (const slot of SLOTS) if (state[slot]?.id === callId) return state[slot];
  return undefined;
}

function onFailed(
  state: ClientState,
  callId: number,
  failure: CallFailure,
  now: number,
  out: Out,
): void {
  const call = callOf(state, callId);
  if (call === undefined) {
    state.counters.lateAnswers++;
    return;
  }
  state[slotOf(call.kind)] = undefined;
  state.counters.failures[failure.kind] = (state.counters.failures[failure.kind] ?? 0) + 1;
  switch (failure.kind) {
    case 'unavailable':
    case 'timeout':
      if (call.server === currentServer(state)) switchServer(state, now, out);
      if (call.kind === 'heartbeat') state.nextHeartbeatMs = Math.min(state.nextHeartbeatMs, now);
      return;
    case 'no-leader':
    case 'unknown-worker': {
      state.heartbeatRetries++;
      const retryMs = now + retryBackoffMsFor(state.heartbeatRetries, state.config);
      if (call.kind === 'heartbeat') state.nextHeartbeatMs = retryMs;
      else state.retryAtMs = Math.max(state.retryAtMs, retryMs);
      return;
    }
    case 'unauthenticated':
      // Our certificate or record is gone (revoked, or a server that lost it): register again.
      cancelAll(state, out);
      state.phase = 'unregistered';
      state.retryAtMs = now + retryBackoffMsFor(1, state.config);
      return;
    case 'compacted':
      state.needSnapshot = true;
      return;
    case 'refused':
      if (call.kind === 'register') stop(state, `registration refused: ${failure.reason}`, out);
      else switchServer(state, now, out);
      return;
    default:
      assertNever(failure, 'call failure');
  }
}

function currentServer(state: ClientState): string {
  return state.servers[state.serverIndex % state.servers.length] as string;
}

/** Gives up on the current server: its calls are cancelled and restarted at the next one after backoff. */
function switchServer(state: ClientState, now: number, out: Out): void {
  cancelAll(state, out);
  state.failures++;
  state.serverIndex = (state.serverIndex + 1) % state.servers.length;
  state.counters.serverSwitches++;
  state.retryAtMs = now + retryBackoffMsFor(state.failures, state.config);
  state.reportedServer = undefined;
}

function cancelAll(state: ClientState, out: Out): void {
  for (const slot of SLOTS) {
    const call = state[slot];
    if (call === undefined) continue;
    out.effects.push({ kind: 'cancel', callId: call.id });
    state[slot] = undefined;
  }
}

function stop(state: ClientState, reason: string, out: Out): void {
  cancelAll(state, out);
  state.phase = 'stopped';
  state.stopReason = reason;
  out.effects.push({ kind: 'stopped', reason });
}

function expireCalls(state: ClientState, now: number, out: Out): void {
  for (const slot of SLOTS) {
    const call = state[slot];
    if (call?.deadlineMs === undefined || call.deadlineMs > now) continue;
    out.effects.push({ kind: 'cancel', callId: call.id });
    onFailed(state, call.id, { kind: 'timeout' }, now, out);
  }
}

function start(
  state: ClientState,
  now: number,
  request: CallRequest,
  deadlineMs: number | undefined,
  out: Out,
): Call {
  const server = currentServer(state);
  const call: Call = { id: state.nextCallId++, server, kind: request.kind, deadlineMs };
  state[slotOf(request.kind)] = call;
  state.counters.calls[request.kind]++;
  out.effects.push({ kind: 'call', callId: call.id, server, request });
  return call;
}

function maybeStartCalls(state: ClientState, now: number, out: Out): void {
  if (state.phase === 'stopped' || now < state.retryAtMs) return;
  const timeoutMs = now + state.config.callTimeoutMs;
  if (state.phase === 'unregistered') {
    if (state.register === undefined) start(state, now, { kind: 'register' }, timeoutMs, out);
    return;
  }
  if (state.heartbeat === undefined && now >= state.nextHeartbeatMs)
    start(state, now, { kind: 'heartbeat' }, timeoutMs, out);
  if (state.stream === undefined) startStream(state, now, out);
  if (state.renew === undefined && state.renewAtMs !== undefined && now >= state.renewAtMs)
    start(state, now, { kind: 'renew' }, timeoutMs, out);
}

function startStream(state: ClientState, now: number, out: Out): void {
  const m = state.mutations;
  const fromRevision =
    m.resumeFromNow === true && state.lastRevision > 0
      ? 0
      : m.resumeWithoutDedup === true
        ? Math.max(1, state.lastRevision)
        : state.lastRevision + 1;
  const poll = state.mode === 'poll';
  const call = start(
    state,
    now,
    { kind: 'assignments', mode: state.mode, fromRevision, snapshot: state.needSnapshot },
    poll ? now + state.config.pollWaitMs + state.config.callTimeoutMs : undefined,
    out,
  );
  if (state.reportedServer !== call.server) {
    state.reportedServer = call.server;
    out.effects.push({ kind: 'report-status', server: call.server });
  }
}

/** The earliest time a tick has work: a call to start, a call to time out, a renewal. */
export function nextDeadline(state: ClientState): number | undefined {
  if (state.phase === 'stopped') return undefined;
  const at: number[] = [];
  for (const slot of SLOTS) {
    const deadline = state[slot]?.deadlineMs;
    if (deadline !== undefined) at.push(deadline);
  }
  const startable = (dueMs: number): void => void at.push(Math.max(dueMs, state.retryAtMs));
  if (state.phase === 'unregistered') {
    if (state.register === undefined) startable(state.retryAtMs);
  } else {
    if (state.heartbeat === undefined) startable(state.nextHeartbeatMs);
    if (state.stream === undefined) startable(state.retryAtMs);
    if (state.renew === undefined && state.renewAtMs !== undefined) startable(state.renewAtMs);
  }
  if (at.length === 0) return undefined;
  return Math.max(state.lastStepMs, Math.min(...at));
}
