/**
 * The stream refusal: the one frame an acceptor ever writes on an inbound connection, just
 * before it closes it, so the dialer learns why instead of seeing a bare close (its join then
 * fails with "the inbound connection limit is full" or "it could not authenticate our frames",
 * not with a timeout). It is a hint, not a proof (it is not authenticated: an on-path attacker
 * could forge one, as it could forge a reset); the dialer only fails the attempt early.
 *
 * Layout (docs/design/wire.md, "Stream refusal"): magic "SHR" (3 bytes), version 1 (1 byte), a
 * reason code (1 byte), in one length-prefixed frame. Dialers that predate it discard anything
 * an acceptor sends, so it is compatible both ways.
 */
import type { StreamRefusal } from './types.js';

const REFUSAL_MAGIC = [0x53, 0x48, 0x52] as const;
const REFUSAL_VERSION = 1;
export const REFUSAL_BYTES = 5;

// APPEND ONLY: reason codes are on the wire.
const REFUSAL_CODES: Record<StreamRefusal, number> = {
  inbound_limit: 1,
  auth_failed: 2,
  bad_hello: 3,
  hello_timeout: 4,
  auth_timeout: 5,
  buffer_limit: 6,
  oversized: 7,
  peer_auth: 8,
};
const REFUSAL_BY_CODE = new Map(
  Object.entries(REFUSAL_CODES).map(([reason, code]) => [code, reason as StreamRefusal]),
);

const DESCRIPTIONS: Record<StreamRefusal, string> = {
  inbound_limit: 'its inbound connection limit is full (it accepts again as connections close)',
  auth_failed:
    'it could not authenticate our frames: the gossip keys differ, or only one side has a keyring',
  bad_hello: 'our stream hello was malformed (another program, or an incompatible version)',
  hello_timeout: 'our stream hello did not arrive within its helloTimeoutMs',
  auth_timeout: 'no frame of ours was accepted within its inboundAuthTimeoutMs',
  buffer_limit: 'its buffer for unfinished frames was full',
  oversized: 'a frame of ours was over its size limit',
  peer_auth:
    'it refused our authenticated hello (clocks more than its skew window apart, a key it does not admit, or not a raft member here; its log says which)',
};

export function encodeRefusal(reason: StreamRefusal): Uint8Array {
  return Uint8Array.of(...REFUSAL_MAGIC, REFUSAL_VERSION, REFUSAL_CODES[reason]);
}

/** The reason a refusal frame carries, or undefined when the frame is anything else. */
export function decodeRefusal(frame: Uint8Array): StreamRefusal | undefined {
  if (frame.length !== REFUSAL_BYTES) return undefined;
  if (frame[0] !== REFUSAL_MAGIC[0] || frame[1] !== REFUSAL_MAGIC[1]) return undefined;
  if (frame[2] !== REFUSAL_MAGIC[2] || frame[3] !== REFUSAL_VERSION) return undefined;
  return REFUSAL_BY_CODE.get(frame[4] as number);
}

/** What a refusal means, as the end of a sentence "<address> refused our connection: ...". */
export function describeStreamRefusal(reason: StreamRefusal | undefined): string {
  return reason === undefined
    ? 'connection refused (nothing listens on that port)'
    : `${DESCRIPTIONS[reason]} (${reason})`;
}
