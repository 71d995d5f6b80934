/**
 * A reference model of the key-value state machine for property tests: the simplest code that
 * states etcd's semantics, with no index, no history sharing and no incremental anything. The
 * store keeps one value per revision in a full copy of the key map, so a read at revision R is
 * `revisions[R]`. Results use the same shapes as the store's, so tests compare them whole (error
 * messages aside).
 *
 * Independent of the store on purpose (ranges filter every key where the store walks a B+ tree;
 * compares, txns, leases and sessions are written from etcd's documented behaviour), except for
 * etcd's order-dependent duplicate-key rule (branchDuplicate).
 */
import type { KvConfig } from '../../src/kv/config.js';
import { compareBytes, keySpan, keyText, spanHas, type KeySpan } from '../../src/kv/keys.js';
import type {
  Compare,
  KeyValue,
  KvCommand,
  KvEvent,
  KvResult,
  LeaseId,
  OpResult,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from '../../src/kv/types.js';

type KeyMap = Map<string, KeyValue>;

const err = (code: string, compactRevision?: number): KvResult =>
  (compactRevision === undefined
    ? { kind: 'error', code, message: '' }
    : { kind: 'error', code, message: '', compactRevision }) as KvResult;

export class Model {
  /** revisions[r] = the keys at revision r (index 0 unused). */
  readonly revisions: KeyMap[] = [new Map(), new Map()];
  compactRevision = 0;
  readonly leases = new Map<number, number>();
  readonly sessions = new Map<string, { seq: number; result: KvResult }>();
  events: KvEvent[] = [];

  constructor(readonly config: KvConfig) {}

  get revision(): number {
    return this.revisions.length - 1;
  }

  current(): KeyMap {
    return this.revisions[this.revision] as KeyMap;
  }

  /** Applies a command the store accepted as valid (validation is the store's own test). */
  apply(command: KvCommand): { result: KvResult; events: KvEvent[] } {
    this.events = [];
    // Validation comes before the session, as in the store: a refused command is not recorded.
    if (command.op.kind === 'txn' && hasDuplicate(command.op.request))
      return { result: err('ERR_DUPLICATE_KEY'), events: [] };
    const session = command.session;
    if (session !== undefined) {
      const entry = this.sessions.get(session.clientId);
      if (entry === undefined && session.seq !== 1)
        return { result: err('ERR_SESSION_EXPIRED'), events: [] };
      if (entry !== undefined && session.seq < entry.seq)
        return { result: err('ERR_SESSION_STALE'), events: [] };
      if (entry !== undefined && session.seq === entry.seq)
        return { result: entry.result, events: [] };
    }
    const result = this.execute(command);
    if (session !== undefined) {
      this.sessions.delete(session.clientId);
      this.sessions.set(session.clientId, { seq: session.seq, result });
      while (this.sessions.size > this.config.sessionsMax)
        this.sessions.delete(this.sessions.keys().next().value as string);
    }
    return { result, events: this.events };
  }

  private execute(command: KvCommand): KvResult {
    const op = command.op;
    switch (op.kind) {
      case 'range':
        return this.range(op.request, this.current(), this.revision, this.revision);
      case 'put':
      case 'delete-range':
      case 'txn':
        return this.write(op);
      case 'lease-grant': {
        if (this.leases.has(op.id)) return err('ERR_LEASE_EXISTS');
        if (this.leases.size >= this.config.leasesMax) return err('ERR_TOO_MANY_LEASES');
        const ttlMs = Math.max(op.ttlMs, this.config.leaseTtlMsMin);
        this.leases.set(op.id, ttlMs);
        return { kind: 'lease-grant', id: op.id, ttlMs, revision: this.revision as never };
      }
      case 'lease-revoke': {
        if (!this.leases.has(op.id)) return err('ERR_LEASE_NOT_FOUND');
        const next = new Map(this.current());
        const doomed = [...next.entries()]
          .filter(([, kv]) => kv.lease === op.id)
          .map(([k]) => k)
          .sort();
        for (const key of doomed) this.remove(next, key);
        this.leases.delete(op.id);
        return { kind: 'lease-revoke', revision: this.commit(next, doomed.length > 0) as never };
      }
      case 'lease-checkpoint':
        return { kind: 'lease-checkpoint', revision: this.revision as never };
      case 'compact':
        if (op.revision <= this.compactRevision) return err('ERR_COMPACTED', this.compactRevision);
        if (op.revision > this.revision) return err('ERR_FUTURE_REVISION');
        this.compactRevision = op.revision;
        return { kind: 'compact', revision: this.revision as never };
    }
  }

  private write(op: RequestOp): KvResult {
    const next = new Map(this.current());
    const main = this.revision + 1;
    const tx = { next, main, changed: false };
    if (op.kind === 'txn') {
      const bad = this.check(op.request, this.current());
      if (bad !== undefined) return bad;
    }
    if (op.kind === 'put') {
      const bad = this.checkPut(op.request, this.current());
      if (bad !== undefined) return bad;
    }
    const result = this.runOp(op, tx, this.current());
    this.commit(next, tx.changed);
    return result;
  }

  /** Appends `next` as a new revision when something changed; returns the revision after. */
  private commit(next: KeyMap, changed: boolean): number {
    if (changed) this.revisions.push(next);
    return this.revision;
  }

  private remove(next: KeyMap, key: string): KeyValue {
    const prev = next.get(key) as KeyValue;
    next.delete(key);
    const kv = {
      key: prev.key,
      value: new Uint8Array(0),
      createRevision: 0,
      modRevision: this.revision + 1,
      version: 0,
    };
    this.events.push({ type: 'delete', kv: kv as never, revision: (this.revision + 1) as never });
    return prev;
  }

  private checkPut(p: PutRequest, before: KeyMap): KvResult | undefined {
    if (p.lease !== undefined && !this.leases.has(p.lease)) return err('ERR_LEASE_NOT_FOUND');
    if ((p.ignoreValue === true || p.ignoreLease === true) && !before.has(keyText(p.key)))
      return err('ERR_KEY_NOT_FOUND');
    return undefined;
  }

  /** The first refusal among the ops the compares choose, all decided on `before`. */
  private check(txn: TxnRequest, before: KeyMap): KvResult | undefined {
    for (const op of this.branch(txn, before).ops) {
      if (op.kind === 'range') {
        const r = op.request.revision ?? 0;
        if (r > this.revision) return err('ERR_FUTURE_REVISION');
        if (r > 0 && r < this.compactRevision) return err('ERR_COMPACTED', this.compactRevision);
      }
      const bad =
        op.kind === 'put'
          ? this.checkPut(op.request, before)
          : op.kind === 'txn'
            ? this.check(op.request, before)
            : undefined;
      if (bad !== undefined) return bad;
    }
    return undefined;
  }

  private branch(txn: TxnRequest, before: KeyMap): { ok: boolean; ops: readonly RequestOp[] } {
    const ok = txn.compare.every((c) => compareHolds(c, before));
    return { ok, ops: ok ? txn.success : txn.failure };
  }

  private runOp(
    op: RequestOp,
    tx: { next: KeyMap; main: number; changed: boolean },
    before: KeyMap,
  ): OpResult {
    const now = (): number => (tx.changed ? tx.main : tx.main - 1);
    switch (op.kind) {
      case 'range': {
        const view = tx.changed ? tx.next : this.current();
        return this.range(op.request, view, now(), tx.main - 1) as OpResult;
      }
      case 'put': {
        const p = op.request;
        const key = keyText(p.key);
        const prev = tx.next.get(key);
        const base = {
          key: prev?.key ?? p.key,
          value: p.ignoreValue === true ? (prev as KeyValue).value : p.value,
          createRevision: prev?.createRevision ?? tx.main,
          modRevision: tx.main,
          version: (prev?.version ?? 0) + 1,
        };
        const lease = p.ignoreLease === true ? prev?.lease : p.lease;
        const kv = (lease === undefined ? base : { ...base, lease }) as KeyValue;
        tx.next.set(key, kv);
        tx.changed = true;
        this.events.push({ type: 'put', kv, revision: tx.main as never });
        const result = { kind: 'put' as const, revision: tx.main as never };
        return p.prevKv === true && prev !== undefined ? { ...result, prevKv: prev } : result;
      }
      case 'delete-range': {
        const span = keySpan(op.request.key, op.request.rangeEnd);
        const doomed = [...tx.next.keys()].filter((k) => spanHas(span, k)).sort();
        const removed = doomed.map((k) => this.remove(tx.next, k));
        if (doomed.length > 0) tx.changed = true;
        const result = {
          kind: 'delete-range' as const,
          deleted: doomed.length,
          revision: now() as never,
        };
        return op.request.prevKv === true ? { ...result, prevKvs: removed } : result;
      }
      case 'txn': {
        const { ok, ops } = this.branch(op.request, before);
        const results = ops.map((o) => this.runOp(o, tx, before));
        return { kind: 'txn', succeeded: ok, results, revision: now() as never };
      }
    }
  }

  /** A range over `view` (the keys at `at`), where explicit revisions are checked against `checkAgainst`. */
  range(q: RangeRequest, view: KeyMap, at: number, checkAgainst: number): KvResult {
    const asked = q.revision ?? 0;
    if (asked > checkAgainst) return err('ERR_FUTURE_REVISION');
    if (asked > 0 && asked < this.compactRevision)
      return err('ERR_COMPACTED', this.compactRevision);
    const source = asked === 0 ? view : (this.revisions[asked] as KeyMap);
    const span = keySpan(q.key, q.rangeEnd);
    const all = [...source.entries()]
      .filter(([k]) => spanHas(span, k))
      .sort(([a], [b]) => (a < b ? -1 : 1));
    let kvs = q.countOnly === true ? [] : all.map(([, kv]) => kv);
    const limit = q.limit ?? 0;
    let more = false;
    if (limit > 0 && kvs.length > limit) {
      kvs = kvs.slice(0, limit);
      more = true;
    }
    if (q.keysOnly === true) kvs = kvs.map((kv) => ({ ...kv, value: new Uint8Array(0) }));
    return { kind: 'range', kvs, revision: at as never, more, count: all.length };
  }
}

function compareHolds(c: Compare, view: KeyMap): boolean {
  const span = keySpan(c.key, c.rangeEnd);
  const kvs = [...view.entries()].filter(([k]) => spanHas(span, k)).map(([, kv]) => kv);
  if (kvs.length === 0 && c.target === 'value') return false;
  const zero = {
    value: new Uint8Array(0),
    version: 0,
    createRevision: 0,
    modRevision: 0,
  } as KeyValue;
  return (kvs.length === 0 ? [zero] : kvs).every((kv) => {
    const order =
      c.target === 'value'
        ? compareBytes(kv.value, c.value)
        : (c.target === 'lease' ? (kv.lease ?? 0) : kv[c.target]) - c.value;
    return c.op === '='
      ? order === 0
      : c.op === '!='
        ? order !== 0
        : c.op === '<'
          ? order < 0
          : order > 0;
  });
}

/**
 * etcd's duplicate-key rule for one branch (v3rpc/key.go checkIntervals), stated plainly: a key put
 * twice, or put inside a range deleted at this level or by an EARLIER nested txn, is a duplicate;
 * the two branches of one nested txn may put the same key. The rule depends on order: a nested
 * txn that deletes a key a previous nested txn put is accepted (both changes then share one
 * revision, at two sub-revisions), the reverse is refused. This is the one part of the model that
 * follows etcd's algorithm rather than an independent statement, because the behaviour is etcd's.
 */
function branchDuplicate(ops: readonly RequestOp[]): {
  dup: boolean;
  puts: Set<string>;
  dels: KeySpan[];
} {
  const deleted: KeySpan[] = ops.flatMap((o) =>
    o.kind === 'delete-range' ? [keySpan(o.request.key, o.request.rangeEnd)] : [],
  );
  const inDeleted = (k: string): boolean => deleted.some((d) => spanHas(d, k));
  const puts = new Set<string>();
  const fail = { dup: true, puts, dels: deleted };
  for (const o of ops) {
    if (o.kind !== 'txn') continue;
    const yes = branchDuplicate(o.request.success);
    const no = branchDuplicate(o.request.failure);
    if (yes.dup || no.dup) return fail;
    if ([...yes.puts].some((k) => puts.has(k) || inDeleted(k))) return fail;
    if ([...no.puts].some((k) => (puts.has(k) && !yes.puts.has(k)) || inDeleted(k))) return fail;
    for (const k of [...yes.puts, ...no.puts]) puts.add(k);
    deleted.push(...yes.dels, ...no.dels);
  }
  for (const o of ops) {
    if (o.kind !== 'put') continue;
    const k = keyText(o.request.key);
    if (puts.has(k) || inDeleted(k)) return fail;
    puts.add(k);
  }
  return { dup: false, puts, dels: deleted };
}

export function hasDuplicate(txn: TxnRequest): boolean {
  return branchDuplicate(txn.success).dup || branchDuplicate(txn.failure).dup;
}

export type { LeaseId };
