/**
 * Where the worker tier keeps its replicated state in the key-value store (docs/design/
 * worker-tier.md, "State in the store"). Everything lives under one reserved prefix,
 * `\0shoal/worker/`, that user writes cannot reach: `reservedWriteIn` finds a user request that
 * would write there (a put, a delete whose range overlaps it, a txn branch doing either, at any
 * depth), and the node's user-facing store (`node.kv`, HTTP, etcd gRPC) refuses it with
 * ERR_RESERVED_KEY. Reads and compares stay allowed: nothing under the prefix is secret (CA
 * private keys never enter the store; token records hold use counts, never tokens).
 *
 * Layout (ids are lowercase hex NodeIds; names are validated by `isName`):
 *   ca/<serverId>                  a server's worker-CA certificate (PEM), public
 *   server/<serverId>              a server's worker listener address and CA pin
 *   token/<tokenId>                one put per registration: the key's `version` IS the use count
 *   token-revoked/<tokenId>        present once a token is revoked
 *   token-use/<tokenId>/<workerId> present once that worker used the token (retries take no use)
 *   worker/<workerId>              the worker record: status (registered, down, drained, revoked)
 *   assign/<nodeId>/a/<service>/<index>   an assignment (set / drain / delete tombstone)
 *   assign/<nodeId>/c/<commandId>          a command (drain, evict, restart)
 *   service/<service>              a service's desired state: replicas, roles, spec, placement
 *   status/<nodeId>                a node's last reported per-container state (written on change)
 *
 * The modRevision of an assign/ key is the assignment revision a worker resumes from.
 */
import { keySpan, prefixEnd, spansOverlap, type KeySpan } from '../../kv/keys.js';
import type { RequestOp, TxnRequest, KvOp } from '../../kv/types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The reserved prefix, as text (a leading NUL byte keeps it out of every printable key). */
export const WORKER_PREFIX_TEXT = '\u0000shoal/worker/';
export const WORKER_PREFIX: Uint8Array = encoder.encode(WORKER_PREFIX_TEXT);
const RESERVED_SPAN: KeySpan = keySpan(WORKER_PREFIX, prefixEnd(WORKER_PREFIX));

/** Service, role and label names: 1-63 letters, digits, `.`, `_`, `-`. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function isName(text: string): boolean {
  return NAME_RE.test(text);
}

/** A key under the prefix, as bytes. */
export function workerKey(...parts: string[]): Uint8Array {
  return encoder.encode(WORKER_PREFIX_TEXT + parts.join('/'));
}

/** Every key starting with `parts` joined and a trailing slash: (key, rangeEnd). */
export function workerPrefix(...parts: string[]): { key: Uint8Array; rangeEnd: Uint8Array } {
  const key = encoder.encode(`${WORKER_PREFIX_TEXT}${parts.join('/')}/`);
  return { key, rangeEnd: prefixEnd(key) };
}

export const keys = {
  ca: (serverId: string) => workerKey('ca', serverId),
  server: (serverId: string) => workerKey('server', serverId),
  token: (tokenId: string) => workerKey('token', tokenId),
  tokenRevoked: (tokenId: string) => workerKey('token-revoked', tokenId),
  tokenUse: (tokenId: string, workerId: string) => workerKey('token-use', tokenId, workerId),
  worker: (workerId: string) => workerKey('worker', workerId),
  assignment: (nodeId: string, service: string, index: number) =>
    workerKey('assign', nodeId, 'a', service, String(index)),
  command: (nodeId: string, commandId: string) => workerKey('assign', nodeId, 'c', commandId),
  service: (service: string) => workerKey('service', service),
  status: (nodeId: string) => workerKey('status', nodeId),
};

export const prefixes = {
  ca: () => workerPrefix('ca'),
  servers: () => workerPrefix('server'),
  workers: () => workerPrefix('worker'),
  assignmentsOf: (nodeId: string) => workerPrefix('assign', nodeId),
  allAssignments: () => workerPrefix('assign'),
  services: () => workerPrefix('service'),
  statuses: () => workerPrefix('status'),
};

/** What a key under the prefix names, parsed back; undefined for a key of another shape. */
export type ParsedKey =
  | { kind: 'worker'; workerId: string }
  | { kind: 'assignment'; nodeId: string; service: string; index: number }
  | { kind: 'command'; nodeId: string; commandId: string }
  | { kind: 'service'; service: string }
  | { kind: 'status'; nodeId: string }
  | { kind: 'ca'; serverId: string }
  | { kind: 'server'; serverId: string }
  | { kind: 'token'; tokenId: string };

export function parseKey(key: Uint8Array): ParsedKey | undefined {
  const text = decoder.decode(key);
  if (!text.startsWith(WORKER_PREFIX_TEXT)) return undefined;
  const parts = text.slice(WORKER_PREFIX_TEXT.length).split('/');
  const [kind, a, b, c, d] = parts;
  if (a === undefined) return undefined;
  if (parts.length === 2) {
    if (kind === 'worker') return { kind, workerId: a };
    if (kind === 'service') return { kind, service: a };
    if (kind === 'status') return { kind, nodeId: a };
    if (kind === 'ca') return { kind, serverId: a };
    if (kind === 'server') return { kind, serverId: a };
    if (kind === 'token') return { kind, tokenId: a };
    return undefined;
  }
  if (kind !== 'assign') return undefined;
  if (parts.length === 4 && b === 'c' && c !== undefined)
    return { kind: 'command', nodeId: a, commandId: c };
  if (parts.length === 5 && b === 'a' && c !== undefined && d !== undefined) {
    const index = Number(d);
    if (!Number.isSafeInteger(index) || index < 0 || String(index) !== d) return undefined;
    return { kind: 'assignment', nodeId: a, service: c, index };
  }
  return undefined;
}

/** Deepest txn nesting the guard walks; a deeper request is refused as if it wrote the prefix. */
export const GUARD_TXN_DEPTH_MAX = 64;

/** True when (key, rangeEnd) names a key under the reserved prefix. */
export function touchesReserved(key: Uint8Array, rangeEnd?: Uint8Array): boolean {
  return spansOverlap(keySpan(key, rangeEnd), RESERVED_SPAN);
}

/**
 * The first key a user's request would WRITE under the reserved prefix (as text), or undefined.
 * Reads (range ops, compares) are allowed; lease and compaction ops write no key.
 */
export function reservedWriteIn(op: KvOp | RequestOp, depth = 1): string | undefined {
  // Deeper than any store accepts (txnDepthMax is 16 by default): refused rather than walked.
  if (depth > GUARD_TXN_DEPTH_MAX) return `(a txn nested deeper than ${GUARD_TXN_DEPTH_MAX})`;
  switch (op.kind) {
    case 'put':
      return touchesReserved(op.request.key) ? decoder.decode(op.request.key) : undefined;
    case 'delete-range':
      return touchesReserved(op.request.key, op.request.rangeEnd)
        ? decoder.decode(op.request.key)
        : undefined;
    case 'txn':
      return reservedWriteInTxn(op.request, depth);
    default:
      return undefined;
  }
}

function reservedWriteInTxn(txn: TxnRequest, depth: number): string | undefined {
  for (const op of [...txn.success, ...txn.failure]) {
    const found = reservedWriteIn(op, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
