/**
 * Reads: etcd's Range (etcdserver/txn/range.go, mvcc/kvstore_txn.go rangeKeys) and txn Compare
 * (txn.go applyCompare), over the MVCC store at a revision.
 *
 * Range order of work, as etcd: refuse a revision above the current one (ERR_FUTURE_REVISION) or
 * below the compacted one (ERR_COMPACTED); scan the keys that exist at that revision in key order;
 * `count` is all of them; then the revision filters, the sort (a non-default sort or a filter
 * reads the whole range before applying `limit`), then `limit` (`more` when it cut), then
 * keysOnly/countOnly. Ties of a sort keep key order.
 */
import { compareBytes, keySpan } from './keys.js';
import { getAt, scanAt, type Mvcc } from './mvcc.js';
import {
  kvError,
  type Compare,
  type KeyValue,
  type KvError,
  type RangeRequest,
  type RangeResult,
  type Revision,
  type SortTarget,
} from './types.js';

/** ERR_FUTURE_REVISION or ERR_COMPACTED for reading at `rev` (0: current), or undefined. */
export function checkReadRevision(mvcc: Mvcc, rev: number, current: number): KvError | undefined {
  if (rev > current)
    return kvError(
      'ERR_FUTURE_REVISION',
      `revision ${rev} is above the current revision ${current}`,
    );
  if (rev > 0 && rev < mvcc.compactRevision)
    return kvError(
      'ERR_COMPACTED',
      `revision ${rev} is compacted (compacted revision ${mvcc.compactRevision})`,
      mvcc.compactRevision,
    );
  return undefined;
}

function hasFilters(q: RangeRequest): boolean {
  return (
    (q.minModRevision ?? 0) !== 0 ||
    (q.maxModRevision ?? 0) !== 0 ||
    (q.minCreateRevision ?? 0) !== 0 ||
    (q.maxCreateRevision ?? 0) !== 0
  );
}

function sortValue(kv: KeyValue, target: SortTarget): number | Uint8Array {
  switch (target) {
    case 'key':
      return kv.key;
    case 'value':
      return kv.value;
    case 'version':
      return kv.version;
    case 'create':
      return kv.createRevision;
    case 'mod':
      return kv.modRevision;
  }
}

function sortKvs(kvs: KeyValue[], target: SortTarget, descend: boolean): void {
  const sign = descend ? -1 : 1;
  kvs.sort((a, b) => {
    const x = sortValue(a, target);
    const y = sortValue(b, target);
    const order = typeof x === 'number' ? x - (y as number) : compareBytes(x, y as Uint8Array);
    return sign * order;
  });
}

function passes(kv: KeyValue, q: RangeRequest): boolean {
  const { minModRevision: minMod, maxModRevision: maxMod } = q;
  const { minCreateRevision: minCreate, maxCreateRevision: maxCreate } = q;
  if (maxMod !== undefined && maxMod !== 0 && kv.modRevision > maxMod) return false;
  if (minMod !== undefined && minMod !== 0 && kv.modRevision < minMod) return false;
  if (maxCreate !== undefined && maxCreate !== 0 && kv.createRevision > maxCreate) return false;
  if (minCreate !== undefined && minCreate !== 0 && kv.createRevision < minCreate) return false;
  return true;
}

const EMPTY = new Uint8Array(0);

/**
 * Range `q` where `current` is the revision a read at 0 sees (inside a write txn with changes,
 * the txn's own revision). `checkAgainst` is the revision explicit revisions are checked against
 * (etcd checks a txn's ranges against the revision before the txn).
 */
export function readRange(
  mvcc: Mvcc,
  q: RangeRequest,
  current: Revision,
  checkAgainst: number = current,
): RangeResult | KvError {
  const asked = q.revision ?? 0;
  const refused = checkReadRevision(mvcc, asked, checkAgainst);
  if (refused !== undefined) return refused;
  const at = asked === 0 ? current : asked;
  const order = q.sortOrder ?? 'none';
  const target = q.sortTarget ?? 'key';
  // etcd's rangeLimit and sortRangeResults: the limit cuts the scan only under the default order
  // as asked; a target other than key with no order is then sorted ascending.
  const defaultOrder = order === 'none' || (target === 'key' && order === 'ascend');
  const resorted = !defaultOrder || target !== 'key';
  const filtered = hasFilters(q);
  const limit = q.limit ?? 0;
  // Only limit + 1 kvs are needed then (the +1 tells `more`).
  const keep = limit > 0 && defaultOrder && !filtered ? limit + 1 : Number.MAX_SAFE_INTEGER;
  const countOnly = q.countOnly === true;
  let kvs: KeyValue[] = [];
  let count = 0;
  scanAt(mvcc, keySpan(q.key, q.rangeEnd), at, (kv) => {
    count++;
    if (!countOnly && kvs.length < keep) kvs.push(kv);
    return true;
  });
  if (filtered) kvs = kvs.filter((kv) => passes(kv, q));
  if (resorted) sortKvs(kvs, target, order === 'descend');
  let more = false;
  if (limit > 0 && kvs.length > limit) {
    kvs = kvs.slice(0, limit);
    more = true;
  }
  if (q.keysOnly === true) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
  return { kind: 'range', kvs, revision: current, more, count };
}

/** The zero KeyValue a missing key compares as (etcd: &mvccpb.KeyValue{}). */
const MISSING = { createRevision: 0, modRevision: 0, version: 0, lease: 0 };

function compareResult(c: Compare, kv: KeyValue | typeof MISSING): boolean {
  let order: number;
  if (c.target === 'value') order = compareBytes((kv as KeyValue).value, c.value);
  else {
    const have =
      c.target === 'version'
        ? kv.version
        : c.target === 'createRevision'
          ? kv.createRevision
          : c.target === 'modRevision'
            ? kv.modRevision
            : (kv.lease ?? 0);
    order = have - c.value;
  }
  switch (c.op) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '>':
      return order > 0;
  }
}

/** etcd's applyCompare at revision `at`: every key of the range must pass; a missing key is zero. */
export function compareHolds(mvcc: Mvcc, c: Compare, at: number): boolean {
  const span = keySpan(c.key, c.rangeEnd);
  let seen = false;
  let holds = true;
  if (span.end === undefined) {
    const kv = getAt(mvcc, span.start, at);
    if (kv !== undefined) return compareResult(c, kv);
  } else
    scanAt(mvcc, span, at, (kv) => {
      seen = true;
      holds = compareResult(c, kv);
      return holds;
    });
  if (seen) return holds;
  // Nothing in range: a value compare always fails (gRPC cannot tell nil from empty); others see 0.
  return c.target === 'value' ? false : compareResult(c, MISSING);
}
