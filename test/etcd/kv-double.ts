/**
 * A KvService over the real state machine, for the etcd endpoint's tests and bench until `mode:
 * raft` implements the contract (a test double: it lives under test/, never in src/). One
 * KvState stands for the replicated store; every write is encoded as a log entry
 * (encodeCommand, so requestBytesMax and every validation apply) and applied with applyEntry,
 * as a replica applies a committed entry. The watch registry, the leader-side lessor (real time:
 * expired leases are revoked through the "log") and the watch progress rule are the real ones.
 *
 * Watches are the raft member's own (src/node/raft-kv-watches.ts) over the double's registry.
 *
 * It presents `members` virtual members sharing that one store: `service(i)` is member i's view
 * (its member id in every header), so three gRPC servers over one double look like a 3-member
 * cluster to etcdctl. Member 0 is the leader; the term is 1. Reads are served at once
 * (linearizable and serializable alike: there is one copy).
 */
import { randomBytes } from 'node:crypto';
import { ShoalError } from '../../src/base/errors.js';
import { ms, type Millis } from '../../src/base/time.js';
import { logIndex } from '../../src/base/units.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { encodeCommand } from '../../src/kv/codec.js';
import { randomLeaseId } from '../../src/kv/commands.js';
import { kvConfig, lessorConfig, watchConfig, type KvConfig } from '../../src/kv/config.js';
import type { WatchConfig } from '../../src/kv/config.js';
import {
  createLessor,
  dueWork,
  keepAlive,
  nextDeadline,
  onLeaseChanges,
  promote,
  remainingMs,
} from '../../src/kv/lessor.js';
import { applyEntry, createKvStore, lease, leases, range } from '../../src/kv/store.js';
import type { KvState } from '../../src/kv/store.js';
import {
  leaseId,
  type KvError,
  type KvOp,
  type KvResult,
  type LeaseId,
  type Revision,
} from '../../src/kv/types.js';
import { createWatchRegistry, onApplied, type WatchRegistry } from '../../src/kv/watch.js';
import { Watches } from '../../src/node/raft-kv-watches.js';
import {
  memberIdOf,
  type KvHeader,
  type KvMember,
  type KvService,
  type KvWatch,
  type WatchOptions,
} from '../../src/node/kv-service.js';

/** Attempts at a random lease id before giving up (a collision in 2^52 is rare). */
const LEASE_ID_ATTEMPTS = 8;

export interface KvDoubleOptions {
  members?: number;
  /** The members' NodeIds (random when absent). */
  nodeIds?: NodeId[];
  kv?: Partial<KvConfig>;
  watch?: Partial<WatchConfig>;
}

interface DoubleMember {
  readonly id: NodeId;
  readonly memberId: string;
  readonly name: string;
  readonly address: string;
  grpcUrls: string[];
}

function shoalError(error: KvError): ShoalError {
  return new ShoalError(error.code, error.message);
}

function checkSignal(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted === true) throw new ShoalError('ERR_ABORTED', `${what} aborted`);
}

