/**
 * The replicated key-value store of a `raft` member: the KvService (kv-service.ts) that
 * `node.kv`, the agent's HTTP routes and the etcd gRPC endpoint sit on, implemented over this
 * member's Raft core and its replica of the MVCC state machine (docs/design/raft-kv.md).
 *
 * - Writes (put, delete, txn with writes, compact, lease grant and revoke) are proposed with a
 *   session and answered when they apply here (raft-kv-proposals.ts).
 * - Linearizable reads wait for a ReadIndex this member has applied (raft-kv-reads.ts);
 *   serializable reads read the replica at once; a txn whose branches only read is a read.
 * - Leases expire on the leader's lessor (raft-kv-lessor.ts); keep-alives and time-to-live go
 *   to the leader (raft-leader-calls.ts).
 * - Watches read the replica's registry (raft-kv-watches.ts).
 * Every answer carries etcd's header: cluster id, this member's id, the revision, the term.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Address } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import type { Clock } from '../base/time.js';
import type { Rng } from '../base/rng.js';
import type { NodeId } from '../identity/node-id.js';
import { validateCommand, randomLeaseId } from '../kv/commands.js';
import type { KvConfig, LessorConfig, WatchConfig } from '../kv/config.js';
import { lease, leases, range as readRange } from '../kv/store.js';
import type { WriteTxn } from '../kv/state.js';
import {
  leaseId,
  type ApplyOutput,
  type KvOp,
  type KvResult,
  type LeaseId,
  type Revision,
  type TxnRequest,
} from '../kv/types.js';
import { doTxn } from '../kv/write.js';
import type { RaftConfig } from '../raft/config.js';
import type { RaftEffect, RaftState } from '../raft/types.js';
import type {
  CancelSignal,
  KvCallOptions,
  KvHeader,
  KvMember,
  KvService,
  KvStatus,
  ReadConsistency,
  WatchOptions,
} from './kv-service.js';
import { memberIdOf } from './kv-service.js';
import { CoreRequests, type CoreInputs } from './raft-core-requests.js';
import { KvMachine } from './raft-kv-machine.js';
import { LeaderLessor } from './raft-kv-lessor.js';
import { Proposals } from './raft-kv-proposals.js';
import { Reads } from './raft-kv-reads.js';
import { Watches } from './raft-kv-watches.js';
import { LeaderCalls, toRpcOutcome } from './raft-leader-calls.js';
import type { ConfigSlot, RaftPeers } from './raft-peers.js';
import type { RaftRpc } from './raft-rpc.js';
import { SHOAL_VERSION } from './version.js';

/** Attempts at a random lease id before giving up (a collision among 2^52 ids is rare). */
export const LEASE_ID_ATTEMPTS = 8;

/** etcd's cluster_id for a Shoal cluster: the first 8 bytes of SHA-256 of the cluster id, decimal. */
export function etcdClusterIdOf(clusterId: string): string {
  const digest = createHash('sha256').update(clusterId).digest();
  return digest.readBigUInt64BE(0).toString();
}

/** Whether every operation of `txn`, nested ones included, only reads. */
export function readOnlyTxn(txn: TxnRequest): boolean {
  return [...txn.success, ...txn.failure].every(
    (op) => op.kind === 'range' || (op.kind === 'txn' && readOnlyTxn(op.request)),
  );
}

export interface RaftKvOptions {
  selfId: NodeId;
  /** This member's name (etcd's MemberList). */
  name: string;
  clusterId: string;
  clock: Clock;
  rng: Rng;
  raft: RaftConfig;
  kv: KvConfig;
  watch: WatchConfig;
  lessor: LessorConfig;
  rpc: RaftRpc;
  peers: (kv: RaftKv) => RaftPeers;
  /** Deadline of one request, ms (docs/design/raft-kv.md, "What a timeout means"). */
  requestTimeoutMs: number;
  /** Pause before a refused attempt is sent again, ms. */
  retryDelayMs: number;
}

function fail(result: KvResult): never {
  if (result.kind !== 'error') throw new Error(`unexpected ${result.kind} result`);
  throw new ShoalError(result.code, result.message);
}

function expect<K extends KvResult['kind']>(
  output: ApplyOutput,
  kind: K,
): Extract<KvResult, { kind: K }> {
  if (output.result.kind !== kind) fail(output.result);
  return output.result as Extract<KvResult, { kind: K }>;
}

export class RaftKv implements KvService {
  readonly machine: KvMachine;
  readonly proposals: Proposals;
  readonly reads: Reads;
  readonly lessor: LeaderLessor;
  readonly watches: Watches;
  readonly leaderCalls: LeaderCalls;
  readonly peers: RaftPeers;
  private readonly memberId: string;
  private readonly clusterIdText: string;
  private stateOf: (() => RaftState) | undefined;
  private requests: CoreRequests | undefined;
  private lastLeaderKey: string | undefined;
  private dbSize = { appliedIndex: -1, bytes: 0, atMs: -Infinity };
  /** This process life's random stream (lease ids): `opts.rng` forked by the life id. */
  private readonly rng: Rng;

