/**
 * Chain replication on the wire (docs/design/data-plane.md, "Chains on the network"): one
 * envelope type, 45 `data-chain` (the data plane's 40-49 range, wire.md), whose body starts with
 * a kind byte:
 *
 * - `pull` (1): request id, then per owner: owner id, the seq the asker holds (`afterSeq`) and its
 *   hash there (32 bytes): "send me what follows, if we agree up to there".
 * - `pulled` (2): request id, then per owner: owner id, a status byte (`entries` 0: the entries
 *   that follow; `diverged` 1: my hash at your `afterSeq` (or at my head, when shorter) differs
 *   from yours; `pruned` 2: I no longer keep the entries right after yours; `shorter` 3: my head
 *   is below yours, then its seq and hash, for you to check against yours), then for `entries`
 *   a count and per entry seq, prevHash (32), payload (varint length + bytes), signature (64).
 * - `ask` (3): request id, owner, a list of seqs (empty: "send your locator", chain.ts
 *   `chainLocator`).
 * - `hashes` (4): request id, owner, whether the chain is held (byte), its head seq, then pairs
 *   of seq and hash.
 * - `digest` (5): request id, how many non-empty chains the asker counts (varint), then the XOR of
 *   their head hashes (32 bytes): a pull opens with it ("do our heads agree?").
 * - `summary` (6): request id, then a byte: 1 "same" (nothing follows), or 0 then the bucket bits
 *   b (a byte, at most `BUCKET_BITS_MAX`) and 2^b bucket digests of `BUCKET_DIGEST_BYTES` each
 *   (the first bytes of the XOR of the head hashes of the owners whose id starts with bucket i's
 *   b bits); the asker then names its owners in the buckets that differ in a `pull`.
 * - `notify` (7): the body of a `digest`, sent unasked (id 0) to a few members when the sender's
 *   heads changed: "pull from me" (a receiver whose digest differs opens a pull with it).
 *
 * Entries carry no per-entry owner: the list item names it. Bad bytes are a refusal with an
 * ERR_DECODE_* code (counted by the caller), never a throw; entries still pass
 * `ChainReplica.ingest`, which verifies every signature and link.
 */
import { compileTable, type CompiledTable } from '../codec/codec.js';
import { DecodeFailure, type Reader, type Writer } from '../codec/bytes.js';
import type { NodeId } from '../identity/node-id.js';
import { HASH_BYTES, SIGNATURE_BYTES, type ChainEntry, type ChainLimits } from './chain.js';

/** APPEND ONLY: the envelope type of every chain message. */
export const CHAIN_MESSAGE_TYPE = 45;

/** APPEND ONLY: kind bytes and statuses are on the wire. */
const KIND_NUMBERS = {
  pull: 1,
  pulled: 2,
  ask: 3,
  hashes: 4,
  digest: 5,
  summary: 6,
  notify: 7,
} as const;
const STATUS_NUMBERS = { entries: 0, diverged: 1, pruned: 2, shorter: 3 } as const;

export interface PullWant {
  owner: NodeId;
  afterSeq: number;
  /** The asker's hash at afterSeq (GENESIS_HASH at 0). */
  hash: Uint8Array;
}

export type PulledChain =
  | { owner: NodeId; status: 'entries'; entries: ChainEntry[] }
  | { owner: NodeId; status: 'diverged' | 'pruned' }
  /** The answerer holds less than the asker: its head, for the asker to check against its own. */
  | { owner: NodeId; status: 'shorter'; headSeq: number; headHash: Uint8Array };

export type ChainBody =
  | { kind: 'pull'; id: number; wants: PullWant[] }
  | { kind: 'pulled'; id: number; chains: PulledChain[] }
  | { kind: 'ask'; id: number; owner: NodeId; seqs: number[] }
  | {
      kind: 'hashes';
      id: number;
      owner: NodeId;
      held: boolean;
      headSeq: number;
      hashes: Array<{ seq: number; hash: Uint8Array }>;
    }
  /** The asker's heads in brief: how many non-empty chains, and the XOR of their head hashes. */
  | { kind: 'digest'; id: number; count: number; root: Uint8Array }
  /** The sender's heads changed (its digest): a receiver whose own differs pulls from it. */
  | { kind: 'notify'; id: number; count: number; root: Uint8Array }
  /**
   * `same`, or the answerer's heads by bucket: `buckets` holds 2^`bucketBits` digests of
   * BUCKET_DIGEST_BYTES each, back to back (empty when same).
   */
  | { kind: 'summary'; id: number; same: boolean; bucketBits: number; buckets: Uint8Array };

