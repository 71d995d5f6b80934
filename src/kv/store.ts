/**
 * The key-value state machine (docs/design/kv.md): etcd v3's data model as a deterministic, pure
 * store. `applyEntry(state, bytes, index)` applies one committed log entry and returns its result,
 * the watch events and what the leader's lessor must learn; the reads (`range`, `get`) serve
 * serializable reads and linearizable ones after a ReadIndex.
 *
 * Deterministic: the outcome is a function of the state and the entry alone. No time, no
 * randomness, no iteration order that differs between replicas (leases revoke their keys in key
 * order; sessions evict in apply order). A refused command is refused the same way everywhere,
 * counted in `stats.refused`, and changes nothing but `appliedIndex`.
 */
import { assert, assertNever } from '../base/assert.js';
import { logIndex, type LogIndex } from '../base/units.js';
import { decodeCommand } from './codec.js';
import { validateCommand } from './commands.js';
import { kvConfig, type KvConfig } from './config.js';
import { keyText, toBytes } from './keys.js';
import { checkpointLeases, grantLease, leaseInfo, revokeLease, type LeaseInfo } from './leases.js';
import { compact, compactSlice, getAt, newMvcc } from './mvcc.js';
import { readRange } from './read.js';
import { checkSession, newSessionTable, recordSession } from './sessions.js';
import { newStats, type KvState, type WriteTxn } from './state.js';
import {
  kvError,
  revision,
  type ApplyOutput,
  type KeyValue,
  type KvCommand,
  type KvError,
  type KvOp,
  type KvResult,
  type LeaseChange,
  type LeaseId,
  type RangeRequest,
  type RangeResult,
  type Revision,
} from './types.js';
import { checkPut, doDelete, doPut, doTxn } from './write.js';

export type { KvState } from './state.js';

/** An empty store at revision 1 (etcd's first revision), nothing applied. */
export function createKvStore(config: KvConfig = kvConfig()): KvState {
  return {
    config,
    mvcc: newMvcc(),
    leases: new Map(),
    sessions: newSessionTable(),
    appliedIndex: logIndex(0),
    stats: newStats(),
  };
}

/** Applies the command encoded in a committed entry's data (bad bytes are refused, not thrown). */
export function applyEntry(state: KvState, data: Uint8Array, index: LogIndex): ApplyOutput {
  const decoded = decodeCommand(data, state.config);
  if (!decoded.ok) {
    advance(state, index);
    return refuse(state, kvError(decoded.code, decoded.detail));
  }
  return apply(state, decoded.value, index);
}

/** Applies a decoded command at log index `index` (above every index applied before). */
export function apply(state: KvState, command: KvCommand, index: LogIndex): ApplyOutput {
  advance(state, index);
  const invalid = validateCommand(command, state.config);
  if (invalid !== undefined) return refuse(state, invalid);
  const session = command.session;
  if (session !== undefined) {
    const check = checkSession(state.sessions, session);
    if (check.kind === 'error') return refuse(state, check);
    if (check.kind === 'duplicate') {
      state.stats.duplicates++;
      return { result: check.result, events: [], leaseChanges: [], duplicate: true };
    }
  }
  const out = execute(state, command.op);
  if (session !== undefined)
    recordSession(state.sessions, session, out.result, state.config, state.stats);
  if (out.result.kind === 'error') countRefusal(state, out.result);
  else state.stats.applied++;
  compactSlice(state.mvcc, state.config.compactionSliceKeys);
  return out;
}

/** Marks an entry that carries no command (a leader's no-op, a configuration) as applied. */
export function applyNothing(state: KvState, index: LogIndex): void {
  advance(state, index);
}

function advance(state: KvState, index: LogIndex): void {
  assert(
    index > state.appliedIndex,
    `entry ${index} applied after entry ${state.appliedIndex}: entries apply once, in order`,
  );
  state.appliedIndex = index;
}

function countRefusal(state: KvState, error: KvError): void {
  state.stats.refused[error.code] = (state.stats.refused[error.code] ?? 0) + 1;
}

function refuse(state: KvState, error: KvError): ApplyOutput {
  countRefusal(state, error);
  return { result: error, events: [], leaseChanges: [], duplicate: false };
}