export class KvDouble {
  readonly state: KvState;
  readonly registry: WatchRegistry;
  readonly members: DoubleMember[];
  readonly clusterId = BigInt(`0x${randomBytes(8).toString('hex')}`).toString();
  private readonly lessor = createLessor(lessorConfig());
  /** One per member view (each answers with its own member id); they share the registry. */
  private readonly watchViews: Watches[] = [];
  private index = 0;
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (the lessor's deadline it was armed for). */
  private timerAtMs = Infinity;
  private closed = false;
  private readonly startMs = performance.now();

  constructor(options: KvDoubleOptions = {}) {
    this.state = createKvStore(kvConfig(options.kv));
    this.registry = createWatchRegistry(watchConfig(options.watch));
    const count = options.members ?? options.nodeIds?.length ?? 1;
    this.members = Array.from({ length: count }, (_, i) => {
      const id = options.nodeIds?.[i] ?? (randomBytes(16).toString('hex') as NodeId);
      return {
        id,
        memberId: memberIdOf(id),
        name: `m${i}`,
        address: `127.0.0.1:${7000 + i}`,
        grpcUrls: [],
      };
    });
    promote(this.lessor, [], this.now(), 0);
  }

  now(): Millis {
    return ms(Math.floor(performance.now() - this.startMs));
  }

  /** Member i's KvService. */
  service(i: number): KvService {
    const member = this.members[i];
    if (member === undefined) throw new Error(`kv double: no member ${i}`);
    return new MemberView(this, member);
  }

  header(memberId: string): KvHeader {
    return { clusterId: this.clusterId, memberId, revision: this.state.mvcc.revision, raftTerm: 1 };
  }

  /** Applies `op` as the next log entry; a refusal throws its ShoalError. */
  apply(op: KvOp): Exclude<KvResult, KvError> {
    if (this.closed) throw new ShoalError('ERR_TRANSPORT_CLOSED', 'the kv double is closed');
    const bytes = encodeCommand({ op }, this.state.config);
    if (!(bytes instanceof Uint8Array)) throw shoalError(bytes);
    const out = applyEntry(this.state, bytes, logIndex(++this.index));
    onLeaseChanges(this.lessor, out.leaseChanges, this.now());
    const woken = onApplied(this.registry, out.events);
    if (woken.size > 0) for (const view of this.watchViews) view.wake(woken);
    this.arm();
    if (out.result.kind === 'error') throw shoalError(out.result);
    return out.result;
  }

  read(request: Parameters<typeof range>[1]) {
    const result = range(this.state, request);
    if (result.kind === 'error') throw shoalError(result);
    return result;
  }

  /** One timer at the lessor's next deadline: expired leases are revoked through the log. */
  private arm(): void {
    const at = nextDeadline(this.lessor);
    if (this.closed || at === undefined || at >= this.timerAtMs) return;
    clearTimeout(this.timer);
    this.timerAtMs = at;
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - this.now()));
  }

  private tick(): void {
    this.timer = undefined;
    this.timerAtMs = Infinity;
    if (this.closed) return;
    const work = dueWork(this.lessor, this.now());
    for (const id of work.revoke) {
      try {
        this.apply({ kind: 'lease-revoke', id });
      } catch {
        // Already revoked by a client: nothing to do.
      }
    }
    if (work.checkpoints.length > 0)
      this.apply({ kind: 'lease-checkpoint', checkpoints: work.checkpoints });
    this.arm();
  }

  grant(ttlMs: number, id: LeaseId | undefined): { id: LeaseId; ttlMs: number } {
    for (let attempt = 0; ; attempt++) {
      const chosen = id ?? randomLeaseId((bound) => Math.floor(Math.random() * bound));
      try {
        const result = this.apply({ kind: 'lease-grant', id: chosen, ttlMs });
        if (result.kind !== 'lease-grant') throw new Error('lease-grant answered otherwise');
        return { id: result.id, ttlMs: result.ttlMs };
      } catch (err) {
        const retry = id === undefined && attempt < LEASE_ID_ATTEMPTS;
        if (!(retry && (err as ShoalError).code === 'ERR_LEASE_EXISTS')) throw err;
      }
    }
  }

  keepAlive(id: LeaseId): number {
    const outcome = keepAlive(this.lessor, id, this.now());
    if (outcome.kind === 'error') throw shoalError(outcome);
    if (outcome.kind === 'not-leader') throw new ShoalError('ERR_NOT_LEADER', 'not the leader');
    if (outcome.clearCheckpoint)
      this.apply({ kind: 'lease-checkpoint', checkpoints: [{ id, remainingTtlMs: 0 }] });
    this.arm();
    return outcome.ttlMs;
  }

  remainingMs(id: LeaseId): number | undefined {
    return remainingMs(this.lessor, id, this.now());
  }

  /** Member `memberId`'s watches over the shared registry (the real ones, src/node/raft-kv-watches.ts). */
  watches(memberId: string): Watches {
    const view = new Watches(this, () => this.header(memberId));
    this.watchViews.push(view);
    return view;
  }

  setGrpcUrls(i: number, urls: string[]): void {
    const member = this.members[i];
    if (member !== undefined) member.grpcUrls = urls;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const view of this.watchViews) view.close();
  }

  leaseInfo(id: LeaseId, withKeys: boolean) {
    return lease(this.state, id, withKeys);
  }

  leaseIds(): LeaseId[] {
    return leases(this.state).map((l) => l.id);
  }
}

