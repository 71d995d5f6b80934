/**
 * The messages a `raft` member's node layer sends to another member beside Raft's own
 * (docs/design/raft-kv.md, "How a request travels"), and their codec in the shared envelope
 * (docs/design/wire.md, types 50–52):
 *
 * - `raft-node-hello`: who this member is (its name, labels, HTTP and etcd gRPC URLs), sent
 *   to every member of the configuration every helloIntervalMs. It also tells the receiver the
 *   sender is alive (raft mode has no gossip membership).
 * - `raft-node-request` / `raft-node-response`: one request to the Raft leader and its answer.
 *   A follower forwards here what only the leader can do: a proposal (the caller waits for the
 *   entry to apply on its own member, matched by the session in the entry), a lease keep-alive
 *   and time-to-live (the lessor runs on the leader only), a configuration change, a transfer,
 *   and a new member's join.
 *
 * Decoding never trusts the bytes: every field is checked (enums, error codes from the registry,
 * lengths against the named limits) and a refusal carries an ERR_DECODE_* code.
 *
 * APPEND ONLY: the type numbers, op numbers and outcome numbers below are on the wire.
 */
import type { Address } from '../base/address.js';
import { assertNever } from '../base/assert.js';
import { ERROR_CODES, type ErrorCode } from '../base/errors.js';
import {
  DecodeFailure,
  readAddress,
  readEnum,
  readFlags,
  reverseTable,
  writeAddress,
  type FieldLimits,
  type Reader,
  type Writer,
} from '../codec/bytes.js';
import {
  compileTable,
  decodeWith,
  encodeWith,
  type DecodeExpect,
  type DecodeResult,
} from '../codec/codec.js';
import type { NodeId } from '../identity/node-id.js';
import { readLabels, writeLabels } from '../membership/codec.js';
import type { Labels } from '../membership/messages.js';
import type { ConfigChange, RequestFailure } from '../raft/types.js';

/** Most URLs of one kind in a hello. */
export const HELLO_URLS_MAX = 8;
/** Longest URL in a hello, bytes. */
export const HELLO_URL_BYTES_MAX = 512;
/** Longest error message in a response, bytes of UTF-8. */
export const RESPONSE_MESSAGE_BYTES_MAX = 2048;

export type RpcOp = 'propose' | 'keep-alive' | 'time-to-live' | 'change' | 'transfer';

/** What a request asks, by op. */
export type RpcArgs =
  | { readonly op: 'propose'; readonly data: Uint8Array }
  | { readonly op: 'keep-alive'; readonly lease: number }
  | { readonly op: 'time-to-live'; readonly lease: number }
  | { readonly op: 'change'; readonly change: ConfigChange }
  | { readonly op: 'transfer'; readonly to: NodeId };

/**
 * How a request ended: `ok` with the op's answer, a Raft refusal (`reason`: retry elsewhere or
 * later), or an error with a registered code the caller surfaces as is.
 */
export type RpcOutcome =
  | { readonly kind: 'ok'; readonly value: number; readonly term: number }
  | {
      readonly kind: 'refused';
      readonly reason: RequestFailure;
      readonly message: string;
      /** The leader as the answering member knows it (for `not-leader`), to retry there. */
      readonly leader?: Address;
    }
  | { readonly kind: 'error'; readonly code: ErrorCode; readonly message: string };

interface Header {
  readonly from: NodeId;
  readonly fromAddress: Address;
}

export type RaftNodeMessage =
  | (Header & {
      readonly type: 'raft-node-hello';
      readonly name: string;
      readonly labels: Labels;
      readonly httpUrls: readonly string[];
      readonly grpcUrls: readonly string[];
    })
  | (Header & {
      readonly type: 'raft-node-request';
      readonly requestId: number;
      readonly args: RpcArgs;
    })
  | (Header & {
      readonly type: 'raft-node-response';
      readonly requestId: number;
      readonly outcome: RpcOutcome;
    });

// APPEND ONLY: message type numbers are on the wire, one space shared with the other protocols
// (membership 1..7 and 16, election 8..14, Raft 20..39, data plane 40..49).
export const RAFT_NODE_TYPE_NUMBERS = {
  'raft-node-hello': 50,
  'raft-node-request': 51,
  'raft-node-response': 52,
} as const satisfies Record<RaftNodeMessage['type'], number>;

/** Type numbers set aside for raft-mode node messages (50..59). */
export const RAFT_NODE_TYPE_NUMBER_RANGE = { first: 50, last: 59 } as const;