export interface ChainMessage {
  readonly type: 'data-chain';
  readonly body: ChainBody;
}

/** Most seqs one `ask` names and one `hashes` answers (a locator of a 2^60-entry chain fits). */
export const ASK_SEQS_MAX = 64;
/**
 * Largest payload a `pulled` answer may carry (the largest `payloadBytesMax` a node may set).
 * Decoding takes up to this, not the node's own `payloadBytesMax`: an entry larger than the
 * node's own limit is refused by `ingest` (`oversized`, counted) for its chain alone, so members
 * with different limits still replicate every other chain in the same answer.
 */
export const PAYLOAD_BYTES_WIRE_MAX = 1_048_576;
/** Most bucket bits a summary uses (4,096 buckets, 32 KiB). */
export const BUCKET_BITS_MAX = 12;
/** Bytes of one bucket's digest in a summary (the first bytes of its XOR). */
export const BUCKET_DIGEST_BYTES = 8;

const WANT_BYTES_MIN = 16 + 1 + HASH_BYTES;
const PULLED_BYTES_MIN = 16 + 1;
const ENTRY_BYTES_MIN = 1 + HASH_BYTES + 1 + SIGNATURE_BYTES;

function writeBody(w: Writer, body: ChainBody, limits: ChainLimits, ownersMax: number): void {
  w.u8(KIND_NUMBERS[body.kind]);
  w.varint(body.id);
  switch (body.kind) {
    case 'pull':
      w.count(body.wants.length, ownersMax);
      for (const want of body.wants) {
        w.nodeId(want.owner);
        w.varint(want.afterSeq);
        w.bytes(want.hash);
      }
      return;
    case 'pulled':
      w.count(body.chains.length, ownersMax);
      for (const chain of body.chains) {
        w.nodeId(chain.owner);
        w.u8(STATUS_NUMBERS[chain.status]);
        if (chain.status === 'shorter') {
          w.varint(chain.headSeq);
          w.bytes(chain.headHash);
        }
        if (chain.status !== 'entries') continue;
        w.count(chain.entries.length, limits.pullEntriesMax);
        for (const e of chain.entries) {
          w.varint(e.seq);
          w.bytes(e.prevHash);
          w.varint(e.payload.length);
          w.bytes(e.payload);
          w.bytes(e.signature);
        }
      }
      return;
    case 'ask':
      w.nodeId(body.owner);
      w.count(body.seqs.length, ASK_SEQS_MAX);
      for (const seq of body.seqs) w.varint(seq);
      return;
    case 'hashes':
      w.nodeId(body.owner);
      w.u8(body.held ? 1 : 0);
      w.varint(body.headSeq);
      w.count(body.hashes.length, ASK_SEQS_MAX);
      for (const { seq, hash } of body.hashes) {
        w.varint(seq);
        w.bytes(hash);
      }
      return;
    case 'digest':
    case 'notify':
      w.varint(body.count);
      w.bytes(body.root);
      return;
    case 'summary':
      w.u8(body.same ? 1 : 0);
      if (body.same) return;
      w.u8(body.bucketBits);
      w.bytes(body.buckets);
      return;
  }
}

function tooMany(what: string, count: number, max: number): DecodeFailure {
  return new DecodeFailure('ERR_DECODE_OVERSIZED', `${count} ${what} exceed ${max}`);
}

function readEntries(r: Reader, owner: NodeId, limits: ChainLimits): ChainEntry[] {
  const count = r.count('chain entries', ENTRY_BYTES_MIN);
  if (count > limits.pullEntriesMax) throw tooMany('entries', count, limits.pullEntriesMax);
  const entries: ChainEntry[] = [];
  for (let i = 0; i < count; i++) {
    const seq = r.varint('entry seq');
    const prevHash = r.bytes(HASH_BYTES, 'entry prevHash').slice();
    const length = r.varint('payload length');
    if (length > PAYLOAD_BYTES_WIRE_MAX)
      throw new DecodeFailure(
        'ERR_DECODE_OVERSIZED',
        `payload of ${length} bytes exceeds ${PAYLOAD_BYTES_WIRE_MAX}`,
      );
    const payload = r.bytes(length, 'payload').slice();
    const signature = r.bytes(SIGNATURE_BYTES, 'signature').slice();
    entries.push({ owner, seq, prevHash, payload, signature });
  }
  return entries;
}

