/**
 * Requests only the Raft leader can serve (docs/design/raft-kv.md, "How a request travels"):
 * proposals, lease keep-alives and time-to-live (the lessor lives on the leader), configuration
 * changes and transfers. `serve` runs one on this member when it leads, for a local caller or a
 * member that forwarded it through the node channel; `call` sends one to the leader (this
 * member or another), retrying the refusals that say "not here, not now" until its deadline.
 *
 * What may be retried depends on the request: a keep-alive or a time-to-live asks nothing twice
 * (retried on any refusal); a configuration change or a transfer is retried only when it was
 * refused with nothing done (`not-leader`, `no-leader`, `transferring`, `change-pending`: another
 * change is still in progress), since a second `add` of the same member is not the first one
 * again. Proposals do not come here: raft-kv-proposals.ts retries
 * them with their session. A transfer to the member that leads is done already: answered `ok`
 * (it was ERR_INVALID_ARGUMENT, and `shoal raft transfer` exited 2 when an election had moved
 * leadership to the target before the request came: test/cli/raft-agents.test.ts under load).
 */
import type { Address } from '../base/address.js';
import { ShoalError, type ErrorCode } from '../base/errors.js';
import { ms, type Clock } from '../base/time.js';
import type { NodeId } from '../identity/node-id.js';
import { leaseId } from '../kv/types.js';
import type { RaftState, RequestFailure, RequestOutcome } from '../raft/types.js';
import type { CancelSignal } from './kv-service.js';
import type { CoreRequests } from './raft-core-requests.js';
import type { LeaderLessor } from './raft-kv-lessor.js';
import type { RaftRpc, RpcArgs, RpcOutcome } from './raft-rpc.js';

/**
 * Refusals that mean nothing was done: the request reached no leader, or the leader could not
 * take it yet (another membership change is in progress): always safe to send again.
 */
const NOT_SERVED: ReadonlySet<RequestFailure> = new Set([
  'not-leader',
  'no-leader',
  'transferring',
  'change-pending',
]);

/** The error a caller sees for a refusal that ends its request. */
export function refusalError(reason: RequestFailure, message: string): ShoalError {
  const codes: Record<RequestFailure, ErrorCode> = {
    'not-leader': 'ERR_NOT_LEADER',
    'no-leader': 'ERR_NO_LEADER',
    transferring: 'ERR_NO_LEADER',
    dropped: 'ERR_TIMEOUT',
    unknown: 'ERR_TIMEOUT',
    timeout: 'ERR_TIMEOUT',
    'too-large': 'ERR_TOO_LARGE',
    'queue-full': 'ERR_QUEUE_FULL',
    'change-pending': 'ERR_CHANGE_PENDING',
    invalid: 'ERR_INVALID_ARGUMENT',
  };
  return new ShoalError(codes[reason], message);
}

/** The core's outcome of a proposal or change as the node channel carries it. */
export function toRpcOutcome(outcome: RequestOutcome): RpcOutcome {
  if (outcome.ok) return { kind: 'ok', value: outcome.index, term: outcome.term };
  return {
    kind: 'refused',
    reason: outcome.reason,
    message: outcome.detail,
    ...(outcome.leader === undefined ? {} : { leader: outcome.leader.address }),
  };
}

export interface LeaderCallsOptions {
  clock: Clock;
  state: () => RaftState;
  core: () => CoreRequests;
  rpc: RaftRpc;
  lessor: LeaderLessor;
  /** Resolves once this member applied everything committed before the call (a ReadIndex). */
  barrier: () => Promise<void>;
  /** Clears a lease's checkpoint through the log (a keep-alive of a checkpointed lease waits for it). */
  clearCheckpoint: (lease: number) => Promise<void>;
  transferTimeoutMs: number;
  retryDelayMs: number;
}

export class LeaderCalls {
  constructor(private readonly opts: LeaderCallsOptions) {}

  private notLeader(): RpcOutcome {
    const leader = this.opts.state().leader;
    return {
      kind: 'refused',
      reason: leader === undefined ? 'no-leader' : 'not-leader',
      message: 'this member is not the Raft leader',
      ...(leader === undefined ? {} : { leader: leader.address }),
    };
  }

