/**
 * The heartbeat path of a server (docs/design/worker-tier.md, "Liveness"): the liveness core
 * runs on the one generic driver (src/node/driver.ts) with this server's clock and random
 * stream; it follows the worker records of the StoreView on every server, and leads on the
 * leader. A heartbeat that reaches a follower is forwarded to the leader in batches (one
 * ForwardHeartbeats call per FORWARD_FLUSH_MS or FORWARD_BATCH_MAX ids), so every worker needs
 * one connection, to any server.
 */
import type { Rng } from '../base/rng.js';
import type { Storage } from '../base/storage.js';
import type { Clock } from '../base/time.js';
import type { ProtocolDriver, OutputOf } from '../node/driver.js';
import { livenessDriver } from './drivers.js';
import type { WorkerServerConfig } from './core/config.js';
import type { HeartbeatOutcome, LivenessTypes, RecordChange } from './core/liveness/types.js';
import type { StoreView } from './view.js';

export const FORWARD_FLUSH_MS = 10;
export const FORWARD_BATCH_MAX = 512;
/** Most heartbeats waiting for the leader's answer on a follower; more are refused as no-leader. */
export const FORWARD_PENDING_MAX = 20_000;

export type MarkEffect = Extract<LivenessTypes['effect'], { kind: 'mark' }>;

export class Heartbeats {
  readonly driver: ProtocolDriver<LivenessTypes>;
  private readonly pending = new Map<number, (outcome: HeartbeatOutcome) => void>();
  private nextRequestId = 1;
  private readonly unlisten: () => void;
  private readonly clock: Clock;

  constructor(opts: {
    config: WorkerServerConfig;
    clock: Clock;
    rng: Rng;
    storage: Storage;
    view: StoreView;
    onMark(effect: MarkEffect): void;
    onTrace?(line: string): void;
    checkInvariants?: boolean;
  }) {
    this.clock = opts.clock;
    const output = (effect: OutputOf<LivenessTypes>): void => {
      if (effect.kind === 'mark') return opts.onMark(effect);
      const resolve = this.pending.get(effect.requestId);
      this.pending.delete(effect.requestId);
      resolve?.(effect.outcome);
    };
    this.driver = livenessDriver(
      { config: opts.config },
      {
        clock: opts.clock,
        rng: opts.rng,
        storage: opts.storage,
        checkInvariants: opts.checkInvariants ?? false,
        ...(opts.onTrace === undefined ? {} : { onTrace: opts.onTrace }),
      },
      output,
    );
    const toChange = (id: string, status: string | undefined, modRevision: number): RecordChange =>
      status === undefined
        ? { id, removed: true, modRevision }
        : { id, status: status as 'registered', modRevision };
    const initial = [...opts.view.workers.values()].map((w) =>
      toChange(w.id, w.status, w.modRevision),
    );
    if (initial.length > 0) this.input({ kind: 'records', changes: initial });
    this.unlisten = opts.view.listen({
      workers: (changes) =>
        this.input({
          kind: 'records',
          changes: changes.map((c) =>
            toChange(c.id, c.record?.status, c.record?.modRevision ?? c.modRevision),
          ),
        }),
    });
    this.driver.start();
  }

  private input(partial: Record<string, unknown> & { kind: string }): void {
    this.driver.input({ ...partial, now: this.clock.now() } as never);
  }

  heartbeat(id: string): Promise<HeartbeatOutcome> {
    return new Promise((resolve) => {
      const requestId = this.nextRequestId++;
      this.pending.set(requestId, resolve);
      this.input({ kind: 'heartbeat', id, requestId });
    });
  }

  lead(term: number): void {
    this.input({ kind: 'lead', term });
  }

  unlead(): void {
    this.input({ kind: 'unlead' });
  }

  marked(id: string, applied: boolean): void {
    this.input({ kind: 'marked', id, applied });
  }

  get leading(): boolean {
    return this.driver.state.leading;
  }

  close(): void {
    this.unlisten();
    this.driver.stop();
    for (const resolve of this.pending.values()) resolve({ kind: 'refused', reason: 'not-leader' });
    this.pending.clear();
  }
}

/** Sends a batch of worker ids to the leader; per id the TTL, or the refusal. */
export type ForwardCall = (
  leaderId: string,
  workerIds: readonly string[],
) => Promise<{ workerId: string; ttlMs: number; refused: string }[]>;

/** Batches a follower's heartbeats to the leader. */
export class HeartbeatForwarder {
  private queue: {
    leaderId: string;
    workerId: string;
    done: (o: HeartbeatOutcome | 'no-leader') => void;
  }[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  forwarded = 0;
  failedBatches = 0;

  constructor(private readonly call: ForwardCall) {}

  forward(leaderId: string, workerId: string): Promise<HeartbeatOutcome | 'no-leader'> {
    if (this.queue.length >= FORWARD_PENDING_MAX) return Promise.resolve('no-leader');
    return new Promise((done) => {
      this.queue.push({ leaderId, workerId, done });
      if (this.queue.length >= FORWARD_BATCH_MAX) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), FORWARD_FLUSH_MS);
    });
  }

  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    const byLeader = new Map<string, typeof batch>();
    for (const item of batch)
      byLeader.set(item.leaderId, [...(byLeader.get(item.leaderId) ?? []), item]);
    for (const [leaderId, items] of byLeader) {
      this.forwarded += items.length;
      this.call(
        leaderId,
        items.map((i) => i.workerId),
      ).then(
        (results) => {
          const byId = new Map(results.map((r) => [r.workerId, r]));
          for (const item of items) {
            const r = byId.get(item.workerId);
            if (r === undefined || r.refused === 'not-leader') item.done('no-leader');
            else if (r.refused !== '') item.done({ kind: 'refused', reason: 'unknown-worker' });
            else item.done({ kind: 'ok', ttlMs: r.ttlMs });
          }
        },
        () => {
          this.failedBatches++;
          for (const item of items) item.done('no-leader');
        },
      );
    }
  }

  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const item of this.queue) item.done('no-leader');
    this.queue = [];
  }
}
