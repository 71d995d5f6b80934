/**
 * Joins of partitions, deltas and tombstones into a replica (docs/design/data-plane.md, "Registry
 * replication"). Everything here compares (epoch, seq): an owner's partitions are a chain, so the
 * join keeps the larger; a delta-interval (fromSeq, toSeq] applies only to a replica already at
 * fromSeq of the same epoch, or to one behind a newer epoch when it starts at 0 (Almeida et al.
 * 2018, §6, Algorithm 2: the causal delta-merging condition); anything else is stale (ignored) or
 * a gap (the caller pulls the owner's partition).
 */
import { compareHlc, type Hlc } from '../hlc.js';
import type { NodeId } from '../../identity/node-id.js';
import { xxh64StringInto } from '../../placement/xxh64.js';
import type {
  Delta,
  Partition,
  RegistryState,
  Row,
  RowChange,
  SummaryEntry,
  Tombstone,
  UnsignedDelta,
} from './types.js';
import { rowId } from './types.js';

/** Order of (epoch, seq) pairs: positive when a is later. */
export function compareVersion(aEpoch: Hlc, aSeq: number, bEpoch: Hlc, bSeq: number): number {
  return compareHlc(aEpoch, bEpoch) || aSeq - bSeq;
}

/** The change events between two versions of one owner's rows. */
export function diffRows(
  owner: NodeId,
  before: ReadonlyMap<string, Row>,
  after: ReadonlyMap<string, Row>,
  out: RowChange[],
): void {
  for (const [id, row] of after) {
    const old = before.get(id);
    if (old === undefined || old.seq !== row.seq || compareHlc(old.stamp, row.stamp) !== 0)
      out.push({
        kind: 'changed',
        table: row.table,
        key: row.key,
        node: owner,
        before: old,
        after: row,
      });
  }
  for (const [id, old] of before)
    if (!after.has(id))
      out.push({
        kind: 'changed',
        table: old.table,
        key: old.key,
        node: owner,
        before: old,
        after: undefined,
      });
}

export type DeltaOutcome = 'apply' | 'stale' | 'gap';

/**
 * Whether a delta applies to a replica's partition of its owner (`current`, undefined when none is
 * held): at fromSeq of the same epoch, or from 0 of a newer epoch (§6, Algorithm 2); older
 * versions are stale; anything else leaves a gap the caller pulls.
 */
export function deltaOutcome(current: Partition | undefined, delta: Delta): DeltaOutcome {
  const epochOrder = current === undefined ? 1 : compareHlc(delta.epoch, current.epoch);
  if (epochOrder < 0) return 'stale';
  if (epochOrder > 0) return delta.fromSeq === 0 ? 'apply' : 'gap';
  const held = (current as Partition).seq;
  if (delta.toSeq <= held) return 'stale';
  return delta.fromSeq > held ? 'gap' : 'apply';
}

/**
 * The partition a replica holds once it applied a delta that `deltaOutcome` says applies: a new
 * object (the caller verifies its signature before it replaces `current`). A newer epoch starts
 * from no rows; within one epoch, writes at or below the held seq are already in.
 */
export function partitionAfter(current: Partition | undefined, delta: Delta): Partition {
  const sameEpoch = current !== undefined && compareHlc(delta.epoch, current.epoch) === 0;
  const rows = new Map<string, Row>(sameEpoch ? current.rows : []);
  const held = sameEpoch ? current.seq : 0;
  for (const row of delta.upserts) if (row.seq > held) rows.set(rowId(row.table, row.key), row);
  for (const removal of delta.removals)
    if (removal.seq > held) rows.delete(rowId(removal.table, removal.key));
  return {
    owner: delta.owner,
    epoch: delta.epoch,
    seq: delta.toSeq,
    rows,
    signature: delta.signature,
  };
}

