/**
 * Snapshots and log compaction (Raft §7; thesis chapter 5).
 *
 * - Compaction: once snapshotEntries entries are applied past the last snapshot, the state
 *   machine is asked for one (`take-snapshot`); it answers `snapshot-taken` whenever it is done
 *   (the core keeps accepting and applying entries meanwhile). The snapshot record is written,
 *   and only once it is durable are the entries it covers dropped from memory.
 * - InstallSnapshot: a follower whose next entry the leader has compacted gets the leader's
 *   newest durable snapshot as a stream of chunks (snapshotChunkBytes, one in flight, resent
 *   after snapshotResendMsFor(config) without an answer). The follower buffers it (at most
 *   snapshotBytesMax), and when it is complete writes it as an `install` record that replaces
 *   its log; when that is durable it restores the state machine and acks the snapshot's index
 *   as its match. A snapshot its log already matches is not installed (§7: keep the log).
 */
import type { Address } from '../base/address.js';
import { assert } from '../base/assert.js';
import { logIndex, type LogIndex } from '../base/units.js';
import type { NodeId } from '../identity/node-id.js';
import { snapshotResendMsFor } from './config.js';
import { encodeConfiguration } from './configuration.js';
import type { RaftRecord, SnapshotMeta } from './log-types.js';
import { settle } from './append.js';
import { compactTo, installDurable, matchTerm, resetTo, termAt } from './log.js';
import { compactMembership, configAt, installMembership } from './membership.js';
import type { RaftMessage } from './messages.js';
import { becomeProbe, becomeSnapshot, type Progress } from './progress.js';
import { commitTo, noteAck, noteLeader } from './replication.js';
import { header, send, type Turn } from './turn.js';
import type { IncomingSnapshot } from './types.js';

type Msg<T extends RaftMessage['type']> = Extract<RaftMessage, { type: T }>;

// ---- leader: sending ----

/**
 * `id`'s next entry is compacted: send it the newest durable snapshot instead. A leader whose log
 * base is a snapshot it installed and has not yet made durable has none to send: the probe waits
 * for the next heartbeat's answer.
 */
export function startSnapshot(turn: Turn, _id: NodeId, pr: Progress, address: Address): void {
  const snapshot = turn.state.snapshot;
  if (snapshot === undefined || snapshot.meta.index < turn.state.log.snapshotIndex) {
    pr.probeSent = true;
    return;
  }
  becomeSnapshot(pr, snapshot.meta.index);
  sendChunk(turn, pr, address);
}

function sendChunk(turn: Turn, pr: Progress, address: Address): void {
  const { state } = turn;
  const snapshot = state.snapshot;
  if (snapshot === undefined) return;
  if (snapshot.meta.index !== pr.snapshotIndex) {
    // A newer snapshot replaced the one being sent: send that one, from the start.
    pr.snapshotIndex = snapshot.meta.index;
    pr.snapshotOffset = 0;
  }
  const total = snapshot.data.length;
  const offset = Math.min(pr.snapshotOffset, total);
  send(turn, address, {
    type: 'raft-snapshot',
    ...header(state),
    meta: snapshot.meta,
    totalBytes: total,
    offset,
    data: snapshot.data.subarray(offset, Math.min(total, offset + state.config.snapshotChunkBytes)),
  });
  pr.snapshotSentMs = turn.now;
  state.counters.snapshotChunksSent++;
}

/** A chunk unanswered for snapshotResendMsFor(config) is sent again (a lost frame, a restart). */
export function maybeResendSnapshot(turn: Turn, _id: NodeId, pr: Progress, address: Address): void {
  if (pr.state !== 'snapshot') return;
  if (turn.now - pr.snapshotSentMs < snapshotResendMsFor(turn.state.config)) return;
  sendChunk(turn, pr, address);
}

export function onSnapshotResponse(turn: Turn, m: Msg<'raft-snapshot-response'>): void {
  const { state } = turn;
  const pr = state.leaderState?.progress.get(m.from);
  if (pr === undefined || m.term !== state.term) return;
  pr.recentActive = true;
  if (pr.state !== 'snapshot' || m.index !== pr.snapshotIndex)
    return void state.counters.staleMessages++;
  if (m.reject) {
    // The follower refuses a snapshot this large: probing again would loop, so wait for a
    // heartbeat's answer before the next attempt.
    state.counters.snapshotsRefused++;
    becomeProbe(pr);
    pr.probeSent = true;
    return;
  }
  const total = state.snapshot?.data.length ?? 0;
  if (m.offset > total) return void state.counters.staleMessages++;
  pr.snapshotOffset = m.offset;
  // The whole snapshot arrived: its install is acked with an append response once durable.
  if (m.offset < total) sendChunk(turn, pr, m.fromAddress);
}

// ---- follower: receiving and installing ----

function respond(turn: Turn, m: Msg<'raft-snapshot'>, offset: number, reject: boolean): void {
  send(turn, m.fromAddress, {
    type: 'raft-snapshot-response',
    ...header(turn.state),
    index: m.meta.index,
    offset,
    reject,
  });
}

