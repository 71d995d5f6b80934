/**
 * `mode: { kind: 'raft', join: [...] }`: a new member asks an existing one to add it
 * (docs/design/raft-kv.md, "Joining"). It sends "add me" (its address and NodeId, as a voter:
 * the leader stages it as a learner until it has caught up, thesis §4.2.1) through the node
 * channel to a join address; a member that does not lead answers with the leader's address,
 * and the next attempt goes there. It stops as soon as the configuration in force (from its
 * log) names it, and gives up after JOIN_TIMEOUT_MS, reporting why (`joinStatus`, the agent's
 * /v1/health). A restarted member whose log already names it never asks.
 */
import type { Address } from '../base/address.js';
import { ms, type Clock, type TimerHandle } from '../base/time.js';
import type { NodeId } from '../identity/node-id.js';
import type { RaftRpc, RpcOutcome } from './raft-rpc.js';
import type { JoinStatus } from './swim-joins.js';

/** Pause between two join attempts, ms. */
export const JOIN_RETRY_MS = 1_000;
/** How long one attempt waits for its answer, ms (the leader answers once the change applied). */
export const JOIN_ATTEMPT_TIMEOUT_MS = 10_000;
/** A member not added within this long stops asking, ms. */
export const JOIN_TIMEOUT_MS = 300_000;

export class RaftJoin {
  private status: JoinStatus;
  private timer: TimerHandle | undefined;
  private next = 0;
  private hinted: Address | undefined;
  private readonly startMs: number;
  private stopped = false;

  constructor(
    private readonly opts: {
      rpc: RaftRpc;
      clock: Clock;
      self: { id: NodeId; address: Address };
      addresses: readonly Address[];
      /** Whether the configuration in force names this member. */
      isMember: () => boolean;
    },
  ) {
    this.startMs = opts.clock.now();
    this.status = { joined: false, reason: 'joining', detail: 'asking to be added' };
  }

  joinStatus(): JoinStatus {
    if (this.opts.isMember()) return { joined: true };
    return this.status;
  }

  start(): void {
    if (this.opts.isMember() || this.opts.addresses.length === 0) return;
    this.attempt();
  }

  private attempt(): void {
    if (this.stopped || this.opts.isMember()) return;
    if (this.opts.clock.now() - this.startMs > JOIN_TIMEOUT_MS) {
      this.status = {
        joined: false,
        reason: 'unreachable',
        detail: `not added within ${JOIN_TIMEOUT_MS} ms through ${this.opts.addresses.join(', ')}: ${this.status.joined ? '' : this.status.detail}`,
      };
      return;
    }
    const to =
      this.hinted ?? (this.opts.addresses[this.next++ % this.opts.addresses.length] as Address);
    this.hinted = undefined;
    const { self } = this.opts;
    void this.opts.rpc
      .call(
        to,
        { op: 'change', change: { op: 'add', address: self.address, id: self.id, as: 'voter' } },
        JOIN_ATTEMPT_TIMEOUT_MS,
      )
      .then((outcome) => this.onOutcome(to, outcome));
  }

  private onOutcome(to: Address, outcome: RpcOutcome): void {
    if (this.stopped) return;
    if (outcome.kind === 'ok') {
      this.status = {
        joined: false,
        reason: 'joining',
        detail: `added by ${to}; waiting for the leader's log`,
      };
    } else {
      if (outcome.kind === 'refused' && outcome.leader !== undefined) this.hinted = outcome.leader;
      const why = outcome.kind === 'refused' ? outcome.reason : outcome.code;
      this.status = {
        joined: false,
        reason: 'joining',
        detail: `${to} answered ${why}: ${outcome.message}`,
      };
    }
    this.timer = this.opts.clock.setTimer(ms(JOIN_RETRY_MS), () => this.attempt());
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }
}
