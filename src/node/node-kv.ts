/**
 * `node.kv` (INTERFACE.md, "Replicated store"): a friendly layer over the KvService of a `raft`
 * member. Keys and values are bytes; a string is taken as UTF-8. Returned key-values carry the
 * key as text (`key`, UTF-8 decoded) and as bytes (`keyBytes`, exact for binary keys), the value
 * as bytes. A compare-and-swap is `put(key, value, { prevRevision })` (0: only if absent), a
 * txn on modRevision that fails with ERR_CAS_FAILED. `watch` is an async iterator that ends when
 * its signal aborts or the node closes, and throws ERR_COMPACTED when the history it needs is
 * gone (re-read, then watch again from the read's revision + 1).
 *
 * Every call takes `signal` (ERR_ABORTED; a write may still apply) and writes take `session`
 * (a retried write with the same session applies once, Raft thesis §6.3).
 */
import { ShoalError } from '../base/errors.js';
import { casOutcome, casPut, prefixRange } from '../kv/commands.js';
import { toBytes } from '../kv/keys.js';
import {
  leaseId,
  revision as toRevision,
  type Compare,
  type CompareOp,
  type CompareTarget,
  type KeyValue,
  type KvEvent,
  type LeaseId,
  type OpResult,
  type RangeRequest,
  type RequestOp,
  type Session,
  type TxnRequest,
} from '../kv/types.js';
import type { KvService, ReadConsistency } from './kv-service.js';

export type KeyInput = string | Uint8Array;

/** A key, a prefix, or a half-open range [start, end) (no end: every key from start on). */
export type KeySpec =
  KeyInput | { key: KeyInput } | { prefix: KeyInput } | { start: KeyInput; end?: KeyInput };

/** One key's value at one revision. */
export interface KeyValueView {
  /** The key as text (UTF-8); use `keyBytes` for keys that are not UTF-8. */
  key: string;
  keyBytes: Uint8Array;
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
  lease?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface WriteOptions extends CallOptions {
  session?: Session;
}

export interface ReadOptions extends CallOptions {
  /** `linearizable` (default): confirmed with the leader; `serializable`: this replica now. */
  consistency?: ReadConsistency;
}

export type TxnCompare = {
  key: KeyInput;
  op: CompareOp;
} & (
  { target: 'value'; value: KeyInput } | { target: Exclude<CompareTarget, 'value'>; value: number }
);

export type TxnOp =
  | { op: 'put'; key: KeyInput; value: KeyInput; lease?: number; prevKv?: boolean }
  | ({ op: 'get'; limit?: number } & (
      { key: KeyInput } | { prefix: KeyInput } | { start: KeyInput; end?: KeyInput }
    ))
  | ({ op: 'delete'; prevKv?: boolean } & (
      { key: KeyInput } | { prefix: KeyInput } | { start: KeyInput; end?: KeyInput }
    ))
  | { op: 'txn'; txn: TxnSpec };

export interface TxnSpec {
  compare?: TxnCompare[];
  success?: TxnOp[];
  failure?: TxnOp[];
}

export type TxnOpResult =
  | { op: 'put'; revision: number; prevKv?: KeyValueView }
  | { op: 'get'; kvs: KeyValueView[]; more: boolean; count: number; revision: number }
  | { op: 'delete'; deleted: number; revision: number; prevKvs?: KeyValueView[] }
  | { op: 'txn'; succeeded: boolean; results: TxnOpResult[]; revision: number };

export interface WatchEventView {
  type: 'put' | 'delete';
  kv: KeyValueView;
  revision: number;
  prevKv?: KeyValueView;
}

const decoder = new TextDecoder();

export function keyValueView(kv: KeyValue): KeyValueView {
  const view: KeyValueView = {
    key: decoder.decode(kv.key),
    keyBytes: kv.key,
    value: kv.value,
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
  };
  if (kv.lease !== undefined) view.lease = kv.lease;
  return view;
}

/** The etcd-style range (key, rangeEnd) of a spec. */
export function specRange(spec: KeySpec): { key: Uint8Array; rangeEnd?: Uint8Array } {
  if (typeof spec === 'string' || spec instanceof Uint8Array) return { key: toBytes(spec) };
  if ('prefix' in spec) return prefixRange(spec.prefix);
  if ('start' in spec)
    return {
      key: toBytes(spec.start),
      rangeEnd: spec.end === undefined ? Uint8Array.of(0) : toBytes(spec.end),
    };
  return { key: toBytes(spec.key) };
}

function nonEmptyKey(key: Uint8Array, what: string): Uint8Array {
  if (key.length === 0) throw new ShoalError('ERR_INVALID_ARGUMENT', `${what}: the key is empty`);
  return key;
}

function toCompare(c: TxnCompare): Compare {
  const key = nonEmptyKey(toBytes(c.key), 'txn compare');
  if (c.target === 'value') return { key, target: 'value', op: c.op, value: toBytes(c.value) };
  if (!Number.isSafeInteger(c.value) || c.value < 0)
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `txn compare on ${c.target}: value ${String(c.value)} must be an integer >= 0`,
    );
  return { key, target: c.target, op: c.op, value: c.value };
}

