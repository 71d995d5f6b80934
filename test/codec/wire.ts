/**
 * Every message a Shoal node may put on the wire, as one codec, for the codec tests and the
 * fuzzer: membership's table, the election protocols' and Raft's combined (`combineTables` also checks
 * that no two protocols share a type number). Production decodes each port with its protocol's
 * own table only.
 */
import {
  combineTables,
  decodeOrThrow,
  decodeWith,
  encodedBytesWith,
  encodeWith,
  type CodecLimits,
  type DecodeExpect,
  type DecodeResult,
} from '../../src/codec/codec.js';
import { ELECTION_MESSAGES } from '../../src/election/codec.js';
import type { ElectionMessage } from '../../src/election/messages.js';
import { MEMBERSHIP_MESSAGES } from '../../src/membership/codec.js';
import type { Message } from '../../src/membership/messages.js';
import { REGISTRY_MESSAGES } from '../../src/crdt/registry/codec.js';
import type { RegistryMessage } from '../../src/crdt/registry/types.js';
import { RAFT_MESSAGES } from '../../src/raft/codec.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import { RAFT_NODE_MESSAGES, type RaftNodeMessage } from '../../src/node/raft-rpc-codec.js';
import { chainMessages, type ChainMessage } from '../../src/chain/messages.js';
import { chainLimits } from '../../src/chain/chain.js';
import { treeMessages, type TreeMessage } from '../../src/tree/messages.js';
import { treeLimits } from '../../src/tree/shared.js';

export { updateEncodedBytes } from '../../src/membership/codec.js';
export {
  MEMBER_STATE_NUMBERS,
  REJECT_REASON_NUMBERS,
  UPDATE_KIND_NUMBERS,
} from '../../src/membership/messages.js';

export type WireMessage =
  | Message
  | ElectionMessage
  | RegistryMessage
  | RaftMessage
  | RaftNodeMessage
  | ChainMessage
  | TreeMessage;

export const WIRE_MESSAGES = combineTables(
  combineTables(
    combineTables(
      combineTables(
        combineTables(combineTables(MEMBERSHIP_MESSAGES, ELECTION_MESSAGES), REGISTRY_MESSAGES),
        RAFT_MESSAGES,
      ),
      RAFT_NODE_MESSAGES,
    ),
    chainMessages(chainLimits(), 1024),
  ),
  treeMessages(treeLimits()),
);
export const MESSAGE_TYPE_NUMBERS = WIRE_MESSAGES.numbers;

export function isElectionMessage(message: WireMessage): message is ElectionMessage {
  return Object.hasOwn(ELECTION_MESSAGES.numbers, message.type);
}

export function encodeMessage(
  msg: WireMessage,
  clusterId: string,
  limits?: Partial<CodecLimits>,
): Uint8Array {
  return encodeWith(WIRE_MESSAGES, msg, clusterId, limits);
}

export function decodeMessage(bytes: Uint8Array, expect: DecodeExpect): DecodeResult<WireMessage> {
  return decodeWith(WIRE_MESSAGES, bytes, expect);
}

export function decodeMessageOrThrow(bytes: Uint8Array, expect: DecodeExpect): WireMessage {
  return decodeOrThrow(WIRE_MESSAGES, bytes, expect);
}

export function messageEncodedBytes(msg: WireMessage, clusterId: string): number {
  return encodedBytesWith(WIRE_MESSAGES, msg, clusterId);
}
