/**
 * A simulated worker-server of the `worker-tier` scenarios: the liveness core on the generic
 * driver (its own skewed clock), the registration txn (core/txns.ts) and the scheduler's plan
 * (core/scale.ts) proposed to the SimStore, and assignment streams and long-polls served from
 * this server's applied revision, exactly as src/worker/server.ts does over gRPC. Requests and
 * answers are JSON over the SimNetwork, so loss, delay, partitions and pauses apply to them.
 */
import type { Address } from '../../base/address.js';
import type { Clock } from '../../base/time.js';
import { livenessDriver } from '../../worker/drivers.js';
import { range as readRange } from '../../kv/store.js';
import type { KvEvent, TxnResult } from '../../kv/types.js';
import { batchesOf, snapshotOf, type AssignmentBatch } from '../../worker/core/assignments.js';
import type { WorkerServerConfig } from '../../worker/core/config.js';
import { keys, parseKey, prefixes } from '../../worker/core/layout.js';
import type { LivenessTypes } from '../../worker/core/liveness/types.js';
import {
  records,
  type AssignmentValue,
  type ServiceRecord,
  type WorkerRecord,
} from '../../worker/core/records.js';
import { planScale, scaleTxns, type StoredAssignment } from '../../worker/core/scale.js';
import {
  recordCasTxn,
  registrationOutcome,
  registrationTxn,
  withStatus,
} from '../../worker/core/txns.js';
import type { SimNode, SimWorld } from '../runner.js';
import type { CommittedRevision, SimStore } from './worker-tier-store.js';

export type Message =
  | { t: 'register'; callId: number; workerId: string; token: number }
  | { t: 'heartbeat'; callId: number; workerId: string }
  | {
      t: 'watch';
      callId: number;
      workerId: string;
      fromRevision: number;
      snapshot: boolean;
      poll: boolean;
    }
  | { t: 'cancel'; callId: number }
  | { t: 'forward'; fid: number; workerId: string }
  | { t: 'forward-res'; fid: number; ttlMs: number; refused: string }
  | { t: 'res'; callId: number; ok: boolean; ttlMs?: number; failure?: string; reason?: string }
  | {
      t: 'data';
      callId: number;
      snapshot?: { revision: number; count: number; assignments: unknown[] };
      batches: AssignmentBatch[];
      afterRevision?: number;
      end: boolean;
    };

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const encodeMessage = (m: Message): Uint8Array => encoder.encode(JSON.stringify(m));
export const decodeMessage = (b: Uint8Array): Message => JSON.parse(decoder.decode(b)) as Message;

/** How often a stream tells its worker where it is, ms. */
export const PROGRESS_MS = 5_000;

export interface SimToken {
  tokenId: string;
  maxUses: number;
  expiresAtMs: number;
}

export interface ServerHooks {
  /** A leader's liveness renewed `workerId` for ttlMs at this instant (the promise). */
  renewed(workerId: string, ttlMs: number): void;
  /** A leader asked to mark `workerId` down. */
  markedDown(workerId: string): void;
  /** Token uses counted in the leader's memory instead of the store (the -unsafe variant). */
  memoryTokenCount: boolean;
  noFailoverTtl: boolean;
}

interface Sub {
  callId: number;
  worker: Address;
  workerId: string;
  lastSent: number;
  /** The revision of the last batch sent (or where the stream started). */
  lastBatch: number;
  poll: boolean;
  timer: { cancel(): void } | undefined;
}