function toRequestOp(op: TxnOp): RequestOp {
  switch (op.op) {
    case 'put': {
      const key = nonEmptyKey(toBytes(op.key), 'txn put');
      return {
        kind: 'put',
        request: {
          key,
          value: toBytes(op.value),
          ...(op.lease === undefined ? {} : { lease: toLeaseId(op.lease) }),
          ...(op.prevKv === true ? { prevKv: true } : {}),
        },
      };
    }
    case 'get':
      return {
        kind: 'range',
        request: { ...specRange(op), ...(op.limit === undefined ? {} : { limit: op.limit }) },
      };
    case 'delete':
      return {
        kind: 'delete-range',
        request: { ...specRange(op), ...(op.prevKv === true ? { prevKv: true } : {}) },
      };
    case 'txn':
      return { kind: 'txn', request: toTxnRequest(op.txn) };
  }
}

export function toTxnRequest(spec: TxnSpec): TxnRequest {
  return {
    compare: (spec.compare ?? []).map(toCompare),
    success: (spec.success ?? []).map(toRequestOp),
    failure: (spec.failure ?? []).map(toRequestOp),
  };
}

export function toTxnOpResult(result: OpResult): TxnOpResult {
  switch (result.kind) {
    case 'put':
      return {
        op: 'put',
        revision: result.revision,
        ...(result.prevKv === undefined ? {} : { prevKv: keyValueView(result.prevKv) }),
      };
    case 'range':
      return {
        op: 'get',
        kvs: result.kvs.map(keyValueView),
        more: result.more,
        count: result.count,
        revision: result.revision,
      };
    case 'delete-range':
      return {
        op: 'delete',
        deleted: result.deleted,
        revision: result.revision,
        ...(result.prevKvs === undefined ? {} : { prevKvs: result.prevKvs.map(keyValueView) }),
      };
    case 'txn':
      return {
        op: 'txn',
        succeeded: result.succeeded,
        results: result.results.map(toTxnOpResult),
        revision: result.revision,
      };
  }
}

export function watchEventView(event: KvEvent): WatchEventView {
  const view: WatchEventView = {
    type: event.type,
    kv: keyValueView(event.kv),
    revision: event.revision,
  };
  if (event.prevKv !== undefined) view.prevKv = keyValueView(event.prevKv);
  return view;
}

/** A lease id from a caller: 1..2^53 - 1, else ERR_INVALID_ARGUMENT. */
export function toLeaseId(id: number): LeaseId {
  if (!Number.isSafeInteger(id) || id < 1)
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `lease id ${String(id)} must be an integer from 1 to 2^53 - 1`,
    );
  return leaseId(id);
}

