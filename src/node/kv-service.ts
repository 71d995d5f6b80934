/**
 * The replicated key-value store as the layers above it see it (issue 13/14): `node.kv`'s
 * friendly API, the agent's HTTP routes (/v1/kv, /v1/txn, /v1/watch, /v1/leases) and the
 * etcd-compatible gRPC endpoint are all thin layers over this one asynchronous contract, which a
 * `raft` node implements by proposing through its Raft log and applying to its MVCC state
 * machine (src/kv). Shapes are etcd v3's, from src/kv/types.ts, so the gRPC layer maps fields
 * one to one.
 *
 * Errors are ShoalErrors with stable codes: ERR_NO_LEADER (none known: retry later),
 * ERR_NOT_LEADER (only where forwarding is impossible), ERR_COMPACTED, ERR_LEASE_NOT_FOUND,
 * ERR_TOO_LARGE, ERR_TIMEOUT (the write may or may not have applied: retry with the same session
 * to apply it at most once), ERR_ABORTED (the caller's signal).
 */
import type { NodeId } from '../identity/node-id.js';

// The kv package (src/kv/types.ts) owns these shapes; re-exported so callers import one module.
import type {
  DeleteRangeRequest,
  DeleteRangeResult,
  KvEvent,
  LeaseId,
  PutRequest,
  PutResult,
  RangeRequest,
  RangeResult,
  Revision,
  Session,
  TxnRequest,
  TxnResult,
} from '../kv/types.js';

/** `linearizable` (default) confirms leadership first (ReadIndex); `serializable` reads this replica. */
export type ReadConsistency = 'linearizable' | 'serializable';

/**
 * What a call needs of its cancellation: an AbortSignal has it. The etcd endpoint passes a
 * lighter one of its own per call (src/etcd/endpoint.ts, CallCancel): an AbortController per
 * put, with its listener added and removed, was about 4 % of a leader's CPU under puts.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface KvCallOptions {
  /** Gives up waiting (the write may still apply): ERR_ABORTED. */
  signal?: CancelSignal;
  /** Retried writes with the same session apply once (Raft thesis §6.3). */
  session?: Session;
}

/** etcd's ResponseHeader: who answered and at which revision and term. */
export interface KvHeader {
  /** A stable 64-bit id of the cluster, as a decimal string (etcd's cluster_id). */
  clusterId: string;
  /** This member's 64-bit id, as a decimal string (etcd's member_id: the NodeId's first 8 bytes). */
  memberId: string;
  revision: Revision;
  raftTerm: number;
}

/** One batch of a watch: the events of one or more revisions, or the end of the watch. */
export type WatchBatch =
  | { kind: 'events'; events: readonly KvEvent[]; header: KvHeader }
  /** The start revision (or the watcher's position) is below the compacted revision: the watch ended. */
  | { kind: 'compacted'; compactRevision: Revision; header: KvHeader }
  /** The watch ended for another reason (node closed, leader lost for too long, limit). */
  | { kind: 'canceled'; reason: string; header: KvHeader };

export interface WatchOptions {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  /** First revision to report; absent or 0: changes after the current revision. */
  fromRevision?: number;
  noPut?: boolean;
  noDelete?: boolean;
  prevKv?: boolean;
  signal?: AbortSignal;
}

export interface KvWatch {
  readonly id: number;
  /** Ends after a `compacted` or `canceled` batch, on abort, or when the node closes. */
  readonly batches: AsyncIterable<WatchBatch>;
  /**
   * For progress notifications: a header whose revision R promises that every event of this
   * watch up to R has been handed out by `batches` (etcd's progress notify). That is the
   * replica's applied revision when the watch is caught up, and the revision before its next
   * undelivered event while it has events queued or history to replay.
   */
  progress(): KvHeader;
  cancel(): void;
  /**
   * The same batches without a promise per batch, for a consumer that serves many watches (the
   * etcd watch stream): the next batch now, `'wait'` when there is none yet (then `wake` is
   * called once, from a later turn, when there may be), or `'ended'`. A watch is consumed by
   * `batches` or by `poll`, never by both. Optional: a consumer falls back to `batches`.
   */
  poll?(wake: () => void): WatchBatch | 'wait' | 'ended';
}