/** One member's KvService over the shared double. */
class MemberView implements KvService {
  private readonly watches: Watches;

  constructor(
    private readonly d: KvDouble,
    private readonly member: DoubleMember,
  ) {
    this.watches = d.watches(member.memberId);
  }

  private header(): KvHeader {
    return this.d.header(this.member.memberId);
  }

  async put(request: Parameters<KvService['put']>[0], options?: { signal?: AbortSignal }) {
    checkSignal(options?.signal, 'put');
    const result = this.d.apply({ kind: 'put', request });
    if (result.kind !== 'put') throw new Error('put answered otherwise');
    return { ...result, header: this.header() };
  }

  async range(request: Parameters<KvService['range']>[0], options?: { signal?: AbortSignal }) {
    checkSignal(options?.signal, 'range');
    return { ...this.d.read(request), header: this.header() };
  }

  async deleteRange(
    request: Parameters<KvService['deleteRange']>[0],
    options?: { signal?: AbortSignal },
  ) {
    checkSignal(options?.signal, 'deleteRange');
    const result = this.d.apply({ kind: 'delete-range', request });
    if (result.kind !== 'delete-range') throw new Error('delete answered otherwise');
    return { ...result, header: this.header() };
  }

  async txn(request: Parameters<KvService['txn']>[0], options?: { signal?: AbortSignal }) {
    checkSignal(options?.signal, 'txn');
    const result = this.d.apply({ kind: 'txn', request });
    if (result.kind !== 'txn') throw new Error('txn answered otherwise');
    return { ...result, header: this.header() };
  }

  async compact(rev: number, options?: { signal?: AbortSignal }) {
    checkSignal(options?.signal, 'compact');
    this.d.apply({ kind: 'compact', revision: rev as Revision });
    return { header: this.header() };
  }

  watch(options: WatchOptions): KvWatch {
    return this.watches.watch(options);
  }

  async leaseGrant(ttlMs: number, options?: { signal?: AbortSignal; id?: LeaseId }) {
    checkSignal(options?.signal, 'leaseGrant');
    return { ...this.d.grant(ttlMs, options?.id), header: this.header() };
  }

  async leaseRevoke(id: LeaseId, options?: { signal?: AbortSignal }) {
    checkSignal(options?.signal, 'leaseRevoke');
    this.d.apply({ kind: 'lease-revoke', id });
    return { header: this.header() };
  }

  async leaseKeepAlive(id: LeaseId, options?: { signal?: AbortSignal }) {
    checkSignal(options?.signal, 'leaseKeepAlive');
    return { id, ttlMs: this.d.keepAlive(id), header: this.header() };
  }

  async leaseTimeToLive(id: LeaseId, options?: { signal?: AbortSignal; keys?: boolean }) {
    checkSignal(options?.signal, 'leaseTimeToLive');
    const info = this.d.leaseInfo(id, options?.keys === true);
    if (info === undefined)
      return { id, remainingMs: -1, grantedTtlMs: 0, keys: [], header: this.header() };
    const remaining = this.d.remainingMs(id) ?? info.ttlMs;
    return {
      id,
      remainingMs: remaining,
      grantedTtlMs: info.ttlMs,
      keys: [...info.keys],
      header: this.header(),
    };
  }

  async leases() {
    return { ids: this.d.leaseIds().map((id) => leaseId(id)), header: this.header() };
  }

  async members() {
    const members: KvMember[] = this.d.members.map((m) => ({
      id: m.id,
      memberId: m.memberId,
      name: m.name,
      address: m.address,
      clientUrls: m.grpcUrls,
      grpcUrls: m.grpcUrls,
      learner: false,
    }));
    return { members, header: this.header() };
  }

  async status() {
    let bytes = 0;
    for (const record of this.d.state.mvcc.log)
      bytes += record.kv.key.length + record.kv.value.length;
    return {
      header: this.header(),
      leader: this.d.members[0]?.id,
      raftIndex: this.d.state.appliedIndex,
      raftAppliedIndex: this.d.state.appliedIndex,
      dbSizeBytes: bytes,
      version: 'kv-double',
    };
  }
}