function beginWrite(state: KvState): WriteTxn {
  return {
    state,
    main: revision(state.mvcc.revision + 1),
    sub: 0,
    events: [],
    leaseChanges: [],
  };
}

/** Ends a write transaction: the revision moves only if something changed. */
function endWrite(w: WriteTxn, result: KvResult): ApplyOutput {
  if (result.kind === 'error')
    assert(w.sub === 0, `a refused ${result.code} wrote ${w.sub} changes`);
  if (w.sub > 0) w.state.mvcc.revision = w.main;
  return { result, events: w.events, leaseChanges: w.leaseChanges, duplicate: false };
}

function execute(state: KvState, op: KvOp): ApplyOutput {
  const leaseChanges: LeaseChange[] = [];
  const done = (result: KvResult): ApplyOutput => ({
    result,
    events: [],
    leaseChanges,
    duplicate: false,
  });
  switch (op.kind) {
    case 'range':
      return done(range(state, op.request));
    case 'put': {
      const w = beginWrite(state);
      return endWrite(w, checkPut(w, op.request) ?? doPut(w, op.request));
    }
    case 'delete-range': {
      const w = beginWrite(state);
      return endWrite(w, doDelete(w, op.request));
    }
    case 'txn': {
      const w = beginWrite(state);
      return endWrite(w, doTxn(w, op.request));
    }
    case 'lease-grant':
      return done(grantLease(state, op.id, op.ttlMs, leaseChanges));
    case 'lease-revoke': {
      const w = beginWrite(state);
      return endWrite(w, revokeLease(w, op.id));
    }
    case 'lease-checkpoint':
      return done(checkpointLeases(state, op.checkpoints, leaseChanges));
    case 'compact':
      return done(compactTo(state, op.revision));
    default:
      return assertNever(op, 'kv op');
  }
}

/** etcd's updateCompactRev: only forward, never past the current revision. */
function compactTo(state: KvState, rev: Revision): KvResult {
  const mvcc = state.mvcc;
  if (rev <= mvcc.compactRevision)
    return kvError(
      'ERR_COMPACTED',
      `revision ${rev} is already compacted (compacted revision ${mvcc.compactRevision})`,
      mvcc.compactRevision,
    );
  if (rev > mvcc.revision)
    return kvError(
      'ERR_FUTURE_REVISION',
      `cannot compact at ${rev}, above the current revision ${mvcc.revision}`,
    );
  compact(mvcc, rev);
  return { kind: 'compact', revision: mvcc.revision };
}

// ---- reads (serializable; linearizable once the node has a ReadIndex at or below appliedIndex) ----

/** etcd's Range at the current revision or a past one. */
export function range(state: KvState, request: RangeRequest): RangeResult | KvError {
  return readRange(state.mvcc, request, state.mvcc.revision);
}

/** One key's value (at `rev`, default current), or undefined; refused revisions are an error. */
export function get(
  state: KvState,
  key: string | Uint8Array,
  rev: Revision | 0 = 0,
): KeyValue | undefined | KvError {
  const mvcc = state.mvcc;
  if (rev > mvcc.revision)
    return kvError(
      'ERR_FUTURE_REVISION',
      `revision ${rev} is above the current revision ${mvcc.revision}`,
    );
  if (rev !== 0 && rev < mvcc.compactRevision)
    return kvError('ERR_COMPACTED', `revision ${rev} is compacted`, mvcc.compactRevision);
  return getAt(mvcc, keyText(toBytes(key)), rev === 0 ? mvcc.revision : rev);
}

/** The store's current and compacted revisions. */
export function revisions(state: KvState): { revision: Revision; compactRevision: Revision } {
  return { revision: state.mvcc.revision, compactRevision: state.mvcc.compactRevision };
}

/** A lease (with its keys when asked), or undefined. */
export function lease(state: KvState, id: LeaseId, withKeys = false): LeaseInfo | undefined {
  const entry = state.leases.get(id);
  return entry === undefined ? undefined : leaseInfo(entry, withKeys);
}

/** Every lease, by id. */
export function leases(state: KvState): LeaseInfo[] {
  return [...state.leases.values()].sort((a, b) => a.id - b.id).map((e) => leaseInfo(e, false));
}
