/**
 * The vocabulary of the key-value state machine (docs/design/kv.md): etcd v3's data model
 * (api/etcdserverpb/rpc.proto, api/mvccpb/kv.proto) as TypeScript shapes, so that an etcd-compatible
 * API is a thin layer over it.
 *
 * - Keys and values are bytes. A key range follows etcd's encoding exactly: no `rangeEnd` (or an
 *   empty one) names the single key `key`; `rangeEnd = [0x00]` means every key >= `key`; any other
 *   `rangeEnd` is the half-open interval [key, rangeEnd), compared bytewise.
 * - A `Revision` is etcd's main revision: the store starts at 1, and every write transaction that
 *   changes something moves it by exactly 1, whatever the number of keys it touches.
 * - `version` counts the puts to a key since it was (re)created: 1 after the first put, 0 once
 *   deleted (a deleted key is absent; its tombstone is history).
 * - A `LeaseId` is a positive safe integer (etcd's is an int64; ids above 2^53 - 1 are refused at
 *   the API edge). 0 means "no lease" on the wire and is absent (`lease` omitted) in a KeyValue.
 *
 * Every object the store hands out is shared with its history: treat it as immutable (the bytes
 * included). Copy before mutating.
 */
import type { Brand } from '../base/brand.js';
import { assertSafeInt } from '../base/assert.js';
import type { ErrorCode } from '../base/errors.js';

/** A store revision (etcd's main revision). */
export type Revision = Brand<number, 'Revision'>;
/** A lease id: 1..2^53 - 1, chosen by the proposer of the grant. */
export type LeaseId = Brand<number, 'LeaseId'>;

export function revision(value: number): Revision {
  return assertSafeInt(value, 'Revision') as Revision;
}

export function leaseId(value: number): LeaseId {
  return assertSafeInt(value, 'LeaseId', 1) as LeaseId;
}

/** One key's value at one revision (etcd's mvccpb.KeyValue). */
export interface KeyValue {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** The revision of the put that created this generation of the key. */
  readonly createRevision: Revision;
  /** The revision of the last change (this value). */
  readonly modRevision: Revision;
  /** Puts since creation: 1 after the first. */
  readonly version: number;
  /** The lease the key is attached to; absent when none. */
  readonly lease?: LeaseId;
}

/** A change seen by watchers (etcd's mvccpb.Event). A delete's kv holds the key and modRevision only. */
export interface KvEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
  /** The revision of the transaction that made the change (= kv.modRevision). */
  readonly revision: Revision;
  /** The key's value just before, when the watcher asked for it and history still has it. */
  readonly prevKv?: KeyValue;
}

// ---- requests (etcd's RangeRequest, PutRequest, DeleteRangeRequest, TxnRequest, Compare) ----

export type SortOrder = 'none' | 'ascend' | 'descend';
export type SortTarget = 'key' | 'version' | 'create' | 'mod' | 'value';

export interface RangeRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  /** Most keys returned; 0 or absent: no limit. `more` says whether keys were left out. */
  readonly limit?: number;
  /** Read at this past revision; 0 or absent: the current one. */
  readonly revision?: Revision;
  readonly sortOrder?: SortOrder;
  readonly sortTarget?: SortTarget;
  /** Values left empty. */
  readonly keysOnly?: boolean;
  /** Only the count: no kvs. */
  readonly countOnly?: boolean;
  /** Filters on the returned keys (0 or absent: no filter), as etcd applies them. */
  readonly minModRevision?: Revision;
  readonly maxModRevision?: Revision;
  readonly minCreateRevision?: Revision;
  readonly maxCreateRevision?: Revision;
}

export interface PutRequest {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly lease?: LeaseId;
  /** Return the key's previous value. */
  readonly prevKv?: boolean;
  /** Keep the current value (the key must exist; `value` must be empty). */
  readonly ignoreValue?: boolean;
  /** Keep the current lease (the key must exist; `lease` must be absent). */
  readonly ignoreLease?: boolean;
}

export interface DeleteRangeRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  readonly prevKv?: boolean;
}

export type CompareOp = '=' | '!=' | '<' | '>';
export type CompareTarget = 'value' | 'version' | 'createRevision' | 'modRevision' | 'lease';

/**
 * One guard of a txn. Over a range, every existing key must satisfy it. A missing key compares as
 * etcd's empty KeyValue (version, createRevision, modRevision and lease 0), except that a `value`
 * compare on a missing key always fails.
 */
export type Compare =
  | {
      readonly key: Uint8Array;
      readonly rangeEnd?: Uint8Array;
      readonly target: 'value';
      readonly op: CompareOp;
      readonly value: Uint8Array;
    }
  | {
      readonly key: Uint8Array;
      readonly rangeEnd?: Uint8Array;
      readonly target: Exclude<CompareTarget, 'value'>;
      readonly op: CompareOp;
      readonly value: number;
    };

/** One operation inside a txn branch (etcd's RequestOp); txns nest. */
export type RequestOp =
  | { readonly kind: 'range'; readonly request: RangeRequest }
  | { readonly kind: 'put'; readonly request: PutRequest }
  | { readonly kind: 'delete-range'; readonly request: DeleteRangeRequest }
  | { readonly kind: 'txn'; readonly request: TxnRequest };

export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly RequestOp[];
  readonly failure: readonly RequestOp[];
}

