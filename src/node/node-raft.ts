/**
 * `node.raft` (INTERFACE.md, "Replicated store"): the Raft status of a `raft` member and its
 * membership changes and leadership transfers, from any member (a follower forwards them to the
 * leader through the node channel). One change at a time (ERR_CHANGE_PENDING while another runs,
 * thesis §4.1); a change of voters goes through joint consensus; `addMember` adds a voter that
 * catches up as a learner first (thesis §4.2.1); `{ learner: true }` adds a learner that stays
 * one until `promote`.
 */
import { splitAddress, type Address } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import type { NodeId } from '../identity/node-id.js';
import type { ConfigChange } from '../raft/types.js';
import type { RaftStatus } from './mode-raft.js';
import type { RaftKv } from './raft-kv.js';

const NODE_ID_RE = /^[0-9a-f]{32}$/;

function nodeIdArg(id: string, what: string): NodeId {
  if (!NODE_ID_RE.test(id))
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `${what}: ${JSON.stringify(id)} is not a NodeId (32 lowercase hex characters)`,
    );
  return id as NodeId;
}

function addressArg(address: string): Address {
  if (splitAddress(address) === undefined)
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `member address ${JSON.stringify(address)} must be host:port, the new member's cluster (--bind or --advertise) address`,
    );
  return address as Address;
}

export interface ChangeOptions {
  signal?: AbortSignal;
}

export class NodeRaft {
  constructor(
    private readonly kv: RaftKv,
    private readonly statusOf: () => RaftStatus,
    private readonly timeoutMs: number,
    private readonly now: () => number,
  ) {}

  /** Role, term, leader, commit and applied index, and the members with their match index (the leader's view). */
  status(): RaftStatus {
    return this.statusOf();
  }

  private async change(
    change: ConfigChange,
    what: string,
    options: ChangeOptions,
  ): Promise<{ index: number }> {
    const ok = await this.kv.leaderCalls.call(
      { op: 'change', change },
      what,
      this.now() + this.timeoutMs,
      options.signal,
    );
    return { index: ok.value };
  }

  /** Adds the member at `address` (its cluster address): a voter, or with `learner` a learner. */
  addMember(
    address: string,
    options: ChangeOptions & { learner?: boolean; id?: string } = {},
  ): Promise<{ index: number }> {
    const change: ConfigChange = {
      op: 'add',
      address: addressArg(address),
      as: options.learner === true ? 'learner' : 'voter',
      ...(options.id === undefined ? {} : { id: nodeIdArg(options.id, 'id') }),
    };
    return this.change(change, `add ${address}`, options);
  }

  addLearner(address: string, options: ChangeOptions = {}): Promise<{ index: number }> {
    return this.addMember(address, { ...options, learner: true });
  }

  /** Makes a learner a voter (refused while it is far behind the leader's log). */
  promote(id: string, options: ChangeOptions = {}): Promise<{ index: number }> {
    return this.change({ op: 'promote', id: nodeIdArg(id, 'promote') }, `promote ${id}`, options);
  }

  /** Removes a member (the leader too: it steps down once the change commits, thesis §4.2.2). */
  removeMember(id: string, options: ChangeOptions = {}): Promise<{ index: number }> {
    return this.change({ op: 'remove', id: nodeIdArg(id, 'remove') }, `remove ${id}`, options);
  }

  /** Moves leadership to voter `id` (thesis §3.10); resolves once it leads. */
  async transferLeadership(id: string, options: ChangeOptions = {}): Promise<void> {
    const to = nodeIdArg(id, 'transfer');
    await this.kv.leaderCalls.call(
      { op: 'transfer', to },
      `transfer to ${id}`,
      this.now() + this.timeoutMs,
      options.signal,
    );
  }
}