export interface LeaseGrant {
  id: LeaseId;
  ttlMs: number;
}

export interface LeaseTimeToLive {
  id: LeaseId;
  /** -1 when the lease does not exist (etcd's TTL of -1). */
  remainingMs: number;
  grantedTtlMs: number;
  keys: Uint8Array[];
}

export interface KvMember {
  id: NodeId;
  /** etcd's 64-bit member id, decimal. */
  memberId: string;
  name: string;
  /** The member's cluster (Raft) address. */
  address: string;
  /** Client endpoints (the agent's HTTP and, when served, gRPC addresses), when known. */
  clientUrls: string[];
  learner: boolean;
  /**
   * The member's etcd-compatible gRPC endpoints (`http://H:P`, or `https://H:P` with TLS), when
   * it serves one (`--grpc`): etcd's MemberList reports these as clientURLs, since etcd clients
   * that sync endpoints dial every URL listed there.
   */
  grpcUrls?: string[];
}

export interface KvStatus {
  header: KvHeader;
  leader: NodeId | undefined;
  raftIndex: number;
  raftAppliedIndex: number;
  /** Encoded bytes of the store's state, an estimate (etcd's dbSize). */
  dbSizeBytes: number;
  /** Shoal's version. */
  version: string;
}

export interface KvService {
  put(request: PutRequest, options?: KvCallOptions): Promise<PutResult & { header: KvHeader }>;
  range(
    request: RangeRequest,
    options?: KvCallOptions & { consistency?: ReadConsistency },
  ): Promise<RangeResult & { header: KvHeader }>;
  deleteRange(
    request: DeleteRangeRequest,
    options?: KvCallOptions,
  ): Promise<DeleteRangeResult & { header: KvHeader }>;
  /** A txn whose branches only read is served as a read (linearizable unless asked otherwise). */
  txn(
    request: TxnRequest,
    options?: KvCallOptions & { consistency?: ReadConsistency },
  ): Promise<TxnResult & { header: KvHeader }>;
  /** Drops history below `revision`; later reads there fail with ERR_COMPACTED. */
  compact(revision: number, options?: KvCallOptions): Promise<{ header: KvHeader }>;
  /**
   * Starts a watch at once. A refused watch (an empty key, a bad revision, too many watchers)
   * throws a ShoalError; a start revision below the compacted revision does not throw: the
   * watch's only batch is `compacted`, as etcd reports it.
   */
  watch(options: WatchOptions): KvWatch;
  leaseGrant(
    ttlMs: number,
    options?: KvCallOptions & { id?: LeaseId },
  ): Promise<LeaseGrant & { header: KvHeader }>;
  leaseRevoke(id: LeaseId, options?: KvCallOptions): Promise<{ header: KvHeader }>;
  /** Renews the lease on the leader (forwarded there); the TTL it now has. ERR_LEASE_NOT_FOUND when gone. */
  leaseKeepAlive(id: LeaseId, options?: KvCallOptions): Promise<LeaseGrant & { header: KvHeader }>;
  leaseTimeToLive(
    id: LeaseId,
    options?: KvCallOptions & { keys?: boolean },
  ): Promise<LeaseTimeToLive & { header: KvHeader }>;
  leases(options?: KvCallOptions): Promise<{ ids: LeaseId[]; header: KvHeader }>;
  members(): Promise<{ members: KvMember[]; header: KvHeader }>;
  status(): Promise<KvStatus>;
}

/** What a node that serves the store exposes (a `raft` member): the etcd gRPC endpoint looks for it. */
export interface ServesKv {
  readonly kvService: KvService;
}

/** The node's KvService, or undefined when its mode keeps no replicated store. */
export function kvServiceOf(node: object): KvService | undefined {
  const service = (node as Partial<ServesKv>).kvService;
  return typeof service === 'object' && service !== null ? service : undefined;
}

/** etcd's 64-bit member id of a node, decimal: the NodeId's first 8 bytes, big-endian. */
export function memberIdOf(id: NodeId): string {
  return BigInt(`0x${id.slice(0, 16)}`).toString();
}
