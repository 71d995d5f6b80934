/**
 * Client sessions (Raft thesis §6.3, "Implementing linearizable semantics"): each client tags its
 * commands with (clientId, seq), and the state machine remembers, per client, the last seq it
 * applied and that command's result. A retry of that seq gets the recorded result and applies
 * nothing; an older seq is a late duplicate and is refused (ERR_SESSION_STALE).
 *
 * Decisions (docs/design/kv.md, "Sessions"):
 * - A client has one command outstanding at a time (the thesis's simplest form); seqs increase,
 *   gaps are allowed.
 * - A session starts with seq 1. An unknown clientId with a higher seq means its session was
 *   evicted: whether its command applied cannot be told, so it is refused (ERR_SESSION_EXPIRED)
 *   and the client starts a new session. (A session evicted right after its seq 1 applied, whose
 *   seq 1 is then retried, would apply twice: eviction needs sessionsMax other clients in
 *   between, and the thesis's answer, expiry by replicated time, has the same window.)
 * - The table is bounded by sessionsMax entries and sessionsBytesMax bytes of recorded results;
 *   the least recently used session goes first. A result above sessionResultBytesMax is not kept:
 *   a retry of that seq gets ERR_SESSION_EXPIRED.
 * All of it is replicated state, so every replica evicts the same sessions.
 */
import { assert } from '../base/assert.js';
import type { KvConfig } from './config.js';
import { decodeResult, encodeResult } from './result-codec.js';
import type { KvStats, SessionTable } from './state.js';
import { kvError, type KvError, type KvResult, type Session } from './types.js';

export function newSessionTable(): SessionTable {
  return { entries: new Map(), bytes: 0 };
}

export type SessionCheck =
  { readonly kind: 'new' } | { readonly kind: 'duplicate'; readonly result: KvResult } | KvError;

/** What to do with a command of `session`. */
export function checkSession(table: SessionTable, session: Session): SessionCheck {
  const entry = table.entries.get(session.clientId);
  if (entry === undefined)
    return session.seq === 1
      ? { kind: 'new' }
      : kvError(
          'ERR_SESSION_EXPIRED',
          `no session for client ${JSON.stringify(session.clientId)} (evicted, or not started with seq 1)`,
        );
  if (session.seq > entry.seq) return { kind: 'new' };
  if (session.seq < entry.seq)
    return kvError(
      'ERR_SESSION_STALE',
      `seq ${session.seq} is older than the session's last seq ${entry.seq}`,
    );
  if (entry.result === undefined)
    return kvError(
      'ERR_SESSION_EXPIRED',
      `seq ${session.seq} applied, but its result was larger than sessionResultBytesMax and was not kept`,
    );
  const decoded = decodeResult(entry.result, Number.MAX_SAFE_INTEGER);
  assert(decoded.ok, `a recorded session result does not decode`);
  return { kind: 'duplicate', result: decoded.value };
}

/** Records `result` as the session's last, then evicts least recently used sessions past the bounds. */
export function recordSession(
  table: SessionTable,
  session: Session,
  result: KvResult,
  config: KvConfig,
  stats: KvStats,
): void {
  const bytes = encodeResult(result);
  const kept = bytes.length <= config.sessionResultBytesMax ? bytes : undefined;
  const old = table.entries.get(session.clientId);
  if (old !== undefined) {
    table.bytes -= old.result?.length ?? 0;
    table.entries.delete(session.clientId);
  }
  table.entries.set(session.clientId, { seq: session.seq, result: kept });
  table.bytes += kept?.length ?? 0;
  for (const [clientId, entry] of table.entries) {
    if (table.entries.size <= config.sessionsMax && table.bytes <= config.sessionsBytesMax) break;
    table.entries.delete(clientId);
    table.bytes -= entry.result?.length ?? 0;
    stats.sessionsEvicted++;
  }
}
