/**
 * Requests to this member's own Raft core as promises: a proposal, a ReadIndex, a
 * configuration change and a leadership transfer, each answered by the core's outcome effect
 * for its request id (docs/design/raft.md, "Interface with the state machine and the node").
 *
 * The core answers every proposal and configuration change exactly once and every read once;
 * a transfer has no request id: it ends when a `leader` report names the target (success), a
 * `transfer-failed` names it, or after `timeoutMs`. Nothing here retries: callers decide.
 */
import { ms, type Clock } from '../base/time.js';
import type { NodeId } from '../identity/node-id.js';
import type { RaftOutcome } from '../raft/application.js';
import type {
  ConfigChange,
  LeaderHint,
  Proposal,
  RaftEffect,
  RequestFailure,
  RequestOutcome,
} from '../raft/types.js';

/** What a request to the core needs: the driver's inputs. */
export interface CoreInputs {
  propose(data: Uint8Array, requestId: number): void;
  /** One turn's proposals as one input (the core appends them as one entries record). */
  proposeBatch(proposals: readonly Proposal[]): void;
  read(requestId: number): void;
  changeConfig(change: ConfigChange, requestId: number): void;
  transferLeadership(to: NodeId): void;
}

export type ReadOutcome =
  | { readonly ok: true; readonly index: number }
  | {
      readonly ok: false;
      readonly reason: RequestFailure;
      readonly leader: LeaderHint | undefined;
    };

export type TransferOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: RequestFailure; readonly detail: string };

interface Transfer {
  readonly to: NodeId;
  readonly resolve: (outcome: TransferOutcome) => void;
}

/** Runs `callback` once the current turn of the event loop is done (after its I/O callbacks). */
export type Defer = (callback: () => void) => void;

/*
 * `setImmediate`, not `queueMicrotask`: the requests of one client arrive in separate reads, so
 * a batch per callback caught few of them (measured at load 45: 6.1 entries per fsync at put
 * c = 16 and 23.8 at c = 64, against 15.8 and 62.5 with a batch per turn; docs/benchmarks.md).
 */
const afterThisTurn: Defer = (callback) => void setImmediate(callback);

export class CoreRequests {
  private nextId = 1;
  /** Proposals of this turn, stepped as one input once the turn's I/O callbacks are done. */
  private batch: Proposal[] = [];
  private closed = false;
  private readonly proposals = new Map<number, (outcome: RequestOutcome) => void>();
  private readonly reads = new Map<number, (outcome: ReadOutcome) => void>();
  private readonly transfers = new Set<Transfer>();

  constructor(
    private readonly inputs: CoreInputs,
    private readonly clock: Clock,
    private readonly defer: Defer = afterThisTurn,
  ) {}

  /** Requests waiting for the core's answer. */
  get pending(): number {
    return this.proposals.size + this.reads.size + this.transfers.size;
  }

  /**
   * Proposes `data`. Proposals made in one turn of the event loop (every client request whose
   * bytes arrived in one poll) reach the core together, as ONE input, after the turn: one
   * append, one durable write and one message per follower for all of them, instead of one
   * step each (docs/design/raft-kv.md, "Batching").
   */
  propose(data: Uint8Array): Promise<RequestOutcome> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.proposals.set(id, resolve);
      this.batch.push({ data, requestId: id });
      if (this.batch.length === 1) this.defer(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    if (this.closed) return;
    const [only] = batch;
    if (batch.length === 1 && only !== undefined)
      this.inputs.propose(only.data, only.requestId as number);
    else if (batch.length > 1) this.inputs.proposeBatch(batch);
  }

  change(change: ConfigChange): Promise<RequestOutcome> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.proposals.set(id, resolve);
      this.inputs.changeConfig(change, id);
    });
  }

  read(): Promise<ReadOutcome> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.reads.set(id, resolve);
      this.inputs.read(id);
    });
  }

  transfer(to: NodeId, timeoutMs: number): Promise<TransferOutcome> {
    return new Promise((resolve) => {
      const transfer: Transfer = {
        to,
        resolve: (outcome) => {
          if (!this.transfers.delete(transfer)) return;
          timer.cancel();
          resolve(outcome);
        },
      };
      const timer = this.clock.setTimer(ms(timeoutMs), () =>
        transfer.resolve({
          ok: false,
          reason: 'timeout',
          detail: `leadership did not move to ${to} within ${timeoutMs} ms`,
        }),
      );
      this.transfers.add(transfer);
      this.inputs.transferLeadership(to);
    });
  }

  /** The core's answer to one of these requests. */
  onOutcome(outcome: RaftOutcome): void {
    switch (outcome.kind) {
      case 'propose-result':
      case 'config-result': {
        const resolve = this.proposals.get(outcome.requestId);
        this.proposals.delete(outcome.requestId);
        return resolve?.(outcome.outcome);
      }
      case 'read-ready': {
        const resolve = this.reads.get(outcome.requestId);
        this.reads.delete(outcome.requestId);
        return resolve?.({ ok: true, index: outcome.index });
      }
      case 'read-failed': {
        const resolve = this.reads.get(outcome.requestId);
        this.reads.delete(outcome.requestId);
        return resolve?.({ ok: false, reason: outcome.reason, leader: outcome.leader });
      }
      case 'transfer-failed':
        for (const t of [...this.transfers])
          if (t.to === outcome.to)
            t.resolve({ ok: false, reason: outcome.reason, detail: outcome.detail });
        return;
    }
  }

  /** A leader report: a transfer to the new leader succeeded. */
  onLeader(effect: Extract<RaftEffect, { kind: 'leader' }>): void {
    if (effect.leader === undefined) return;
    for (const t of [...this.transfers]) if (t.to === effect.leader.id) t.resolve({ ok: true });
  }

  /** Ends every waiting request (the node stopped): they resolve as lost (`unknown`). */
  close(): void {
    this.closed = true;
    const lost: RequestOutcome = {
      ok: false,
      reason: 'unknown',
      detail: 'the node stopped before the request was answered',
      leader: undefined,
    };
    for (const resolve of this.proposals.values()) resolve(lost);
    for (const resolve of this.reads.values())
      resolve({ ok: false, reason: 'unknown', leader: undefined });
    for (const t of [...this.transfers])
      t.resolve({ ok: false, reason: 'unknown', detail: 'the node stopped' });
    this.proposals.clear();
    this.reads.clear();
  }
}