// APPEND ONLY.
const OP_NUMBERS = {
  propose: 1,
  'keep-alive': 2,
  'time-to-live': 3,
  change: 4,
  transfer: 5,
} as const satisfies Record<RpcOp, number>;
const OP_NAMES = reverseTable<RpcOp>(OP_NUMBERS);

// APPEND ONLY.
const OUTCOME_NUMBERS = {
  ok: 1,
  'not-leader': 2,
  'no-leader': 3,
  dropped: 4,
  transferring: 5,
  'too-large': 6,
  'queue-full': 7,
  timeout: 8,
  'change-pending': 9,
  invalid: 10,
  unknown: 11,
  error: 12,
} as const satisfies Record<'ok' | 'error' | RequestFailure, number>;
const OUTCOME_NAMES = reverseTable<keyof typeof OUTCOME_NUMBERS>(OUTCOME_NUMBERS);

// APPEND ONLY.
const CHANGE_NUMBERS = { 'add-voter': 1, 'add-learner': 2, promote: 3, remove: 4 } as const;
const CHANGE_NAMES = reverseTable<keyof typeof CHANGE_NUMBERS>(CHANGE_NUMBERS);
const FLAG_HAS_ID = 0x01;
const FLAG_HAS_LEADER = 0x01;

function malformed(detail: string): never {
  throw new DecodeFailure('ERR_DECODE_MALFORMED', detail);
}

function writeBytes(w: Writer, data: Uint8Array): void {
  w.varint(data.length);
  w.bytes(data);
}

function readBytes(r: Reader, what: string): Uint8Array {
  const length = r.varint(`${what} length`);
  return r.bytes(length, what).slice();
}

function writeUrls(w: Writer, urls: readonly string[]): void {
  w.count(urls.length, HELLO_URLS_MAX);
  for (const url of urls) w.string(url, HELLO_URL_BYTES_MAX);
}

function readUrls(r: Reader, what: string): string[] {
  const count = r.count(`${what} count`, 1);
  if (count > HELLO_URLS_MAX) throw new DecodeFailure('ERR_DECODE_OVERSIZED', `${count} ${what}`);
  return Array.from({ length: count }, () => r.string(what, HELLO_URL_BYTES_MAX));
}

function writeChange(w: Writer, change: ConfigChange): void {
  switch (change.op) {
    case 'add':
      w.u8(CHANGE_NUMBERS[change.as === 'voter' ? 'add-voter' : 'add-learner']);
      writeAddress(w, change.address);
      w.u8(change.id === undefined ? 0 : FLAG_HAS_ID);
      if (change.id !== undefined) w.nodeId(change.id);
      return;
    case 'promote':
    case 'remove':
      w.u8(CHANGE_NUMBERS[change.op]);
      w.nodeId(change.id);
      return;
    default:
      return assertNever(change, 'config change');
  }
}

function readChange(r: Reader): ConfigChange {
  const kind = readEnum(r, CHANGE_NAMES, 'change kind');
  if (kind === 'promote' || kind === 'remove') return { op: kind, id: r.nodeId('change id') };
  const address = readAddress(r, 'change address');
  const hasId = (readFlags(r, FLAG_HAS_ID, 'change flags') & FLAG_HAS_ID) !== 0;
  const as = kind === 'add-voter' ? 'voter' : 'learner';
  return hasId ? { op: 'add', address, as, id: r.nodeId('change id') } : { op: 'add', address, as };
}

function writeArgs(w: Writer, args: RpcArgs): void {
  w.u8(OP_NUMBERS[args.op]);
  switch (args.op) {
    case 'propose':
      return writeBytes(w, args.data);
    case 'keep-alive':
    case 'time-to-live':
      return w.varint(args.lease);
    case 'change':
      return writeChange(w, args.change);
    case 'transfer':
      return w.nodeId(args.to);
    default:
      return assertNever(args, 'rpc op');
  }
}

function readArgs(r: Reader): RpcArgs {
  const op = readEnum(r, OP_NAMES, 'op');
  switch (op) {
    case 'propose':
      return { op, data: readBytes(r, 'proposal') };
    case 'keep-alive':
    case 'time-to-live': {
      const lease = r.varint('lease');
      if (lease === 0) malformed('lease id 0');
      return { op, lease };
    }
    case 'change':
      return { op, change: readChange(r) };
    case 'transfer':
      return { op, to: r.nodeId('transfer target') };
    default:
      return assertNever(op, 'rpc op');
  }
}