function checkRevision(value: number | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0)
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `${what} (${String(value)}) must be an integer >= 0`,
    );
  return value;
}

export class NodeKv {
  constructor(private readonly service: KvService) {}

  /** Writes `value` at `key`. With `prevRevision`, only if the key's modRevision is that (0: absent). */
  async put(
    key: KeyInput,
    value: KeyInput,
    options: WriteOptions & { lease?: number; prevKv?: boolean; prevRevision?: number } = {},
  ): Promise<{ revision: number; prevKv?: KeyValueView }> {
    const k = nonEmptyKey(toBytes(key), 'put');
    const v = toBytes(value);
    const lease = options.lease === undefined ? undefined : toLeaseId(options.lease);
    const call = {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.session ? { session: options.session } : {}),
    };
    const prev = checkRevision(options.prevRevision, 'prevRevision');
    if (prev !== undefined) {
      const op = casPut(
        k,
        v,
        prev === 0 ? 0 : toRevision(prev),
        lease === undefined ? {} : { lease },
      );
      if (op.kind !== 'txn') throw new Error('casPut is a txn');
      const result = await this.service.txn(op.request, call);
      const outcome = casOutcome(result);
      if (outcome.kind === 'error') throw new ShoalError(outcome.code, outcome.message);
      return { revision: result.revision };
    }
    const result = await this.service.put(
      {
        key: k,
        value: v,
        ...(lease === undefined ? {} : { lease }),
        ...(options.prevKv === true ? { prevKv: true } : {}),
      },
      call,
    );
    return {
      revision: result.revision,
      ...(result.prevKv === undefined ? {} : { prevKv: keyValueView(result.prevKv) }),
    };
  }

  /** One key's value (at `revision`, default the current one), or undefined when absent. */
  async get(
    key: KeyInput,
    options: ReadOptions & { revision?: number } = {},
  ): Promise<KeyValueView | undefined> {
    const { kvs } = await this.range({ key }, { ...options, limit: 1 });
    return kvs[0];
  }

  /** The keys of a prefix or a range, in key order. */
  async range(
    spec: KeySpec,
    options: ReadOptions & { limit?: number; revision?: number; keysOnly?: boolean } = {},
  ): Promise<{ kvs: KeyValueView[]; revision: number; more: boolean; count: number }> {
    const request: RangeRequest = {
      ...specRange(spec),
      ...(options.limit === undefined
        ? {}
        : { limit: checkRevision(options.limit, 'limit') as number }),
      ...(options.revision === undefined
        ? {}
        : { revision: toRevision(checkRevision(options.revision, 'revision') as number) }),
      ...(options.keysOnly === true ? { keysOnly: true } : {}),
    };
    nonEmptyKey(request.key, 'range');
    const result = await this.service.range(request, {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.consistency ? { consistency: options.consistency } : {}),
    });
    return {
      kvs: result.kvs.map(keyValueView),
      revision: result.revision,
      more: result.more,
      count: result.count,
    };
  }

  /** Deletes a key, a prefix or a range. */
  async delete(
    spec: KeySpec,
    options: WriteOptions & { prevKv?: boolean } = {},
  ): Promise<{ deleted: number; revision: number; prevKvs?: KeyValueView[] }> {
    const range = specRange(spec);
    nonEmptyKey(range.key, 'delete');
    const result = await this.service.deleteRange(
      { ...range, ...(options.prevKv === true ? { prevKv: true } : {}) },
      {
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.session ? { session: options.session } : {}),
      },
    );
    return {
      deleted: result.deleted,
      revision: result.revision,
      ...(result.prevKvs === undefined ? {} : { prevKvs: result.prevKvs.map(keyValueView) }),
    };
  }

  /** If every compare holds, the success ops run, else the failure ops; atomically, at one revision. */
  async txn(
    spec: TxnSpec,
    options: WriteOptions & { consistency?: ReadConsistency } = {},
  ): Promise<{ succeeded: boolean; results: TxnOpResult[]; revision: number }> {
    const result = await this.service.txn(toTxnRequest(spec), {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.session ? { session: options.session } : {}),
      ...(options.consistency ? { consistency: options.consistency } : {}),
    });
    return {
      succeeded: result.succeeded,
      results: result.results.map(toTxnOpResult),
      revision: result.revision,
    };
  }

  /** Drops history below `revision`. */
  async compact(revision: number, options: CallOptions = {}): Promise<{ revision: number }> {
    const result = await this.service.compact(
      checkRevision(revision, 'revision') as number,
      options,
    );
    return { revision: result.header.revision };
  }

  /**
   * Changes of a key, prefix or range, from `fromRevision` (default: after now). Ends when
   * `signal` aborts or the node closes; throws ERR_COMPACTED when that history is gone.
   */
  async *watch(
    spec: KeySpec,
    options: CallOptions & { fromRevision?: number; prevKv?: boolean } = {},
  ): AsyncGenerator<WatchEventView> {
    const range = specRange(spec);
    nonEmptyKey(range.key, 'watch');
    const from = checkRevision(options.fromRevision, 'fromRevision');
    const watch = this.service.watch({
      ...range,
      ...(from === undefined ? {} : { fromRevision: from }),
      ...(options.prevKv === true ? { prevKv: true } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    try {
      for await (const batch of watch.batches) {
        if (batch.kind === 'compacted')
          throw Object.assign(
            new ShoalError(
              'ERR_COMPACTED',
              `the watch needs history below the compacted revision ${batch.compactRevision}; read again and watch from there`,
            ),
            { compactRevision: batch.compactRevision },
          );
        if (batch.kind === 'canceled') return;
        for (const event of batch.events) yield watchEventView(event);
      }
    } finally {
      watch.cancel();
    }
  }

  readonly leases = {
    /** A lease of `ttlMs` (raised to the cluster's minimum); keys put with it go when it expires. */
    grant: async (
      ttlMs: number,
      options: WriteOptions & { id?: number } = {},
    ): Promise<{ id: number; ttlMs: number }> => {
      if (!Number.isSafeInteger(ttlMs) || ttlMs < 0)
        throw new ShoalError(
          'ERR_INVALID_ARGUMENT',
          `ttlMs (${String(ttlMs)}) must be an integer >= 0`,
        );
      const grant = await this.service.leaseGrant(ttlMs, {
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.session ? { session: options.session } : {}),
        ...(options.id === undefined ? {} : { id: toLeaseId(options.id) }),
      });
      return { id: grant.id, ttlMs: grant.ttlMs };
    },
    /** Renews the lease for its TTL; ERR_LEASE_NOT_FOUND when it expired or was revoked. */
    keepAlive: async (
      id: number,
      options: CallOptions = {},
    ): Promise<{ id: number; ttlMs: number }> => {
      const renewed = await this.service.leaseKeepAlive(toLeaseId(id), options);
      return { id: renewed.id, ttlMs: renewed.ttlMs };
    },
    /** Revokes the lease; its keys are deleted. */
    revoke: async (id: number, options: WriteOptions = {}): Promise<{ revision: number }> => {
      const result = await this.service.leaseRevoke(toLeaseId(id), options);
      return { revision: result.header.revision };
    },
    /** The lease's remaining and granted TTL and its keys; remainingMs -1 when it does not exist. */
    timeToLive: async (id: number, options: CallOptions = {}) => {
      const ttl = await this.service.leaseTimeToLive(toLeaseId(id), { ...options, keys: true });
      return {
        id: ttl.id,
        remainingMs: ttl.remainingMs,
        grantedTtlMs: ttl.grantedTtlMs,
        keys: ttl.keys.map((k) => decoder.decode(k)),
      };
    },
    list: async (options: CallOptions = {}): Promise<number[]> =>
      (await this.service.leases(options)).ids,
  };
}