export class SimServer {
  readonly driver: ReturnType<typeof livenessDriver>;
  private readonly clock: Clock;
  /** Position in store.log up to which this server has applied. */
  private applied = 0;
  revision = 0;
  readonly workers = new Map<string, WorkerRecord & { modRevision: number }>();
  private readonly services = new Map<string, ServiceRecord & { modRevision: number }>();
  private readonly assignments = new Map<string, StoredAssignment & { modRevision: number }>();
  private readonly subs = new Map<number, Sub>();
  private readonly pendingHeartbeats = new Map<number, (o: { ttlMs: number } | string) => void>();
  private readonly forwards = new Map<number, (o: { ttlMs: number } | string) => void>();
  private nextId = 1;
  private reconcileDue = false;
  private reconciling = false;
  /** Tokens counted in memory (the -unsafe variant only): reset by every restart and failover. */
  private readonly memoryUses = new Map<string, number>();
  private stopped = false;

  constructor(
    private readonly world: SimWorld,
    readonly node: SimNode,
    private readonly store: SimStore,
    private readonly config: WorkerServerConfig,
    private readonly tokens: readonly SimToken[],
    private readonly hooks: ServerHooks,
    generation: number,
  ) {
    this.clock = node.clock.life();
    this.driver = livenessDriver(
      { config, noFailoverTtl: hooks.noFailoverTtl },
      {
        clock: this.clock,
        storage: node.storage,
        rng: node.rng.fork(`liveness/${generation}`),
        checkInvariants: true,
      },
      (effect) => {
        if (effect.kind === 'mark') return this.mark(effect);
        const done = this.pendingHeartbeats.get(effect.requestId);
        this.pendingHeartbeats.delete(effect.requestId);
        if (effect.outcome.kind === 'ok') this.hooks.renewed(effect.id, effect.outcome.ttlMs);
        done?.(
          effect.outcome.kind === 'ok' ? { ttlMs: effect.outcome.ttlMs } : effect.outcome.reason,
        );
      },
    );
    this.driver.start();
    this.catchUp(this.store.log.length);
    this.progressLater();
  }

  /**
   * Every PROGRESS_MS each stream gets its position (etcd's progress notification): a worker
   * that lost the stream's last batch on the way learns it and resumes, even if nothing follows.
   */
  private progressLater(): void {
    this.later(PROGRESS_MS, () => {
      for (const sub of this.subs.values())
        if (!sub.poll)
          this.send(sub.worker, {
            t: 'data',
            callId: sub.callId,
            batches: [],
            afterRevision: sub.lastBatch,
            end: false,
          });
      this.progressLater();
    });
  }

  get address(): Address {
    return this.node.address;
  }

  /** Runs `work` on this server's clock (parked while it is paused, dropped once it crashed). */
  later(delayMs: number, work: () => void): void {
    this.clock.setTimer(delayMs as never, () => {
      if (!this.stopped) work();
    });
  }

  stop(): void {
    this.stopped = true;
    this.driver.stop();
  }

  subscribers(): Sub[] {
    return [...this.subs.values()];
  }

  onLeader(leader: Address | undefined, term: number): void {
    this.later(0, () => {
      const now = this.clock.now();
      if (leader === this.address) {
        this.driver.input({ kind: 'lead', now, term });
        this.memoryUses.clear();
        this.reconcileSoon();
      } else if (this.driver.state.leading) this.driver.input({ kind: 'unlead', now });
    });
  }

  onCommit(_entry: CommittedRevision): void {
    const target = this.store.log.length;
    this.later(1 + this.node.rng.int(20), () => this.catchUp(target));
  }

  private catchUp(target: number): void {
    const changes: { id: string; status: WorkerRecord['status']; modRevision: number }[] = [];
    for (; this.applied < target; this.applied++) {
      const entry = this.store.log[this.applied] as CommittedRevision;
      for (const e of entry.events) this.applyEvent(e, changes);
      this.revision = entry.revision;
      this.push(entry);
    }
    if (changes.length > 0) this.driver.input({ kind: 'records', now: this.clock.now(), changes });
    if (changes.length > 0 || this.reconcileDue) this.reconcileSoon();
  }