/** A retried command with the same (clientId, seq) applies once (Raft thesis §6.3). */
export interface Session {
  readonly clientId: string;
  /** 1 for a client's first command, then increasing. */
  readonly seq: number;
}

/** What goes through the log. */
export type KvOp =
  | { readonly kind: 'put'; readonly request: PutRequest }
  | { readonly kind: 'delete-range'; readonly request: DeleteRangeRequest }
  | { readonly kind: 'txn'; readonly request: TxnRequest }
  | { readonly kind: 'range'; readonly request: RangeRequest }
  | { readonly kind: 'lease-grant'; readonly id: LeaseId; readonly ttlMs: number }
  | { readonly kind: 'lease-revoke'; readonly id: LeaseId }
  | {
      readonly kind: 'lease-checkpoint';
      readonly checkpoints: readonly { readonly id: LeaseId; readonly remainingTtlMs: number }[];
    }
  | { readonly kind: 'compact'; readonly revision: Revision };

export interface KvCommand {
  readonly session?: Session;
  readonly op: KvOp;
}

// ---- results ----

export interface RangeResult {
  readonly kind: 'range';
  readonly kvs: readonly KeyValue[];
  /** The store revision the read saw (etcd's header revision). */
  readonly revision: Revision;
  /** True when `limit` left keys out. */
  readonly more: boolean;
  /** Keys in the range at that revision, before `limit` (etcd's count). */
  readonly count: number;
}

export interface PutResult {
  readonly kind: 'put';
  readonly revision: Revision;
  readonly prevKv?: KeyValue;
}

export interface DeleteRangeResult {
  readonly kind: 'delete-range';
  readonly deleted: number;
  readonly revision: Revision;
  readonly prevKvs?: readonly KeyValue[];
}

export interface TxnResult {
  readonly kind: 'txn';
  readonly succeeded: boolean;
  readonly results: readonly OpResult[];
  readonly revision: Revision;
}

export type OpResult = RangeResult | PutResult | DeleteRangeResult | TxnResult;

/** The codes a command or a watch can fail with; each is in the registry (src/base/errors.ts). */
export const KV_ERROR_CODES = [
  'ERR_INVALID_ARGUMENT',
  'ERR_CAS_FAILED',
  'ERR_TOO_LARGE',
  'ERR_TOO_MANY_OPS',
  'ERR_DUPLICATE_KEY',
  'ERR_KEY_NOT_FOUND',
  'ERR_COMPACTED',
  'ERR_FUTURE_REVISION',
  'ERR_LEASE_NOT_FOUND',
  'ERR_LEASE_EXISTS',
  'ERR_LEASE_TTL_TOO_LARGE',
  'ERR_TOO_MANY_LEASES',
  'ERR_TOO_MANY_WATCHERS',
  'ERR_SESSION_STALE',
  'ERR_SESSION_EXPIRED',
  'ERR_SNAPSHOT_CORRUPT',
  'ERR_DECODE_TRUNCATED',
  'ERR_DECODE_OVERSIZED',
  'ERR_DECODE_MALFORMED',
  'ERR_DECODE_UNSAFE_INTEGER',
  'ERR_DECODE_BAD_VERSION',
  'ERR_DECODE_UNKNOWN_TYPE',
] as const satisfies readonly ErrorCode[];

export type KvErrorCode = (typeof KV_ERROR_CODES)[number];

/** A refused command: nothing changed (deterministically, on every node). */
export interface KvError {
  readonly kind: 'error';
  readonly code: KvErrorCode;
  readonly message: string;
  /** For ERR_COMPACTED: the store's compacted revision. */
  readonly compactRevision?: Revision;
}

export type KvResult =
  | OpResult
  | {
      readonly kind: 'lease-grant';
      readonly id: LeaseId;
      readonly ttlMs: number;
      readonly revision: Revision;
    }
  | { readonly kind: 'lease-revoke'; readonly revision: Revision }
  | { readonly kind: 'lease-checkpoint'; readonly revision: Revision }
  | { readonly kind: 'compact'; readonly revision: Revision }
  | KvError;

/** What the leader's lessor must learn from an applied command. */
export type LeaseChange =
  | { readonly kind: 'granted'; readonly id: LeaseId; readonly ttlMs: number }
  | { readonly kind: 'revoked'; readonly id: LeaseId }
  | { readonly kind: 'checkpointed'; readonly id: LeaseId; readonly remainingTtlMs: number };

/** Everything one applied log entry produced. */
export interface ApplyOutput {
  readonly result: KvResult;
  /** Watch events, in (revision, sub-revision) order; empty when nothing changed. */
  readonly events: readonly KvEvent[];
  readonly leaseChanges: readonly LeaseChange[];
  /** True when the session had already applied this (clientId, seq): `result` is the recorded one. */
  readonly duplicate: boolean;
}

/** Longest error message, UTF-16 units: at most 3 bytes each, it fits the encoded result's 2 KiB. */
export const ERROR_MESSAGE_CHARS_MAX = 600;

/** Builds a KvError; a long message (one quoting a long key) is cut to ERROR_MESSAGE_CHARS_MAX. */
export function kvError(code: KvErrorCode, message: string, compactRevision?: Revision): KvError {
  const text =
    message.length > ERROR_MESSAGE_CHARS_MAX
      ? `${message.slice(0, ERROR_MESSAGE_CHARS_MAX - 3)}...`
      : message;
  return compactRevision === undefined
    ? { kind: 'error', code, message: text }
    : { kind: 'error', code, message: text, compactRevision };
}