  constructor(private readonly opts: RaftKvOptions) {
    const { clock, raft } = opts;
    // This process life's id: 64 bits from the OS, never from `opts.rng`, whose seed (NodeId +
    // monotonic ms at boot) repeats when a restart boots in the same millisecond. A new life
    // then names new lane sessions: it never writes seq 1 on a session an old life took past 1
    // (docs/design/raft-kv.md, "Sessions and lanes"), nor redraws the old life's lease ids.
    const lifeId = randomBytes(8).toString('hex');
    this.rng = opts.rng.fork(`life:${lifeId}`);
    this.memberId = memberIdOf(opts.selfId);
    this.clusterIdText = etcdClusterIdOf(opts.clusterId);
    this.machine = new KvMachine(opts.kv, opts.watch, clock, {
      onResult: (key, output) => this.proposals.onResult(key, output),
      onWatchers: (ids) => this.watches.wake(ids),
      onLeaseChanges: (output) => this.lessor.onLeaseChanges(output.leaseChanges),
      onRestored: () => this.proposals.onRestored(),
      onOutcome: (outcome) => this.core().onOutcome(outcome),
    });
    const retryDelayMs = opts.retryDelayMs;
    this.proposals = new Proposals({
      route: {
        leaderKey: () => this.leaderKey(),
        send: (data, timeoutMs) => this.sendProposal(data, timeoutMs),
      },
      clock,
      config: opts.kv,
      clientIdPrefix: `${opts.selfId.slice(0, 16)}.${lifeId}`,
      timeoutMs: opts.requestTimeoutMs,
      retryDelayMs,
      leaderWaitMs: raft.electionTimeoutMaxMs,
      pendingMax: raft.pendingRequestsMax,
    });
    this.reads = new Reads({
      clock,
      readIndex: () => this.core().read(),
      hasLeader: () => this.state().leader !== undefined,
      timeoutMs: opts.requestTimeoutMs,
      retryDelayMs,
      pendingMax: raft.pendingRequestsMax,
    });
    this.lessor = new LeaderLessor(opts.lessor, {
      clock,
      propose: (op) => void this.proposeUntracked(op),
    });
    this.watches = new Watches(this.machine, () => this.header());
    this.leaderCalls = new LeaderCalls({
      clock,
      state: () => this.state(),
      core: () => this.core(),
      rpc: opts.rpc,
      lessor: this.lessor,
      barrier: () => this.reads.wait('keep-alive'),
      clearCheckpoint: async (id) => {
        await this.proposals.submit({
          kind: 'lease-checkpoint',
          checkpoints: [{ id: leaseId(id), remainingTtlMs: 0 }],
        });
      },
      transferTimeoutMs: 2 * raft.electionTimeoutMaxMs,
      retryDelayMs,
    });
    this.peers = opts.peers(this);
  }

  /** The deadline of one request, ms. */
  get requestTimeoutMs(): number {
    return this.opts.requestTimeoutMs;
  }

  /** Connects the Raft core (the driver exists only once the machine does). */
  attach(state: () => RaftState, inputs: CoreInputs): void {
    this.stateOf = state;
    this.requests = new CoreRequests(inputs, this.opts.clock);
  }

  state(): RaftState {
    if (this.stateOf === undefined) throw new Error('raft kv used before attach');
    return this.stateOf();
  }

  core(): CoreRequests {
    if (this.requests === undefined) throw new Error('raft kv used before attach');
    return this.requests;
  }

  private leaderKey(): string | undefined {
    const s = this.state();
    return s.leader === undefined ? undefined : `${s.leader.id}@${s.term}`;
  }

  /** The configuration's slots, with the NodeId that speaks for each. */
  slots(): ConfigSlot[] {
    const s = this.state();
    const { members, outgoing } = s.membership.config;
    const seen = new Map<Address, ConfigSlot>();
    for (const m of [...members, ...(outgoing ?? [])]) {
      if (seen.has(m.address)) continue;
      const id = m.address === s.selfAddress ? s.selfId : (m.id ?? s.idAt.get(m.address));
      seen.set(m.address, { address: m.address, id, role: m.role });
    }
    return [...seen.values()];
  }

  /** Whether `address` is a slot of the configuration in force, and `id` (when given) speaks for it. */
  isMember(address: Address, id?: NodeId): boolean {
    return this.slots().some(
      (slot) =>
        slot.address === address && (id === undefined || slot.id === undefined || slot.id === id),
    );
  }

