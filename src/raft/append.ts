/**
 * The one way entries enter the log, for a leader's own proposals and a follower's appends
 * alike (Raft §5.3): a conflicting suffix is replaced (never a committed entry: that would break
 * State Machine Safety, so it is an assertion), the `entries` record is issued, configurations
 * take effect (membership.ts), and requests whose entries were overwritten learn they were
 * dropped.
 */
import { assert } from '../base/assert.js';
import { logIndex, type LogIndex } from '../base/units.js';
import type { Entry, EntryKind } from './log-types.js';
import { appendEntries, lastIndex } from './log.js';
import { noteEntries, truncateMembership } from './membership.js';
import type { Turn } from './turn.js';
import type { RequestOutcome, TrackedRequest } from './types.js';

/** Appends `entries` (contiguous; the first at most one past the last index). */
export function appendToLog(turn: Turn, entries: readonly Entry[]): void {
  const first = entries[0];
  if (first === undefined) return;
  const { state } = turn;
  const last = lastIndex(state.log);
  if (first.index <= last) {
    assert(
      first.index > state.commitIndex,
      `entry ${first.index} would replace a committed entry (commit ${state.commitIndex}): §5.3 Log Matching is broken`,
    );
    state.counters.entriesTruncated += last - first.index + 1;
    truncateMembership(turn, first.index);
    dropTracked(turn, first.index);
  }
  appendEntries(state.log, entries);
  turn.out.persist.push({ kind: 'entries', entries });
  state.counters.entriesAppended += entries.length;
  noteEntries(turn, entries);
}

/** A leader's new entry of its term at the end of its log (§5.3: leaders only append). */
export function appendAsLeader(turn: Turn, kind: EntryKind, data: Uint8Array): Entry {
  const { state } = turn;
  const entry: Entry = {
    index: logIndex(lastIndex(state.log) + 1),
    term: state.term,
    kind,
    data,
  };
  appendToLog(turn, [entry]);
  return entry;
}

/** The one outcome of a tracked request (a proposal or a configuration change). */
export function settle(turn: Turn, request: TrackedRequest, outcome: RequestOutcome): void {
  turn.out.effects.push({
    kind: request.kind === 'propose' ? 'propose-result' : 'config-result',
    requestId: request.requestId,
    outcome,
  });
}

/** Requests whose entries at `from` and after are gone: their outcome is `dropped`. */
export function dropTracked(turn: Turn, from: LogIndex): void {
  const { state } = turn;
  for (const [index, request] of state.tracked) {
    if (index < from) continue;
    state.tracked.delete(index);
    state.counters.proposalsDropped++;
    settle(turn, request, {
      ok: false,
      reason: 'dropped',
      detail: `entry ${index} of term ${request.term} was replaced by another leader's`,
      leader: state.leader,
    });
  }
}
