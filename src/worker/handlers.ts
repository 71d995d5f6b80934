/**
 * The worker API's handlers (proto/worker.proto), one per method. Every handler but
 * TrustBundle and Register first establishes its caller (auth.ts); every failure answers with
 * the status and reason word of api.ts, so the worker's client core can tell "try another
 * server" from "register again" from "stop".
 */
import type * as grpc from '@grpc/grpc-js';
import { hasErrorCode } from '../base/errors.js';
import type { TxnRequest, TxnResult } from '../kv/types.js';
import {
  batchToWire,
  failure,
  snapshotToWire,
  type AssignmentMessage,
  type FailureReason,
  type WireContainer,
} from './api.js';
import { callerOf, normalSerial, type Caller } from './auth.js';
import type { WorkerCa } from './ca.js';
import type { AssignmentBatch, AssignmentSnapshot } from './core/assignments.js';
import type { WorkerServerConfig } from './core/config.js';
import { isName, keys } from './core/layout.js';
import {
  CONTAINER_STATES,
  records,
  type ContainerStatus,
  type WorkerRecord,
} from './core/records.js';
import { checkToken } from './core/token.js';
import { recordCasTxn, registrationOutcome, registrationTxn } from './core/txns.js';
import type { HeartbeatForwarder, Heartbeats } from './heartbeats.js';
import type { AssignmentHub, Subscriber } from './hub.js';
import type { WorkerServer, WorkerServerHost } from './server.js';
import { nodeIdOfKeyHex, verifyHex } from './tokens.js';
import type { StoreView } from './view.js';

export interface HandlerContext {
  server: WorkerServer;
  view: StoreView;
  hub: AssignmentHub;
  heartbeats: Heartbeats;
  forwarder: HeartbeatForwarder;
  ca: WorkerCa;
  host: WorkerServerHost;
  config: WorkerServerConfig;
}

/**
 * Registrations a server works on at once: signed and waiting for their group, or their txn in
 * flight.
 */
export const REGISTRATIONS_IN_FLIGHT_MAX = 64;
/**
 * Registrations waiting for a place, first come first served; beyond this many the call is
 * answered `busy` (UNAVAILABLE) and the worker retries after backoff. A waiting call whose
 * caller gave up (cancelled, or past its deadline) is dropped unsigned when its turn comes, so
 * a storm never spends the server on answers nobody reads.
 */
export const REGISTRATIONS_QUEUED_MAX = 4_096;
type Unary<Req, Res> = (
  call: grpc.ServerUnaryCall<Req, Res>,
  callback: grpc.sendUnaryData<Res>,
) => void;
const LABELS_MAX = 32;
const NAME_CHARS_MAX = 128;

function fail<Res>(callback: grpc.sendUnaryData<Res>, reason: FailureReason, detail: string): void {
  callback(failure(reason, detail) as grpc.ServiceError, null);
}

/** The store could not take a write: no leader (or it timed out); the worker retries. */
function storeFailure<Res>(callback: grpc.sendUnaryData<Res>, err: unknown): void {
  const leaderless = hasErrorCode(err, 'ERR_NO_LEADER') || hasErrorCode(err, 'ERR_TIMEOUT');
  fail(
    callback,
    'no-leader',
    leaderless ? 'the store has no leader' : `the store refused: ${(err as Error).message}`,
  );
}

function requireCaller<Res>(
  ctx: HandlerContext,
  call: grpc.ServerUnaryCall<unknown, Res>,
  callback: grpc.sendUnaryData<Res>,
  kind: 'worker' | 'server',
): Extract<Caller, { ok: true }> | undefined {
  const caller = callerOf(call, ctx.view);
  if (!caller.ok) {
    fail(callback, caller.reason, caller.detail);
    return undefined;
  }
  if (caller.kind !== kind) {
    fail(callback, 'unauthenticated', `this call is for a ${kind}, not a ${caller.kind}`);
    return undefined;
  }
  return caller;
}

function toMessage(m: {
  snapshot?: AssignmentSnapshot;
  batches: AssignmentBatch[];
}): AssignmentMessage {
  return {
    ...(m.snapshot === undefined ? {} : { snapshot: snapshotToWire(m.snapshot) }),
    batches: m.batches.map(batchToWire),
  };
}

