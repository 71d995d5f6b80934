/**
 * The assignment event model (docs/design/worker-tier.md, "Assignments"). What a node must run
 * lives in the store under assign/<nodeId>/: one key per assignment (a/<service>/<index>) and
 * one per command (c/<id>). A put there is an event, and its revision (the key's modRevision)
 * IS the assignment revision: a node that has handled everything up to revision R resumes with
 * the store's history from R + 1, from any server, after a failover, a reconnect or a
 * compaction-free pause, without missing or repeating one.
 *
 * - put a/… with op `set`: run (or update) this replica with this full spec (never a cached one);
 * - put a/… with op `drain`: stop it gracefully within graceMs;
 * - put a/… with op `delete`: stop it now (`force`) or gracefully; the key stays as a tombstone
 *   until the slot is set again (so a resuming node sees the delete in history);
 * - put c/…: a command (drain the node, evict or restart one replica);
 * - a store delete under the prefix (tombstone or command clean-up) is no event.
 *
 * A batch holds every event of one revision (a txn may write several keys of one node at once):
 * revisions are delivered whole, in increasing order, each exactly once.
 */
import type { KeyValue, KvEvent } from '../../kv/types.js';
import { parseKey } from './layout.js';
import { records, type AssignmentValue, type CommandValue } from './records.js';

export type AssignmentEvent =
  | ({ readonly type: 'set' } & Omit<Extract<AssignmentValue, { op: 'set' }>, 'op'>)
  | ({ readonly type: 'drain' } & Omit<Extract<AssignmentValue, { op: 'drain' }>, 'op'>)
  | ({ readonly type: 'delete' } & Omit<Extract<AssignmentValue, { op: 'delete' }>, 'op'>)
  | ({ readonly type: 'command'; readonly commandId: string } & CommandValue);

export interface AssignmentBatch {
  readonly revision: number;
  readonly events: readonly AssignmentEvent[];
}

/** One running (or draining) assignment, as a snapshot lists it. */
export type CurrentAssignment = Extract<AssignmentEvent, { type: 'set' | 'drain' }>;

/** Everything a node must run at `revision`: sent first on a fresh start or after compaction. */
export interface AssignmentSnapshot {
  readonly revision: number;
  readonly assignments: readonly CurrentAssignment[];
}

/** The event a stored key-value means for `nodeId`, or undefined (another node, a bad value). */
export function eventOf(kv: KeyValue, nodeId: string): AssignmentEvent | undefined | 'bad' {
  const parsed = parseKey(kv.key);
  if (parsed === undefined || !('nodeId' in parsed) || parsed.nodeId !== nodeId) return undefined;
  if (parsed.kind === 'command') {
    const value = records.command.decode(kv.value);
    return value === undefined ? 'bad' : { type: 'command', commandId: parsed.commandId, ...value };
  }
  if (parsed.kind !== 'assignment') return undefined;
  const value = records.assignment.decode(kv.value);
  if (value === undefined || value.service !== parsed.service || value.index !== parsed.index)
    return 'bad';
  const { op, ...rest } = value;
  return { type: op, ...rest } as AssignmentEvent;
}

/**
 * Store events (of one or more revisions, in order) to assignment batches for `nodeId`. A
 * revision with no put for the node gives no batch. Values that do not parse are counted in
 * `bad` and skipped: a corrupt value never stops the stream.
 */
export function batchesOf(
  events: readonly KvEvent[],
  nodeId: string,
  counters: { bad: number },
): AssignmentBatch[] {
  const out: { revision: number; events: AssignmentEvent[] }[] = [];
  for (const event of events) {
    if (event.type !== 'put') continue;
    const e = eventOf(event.kv, nodeId);
    if (e === undefined) continue;
    if (e === 'bad') {
      counters.bad++;
      continue;
    }
    const last = out[out.length - 1];
    if (last !== undefined && last.revision === event.revision) last.events.push(e);
    else out.push({ revision: event.revision, events: [e] });
  }
  return out;
}

/** The snapshot of `nodeId`'s assignments from a range of its prefix read at `revision`. */
export function snapshotOf(
  kvs: readonly KeyValue[],
  nodeId: string,
  revision: number,
  counters: { bad: number },
): AssignmentSnapshot {
  const assignments: CurrentAssignment[] = [];
  for (const kv of kvs) {
    const e = eventOf(kv, nodeId);
    if (e === 'bad') counters.bad++;
    else if (e !== undefined && (e.type === 'set' || e.type === 'drain')) assignments.push(e);
  }
  return { revision, assignments };
}