function writeOutcome(w: Writer, outcome: RpcOutcome): void {
  switch (outcome.kind) {
    case 'ok':
      w.u8(OUTCOME_NUMBERS.ok);
      w.varint(outcome.value);
      return w.varint(outcome.term);
    case 'refused':
      w.u8(OUTCOME_NUMBERS[outcome.reason]);
      w.string(outcome.message, RESPONSE_MESSAGE_BYTES_MAX);
      w.u8(outcome.leader === undefined ? 0 : FLAG_HAS_LEADER);
      if (outcome.leader !== undefined) writeAddress(w, outcome.leader);
      return;
    case 'error':
      w.u8(OUTCOME_NUMBERS.error);
      w.string(outcome.code, RESPONSE_MESSAGE_BYTES_MAX);
      return w.string(outcome.message, RESPONSE_MESSAGE_BYTES_MAX);
    default:
      return assertNever(outcome, 'rpc outcome');
  }
}

function readOutcome(r: Reader): RpcOutcome {
  const kind = readEnum(r, OUTCOME_NAMES, 'outcome');
  if (kind === 'ok') return { kind, value: r.varint('value'), term: r.varint('term') };
  if (kind === 'error') {
    const code = r.string('error code', RESPONSE_MESSAGE_BYTES_MAX);
    if (!Object.hasOwn(ERROR_CODES, code)) malformed(`unknown error code ${JSON.stringify(code)}`);
    const message = r.string('error message', RESPONSE_MESSAGE_BYTES_MAX);
    return { kind, code: code as ErrorCode, message };
  }
  const message = r.string('message', RESPONSE_MESSAGE_BYTES_MAX);
  const hasLeader = (readFlags(r, FLAG_HAS_LEADER, 'refusal flags') & FLAG_HAS_LEADER) !== 0;
  return hasLeader
    ? { kind: 'refused', reason: kind, message, leader: readAddress(r, 'leader') }
    : { kind: 'refused', reason: kind, message };
}

function writePayload(w: Writer, m: RaftNodeMessage, limits: FieldLimits): void {
  w.nodeId(m.from);
  writeAddress(w, m.fromAddress);
  switch (m.type) {
    case 'raft-node-hello':
      w.string(m.name, 255);
      writeLabels(w, m.labels, limits);
      writeUrls(w, m.httpUrls);
      return writeUrls(w, m.grpcUrls);
    case 'raft-node-request':
      w.varint(m.requestId);
      return writeArgs(w, m.args);
    case 'raft-node-response':
      w.varint(m.requestId);
      return writeOutcome(w, m.outcome);
    default:
      return assertNever(m, 'raft node message');
  }
}

function readPayload(r: Reader, type: RaftNodeMessage['type']): RaftNodeMessage {
  const from = r.nodeId('from');
  const fromAddress = readAddress(r, 'fromAddress');
  switch (type) {
    case 'raft-node-hello': {
      const name = r.string('name', 255);
      const labels = readLabels(r);
      const httpUrls = readUrls(r, 'http urls');
      return {
        type,
        from,
        fromAddress,
        name,
        labels,
        httpUrls,
        grpcUrls: readUrls(r, 'grpc urls'),
      };
    }
    case 'raft-node-request':
      return { type, from, fromAddress, requestId: r.varint('requestId'), args: readArgs(r) };
    case 'raft-node-response':
      return {
        type,
        from,
        fromAddress,
        requestId: r.varint('requestId'),
        outcome: readOutcome(r),
      };
    default:
      return assertNever(type, 'raft node message type');
  }
}

export const RAFT_NODE_MESSAGES = compileTable<RaftNodeMessage>({
  numbers: RAFT_NODE_TYPE_NUMBERS,
  write: (w, m, limits) => writePayload(w, m, limits),
  read: (r, type) => readPayload(r, type),
});

export function encodeRaftNodeMessage(m: RaftNodeMessage, clusterId: string): Uint8Array {
  return encodeWith(RAFT_NODE_MESSAGES, m, clusterId);
}

/** Decodes one node message; never throws. */
export function decodeRaftNodeMessage(
  bytes: Uint8Array,
  expect: DecodeExpect,
): DecodeResult<RaftNodeMessage> {
  return decodeWith(RAFT_NODE_MESSAGES, bytes, expect);
}

/** Whether `bytes` is an envelope of a node message (magic, version, type in 50..59): the mux's test. */
export function isRaftNodePayload(bytes: Uint8Array): boolean {
  const type = bytes[3];
  return (
    bytes.length > 4 &&
    bytes[0] === 0x53 &&
    bytes[1] === 0x48 &&
    type !== undefined &&
    type >= RAFT_NODE_TYPE_NUMBER_RANGE.first &&
    type <= RAFT_NODE_TYPE_NUMBER_RANGE.last
  );
}
