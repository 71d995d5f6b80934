/**
 * The gossip queue of deltas, one entry per owner: consecutive intervals of one epoch are joined
 * in place ((a, b] then (b, c] is (a, c], the later write of a row winning), so a burst of writes
 * costs O(1) each and goes out as one delta; its size is kept as an upper bound as writes come in,
 * and the Delta is built only when a gossip round sends it. At most `deltaQueueMax` owners: past
 * it the most-sent entry goes (counted), and push-pull carries what gossip no longer does.
 */
import { compareHlc, type Hlc } from '../hlc.js';
import type { NodeId } from '../../identity/node-id.js';
import { varintBytes } from '../../codec/bytes.js';
import { utf8Bytes } from '../../base/utf8.js';
import { rowBytes } from './codec.js';
import type { Signature } from '../../identity/signed.js';
import type { RegistryState, Removal, Row, UnsignedDelta } from './types.js';
import { rowId } from './types.js';

/** Owner, epoch, two seqs, the signature and two counts at their largest encodings. */
const DELTA_HEADER_BYTES_MAX = 16 + 8 + 3 + 8 + 8 + 64 + 3 + 3;

export interface QueuedDelta {
  readonly owner: NodeId;
  readonly epoch: Hlc;
  readonly fromSeq: number;
  toSeq: number;
  /** The latest write of each row in (fromSeq, toSeq]. */
  readonly writes: Map<string, Row | Removal>;
  /** An upper bound of the encoded delta's bytes. */
  bytes: number;
  transmits: number;
  /**
   * True while the entry holds content no gossip has sent yet: the next eager push carries it
   * (step.ts, `eagerPushesMax`); any send clears it, so each delta goes out eagerly at most once.
   */
  fresh: boolean;
  /**
   * The owner's signature of (epoch, toSeq): a relayed delta's, kept from the latest interval
   * joined in; undefined for our own writes until a gossip round signs the version.
   */
  signature: Signature | undefined;
}

function writeBytes(state: RegistryState, write: Row | Removal): number {
  if ('value' in write) return rowBytes(write, state.config);
  return 1 + varintBytes(utf8Bytes(write.key)) + utf8Bytes(write.key) + varintBytes(write.seq);
}

function put(state: RegistryState, q: QueuedDelta, write: Row | Removal): void {
  const id = rowId(write.table, write.key);
  const old = q.writes.get(id);
  if (old !== undefined && old.seq >= write.seq) return;
  q.bytes += writeBytes(state, write) - (old === undefined ? 0 : writeBytes(state, old));
  q.writes.set(id, write);
}

/** Queues a delta, joined with the owner's queued one when it continues it. */
export function enqueue(state: RegistryState, delta: UnsignedDelta): void {
  let q = state.queue.get(delta.owner);
  const continues =
    q !== undefined &&
    compareHlc(q.epoch, delta.epoch) === 0 &&
    delta.fromSeq <= q.toSeq &&
    delta.toSeq > q.toSeq;
  if (q === undefined || !continues) {
    q = {
      owner: delta.owner,
      epoch: delta.epoch,
      fromSeq: delta.fromSeq,
      toSeq: delta.toSeq,
      writes: new Map(),
      bytes: DELTA_HEADER_BYTES_MAX,
      transmits: 0,
      fresh: true,
      signature: delta.signature,
    };
    state.queue.delete(delta.owner);
  } else {
    q.toSeq = delta.toSeq;
    q.signature = delta.signature;
  }
  for (const row of delta.upserts) put(state, q, row);
  for (const removal of delta.removals) put(state, q, removal);
  q.transmits = 0;
  q.fresh = true;
  state.queue.set(delta.owner, q);
  if (state.queue.size <= state.config.deltaQueueMax) return;
  let worst: NodeId | undefined;
  let most = -1;
  for (const [owner, entry] of state.queue)
    if (entry.transmits > most) [worst, most] = [owner, entry.transmits];
  state.queue.delete(worst as NodeId);
  state.counters.deltaQueueEvicted++;
}

/** The delta a queue entry stands for (built when a gossip round sends it). */
export function queuedDelta(q: QueuedDelta): UnsignedDelta {
  const upserts: Row[] = [];
  const removals: Removal[] = [];
  for (const write of q.writes.values()) {
    if ('value' in write) upserts.push(write);
    else removals.push({ table: write.table, key: write.key, seq: write.seq });
  }
  return {
    owner: q.owner,
    epoch: q.epoch,
    fromSeq: q.fromSeq,
    toSeq: q.toSeq,
    upserts,
    removals,
    signature: q.signature,
  };
}