export function handlers(ctx: HandlerContext): grpc.UntypedServiceImplementation {
  return {
    TrustBundle: ((_call, callback) => callback(null, { caPems: ctx.server.bundle() })) as Unary<
      unknown,
      unknown
    >,
    Register: ((call, callback) => admitRegistration(ctx, call, callback)) as Unary<
      RegisterRequest,
      unknown
    >,
    Heartbeat: ((call, callback) => void heartbeat(ctx, call, callback)) as Unary<unknown, unknown>,
    ForwardHeartbeats: ((call, callback) => void forwardHeartbeats(ctx, call, callback)) as Unary<
      { workerIds: string[] },
      unknown
    >,
    WatchAssignments: (
      call: grpc.ServerWritableStream<
        { fromRevision: number; snapshot: boolean },
        AssignmentMessage
      >,
    ) => watch(ctx, call),
    Poll: ((call, callback) => poll(ctx, call, callback)) as Unary<PollRequest, AssignmentMessage>,
    ReportStatus: ((call, callback) => reportStatus(ctx, call, callback)) as Unary<
      StatusReport,
      unknown
    >,
    Renew: ((call, callback) => void renew(ctx, call, callback)) as Unary<
      { csrPem: string },
      unknown
    >,
  };
}

interface QueuedRegistration {
  call: grpc.ServerUnaryCall<RegisterRequest, unknown>;
  callback: grpc.sendUnaryData<unknown>;
}

/** A registration checked and signed, its txn not yet proposed. */
interface SignedRegistration {
  txn: TxnRequest;
  maxUses: number;
  answer: { workerId: string; certPem: string };
  callback: grpc.sendUnaryData<unknown>;
}

/** One server's registration pipeline: the queue, the group being gathered, its linger timer. */
interface Pipeline {
  queue: QueuedRegistration[];
  group: SignedRegistration[];
  timer: ReturnType<typeof setTimeout> | undefined;
}

const pipelines = new WeakMap<HandlerContext, Pipeline>();

/** Queues a registration (busy beyond REGISTRATIONS_QUEUED_MAX) and starts what fits. */
function admitRegistration(
  ctx: HandlerContext,
  call: grpc.ServerUnaryCall<RegisterRequest, unknown>,
  callback: grpc.sendUnaryData<unknown>,
): void {
  const counters = ctx.server.counters;
  let pipeline = pipelines.get(ctx);
  if (pipeline === undefined)
    pipelines.set(ctx, (pipeline = { queue: [], group: [], timer: undefined }));
  if (pipeline.queue.length >= REGISTRATIONS_QUEUED_MAX) {
    counters.refusedRegistrations['busy'] = (counters.refusedRegistrations['busy'] ?? 0) + 1;
    return fail(callback, 'busy', `${REGISTRATIONS_QUEUED_MAX} registrations wait here; retry`);
  }
  pipeline.queue.push({ call, callback });
  counters.registrationsQueued = pipeline.queue.length;
  pumpRegistrations(ctx, pipeline);
}

function gaveUp(call: grpc.ServerUnaryCall<RegisterRequest, unknown>, nowMs: number): boolean {
  if (call.cancelled) return true;
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(deadlineMs) && deadlineMs <= nowMs;
}

/** Signs what fits into the group, then proposes the group when it is full enough. */
function pumpRegistrations(ctx: HandlerContext, pipeline: Pipeline): void {
  const counters = ctx.server.counters;
  const { queue, group } = pipeline;
  while (counters.registering < REGISTRATIONS_IN_FLIGHT_MAX && queue.length > 0) {
    const next = queue.shift() as QueuedRegistration;
    // Deadlines are the caller's wall clock, as grpc-js sets them.
    if (gaveUp(next.call, Date.now())) {
      counters.registrationsAbandoned++;
      continue;
    }
    const signed = signRegistration(ctx, next.call, next.callback);
    if (signed === undefined) continue;
    counters.registering++;
    group.push(signed);
  }
  counters.registrationsQueued = queue.length;
  // Group commit (worker-tier.md, "The registration storm"): the group's txns are proposed in
  // one turn of the event loop, which the Raft layer steps as ONE input (one append, one fsync,
  // one message per follower). A full group goes now; so does any group nothing else can join
  // (every place taken); a smaller one waits at most registrationLingerMs.
  if (
    group.length >= ctx.config.registrationGroupMin ||
    counters.registering >= REGISTRATIONS_IN_FLIGHT_MAX
  )
    return proposeGroup(ctx, pipeline);
  if (group.length > 0 && pipeline.timer === undefined) {
    pipeline.timer = setTimeout(() => proposeGroup(ctx, pipeline), ctx.config.registrationLingerMs);
    pipeline.timer.unref?.();
  }
}

