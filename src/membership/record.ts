/**
 * The signed forms of membership (docs/security.md, "Self-certifying records"): the canonical
 * bytes a member signs about itself, an accuser signs about a suspect, and a cluster CA signs
 * about a node, each behind its own domain tag so that no signature of one kind can pass for
 * another (nor for any other protocol's). Signatures are made once by their originator and
 * gossiped unchanged, so a receiver verifies a record only when it changes something.
 *
 * Layouts (the codec's primitives, docs/design/wire.md "Signed bytes"):
 * - record:     tag, cluster id, id, incarnation, state (alive 1 | left 4), name, address,
 *               labels (sorted), public key (32 bytes)
 * - accusation: tag, cluster id, kind (suspect 2 | dead 3), subject id, subject incarnation,
 *               accuser id
 * - certificate: tag, cluster id, public key (32 bytes), not-before ms, not-after ms
 *
 * The cluster id is signed too: a record from another cluster cannot be replayed here.
 */
import { LIMITS } from '../base/limits.js';
import type { Incarnation } from '../base/units.js';
import { Writer, writeAddress } from '../codec/bytes.js';
import type { NodeId } from '../identity/node-id.js';
import { PUBLIC_KEY_BYTES, type MemberCrypto, type PublicKey } from '../identity/signed.js';
import { writeLabels } from './codec.js';
import {
  MEMBER_STATE_NUMBERS,
  type AccusationUpdate,
  type RecordFields,
  type RecordUpdate,
} from './messages.js';

export const RECORD_DOMAIN = 'shoal/member-record/v1';
export const ACCUSATION_DOMAIN = 'shoal/accusation/v1';
export const CERTIFICATE_DOMAIN = 'shoal/node-certificate/v1';

/**
 * The largest incarnation a member may use or a node accepts: 2^48 − 1, far below 2^53 so that
 * every incarnation plus one is still exact. A received record or accusation above it is refused
 * and counted (`incarnationsRefused`); a node at it can no longer refute and says so (it must get
 * a new identity). At one refutation per second that is nine million years.
 */
export const INCARNATION_MAX = 2 ** 48 - 1;

const FIELD_LIMITS = {
  decodeListCountMax: LIMITS.decodeListCountMax,
  decodeStringBytesMax: LIMITS.decodeStringBytesMax,
};
const scratch = new Writer(512);

function begin(domain: string, clusterId: string): Writer {
  scratch.reset();
  scratch.string(domain, FIELD_LIMITS.decodeStringBytesMax);
  scratch.string(clusterId, FIELD_LIMITS.decodeStringBytesMax);
  return scratch;
}

/** What a member signs about itself in `state`: every field of `record` but the signatures. */
export function recordBytes(
  clusterId: string,
  state: 'alive' | 'left',
  record: Omit<RecordFields, 'signature' | 'certificate'>,
): Uint8Array {
  const w = begin(RECORD_DOMAIN, clusterId);
  w.nodeId(record.id);
  w.varint(record.incarnation);
  w.u8(MEMBER_STATE_NUMBERS[state]);
  w.string(record.name, FIELD_LIMITS.decodeStringBytesMax);
  writeAddress(w, record.address);
  writeLabels(w, record.labels, FIELD_LIMITS);
  w.hex(record.publicKey, PUBLIC_KEY_BYTES);
  return w.finish();
}

/** What an accuser signs: `kind` of `id` at `incarnation`, by `from`. */
export function accusationBytes(
  clusterId: string,
  kind: 'suspect' | 'dead',
  id: NodeId,
  incarnation: Incarnation,
  from: NodeId,
): Uint8Array {
  const w = begin(ACCUSATION_DOMAIN, clusterId);
  w.u8(MEMBER_STATE_NUMBERS[kind]);
  w.nodeId(id);
  w.varint(incarnation);
  w.nodeId(from);
  return w.finish();
}

/** What a cluster CA signs about a node's key: valid from `notBeforeMs` to `notAfterMs` (Unix ms). */
export function certificateBytes(
  clusterId: string,
  publicKey: PublicKey,
  notBeforeMs: number,
  notAfterMs: number,
): Uint8Array {
  const w = begin(CERTIFICATE_DOMAIN, clusterId);
  w.hex(publicKey, PUBLIC_KEY_BYTES);
  w.varint(notBeforeMs);
  w.varint(notAfterMs);
  return w.finish();
}

/** Signs a record as its member (the caller holds that member's key in `crypto`). */
export function signRecord(
  crypto: Pick<MemberCrypto, 'sign'>,
  clusterId: string,
  kind: 'alive' | 'left',
  fields: Omit<RecordFields, 'signature'>,
): RecordUpdate {
  const signature = crypto.sign(recordBytes(clusterId, kind, fields));
  return { kind, ...fields, signature };
}

/** Signs an accusation as `from` (the caller holds `from`'s key in `crypto`). */
export function signAccusation(
  crypto: Pick<MemberCrypto, 'sign'>,
  clusterId: string,
  accusation: Omit<AccusationUpdate, 'signature'>,
): AccusationUpdate {
  const { kind, id, incarnation, from } = accusation;
  return {
    kind,
    id,
    incarnation,
    from,
    signature: crypto.sign(accusationBytes(clusterId, kind, id, incarnation, from)),
  };
}

/** Whether `record` is signed by the owner of `record.id`: the key hashes to the id and signs the bytes. */
export function recordVerifies(
  crypto: Pick<MemberCrypto, 'verify' | 'nodeIdOf'>,
  clusterId: string,
  kind: 'alive' | 'left',
  record: RecordFields,
): 'ok' | 'key_mismatch' | 'signature_invalid' {
  if (crypto.nodeIdOf(record.publicKey) !== record.id) return 'key_mismatch';
  return crypto.verify(record.publicKey, recordBytes(clusterId, kind, record), record.signature)
    ? 'ok'
    : 'signature_invalid';
}

/** Whether `accusation` is signed by the key `accuserKey` (the accuser's, as the receiver holds it). */
export function accusationVerifies(
  crypto: Pick<MemberCrypto, 'verify'>,
  clusterId: string,
  accusation: AccusationUpdate,
  accuserKey: PublicKey,
): boolean {
  const { kind, id, incarnation, from, signature } = accusation;
  return crypto.verify(
    accuserKey,
    accusationBytes(clusterId, kind, id, incarnation, from),
    signature,
  );
}