/** The delta that rebuilds a whole partition from nothing: (0, seq]. */
export function partitionDelta(p: Partition): UnsignedDelta {
  return {
    owner: p.owner,
    epoch: p.epoch,
    fromSeq: 0,
    toSeq: p.seq,
    upserts: [...p.rows.values()],
    removals: [],
    signature: p.signature,
  };
}

/**
 * What a replica holds, one line per owner. Our own partition counts from boot, written or not:
 * an empty partition of a new life (a newer epoch) is what replaces a previous life's rows on
 * every replica, so a restarted node that advertises nothing again advertises nothing.
 */
export function summaryOf(state: RegistryState): SummaryEntry[] {
  const entries: SummaryEntry[] = [];
  for (const p of state.partitions.values())
    entries.push({ owner: p.owner, epoch: p.epoch, seq: p.seq });
  return entries;
}

/**
 * The 64-bit digest of a replica: XOR over its summary lines of XXH64(owner, epoch, seq), so two
 * replicas that hold the same version of every partition agree without listing them. Tombstones
 * are left out: one replica collecting a tombstone before another must not keep their digests
 * apart (and two replicas with equal digests hold no partition either has withdrawn).
 */
export function digestOf(state: RegistryState): string {
  // XOR is its own inverse: the shared base's lines (folded once per base), less the lines of
  // the base partitions this replica replaced or dropped, plus its own: O(own entries), not O(N).
  const partitions = state.partitions;
  const folded = baseFold(partitions.base);
  let hi = folded.hi;
  let lo = folded.lo;
  const toggle = (p: Partition | undefined): void => {
    if (p === undefined) return;
    const line = lineOf(p);
    hi = (hi ^ line.hi) >>> 0;
    lo = (lo ^ line.lo) >>> 0;
  };
  partitions.forEachOwn((_, now, before) => {
    toggle(before);
    toggle(now);
  });
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

interface Line {
  epoch: Hlc;
  seq: number;
  hi: number;
  lo: number;
}

/** XXH64 of one summary line (owner, epoch, seq), cached per partition while its version holds. */
function lineOf(p: Partition): Line {
  let line = lineHashes.get(p);
  if (line === undefined || line.seq !== p.seq || line.epoch !== p.epoch) {
    const out = xxh64StringInto(`${p.owner}/${p.epoch.wallMs}.${p.epoch.logical}/${p.seq}`);
    line = { epoch: p.epoch, seq: p.seq, hi: out[0] as number, lo: out[1] as number };
    lineHashes.set(p, line);
  }
  return line;
}

/**
 * Each partition's digest line, kept until its (epoch, seq) changes (epochs are replaced, never
 * mutated), so a digest of N owners is N XORs rather than N hashes. A cache only: the digest is
 * the same with or without it.
 */
const lineHashes = new WeakMap<Partition, Line>();

/**
 * The XOR of a shared base's lines, folded once per base: a base is never written and its
 * partitions never change in place (only a replica's own partition does, and that one is always
 * in the replica's overlay), so the fold stays true. A cache only, like `lineHashes`.
 */
const baseFolds = new WeakMap<ReadonlyMap<NodeId, Partition>, { hi: number; lo: number }>();

function baseFold(base: ReadonlyMap<NodeId, Partition>): { hi: number; lo: number } {
  let folded = baseFolds.get(base);
  if (folded !== undefined) return folded;
  let hi = 0;
  let lo = 0;
  for (const p of base.values()) {
    const line = lineOf(p);
    hi = (hi ^ line.hi) >>> 0;
    lo = (lo ^ line.lo) >>> 0;
  }
  folded = { hi, lo };
  if (base.size > 0) baseFolds.set(base, folded);
  return folded;
}

/** True when the tombstone covers (epoch, seq): that version of the owner is withdrawn. */
export function tombstoneCovers(t: Tombstone, epoch: Hlc, seq: number): boolean {
  return compareVersion(t.epoch, t.seq, epoch, seq) >= 0;
}