function readBody(r: Reader, limits: ChainLimits, ownersMax: number): ChainBody {
  const kindByte = r.u8('chain kind');
  const id = r.varint('request id');
  switch (kindByte) {
    case KIND_NUMBERS.pull: {
      const count = r.count('pull wants', WANT_BYTES_MIN);
      if (count > ownersMax) throw tooMany('owners', count, ownersMax);
      const wants: PullWant[] = [];
      for (let i = 0; i < count; i++)
        wants.push({
          owner: r.nodeId('want owner'),
          afterSeq: r.varint('want seq'),
          hash: r.bytes(HASH_BYTES, 'want hash').slice(),
        });
      return { kind: 'pull', id, wants };
    }
    case KIND_NUMBERS.pulled: {
      const count = r.count('pulled chains', PULLED_BYTES_MIN);
      if (count > ownersMax) throw tooMany('owners', count, ownersMax);
      const chains: PulledChain[] = [];
      for (let i = 0; i < count; i++) {
        const owner = r.nodeId('pulled owner');
        const status = r.u8('pulled status');
        if (status === STATUS_NUMBERS.entries)
          chains.push({ owner, status: 'entries', entries: readEntries(r, owner, limits) });
        else if (status === STATUS_NUMBERS.diverged) chains.push({ owner, status: 'diverged' });
        else if (status === STATUS_NUMBERS.pruned) chains.push({ owner, status: 'pruned' });
        else if (status === STATUS_NUMBERS.shorter)
          chains.push({
            owner,
            status: 'shorter',
            headSeq: r.varint('shorter head'),
            headHash: r.bytes(HASH_BYTES, 'shorter hash').slice(),
          });
        else throw new DecodeFailure('ERR_DECODE_MALFORMED', `pulled status ${status}`);
      }
      return { kind: 'pulled', id, chains };
    }
    case KIND_NUMBERS.ask: {
      const owner = r.nodeId('ask owner');
      const count = r.count('ask seqs', 1);
      if (count > ASK_SEQS_MAX) throw tooMany('seqs', count, ASK_SEQS_MAX);
      const seqs: number[] = [];
      for (let i = 0; i < count; i++) seqs.push(r.varint('ask seq'));
      return { kind: 'ask', id, owner, seqs };
    }
    case KIND_NUMBERS.hashes: {
      const owner = r.nodeId('hashes owner');
      const heldByte = r.u8('hashes held');
      if (heldByte > 1) throw new DecodeFailure('ERR_DECODE_MALFORMED', `held byte ${heldByte}`);
      const headSeq = r.varint('hashes head');
      const count = r.count('hashes', 1 + HASH_BYTES);
      if (count > ASK_SEQS_MAX) throw tooMany('hashes', count, ASK_SEQS_MAX);
      const hashes: Array<{ seq: number; hash: Uint8Array }> = [];
      for (let i = 0; i < count; i++)
        hashes.push({ seq: r.varint('hash seq'), hash: r.bytes(HASH_BYTES, 'hash').slice() });
      return { kind: 'hashes', id, owner, held: heldByte === 1, headSeq, hashes };
    }
    case KIND_NUMBERS.digest:
    case KIND_NUMBERS.notify: {
      const count = r.varint('digest count');
      const root = r.bytes(HASH_BYTES, 'digest root').slice();
      return { kind: kindByte === KIND_NUMBERS.digest ? 'digest' : 'notify', id, count, root };
    }
    case KIND_NUMBERS.summary: {
      const sameByte = r.u8('summary same');
      if (sameByte > 1) throw new DecodeFailure('ERR_DECODE_MALFORMED', `same byte ${sameByte}`);
      if (sameByte === 1)
        return { kind: 'summary', id, same: true, bucketBits: 0, buckets: new Uint8Array(0) };
      const bucketBits = r.u8('summary bucket bits');
      if (bucketBits > BUCKET_BITS_MAX) throw tooMany('bucket bits', bucketBits, BUCKET_BITS_MAX);
      const buckets = r.bytes(BUCKET_DIGEST_BYTES << bucketBits, 'summary buckets').slice();
      return { kind: 'summary', id, same: false, bucketBits, buckets };
    }
    default:
      throw new DecodeFailure('ERR_DECODE_MALFORMED', `chain kind ${kindByte}`);
  }
}

/** The chain message table for a node's limits (`ownersMax`: most chains one pull names). */
export function chainMessages(limits: ChainLimits, ownersMax: number): CompiledTable<ChainMessage> {
  return compileTable<ChainMessage>({
    numbers: { 'data-chain': CHAIN_MESSAGE_TYPE },
    write: (w, msg) => writeBody(w, msg.body, limits, ownersMax),
    read: (r) => ({ type: 'data-chain', body: readBody(r, limits, ownersMax) }),
  });
}
