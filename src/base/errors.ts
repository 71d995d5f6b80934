/**
 * Errors at the public API (STYLE.md section 6, kind 2): `ShoalError` with a stable `code`.
 * Callers check `code`, never `instanceof`. Every code is listed once here and once in
 * `docs/errors.md`; `test/base/errors.test.ts` keeps the two equal.
 *
 * APPEND ONLY in spirit: a released code keeps its meaning; retire one by documenting it, never
 * by reusing its name.
 */

/** code -> one-line meaning (the same sentence as in docs/errors.md). */
export const ERROR_CODES = {
  ERR_INVALID_ARGUMENT: 'An argument to a public function has the wrong type or is out of range.',
  ERR_INVALID_CONFIG:
    'A configuration field is invalid; the message names the field, the value and what is allowed.',
  ERR_IDENTITY_CORRUPT:
    'The identity file exists but cannot be parsed or its keys do not match; it is never replaced silently.',
  ERR_IDENTITY_FOREIGN:
    'The identity file is of another format or version than this Shoal understands.',
  ERR_IDENTITY_IO:
    'The identity file or data directory cannot be read or written (permissions, missing directory, disk).',
  ERR_DECODE_TRUNCATED: 'A message or frame ended before all its declared fields.',
  ERR_DECODE_OVERSIZED: 'A message, frame, string or collection is larger than its named limit.',
  ERR_DECODE_BAD_MAGIC: 'The bytes do not start with the Shoal magic number: not a Shoal message.',
  ERR_DECODE_BAD_VERSION: 'The message uses a protocol version this node does not support.',
  ERR_DECODE_UNKNOWN_TYPE: "The message type number is not in this node's message-type table.",
  ERR_DECODE_WRONG_CLUSTER: 'The message belongs to another cluster id.',
  ERR_DECODE_MALFORMED:
    'A field has an invalid value (bad enum, non-canonical encoding, bad UTF-8, trailing bytes).',
  ERR_DECODE_UNSAFE_INTEGER: 'A number on the wire is not a safe integer.',
  ERR_AUTH_FAILED:
    'A packet or frame failed authenticated decryption with every key in the keyring.',
  ERR_KEYRING_INVALID:
    'A keyring entry is not a base64-encoded 32-byte key, or the keyring is empty.',
  ERR_TRANSPORT_BIND:
    'The transport could not bind its address (in use, not permitted, or not local).',
  ERR_TRANSPORT_CLOSED: 'The transport or connection is closed.',
  ERR_TRANSPORT_ADDRESS: 'An address is not of the form host:port with a valid port.',
  ERR_QUEUE_FULL: 'A bounded queue was full; the oldest entry was dropped and counted.',
  ERR_SIM_INVARIANT:
    'A simulation run broke an invariant; the message gives the seed and the replay command.',
  ERR_STORAGE_IO:
    'A storage operation was refused: the path is invalid, the file is missing, or the disk is full.',
  ERR_STORAGE_CORRUPT:
    'A persisted file (an incarnation, a term, a vote) holds something Shoal did not write; it is never read as zero or replaced, and the message names the file and how to recover.',
  ERR_JOIN_FAILED:
    'A join reached none of the given addresses, or every one refused it; the message gives the reason.',
  ERR_HTTP_BAD_REQUEST:
    'An HTTP request to the agent is malformed: bad JSON, an unknown field, a wrong type, or an unsupported content type.',
  ERR_HTTP_BODY_TOO_LARGE: "An HTTP request body is larger than the agent's body size limit.",
  ERR_UNAUTHORIZED:
    'A mutating HTTP request lacks the bearer token the agent requires, or the token is wrong.',
  ERR_NOT_FOUND: "No such route or file on the agent's HTTP API.",
  ERR_HTTP_LISTEN:
    "The agent's HTTP API could not listen on its address (in use, not permitted, or not local).",
  ERR_AGENT_UNREACHABLE:
    "The CLI could not reach an agent's HTTP API at the given address (not running, wrong address, or timed out).",
  ERR_AGENT_RESPONSE:
    'The agent answered with an error or with something that is not the expected JSON; the message gives the status and the reason.',
  ERR_INTERNAL:
    'The agent failed to handle a request because of a bug; the agent keeps running and logs the details.',
  ERR_ABORTED:
    'An operation was cancelled through its AbortSignal before it finished; the message names the operation.',
  ERR_HISTORY_INVALID:
    'A history file or recorded history for the linearizability checker is malformed; the message names the operation and the field.',
  ERR_CAS_FAILED:
    "A compare-and-swap did not hold: the key's current revision (or presence) is not the one the request expected; nothing was written.",
  ERR_TOO_LARGE:
    'A key, value or request is larger than its named limit (keyBytesMax, valueBytesMax, requestBytesMax); nothing was applied.',
  ERR_TOO_MANY_OPS:
    'A transaction has more compares or operations in one branch than txnOpsMax, or nests deeper than txnDepthMax.',
  ERR_DUPLICATE_KEY:
    'A transaction writes the same key twice in one branch (two puts, or a put inside a deleted range), which etcd refuses too.',
  ERR_KEY_NOT_FOUND: 'A put with ignoreValue or ignoreLease names a key that does not exist.',
  ERR_COMPACTED:
    'The requested revision is below the compacted revision: that history is gone (the error carries the compacted revision).',
  ERR_FUTURE_REVISION: "The requested revision is above the store's current revision.",
  ERR_LEASE_NOT_FOUND: 'No lease with that id exists (never granted, revoked, or expired).',
  ERR_LEASE_EXISTS: 'A lease with that id already exists; the grant was refused.',
  ERR_LEASE_TTL_TOO_LARGE: 'A lease TTL is above leaseTtlMsMax.',
  ERR_TOO_MANY_LEASES: 'The store already holds leasesMax leases; revoke some or raise the limit.',
  ERR_TOO_MANY_WATCHERS:
    'This node already serves watchersMax watchers; cancel some or raise the limit.',
  ERR_SESSION_STALE:
    "A command carries a sequence number older than its client session's last one: it is a late duplicate and was not applied.",
  ERR_SESSION_EXPIRED:
    'The client session is unknown (evicted, or never started with seq 1) or its result was too large to keep: whether the command applied cannot be told; start a new session.',
  ERR_SNAPSHOT_CORRUPT:
    'Key-value snapshot bytes fail their checksum or do not parse; nothing was restored.',
  ERR_NO_LEADER:
    'No Raft leader is known right now (an election is under way, or this member is cut off from a majority); nothing was applied: retry later.',
  ERR_NOT_LEADER:
    'The request must run on the Raft leader and this member could not forward it there.',
  ERR_TIMEOUT:
    'A replicated request did not complete in time; a write may or may not have applied (retry it with the same session to apply it at most once).',
  ERR_GRPC_LISTEN:
    'The etcd-compatible gRPC endpoint could not listen on its address (in use, not permitted, or not local), or its TLS files were refused.',
  ERR_JEPSEN_UNAVAILABLE:
    'The Jepsen harness cannot run the asked system or network here (not root, no ip netns, etcd not installed, or Shoal without raft mode); nothing was started.',
  ERR_JEPSEN_NEMESIS:
    'A Jepsen fault did not take effect or could not be undone (a cut link still connects, a healed one does not, a member did not come back); the run stops with no verdict.',
  ERR_CHANGE_PENDING:
    'A Raft membership change is already in progress (one at a time, and the leader must first commit an entry of its term); retry once it completes.',
  ERR_INCARNATION_EXHAUSTED:
    'This node has used every membership incarnation its identity may sign (INCARNATION_MAX); it needs a new identity.',
  ERR_MODE_UNSUPPORTED:
    "The operation needs a part of Shoal this node's mode does not run (node.services in static mode); the message names the modes that have it.",
  ERR_RESERVED_KEY:
    'A write names a key under the reserved prefix \\0shoal/worker/ that only the worker tier writes; nothing was written.',
  ERR_TOKEN_REFUSED:
    'A worker registration was refused because of its token (malformed, another cluster, unknown signer, bad signature, not yet valid, expired, a contradicted label, revoked, used up); the message says which.',
  ERR_WORKER_CA:
    'A worker CA directory or worker identity directory cannot be read or written, or holds files that do not parse or do not match; they are never replaced silently.',
  ERR_WORKER_UNAVAILABLE:
    'A worker-tier call reached no server that could answer (unreachable, no leader, timed out); the message names the servers tried.',
  ERR_WORKER_LIMIT:
    'The worker tier already tracks workersMax workers, or a request names more replicas or labels than allowed; nothing was changed.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The base of every error Shoal throws at its public API. */
export class ShoalError extends Error {
  override readonly name: string = 'ShoalError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `err` is any ShoalError with `code` (works across module copies: checks the code, not the class). */
export function hasErrorCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