  /**
   * Serves `args` on this member if it leads. `member` says whether the sender is in the
   * configuration: a stranger may only ask to add itself (a join).
   */
  async serve(
    args: RpcArgs,
    from: { id: NodeId; address: Address },
    member: boolean,
  ): Promise<RpcOutcome> {
    const selfJoin =
      args.op === 'change' &&
      args.change.op === 'add' &&
      args.change.address === from.address &&
      args.change.id === from.id;
    if (!member && !selfJoin)
      return {
        kind: 'error',
        code: 'ERR_INVALID_ARGUMENT',
        message: `${from.address} is not a member of this cluster`,
      };
    if (this.opts.state().role !== 'leader') return this.notLeader();
    switch (args.op) {
      case 'propose':
        return toRpcOutcome(await this.opts.core().propose(args.data));
      case 'change':
        return toRpcOutcome(await this.opts.core().change(args.change));
      case 'transfer': {
        // Already here: nothing to move. A caller that picked the target from a view taken
        // before an election (a loaded machine re-elects) asked for exactly this.
        if (args.to === this.opts.state().selfId)
          return { kind: 'ok', value: 0, term: this.opts.state().term };
        const done = await this.opts.core().transfer(args.to, this.opts.transferTimeoutMs);
        return done.ok
          ? { kind: 'ok', value: 0, term: this.opts.state().term }
          : { kind: 'refused', reason: done.reason, message: done.detail };
      }
      case 'keep-alive':
        return this.keepAlive(args.lease);
      case 'time-to-live': {
        const remaining = this.opts.lessor.remainingMs(leaseId(args.lease));
        return {
          kind: 'ok',
          value: remaining === undefined ? 0 : remaining + 1,
          term: this.opts.state().term,
        };
      }
    }
  }

  private async keepAlive(lease: number): Promise<RpcOutcome> {
    let outcome = this.opts.lessor.keepAlive(leaseId(lease));
    if (outcome.kind === 'error' && outcome.code === 'ERR_LEASE_NOT_FOUND') {
      // A new leader may not have applied a grant its predecessor committed: "not found" only
      // once this leader applied everything committed before the keep-alive came (a ReadIndex).
      await this.opts.barrier();
      outcome = this.opts.lessor.keepAlive(leaseId(lease));
    }
    if (outcome.kind === 'not-leader') return this.notLeader();
    if (outcome.kind === 'error')
      return { kind: 'error', code: outcome.code, message: outcome.message };
    if (outcome.clearCheckpoint) await this.opts.clearCheckpoint(lease);
    return { kind: 'ok', value: outcome.ttlMs, term: this.opts.state().term };
  }

  /**
   * Sends `args` to the leader (served here when this member leads) until it is answered or
   * `deadlineMs` passes; resolves with the `ok` outcome or throws the refusal's error.
   */
  async call(
    args: RpcArgs,
    what: string,
    deadlineMs: number,
    signal?: CancelSignal,
  ): Promise<Extract<RpcOutcome, { kind: 'ok' }>> {
    const retryAny = args.op === 'keep-alive' || args.op === 'time-to-live';
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted === true) throw new ShoalError('ERR_ABORTED', `${what} aborted`);
      const state = this.opts.state();
      const remainingMs = deadlineMs - this.opts.clock.now();
      if (state.leader === undefined && attempt === 0)
        throw new ShoalError('ERR_NO_LEADER', 'no Raft leader is known right now; retry later');
      const outcome: RpcOutcome =
        state.leader === undefined
          ? { kind: 'refused', reason: 'no-leader', message: 'no Raft leader is known' }
          : state.role === 'leader'
            ? await this.serve(args, { id: state.selfId, address: state.selfAddress }, true)
            : await this.opts.rpc.call(state.leader.address, args, Math.max(1, remainingMs));
      if (outcome.kind === 'ok') return outcome;
      if (outcome.kind === 'error')
        throw new ShoalError(outcome.code, `${what}: ${outcome.message}`);
      const again = retryAny
        ? outcome.reason !== 'too-large' && outcome.reason !== 'invalid'
        : NOT_SERVED.has(outcome.reason);
      if (!again || this.opts.clock.now() + this.opts.retryDelayMs >= deadlineMs)
        throw refusalError(outcome.reason, `${what}: ${outcome.message}`);
      await new Promise<void>((resolve) =>
        this.opts.clock.setTimer(ms(this.opts.retryDelayMs), resolve),
      );
    }
  }
}