  private applyEvent(
    e: KvEvent,
    changes: { id: string; status: WorkerRecord['status']; modRevision: number }[],
  ): void {
    const parsed = parseKey(e.kv.key);
    if (parsed === undefined) return;
    const text = decoder.decode(e.kv.key);
    if (parsed.kind === 'worker' && e.type === 'put') {
      const record = records.worker.decode(e.kv.value);
      if (record === undefined) return;
      this.workers.set(record.id, { ...record, modRevision: e.revision });
      changes.push({ id: record.id, status: record.status, modRevision: e.revision });
    } else if (parsed.kind === 'service' && e.type === 'put') {
      const record = records.service.decode(e.kv.value);
      if (record !== undefined)
        this.services.set(record.service, { ...record, modRevision: e.revision });
      this.reconcileDue = true;
    } else if (parsed.kind === 'assignment') {
      const value = e.type === 'put' ? records.assignment.decode(e.kv.value) : undefined;
      if (value === undefined || value.op === 'delete') this.assignments.delete(text);
      else
        this.assignments.set(text, {
          nodeId: parsed.nodeId,
          index: parsed.index,
          value: value as AssignmentValue,
          modRevision: e.revision,
        });
    }
  }

  /** Sends the new revision's batches to this server's subscribers. */
  private push(entry: CommittedRevision): void {
    if (this.subs.size === 0) return;
    const byWorker = new Map<string, Sub[]>();
    for (const sub of this.subs.values())
      byWorker.set(sub.workerId, [...(byWorker.get(sub.workerId) ?? []), sub]);
    for (const [workerId, subs] of byWorker) {
      const batches = batchesOf(entry.events, workerId, { bad: 0 });
      for (const sub of subs) {
        const fresh = batches.filter((b) => b.revision > sub.lastSent);
        if (fresh.length === 0) continue;
        sub.lastSent = entry.revision;
        const afterRevision = sub.lastBatch;
        sub.lastBatch = (fresh[fresh.length - 1] as AssignmentBatch).revision;
        this.send(sub.worker, {
          t: 'data',
          callId: sub.callId,
          batches: fresh,
          afterRevision,
          end: sub.poll,
        });
        if (sub.poll) this.endSub(sub);
      }
    }
  }

  private send(to: Address, m: Message): void {
    this.world.network.send(this.address, to, 'packet', encodeMessage(m));
  }

  receive(from: Address, m: Message): void {
    switch (m.t) {
      case 'register':
        return this.register(from, m);
      case 'heartbeat':
        return this.heartbeat(from, m);
      case 'watch':
        return this.watch(from, m);
      case 'cancel': {
        const sub = this.subs.get(m.callId);
        if (sub !== undefined) this.endSub(sub);
        return;
      }
      case 'forward':
        return this.liveness(m.workerId, (o) =>
          this.send(from, {
            t: 'forward-res',
            fid: m.fid,
            ttlMs: typeof o === 'string' ? 0 : o.ttlMs,
            refused: typeof o === 'string' ? o : '',
          }),
        );
      case 'forward-res': {
        const done = this.forwards.get(m.fid);
        this.forwards.delete(m.fid);
        done?.(m.refused === '' ? { ttlMs: m.ttlMs } : m.refused);
        return;
      }
      default:
        return;
    }
  }

  /** The liveness core's answer, through a callback: the simulator runs synchronously (no Promise). */
  private liveness(workerId: string, done: (o: { ttlMs: number } | string) => void): void {
    const requestId = this.nextId++;
    this.pendingHeartbeats.set(requestId, done);
    this.driver.input({ kind: 'heartbeat', now: this.clock.now(), id: workerId, requestId });
  }

