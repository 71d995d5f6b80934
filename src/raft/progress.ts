/**
 * What a leader knows of each follower's log (etcd-io/raft's tracker.Progress; Raft §5.3
 * nextIndex/matchIndex), and the flow control on top of it:
 *
 * - `probe`: the leader does not know where the follower's log matches; it sends one append at
 *   a time (paused until an answer or the next heartbeat) and walks `next` back on rejections,
 *   jumping by the follower's term hint (fast backtracking).
 * - `replicate`: the logs match up to `match`; appends are pipelined optimistically (`next`
 *   advances as they are sent), at most `maxInflightAppends` in flight.
 * - `snapshot`: the entries the follower needs are compacted; the leader streams its snapshot
 *   in chunks and waits for it to be installed.
 *
 * Invariant: `match < next`, and in `replicate` the in-flight appends' last indexes are
 * increasing, all at or above `match` (invariants.ts).
 */
import { logIndex, type LogIndex } from '../base/units.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export interface Progress {
  state: ProgressState;
  /** Highest index known replicated (and durable) on the follower. */
  match: LogIndex;
  /** Next index to send. */
  next: LogIndex;
  /** probe: an append is out and unanswered; the next waits for an answer or a heartbeat. */
  probeSent: boolean;
  /** replicate: the last index of each append in flight, oldest first. */
  inflight: LogIndex[];
  /** snapshot: the index of the snapshot being sent, and the next byte offset to send. */
  snapshotIndex: LogIndex;
  snapshotOffset: number;
  /** snapshot: when the last chunk left (a chunk unanswered this long is sent again). */
  snapshotSentMs: number;
  /** Heard from since the last check-quorum (etcd RecentActive). */
  recentActive: boolean;
  /** The highest heartbeat round (ReadIndex sequence) this follower answered. */
  readSeqAcked: number;
  /** The commit index the last append to this follower carried (a new one is worth an empty append). */
  commitSent: LogIndex;
}

export function newProgress(next: LogIndex): Progress {
  return {
    state: 'probe',
    match: logIndex(0),
    next,
    probeSent: false,
    inflight: [],
    snapshotIndex: logIndex(0),
    snapshotOffset: 0,
    snapshotSentMs: 0,
    recentActive: false,
    readSeqAcked: 0,
    commitSent: logIndex(0),
  };
}

export function becomeProbe(pr: Progress): void {
  // After a snapshot, probing starts right after it (etcd: max(match + 1, pendingSnapshot + 1)).
  const next =
    pr.state === 'snapshot' ? Math.max(pr.match + 1, pr.snapshotIndex + 1) : pr.match + 1;
  pr.state = 'probe';
  pr.next = logIndex(next);
  pr.probeSent = false;
  pr.inflight = [];
  pr.snapshotIndex = logIndex(0);
  pr.snapshotOffset = 0;
}

export function becomeReplicate(pr: Progress): void {
  pr.state = 'replicate';
  pr.next = logIndex(pr.match + 1);
  pr.probeSent = false;
  pr.inflight = [];
}

export function becomeSnapshot(pr: Progress, snapshotIndex: LogIndex): void {
  pr.state = 'snapshot';
  pr.snapshotIndex = snapshotIndex;
  pr.snapshotOffset = 0;
  pr.snapshotSentMs = 0;
  pr.probeSent = false;
  pr.inflight = [];
}

/** Whether the leader must hold back appends to this follower now (flow control). */
export function isPaused(pr: Progress, inflightMax: number): boolean {
  if (pr.state === 'probe') return pr.probeSent;
  if (pr.state === 'replicate') return pr.inflight.length >= inflightMax;
  return true;
}

/** An append ending at `last` (with entries) left: advance optimistically or pause the probe. */
export function sentEntries(pr: Progress, last: LogIndex): void {
  if (pr.state === 'replicate') {
    pr.next = logIndex(last + 1);
    pr.inflight.push(last);
  } else pr.probeSent = true;
}

/**
 * A successful answer up to `index`: raise match (and next). False when it tells nothing new
 * (a stale or duplicated answer). Frees the in-flight appends it covers.
 */
export function maybeUpdate(pr: Progress, index: LogIndex): boolean {
  pr.inflight = pr.inflight.filter((last) => last > index);
  const updated = index > pr.match;
  if (updated) {
    pr.match = index;
    pr.probeSent = false;
  }
  if (pr.next < index + 1) pr.next = logIndex(index + 1);
  return updated;
}

/**
 * A rejection of the append whose previous index was `rejected`, with the follower's hint
 * `matchHint` (etcd MaybeDecrTo). False for a stale rejection (one that answers an append sent
 * before what we know now).
 */
export function maybeDecrTo(pr: Progress, rejected: number, matchHint: number): boolean {
  if (pr.state === 'replicate') {
    if (rejected <= pr.match) return false;
    pr.next = logIndex(pr.match + 1);
    return true;
  }
  if (pr.next - 1 !== rejected) return false;
  pr.next = logIndex(Math.max(Math.min(rejected, matchHint + 1), pr.match + 1));
  pr.probeSent = false;
  return true;
}