  /**
   * Whether a Raft message from `id` at `address` may reach the core (docs/security.md, "Raft
   * mode"): from a member of the configuration in force (the latest in the log, joint and
   * learners included; `isMember`), or from anyone while this node knows no configuration yet
   * (a fresh joiner before its first append or snapshot: the bootstrap window).
   */
  hearsRaftFrom(address: Address, id: NodeId): boolean {
    if (this.stateOf === undefined) return false;
    const { members, outgoing } = this.state().membership.config;
    if (members.length === 0 && (outgoing ?? []).length === 0) return true;
    return this.isMember(address, id);
  }

  // ---- Raft-facing ----

  /** A `leader` report of the core: the lessor follows leadership; waiting requests move. */
  onLeader(effect: Extract<RaftEffect, { kind: 'leader' }>): void {
    this.core().onLeader(effect);
    if (effect.role === 'leader' && !this.lessor.primary) {
      const records = leases(this.machine.state).map((l) => ({
        id: l.id,
        ttlMs: l.ttlMs,
        remainingTtlMs: l.remainingTtlMs,
      }));
      this.lessor.promote(records, this.opts.raft.electionTimeoutMaxMs);
    } else if (effect.role !== 'leader' && this.lessor.primary) this.lessor.demote();
    const key = this.leaderKey();
    if (key !== this.lastLeaderKey) {
      this.lastLeaderKey = key;
      this.proposals.onLeaderChange();
      this.reads.onLeaderChange();
    }
  }

  private async sendProposal(data: Uint8Array, timeoutMs: number) {
    const s = this.state();
    if (s.role === 'leader') return toRpcOutcome(await this.core().propose(data));
    if (s.leader === undefined)
      return { kind: 'refused', reason: 'no-leader', message: 'no Raft leader is known' } as const;
    return this.opts.rpc.call(s.leader.address, { op: 'propose', data }, timeoutMs);
  }

  /** A lessor command on the leader: proposed without a waiter (the lessor proposes again if lost). */
  private proposeUntracked(op: KvOp): void {
    const s = this.state();
    if (s.role !== 'leader') return;
    void this.proposals
      .submit(op, { timeoutMs: this.opts.lessor.revokeRetryMs })
      .catch(() => undefined);
  }

  // ---- headers and status ----

  header(revision?: Revision): KvHeader {
    return {
      clusterId: this.clusterIdText,
      memberId: this.memberId,
      revision: revision ?? this.machine.state.mvcc.revision,
      raftTerm: this.stateOf === undefined ? 0 : this.state().term,
    };
  }

  // ---- KvService ----

  private deadline(options: { timeoutMs?: number } | undefined): number {
    return this.opts.clock.now() + (options?.timeoutMs ?? this.opts.requestTimeoutMs);
  }

  private async write(op: KvOp, options?: KvCallOptions): Promise<ApplyOutput> {
    return this.proposals.submit(op, { session: options?.session, signal: options?.signal });
  }

  private async readBarrier(
    what: string,
    consistency: ReadConsistency | undefined,
    signal?: CancelSignal,
  ) {
    if (signal?.aborted === true) throw new ShoalError('ERR_ABORTED', `${what} aborted`);
    if (consistency !== 'serializable') await this.reads.wait(what, signal);
  }

  async put(request: Parameters<KvService['put']>[0], options?: KvCallOptions) {
    const result = expect(await this.write({ kind: 'put', request }, options), 'put');
    return { ...result, header: this.header(result.revision) };
  }

  async range(
    request: Parameters<KvService['range']>[0],
    options?: KvCallOptions & { consistency?: ReadConsistency },
  ) {
    await this.readBarrier('range', options?.consistency, options?.signal);
    const result = readRange(this.machine.state, request);
    if (result.kind === 'error') fail(result);
    return { ...result, header: this.header(result.revision) };
  }

  async deleteRange(request: Parameters<KvService['deleteRange']>[0], options?: KvCallOptions) {
    const result = expect(
      await this.write({ kind: 'delete-range', request }, options),
      'delete-range',
    );
    return { ...result, header: this.header(result.revision) };
  }

  async txn(request: TxnRequest, options?: KvCallOptions & { consistency?: ReadConsistency }) {
    if (!readOnlyTxn(request)) {
      const result = expect(await this.write({ kind: 'txn', request }, options), 'txn');
      return { ...result, header: this.header(result.revision) };
    }
    const invalid = validateCommand({ op: { kind: 'txn', request } }, this.opts.kv);
    if (invalid !== undefined) fail(invalid);
    await this.readBarrier('txn', options?.consistency, options?.signal);
    const state = this.machine.state;
    // A read-only txn writes nothing: run on a write transaction that is never committed.
    const w: WriteTxn = {
      state,
      main: (state.mvcc.revision + 1) as Revision,
      sub: 0,
      events: [],
      leaseChanges: [],
    };
    const result = doTxn(w, request);
    if (result.kind === 'error') fail(result);
    return { ...result, header: this.header(result.revision) };
  }