/** Proposes every signed registration of the group in this one turn (one Raft input). */
function proposeGroup(ctx: HandlerContext, pipeline: Pipeline): void {
  if (pipeline.timer !== undefined) clearTimeout(pipeline.timer);
  pipeline.timer = undefined;
  const group = pipeline.group.splice(0);
  if (group.length === 0) return;
  ctx.server.counters.registrationGroups++;
  for (const signed of group)
    void commitRegistration(ctx, signed).finally(() => {
      ctx.server.counters.registering--;
      pumpRegistrations(ctx, pipeline);
    });
}

interface RegisterRequest {
  token: string;
  csrPem: string;
  name: string;
  labels: Record<string, string>;
}

/** Checks a registration's request and token and signs its leaf (all synchronous); undefined when refused (answered). */
function signRegistration(
  ctx: HandlerContext,
  call: grpc.ServerUnaryCall<RegisterRequest, unknown>,
  callback: grpc.sendUnaryData<unknown>,
): SignedRegistration | undefined {
  const { host, view, config } = ctx;
  const req = call.request;
  const now = host.wallNowMs();
  const refuse = (reason: string, detail: string): undefined => {
    refuseRegistration(ctx, callback, reason, detail);
    return undefined;
  };
  const labels = Object.entries(req.labels ?? {});
  if (
    req.name.length > NAME_CHARS_MAX ||
    labels.length > LABELS_MAX ||
    labels.some(([k, v]) => !isName(k) || v.length > 63)
  )
    return refuse(
      'bad-request',
      `name up to ${NAME_CHARS_MAX} characters, up to ${LABELS_MAX} labels with valid names and values up to 63 characters`,
    );
  if (view.workers.size >= config.workersMax)
    return refuse('limit', `the cluster tracks workersMax (${config.workersMax}) workers`);
  const serverIds = new Set([host.selfId, ...view.servers.keys()]);
  const check = checkToken(req.token, req.labels ?? {}, {
    clusterId: host.clusterId,
    nowMs: now,
    skewMs: config.tokenSkewMs,
    isServerKey: (hex) => serverIds.has(nodeIdOfKeyHex(hex) ?? ''),
    verify: verifyHex,
  });
  if (!check.ok) return refuse(check.refusal, check.detail);
  let leaf;
  try {
    leaf = ctx.ca.signWorker(req.csrPem, now, config.leafValidityMs);
  } catch (err) {
    return refuse('bad-request', (err as Error).message);
  }
  const record: WorkerRecord = {
    id: leaf.workerId,
    name: req.name === '' ? `worker-${leaf.workerId.slice(0, 8)}` : req.name,
    labels: check.labels,
    status: 'registered',
    reason: 'registered',
    certSerial: normalSerial(leaf.serialHex),
    certNotAfterMs: leaf.notAfterMs,
    tokenId: check.claims.tokenId,
    registeredAtMs: now,
    changedAtMs: now,
  };
  return {
    txn: registrationTxn(check.claims, record, now),
    maxUses: check.claims.maxUses,
    answer: { workerId: leaf.workerId, certPem: leaf.certPem },
    callback,
  };
}

function refuseRegistration(
  ctx: HandlerContext,
  callback: grpc.sendUnaryData<unknown>,
  reason: string,
  detail: string,
): void {
  const refused = ctx.server.counters.refusedRegistrations;
  refused[reason] = (refused[reason] ?? 0) + 1;
  fail(callback, 'refused', `${reason}: ${detail}`);
}