  private heartbeat(from: Address, m: Extract<Message, { t: 'heartbeat' }>): void {
    const reply = (o: { ttlMs: number } | string): void =>
      this.send(
        from,
        typeof o === 'string'
          ? { t: 'res', callId: m.callId, ok: false, failure: o === 'not-leader' ? 'no-leader' : o }
          : { t: 'res', callId: m.callId, ok: true, ttlMs: o.ttlMs },
      );
    if (!this.workers.has(m.workerId)) return reply('unknown-worker');
    this.liveness(m.workerId, (o) => {
      if (o !== 'not-leader') return reply(o);
      const leader = this.store.leader;
      if (leader === undefined || leader === this.address) return reply('not-leader');
      const fid = this.nextId++;
      this.forwards.set(fid, reply);
      this.send(leader, { t: 'forward', fid, workerId: m.workerId });
      this.later(2_000, () => {
        if (this.forwards.delete(fid)) reply('not-leader');
      });
    });
  }

  private register(from: Address, m: Extract<Message, { t: 'register' }>): void {
    const token = this.tokens[m.token] as SimToken;
    const now = this.world.clock.now();
    const record: WorkerRecord = {
      id: m.workerId,
      name: m.workerId.slice(0, 8),
      labels: {},
      status: 'registered',
      reason: 'registered',
      certSerial: (this.nextId++).toString(16),
      certNotAfterMs: now + 86_400_000,
      tokenId: token.tokenId,
      registeredAtMs: now,
      changedAtMs: now,
    };
    const reply = (ok: boolean, reason?: string, failure?: string): void =>
      this.send(from, {
        t: 'res',
        callId: m.callId,
        ok,
        ...(reason === undefined ? {} : { reason }),
        ...(failure === undefined ? {} : { failure }),
      });
    if (this.hooks.memoryTokenCount) return this.registerUnsafe(token, record, reply);
    this.store.propose(
      this.address,
      { kind: 'txn', request: registrationTxn({ ...token }, record, now) },
      (result) => {
        if (result === undefined || result.kind !== 'txn')
          return reply(false, undefined, 'no-leader');
        const outcome = registrationOutcome(result as TxnResult);
        reply(
          outcome.ok,
          outcome.ok ? undefined : outcome.refusal,
          outcome.ok ? undefined : 'refused',
        );
      },
    );
  }

  /** The bug the issue names: uses counted in the leader's memory, reset on failover. */
  private registerUnsafe(
    token: SimToken,
    record: WorkerRecord,
    reply: (ok: boolean, reason?: string, failure?: string) => void,
  ): void {
    const used = this.memoryUses.get(token.tokenId) ?? 0;
    if (used >= token.maxUses) return reply(false, 'used-up', 'refused');
    this.memoryUses.set(token.tokenId, used + 1);
    const now = this.world.clock.now();
    const op = {
      kind: 'txn' as const,
      request: {
        compare: [],
        success: [
          {
            kind: 'put' as const,
            request: {
              key: keys.token(token.tokenId),
              value: records.tokenUse.encode({
                lastWorkerId: record.id,
                maxUses: token.maxUses,
                expiresAtMs: token.expiresAtMs,
                atMs: now,
              }),
            },
          },
          {
            kind: 'put' as const,
            request: { key: keys.worker(record.id), value: records.worker.encode(record) },
          },
        ],
        failure: [],
      },
    };
    this.store.propose(this.address, op, (result) =>
      reply(result !== undefined, undefined, result === undefined ? 'no-leader' : undefined),
    );
  }