  async compact(revision: number, options?: KvCallOptions) {
    const result = expect(
      await this.write({ kind: 'compact', revision: revision as Revision }, options),
      'compact',
    );
    return { header: this.header(result.revision) };
  }

  watch(options: WatchOptions) {
    return this.watches.watch(options);
  }

  async leaseGrant(ttlMs: number, options?: KvCallOptions & { id?: LeaseId }) {
    for (let attempt = 1; ; attempt++) {
      const id = options?.id ?? randomLeaseId((bound) => this.rng.int(bound));
      const output = await this.write({ kind: 'lease-grant', id, ttlMs }, options);
      const result = output.result;
      const retry = options?.id === undefined && attempt < LEASE_ID_ATTEMPTS;
      if (retry && result.kind === 'error' && result.code === 'ERR_LEASE_EXISTS') continue;
      const granted = expect(output, 'lease-grant');
      return { id: granted.id, ttlMs: granted.ttlMs, header: this.header(granted.revision) };
    }
  }

  async leaseRevoke(id: LeaseId, options?: KvCallOptions) {
    const result = expect(await this.write({ kind: 'lease-revoke', id }, options), 'lease-revoke');
    return { header: this.header(result.revision) };
  }

  async leaseKeepAlive(id: LeaseId, options?: KvCallOptions) {
    const ok = await this.leaderCalls.call(
      { op: 'keep-alive', lease: id },
      `keep-alive of lease ${id}`,
      this.deadline(undefined),
      options?.signal,
    );
    return { id, ttlMs: ok.value, header: this.header() };
  }

  async leaseTimeToLive(id: LeaseId, options?: KvCallOptions & { keys?: boolean }) {
    await this.readBarrier('lease time-to-live', 'linearizable', options?.signal);
    const info = lease(this.machine.state, id, options?.keys === true);
    if (info === undefined)
      return { id, remainingMs: -1, grantedTtlMs: 0, keys: [], header: this.header() };
    const ok = await this.leaderCalls.call(
      { op: 'time-to-live', lease: id },
      `time-to-live of lease ${id}`,
      this.deadline(undefined),
      options?.signal,
    );
    // 0: the leader's lessor does not track it (granted after it last looked): its full TTL.
    const remainingMs = ok.value === 0 ? info.ttlMs : ok.value - 1;
    return {
      id,
      remainingMs,
      grantedTtlMs: info.ttlMs,
      keys: [...info.keys],
      header: this.header(),
    };
  }

  async leases(options?: KvCallOptions) {
    await this.readBarrier('leases', 'linearizable', options?.signal);
    return { ids: leases(this.machine.state).map((l) => l.id), header: this.header() };
  }

  async members() {
    const self = this.opts.selfId;
    const urls = this.peers.selfUrls;
    const members: KvMember[] = [];
    for (const slot of this.slots()) {
      if (slot.id === undefined) continue;
      const peer = slot.id === self ? undefined : this.peers.peer(slot.id);
      const grpcUrls = slot.id === self ? urls.grpc : (peer?.grpcUrls ?? []);
      const httpUrls = slot.id === self ? urls.http : (peer?.httpUrls ?? []);
      members.push({
        id: slot.id,
        memberId: memberIdOf(slot.id),
        name: slot.id === self ? this.opts.name : (peer?.name ?? slot.address),
        address: slot.address,
        clientUrls: [...httpUrls, ...grpcUrls],
        grpcUrls: [...grpcUrls],
        learner: slot.role !== 'voter',
      });
    }
    return { members, header: this.header() };
  }

  async status(): Promise<KvStatus> {
    const s = this.state();
    return {
      header: this.header(),
      leader: s.leader?.id,
      raftIndex: s.commitIndex,
      raftAppliedIndex: s.appliedIndex,
      dbSizeBytes: this.dbSizeBytes(),
      version: SHOAL_VERSION,
    };
  }

  /** An estimate of the store's bytes (keys and values of the history kept), at most once a second. */
  private dbSizeBytes(): number {
    const now = this.opts.clock.now();
    const state = this.machine.state;
    if (this.dbSize.appliedIndex === state.appliedIndex || now - this.dbSize.atMs < 1000)
      return this.dbSize.bytes;
    let bytes = 0;
    for (const record of state.mvcc.log) bytes += record.kv.key.length + record.kv.value.length;
    this.dbSize = { appliedIndex: state.appliedIndex, bytes, atMs: now };
    return bytes;
  }

  /** Stops everything: waiting requests fail, watches end. */
  close(): void {
    this.proposals.close();
    this.reads.close();
    this.lessor.close();
    this.watches.close();
    this.peers.close();
    this.machine.close();
    this.requests?.close();
    this.opts.rpc.close();
  }
}
