/**
 * etcd's gRPC errors and how Shoal's errors become them. Clients match on the code AND the exact
 * message: Go's clientv3 turns a known message back into its typed error (rpctypes.Error), so
 * etcdctl prints "Error: etcdserver: requested lease not found" rather than a raw status; the
 * `etcd3` npm client maps messages to classes (EtcdLeaseInvalidError). The codes and messages
 * below are etcd v3.4's (etcdserver/api/v3rpc/rpctypes/error.go, and util.go's togRPCError).
 *
 * Every ShoalError code a KvService can throw (KV_SERVICE_ERROR_CODES) has an entry; a test keeps
 * it so. A code with no etcd counterpart keeps Shoal's message under a "shoal: " prefix and the
 * gRPC code that says what the client should do. Anything else (a bug) is UNKNOWN with its
 * message, as etcd answers an unmapped error.
 */
import { status as Status } from '@grpc/grpc-js';
import type { ErrorCode } from '../base/errors.js';
import { KV_ERROR_CODES } from '../kv/types.js';

/** A gRPC status for a client: the code and the text clients match on. */
export class EtcdStatus extends Error {
  constructor(
    readonly code: Status,
    readonly details: string,
    /** The ShoalError code it stands for, when it came from one. */
    readonly shoalCode?: ErrorCode,
  ) {
    super(details);
  }
}

type Spec = readonly [Status, string];

/** etcd's errors the endpoint answers with (name: [code, exact message]). */
export const ETCD_ERRORS = {
  emptyKey: [Status.INVALID_ARGUMENT, 'etcdserver: key is not provided'],
  keyNotFound: [Status.INVALID_ARGUMENT, 'etcdserver: key not found'],
  valueProvided: [Status.INVALID_ARGUMENT, 'etcdserver: value is provided'],
  leaseProvided: [Status.INVALID_ARGUMENT, 'etcdserver: lease is provided'],
  tooManyOps: [Status.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'],
  duplicateKey: [Status.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'],
  compacted: [Status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'],
  futureRevision: [Status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'],
  leaseNotFound: [Status.NOT_FOUND, 'etcdserver: requested lease not found'],
  leaseExists: [Status.FAILED_PRECONDITION, 'etcdserver: lease already exists'],
  leaseTtlTooLarge: [Status.OUT_OF_RANGE, 'etcdserver: too large lease TTL'],
  requestTooLarge: [Status.INVALID_ARGUMENT, 'etcdserver: request is too large'],
  noLeader: [Status.UNAVAILABLE, 'etcdserver: no leader'],
  notLeader: [Status.FAILED_PRECONDITION, 'etcdserver: not leader'],
  stopped: [Status.UNAVAILABLE, 'etcdserver: server stopped'],
  timeout: [Status.UNAVAILABLE, 'etcdserver: request timed out'],
  /** What gRPC itself answers for a cancelled context (etcd lets gRPC convert context.Canceled). */
  canceled: [Status.CANCELLED, 'context canceled'],
} as const satisfies Record<string, Spec>;

export type EtcdErrorName = keyof typeof ETCD_ERRORS;

export function etcdError(name: EtcdErrorName, shoalCode?: ErrorCode): EtcdStatus {
  const [code, details] = ETCD_ERRORS[name];
  return new EtcdStatus(code, details, shoalCode);
}

/** A refusal with no etcd counterpart: Shoal's reason, prefixed so it reads as the server's. */
export function shoalStatus(code: Status, message: string, shoalCode?: ErrorCode): EtcdStatus {
  return new EtcdStatus(code, `shoal: ${message}`, shoalCode);
}

/** Every code the KvService contract (src/node/kv-service.ts) lets an implementation throw. */
export const KV_SERVICE_ERROR_CODES = [
  ...KV_ERROR_CODES,
  'ERR_NO_LEADER',
  'ERR_NOT_LEADER',
  'ERR_TIMEOUT',
  'ERR_ABORTED',
  'ERR_TRANSPORT_CLOSED',
] as const satisfies readonly ErrorCode[];

export type KvServiceErrorCode = (typeof KV_SERVICE_ERROR_CODES)[number];

/** How each code reaches a client: an etcd error by name, or a gRPC code with Shoal's message. */
export const ERROR_MAP: Record<KvServiceErrorCode, EtcdErrorName | Status> = {
  ERR_INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  ERR_CAS_FAILED: Status.FAILED_PRECONDITION,
  ERR_TOO_LARGE: 'requestTooLarge',
  ERR_TOO_MANY_OPS: 'tooManyOps',
  ERR_DUPLICATE_KEY: 'duplicateKey',
  ERR_KEY_NOT_FOUND: 'keyNotFound',
  ERR_COMPACTED: 'compacted',
  ERR_FUTURE_REVISION: 'futureRevision',
  ERR_LEASE_NOT_FOUND: 'leaseNotFound',
  ERR_LEASE_EXISTS: 'leaseExists',
  ERR_LEASE_TTL_TOO_LARGE: 'leaseTtlTooLarge',
  ERR_TOO_MANY_LEASES: Status.RESOURCE_EXHAUSTED,
  ERR_TOO_MANY_WATCHERS: Status.RESOURCE_EXHAUSTED,
  ERR_SESSION_STALE: Status.FAILED_PRECONDITION,
  ERR_SESSION_EXPIRED: Status.FAILED_PRECONDITION,
  // The store's own bytes failed to decode: the server's fault, never the request's.
  ERR_SNAPSHOT_CORRUPT: Status.INTERNAL,
  ERR_DECODE_TRUNCATED: Status.INTERNAL,
  ERR_DECODE_OVERSIZED: Status.INTERNAL,
  ERR_DECODE_MALFORMED: Status.INTERNAL,
  ERR_DECODE_UNSAFE_INTEGER: Status.INTERNAL,
  ERR_DECODE_BAD_VERSION: Status.INTERNAL,
  ERR_DECODE_UNKNOWN_TYPE: Status.INTERNAL,
  ERR_NO_LEADER: 'noLeader',
  ERR_NOT_LEADER: 'notLeader',
  ERR_TIMEOUT: 'timeout',
  ERR_ABORTED: 'canceled',
  ERR_TRANSPORT_CLOSED: 'stopped',
};

function isMapped(code: unknown): code is KvServiceErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_MAP, code);
}

/**
 * The status a client gets for `err`: an EtcdStatus as is, a mapped ShoalError as etcd's error,
 * anything else UNKNOWN with its message (`unexpected` is then true: the caller logs it).
 */
export function toEtcdStatus(err: unknown): { status: EtcdStatus; unexpected: boolean } {
  if (err instanceof EtcdStatus) return { status: err, unexpected: false };
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (!isMapped(code)) return { status: new EtcdStatus(Status.UNKNOWN, message), unexpected: true };
  const target = ERROR_MAP[code];
  const status =
    typeof target === 'string' ? etcdError(target, code) : shoalStatus(target, message, code);
  return { status, unexpected: false };
}