  private watch(from: Address, m: Extract<Message, { t: 'watch' }>): void {
    if (!this.workers.has(m.workerId))
      return this.send(from, { t: 'res', callId: m.callId, ok: false, failure: 'unknown-worker' });
    const sub: Sub = {
      callId: m.callId,
      worker: from,
      workerId: m.workerId,
      lastSent: 0,
      lastBatch: 0,
      poll: m.poll,
      timer: undefined,
    };
    this.subs.set(m.callId, sub);
    if (m.snapshot) {
      const { key, rangeEnd } = prefixes.assignmentsOf(m.workerId);
      const stored = readRange(this.store.state, {
        key,
        rangeEnd,
        revision: this.revision as never,
      });
      const snapshot = snapshotOf('kvs' in stored ? stored.kvs : [], m.workerId, this.revision, {
        bad: 0,
      });
      sub.lastSent = this.revision;
      sub.lastBatch = this.revision;
      this.send(from, {
        t: 'data',
        callId: m.callId,
        snapshot: {
          revision: snapshot.revision,
          count: snapshot.assignments.length,
          assignments: [],
        },
        batches: [],
        end: m.poll,
      });
      if (m.poll) return this.endSub(sub);
      return;
    }
    const from0 = m.fromRevision === 0 ? this.revision + 1 : m.fromRevision;
    sub.lastSent = from0 - 1;
    sub.lastBatch = from0 - 1;
    const batches: AssignmentBatch[] = [];
    for (let i = 0; i < this.applied; i++) {
      const entry = this.store.log[i] as CommittedRevision;
      if (entry.revision < from0) continue;
      batches.push(...batchesOf(entry.events, m.workerId, { bad: 0 }));
    }
    sub.lastSent = Math.max(sub.lastSent, this.revision);
    if (batches.length > 0) {
      const afterRevision = sub.lastBatch;
      sub.lastBatch = (batches[batches.length - 1] as AssignmentBatch).revision;
      this.send(from, { t: 'data', callId: m.callId, batches, afterRevision, end: m.poll });
      if (m.poll) return this.endSub(sub);
    }
    if (m.poll) {
      const waitMs =
        this.config.pollWaitMsMax -
        this.node.rng.int(
          Math.floor(this.config.pollWaitMsMax * this.config.pollJitterFraction) + 1,
        );
      this.later(waitMs, () => {
        if (!this.subs.has(sub.callId)) return;
        this.send(from, { t: 'data', callId: m.callId, batches: [], end: true });
        this.endSub(sub);
      });
    }
  }

  private endSub(sub: Sub): void {
    this.subs.delete(sub.callId);
  }

  /** Connections to a crashed worker die: its subscriptions end. */
  dropWorker(address: Address): void {
    for (const sub of [...this.subs.values()]) if (sub.worker === address) this.endSub(sub);
  }

  private mark(effect: Extract<LivenessTypes['effect'], { kind: 'mark' }>): void {
    if (effect.status === 'down') this.hooks.markedDown(effect.id);
    const record = this.workers.get(effect.id);
    const now = this.clock.now();
    if (record === undefined || record.modRevision !== effect.expectRevision) {
      this.driver.input({ kind: 'marked', now, id: effect.id, applied: false });
      return;
    }
    const { modRevision, ...plain } = record;
    const next = withStatus(plain, effect.status, effect.reason, this.world.clock.now());
    this.store.propose(
      this.address,
      { kind: 'txn', request: recordCasTxn(next, modRevision) },
      (result) =>
        this.later(0, () =>
          this.driver.input({
            kind: 'marked',
            now: this.clock.now(),
            id: effect.id,
            applied: result?.kind === 'txn' && result.succeeded,
          }),
        ),
    );
  }

  private reconcileSoon(): void {
    this.reconcileDue = true;
    if (this.reconciling || !this.driver.state.leading) return;
    this.reconciling = true;
    this.later(50, () => this.reconcile());
  }

  private reconcile(): void {
    this.reconciling = false;
    if (!this.driver.state.leading) return;
    this.reconcileDue = false;
    const candidates = [...this.workers.values()]
      .filter((w) => w.status === 'registered')
      .map((w) => ({ id: w.id, kind: 'worker' as const, labels: w.labels, leader: false }));
    const status = new Map([...this.workers.values()].map((w) => [w.id, w.status]));
    for (const service of this.services.values()) {
      const current = [...this.assignments.values()].filter(
        (a) => a.value.service === service.service,
      );
      const puts = planScale({
        service,
        current,
        candidates,
        workerStatus: status,
        drainGraceMs: 1_000,
      });
      for (const request of scaleTxns(puts))
        this.store.propose(this.address, { kind: 'txn', request }, () => undefined);
    }
  }
}