/** Runs a signed registration's txn and answers the worker. */
async function commitRegistration(ctx: HandlerContext, signed: SignedRegistration): Promise<void> {
  const { callback } = signed;
  let result: TxnResult;
  try {
    result = await ctx.host.kv.txn(signed.txn);
  } catch (err) {
    // Counted by cause: an election under way (or a proposal timed out) versus anything else.
    const refused = ctx.server.counters.refusedRegistrations;
    const reason = hasErrorCode(err, 'ERR_NO_LEADER')
      ? 'store-no-leader'
      : hasErrorCode(err, 'ERR_TIMEOUT')
        ? 'store-timeout'
        : 'store';
    refused[reason] = (refused[reason] ?? 0) + 1;
    return storeFailure(callback, err);
  }
  const outcome = registrationOutcome(result);
  if (!outcome.ok)
    return refuseRegistration(
      ctx,
      callback,
      outcome.refusal,
      outcome.refusal === 'used-up'
        ? `all ${signed.maxUses} uses are taken`
        : 'the token was revoked',
    );
  ctx.server.counters.registrations++;
  callback(null, { ...signed.answer, caPems: ctx.server.bundle() });
}

async function heartbeat(
  ctx: HandlerContext,
  call: grpc.ServerUnaryCall<unknown, unknown>,
  callback: grpc.sendUnaryData<unknown>,
): Promise<void> {
  const caller = requireCaller(ctx, call, callback, 'worker');
  if (caller === undefined) return;
  ctx.server.counters.heartbeats++;
  let outcome = await ctx.heartbeats.heartbeat(caller.id);
  if (outcome.kind === 'refused' && outcome.reason === 'not-leader') {
    const leader = ctx.host.leader();
    if (leader === undefined || leader.id === ctx.host.selfId)
      return fail(callback, 'no-leader', 'no leader to take the heartbeat');
    const forwarded = await ctx.forwarder.forward(leader.id, caller.id);
    if (forwarded === 'no-leader')
      return fail(callback, 'no-leader', `leader ${leader.id} did not take the heartbeat`);
    outcome = forwarded;
  }
  if (outcome.kind === 'ok') callback(null, { ttlMs: outcome.ttlMs });
  else
    fail(
      callback,
      outcome.reason === 'not-leader' ? 'no-leader' : 'unknown-worker',
      `the leader does not know worker ${caller.id} yet`,
    );
}

async function forwardHeartbeats(
  ctx: HandlerContext,
  call: grpc.ServerUnaryCall<{ workerIds: string[] }, unknown>,
  callback: grpc.sendUnaryData<unknown>,
): Promise<void> {
  if (requireCaller(ctx, call, callback, 'server') === undefined) return;
  const ids = call.request.workerIds.slice(0, 4_096);
  const outcomes = await Promise.all(ids.map((id) => ctx.heartbeats.heartbeat(id)));
  callback(null, {
    results: outcomes.map((o, i) => ({
      workerId: ids[i],
      ttlMs: o.kind === 'ok' ? o.ttlMs : 0,
      refused: o.kind === 'ok' ? '' : o.reason,
    })),
  });
}

function subscriber(nodeId: string, send: Subscriber['send'], end: Subscriber['end']): Subscriber {
  return { nodeId, lastSent: 0, lastBatch: 0, send, end };
}

function watch(
  ctx: HandlerContext,
  call: grpc.ServerWritableStream<{ fromRevision: number; snapshot: boolean }, AssignmentMessage>,
): void {
  const caller = callerOf(call, ctx.view);
  if (!caller.ok || caller.kind !== 'worker') {
    call.emit(
      'error',
      failure(
        caller.ok ? 'unauthenticated' : caller.reason,
        caller.ok ? 'a worker call' : caller.detail,
      ),
    );
    return;
  }
  let unsubscribe: () => void = () => undefined;
  const sub = subscriber(
    caller.id,
    (m) => void call.write(toMessage(m)),
    (reason) => {
      unsubscribe();
      call.emit(
        'error',
        failure(
          reason === 'compacted' ? 'compacted' : 'no-leader',
          reason === 'compacted'
            ? 'the history to resume from is compacted: ask a snapshot'
            : 'this server lost its view of the store; reconnect',
        ),
      );
    },
  );
  unsubscribe = ctx.hub.subscribe(sub, call.request.fromRevision, call.request.snapshot);
  call.on('cancelled', () => unsubscribe());
  call.on('close', () => unsubscribe());
}

interface PollRequest {
  lastRevision: number;
  maxWaitMs: number;
  snapshot: boolean;
}

