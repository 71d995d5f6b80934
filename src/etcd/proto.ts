/**
 * etcd's v3 API definitions (src/etcd/proto/*.proto, etcd v3.4.23, Apache-2.0) loaded with
 * @grpc/proto-loader, in the shape every handler here reads and writes:
 * - field names as in the .proto (snake_case: `range_end`, `watch_id`), as etcd's docs write them;
 * - 64-bit integers as decimal strings on the way in (uint64 member ids do not fit a double;
 *   convert.ts turns the others into safe integers or refuses them), numbers or strings out;
 * - enums as their names (`'ASCEND'`); an unknown number stays a number and is refused;
 * - every scalar field present with its default, oneofs named by a virtual field (`request`).
 *
 * A message that does not parse is not an exception inside gRPC (which would answer INTERNAL
 * with no detail): `requestDeserialize` is wrapped to return a `Malformed` marker, which the
 * handlers answer with INVALID_ARGUMENT naming the message type, and count.
 *
 * A response may also be bytes already encoded (encode.ts, for the hot responses): the wrapped
 * `responseSerialize` sends a Uint8Array as it is.
 */
import { fileURLToPath } from 'node:url';
import { loadSync, type MethodDefinition, type PackageDefinition } from '@grpc/proto-loader';
import {
  decodeDeleteRangeRequest,
  decodePutRequest,
  decodeRangeRequest,
  decodeTxnRequest,
  decodeWatchRequest,
} from './decode.js';

/** The protos ship next to this file (copied to dist/ by scripts/copy-assets.js). */
const PROTO_DIR = fileURLToPath(new URL('./proto/', import.meta.url));

export const SERVICE_NAMES = ['KV', 'Watch', 'Lease', 'Cluster', 'Maintenance', 'Auth'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** A request that failed to parse: the message type and the parser's reason. */
export interface Malformed {
  readonly malformed: string;
}

export function isMalformed(value: unknown): value is Malformed {
  return typeof value === 'object' && value !== null && 'malformed' in value;
}

let loaded: PackageDefinition | undefined;

/** The package definition (loaded once; parsing the protos takes tens of milliseconds). */
export function etcdPackage(): PackageDefinition {
  loaded ??= loadSync('rpc.proto', {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return loaded;
}

/** Hand decoders of the hottest requests (decode.ts); the generic path takes what they leave. */
const FAST_DECODERS: Record<string, (bytes: Buffer) => object | undefined> = {
  'KV/Range': decodeRangeRequest,
  'KV/Put': decodePutRequest,
  'KV/DeleteRange': decodeDeleteRangeRequest,
  'KV/Txn': decodeTxnRequest,
  'Watch/Watch': decodeWatchRequest,
};

/** One service's methods, each with a deserializer that returns `Malformed` instead of throwing. */
export function serviceMethods(
  service: ServiceName,
): Record<string, MethodDefinition<object, object>> {
  const definition = etcdPackage()[`etcdserverpb.${service}`];
  if (definition === undefined) throw new Error(`etcd proto: no service ${service}`);
  const methods: Record<string, MethodDefinition<object, object>> = {};
  for (const [name, method] of Object.entries(
    definition as Record<string, MethodDefinition<object, object>>,
  )) {
    const generic = method.requestDeserialize;
    const fast = FAST_DECODERS[`${service}/${name}`];
    const parse =
      fast === undefined ? generic : (bytes: Buffer): object => fast(bytes) ?? generic(bytes);
    const serialize = method.responseSerialize;
    const type = (method.requestType.type as { name?: string }).name ?? name;
    methods[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): object => {
        try {
          return parse(bytes);
        } catch (err) {
          const malformed: Malformed = {
            malformed: `malformed etcdserverpb.${type}: ${(err as Error).message}`,
          };
          return malformed;
        }
      },
      responseSerialize: (value: object): Buffer =>
        value instanceof Uint8Array
          ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
          : serialize(value),
    };
  }
  return methods;
}

// ---- wire shapes (the fields the handlers use; proto-loader fills every scalar) ----

/** An int64 as proto-loader gives it (a decimal string), or as decode.ts does (a safe number). */
export type Int64 = string | number;
export type Bytes = Buffer;

export interface WireHeader {
  cluster_id: string;
  member_id: string;
  revision: number | string;
  raft_term: number | string;
}

export interface WireKeyValue {
  key: Uint8Array;
  create_revision: number;
  mod_revision: number;
  version: number;
  value: Uint8Array;
  lease: number;
}

export interface WireRangeRequest {
  key: Bytes;
  range_end: Bytes;
  limit: Int64;
  revision: Int64;
  sort_order: string | number;
  sort_target: string | number;
  serializable: boolean;
  keys_only: boolean;
  count_only: boolean;
  min_mod_revision: Int64;
  max_mod_revision: Int64;
  min_create_revision: Int64;
  max_create_revision: Int64;
}

export interface WirePutRequest {
  key: Bytes;
  value: Bytes;
  lease: Int64;
  prev_kv: boolean;
  ignore_value: boolean;
  ignore_lease: boolean;
}

export interface WireDeleteRangeRequest {
  key: Bytes;
  range_end: Bytes;
  prev_kv: boolean;
}

export interface WireRequestOp {
  request?: 'request_range' | 'request_put' | 'request_delete_range' | 'request_txn';
  request_range?: WireRangeRequest | null;
  request_put?: WirePutRequest | null;
  request_delete_range?: WireDeleteRangeRequest | null;
  request_txn?: WireTxnRequest | null;
}

export interface WireCompare {
  result: string | number;
  target: string | number;
  key: Bytes;
  range_end: Bytes;
  target_union?: 'version' | 'create_revision' | 'mod_revision' | 'value' | 'lease';
  version?: Int64;
  create_revision?: Int64;
  mod_revision?: Int64;
  value?: Bytes;
  lease?: Int64;
}

export interface WireTxnRequest {
  compare: WireCompare[];
  success: WireRequestOp[];
  failure: WireRequestOp[];
}

export interface WireCompactionRequest {
  revision: Int64;
  physical: boolean;
}

export interface WireWatchCreateRequest {
  key: Bytes;
  range_end: Bytes;
  start_revision: Int64;
  progress_notify: boolean;
  filters: (string | number)[];
  prev_kv: boolean;
  watch_id: Int64;
  fragment: boolean;
}

export interface WireWatchRequest {
  request_union?: 'create_request' | 'cancel_request' | 'progress_request';
  create_request?: WireWatchCreateRequest | null;
  cancel_request?: { watch_id: Int64 } | null;
  progress_request?: object | null;
}

export interface WireLeaseGrantRequest {
  TTL: Int64;
  ID: Int64;
}

export interface WireLeaseIdRequest {
  ID: Int64;
}

export interface WireLeaseTimeToLiveRequest {
  ID: Int64;
  keys: boolean;
}

export interface WireAlarmRequest {
  action: string | number;
  memberID: string;
  alarm: string | number;
}