export function onSnapshotChunk(turn: Turn, m: Msg<'raft-snapshot'>): void {
  const { state } = turn;
  if (!noteLeader(turn, m)) return;
  const { meta } = m;
  if (meta.index <= state.commitIndex) return noteAck(turn, m.fromAddress, state.commitIndex);
  if (matchTerm(state.log, meta.index, meta.term)) {
    // §7: the log already holds the snapshot's last entry; keep what follows it.
    commitTo(turn, meta.index);
    return noteAck(turn, m.fromAddress, meta.index);
  }
  if (m.totalBytes > state.config.snapshotBytesMax) {
    state.counters.snapshotsRefused++;
    return respond(turn, m, 0, true);
  }
  const incoming = receiving(turn, m);
  if (incoming === undefined) return respond(turn, m, 0, false);
  if (m.offset === incoming.received && incoming.received + m.data.length <= incoming.totalBytes) {
    incoming.data.set(m.data, incoming.received);
    incoming.received += m.data.length;
  }
  if (incoming.received < incoming.totalBytes) return respond(turn, m, incoming.received, false);
  install(turn, incoming, m.fromAddress);
}

/** The buffer for `m`'s snapshot; a new one only from its first chunk. */
function receiving(turn: Turn, m: Msg<'raft-snapshot'>): IncomingSnapshot | undefined {
  const { state } = turn;
  const current = state.incoming;
  if (
    current !== undefined &&
    current.leader === m.from &&
    current.term === m.term &&
    current.meta.index === m.meta.index &&
    current.totalBytes === m.totalBytes
  )
    return current;
  if (m.offset !== 0) return undefined;
  state.incoming = {
    leader: m.from,
    term: m.term,
    meta: m.meta,
    totalBytes: m.totalBytes,
    // Filled chunk by chunk as they arrive (a copy of one chunk per step, never a join of all).
    data: new Uint8Array(m.totalBytes),
    received: 0,
  };
  return state.incoming;
}

/** Raft §7: discard the log, keep the snapshot; the state machine is restored once it is durable. */
function install(turn: Turn, incoming: IncomingSnapshot, from: Address): void {
  const { state } = turn;
  const { meta } = incoming;
  const { data } = incoming;
  state.incoming = undefined;
  state.snapshotRequested = undefined;
  unknownOutcomes(turn);
  turn.out.persist.push({ kind: 'snapshot', meta, data, install: true });
  state.snapshotWrites.push({ meta, data, install: true, ackTo: from, term: state.term });
  resetTo(state.log, meta.index, meta.term);
  installMembership(turn, meta);
  commitTo(turn, meta.index);
  state.counters.snapshotsInstalled++;
}

/**
 * The log this node's requests were in is gone: whether their entries were committed is not
 * known here. Retrying is safe: a session (client id and sequence in the data, thesis §6.3)
 * applies a command once.
 */
function unknownOutcomes(turn: Turn): void {
  const { state } = turn;
  for (const [index, request] of state.tracked)
    settle(turn, request, {
      ok: false,
      reason: 'unknown',
      detail: `entry ${index} was replaced by a leader's snapshot before it applied here; it may have been committed (retry: sessions apply it once)`,
      leader: state.leader,
    });
  state.tracked.clear();
}

// ---- both: the state machine's snapshots and durable ones ----

/** Asks the state machine for a snapshot once snapshotEntries entries are applied past the last. */
export function maybeRequestSnapshot(turn: Turn): void {
  const { state } = turn;
  if (state.snapshotRequested !== undefined || state.snapshotWrites.length > 0) return;
  if (state.appliedIndex - state.log.snapshotIndex < state.config.snapshotEntries) return;
  state.snapshotRequested = state.appliedIndex;
  turn.out.effects.push({ kind: 'take-snapshot', index: state.appliedIndex });
}

export function onSnapshotTaken(turn: Turn, index: LogIndex, data: Uint8Array): void {
  const { state } = turn;
  if (index !== state.snapshotRequested) {
    state.counters.snapshotsRefused++;
    turn.out.effects.push({
      kind: 'rejected',
      detail: `snapshot-taken at ${index}, but ${state.snapshotRequested === undefined ? 'none is' : `index ${state.snapshotRequested} is`} requested`,
    });
    return;
  }
  state.snapshotRequested = undefined;
  const term = termAt(state.log, index);
  assert(
    term !== undefined && index > state.log.snapshotIndex,
    `snapshot at ${index} is not in the log`,
  );
  const meta: SnapshotMeta = { index, term, config: encodeConfiguration(configAt(state, index)) };
  turn.out.persist.push({ kind: 'snapshot', meta, data });
  state.snapshotWrites.push({ meta, data, install: false, ackTo: undefined, term: state.term });
  state.counters.snapshotsTaken++;
}

/** A snapshot record is durable: compact the log, or finish an install. */
export function snapshotDurable(
  turn: Turn,
  record: Extract<RaftRecord, { kind: 'snapshot' }>,
): void {
  const { state } = turn;
  const write = state.snapshotWrites.shift();
  assert(write?.meta.index === record.meta.index, 'snapshot records became durable out of order');
  const { meta, data } = write;
  if (state.snapshot === undefined || meta.index > state.snapshot.meta.index)
    state.snapshot = { meta, data };
  if (!write.install) {
    if (meta.index > state.log.snapshotIndex && matchTerm(state.log, meta.index, meta.term)) {
      compactMembership(state, meta.index);
      compactTo(state.log, meta.index, meta.term);
    }
    return;
  }
  installDurable(state.log);
  turn.out.effects.push({ kind: 'restore-snapshot', meta, data });
  state.appliedIndex = logIndex(Math.max(state.appliedIndex, meta.index));
  if (write.ackTo !== undefined && write.term === state.term && state.role === 'follower')
    noteAck(turn, write.ackTo, meta.index);
}