function poll(
  ctx: HandlerContext,
  call: grpc.ServerUnaryCall<PollRequest, AssignmentMessage>,
  callback: grpc.sendUnaryData<AssignmentMessage>,
): void {
  const caller = requireCaller(ctx, call, callback, 'worker');
  if (caller === undefined) return;
  const { pollWaitMsMax, pollJitterFraction } = ctx.config;
  const asked =
    call.request.maxWaitMs === 0 ? pollWaitMsMax : Math.min(call.request.maxWaitMs, pollWaitMsMax);
  // Jitter: up to pollJitterFraction shorter, so polls that started together do not return together.
  const waitMs = asked - ctx.host.rng.int(Math.floor(asked * pollJitterFraction) + 1);
  let done = false;
  let unsubscribe: () => void = () => undefined;
  const finish = (m: AssignmentMessage | undefined, reason?: 'compacted' | 'unavailable'): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    unsubscribe();
    if (m !== undefined) callback(null, m);
    else fail(callback, reason === 'compacted' ? 'compacted' : 'no-leader', 'reconnect');
  };
  const timer = setTimeout(() => finish({ batches: [] }), waitMs);
  const sub = subscriber(
    caller.id,
    (m) => finish(toMessage(m)),
    (reason) => finish(undefined, reason),
  );
  unsubscribe = ctx.hub.subscribe(sub, call.request.lastRevision + 1, call.request.snapshot);
  if (done) unsubscribe();
  call.on('cancelled', () => finish({ batches: [] }));
}

interface StatusReport {
  full: boolean;
  revision: number;
  containers: WireContainer[];
}

const statesKey = (containers: readonly ContainerStatus[]): string =>
  containers
    .map((c) => `${c.service}/${c.index}/${c.state}/${c.healthy}`)
    .sort()
    .join(',');

function reportStatus(
  ctx: HandlerContext,
  call: grpc.ServerUnaryCall<StatusReport, unknown>,
  callback: grpc.sendUnaryData<unknown>,
): void {
  const caller = requireCaller(ctx, call, callback, 'worker');
  if (caller === undefined) return;
  const now = ctx.host.wallNowMs();
  const containers: ContainerStatus[] = call.request.containers
    .slice(0, 10_000)
    .filter((c) => isName(c.service) && (CONTAINER_STATES as readonly string[]).includes(c.state))
    .map((c) => ({
      service: c.service,
      index: c.index,
      state: c.state as ContainerStatus['state'],
      healthy: c.healthy,
    }));
  ctx.server.counters.statusReports++;
  ctx.server.reports.set(caller.id, { atMs: now, containers: call.request.containers });
  callback(null, {});
  // Only a change of states is a store write; resource usage stays in this server's memory.
  // An empty report where nothing is stored is no change either (the scheduler reads a missing
  // status as no containers): a worker's first report after registering writes nothing.
  const stored = ctx.view.statuses.get(caller.id);
  if (statesKey(stored?.containers ?? []) === statesKey(containers)) return;
  ctx.server.counters.statusWrites++;
  void ctx.host.kv
    .put({
      key: keys.status(caller.id),
      value: records.status.encode({
        nodeId: caller.id,
        revision: call.request.revision,
        containers,
        atMs: now,
      }),
    })
    .catch(() => undefined);
}

async function renew(
  ctx: HandlerContext,
  call: grpc.ServerUnaryCall<{ csrPem: string }, unknown>,
  callback: grpc.sendUnaryData<unknown>,
): Promise<void> {
  const caller = requireCaller(ctx, call, callback, 'worker');
  if (caller === undefined || caller.kind !== 'worker') return;
  const now = ctx.host.wallNowMs();
  let leaf;
  try {
    leaf = ctx.ca.signWorker(call.request.csrPem, now, ctx.config.leafValidityMs);
  } catch (err) {
    return fail(callback, 'bad-request', (err as Error).message);
  }
  if (leaf.workerId !== caller.id)
    return fail(
      callback,
      'bad-request',
      'a renewal keeps the worker key: the CSR names another key',
    );
  const { modRevision, ...plain } = caller.record;
  const next: WorkerRecord = {
    ...plain,
    certSerial: normalSerial(leaf.serialHex),
    certNotAfterMs: leaf.notAfterMs,
  };
  try {
    const result = await ctx.host.kv.txn(recordCasTxn(next, modRevision));
    if (!result.succeeded)
      return fail(callback, 'no-leader', 'the worker record changed meanwhile; retry');
  } catch (err) {
    return storeFailure(callback, err);
  }
  ctx.server.counters.renewals++;
  callback(null, { certPem: leaf.certPem, caPems: ctx.server.bundle() });
}
