/**
 * Raft's wire vocabulary (Raft Fig. 2 RequestVote and AppendEntries, §7 InstallSnapshot, thesis
 * §9.6 PreVote, §3.10 TimeoutNow, §6.4 ReadIndex), as the core sends and receives it. The payload
 * layouts are codec.ts; the envelope is src/codec. docs/design/raft.md, "Messages", gives sizes.
 *
 * Every message names its sender (NodeId and listen address: a configuration slot counts a
 * message only from the NodeId pinned at that address) and its term (§5.1).
 *
 * APPEND ONLY: every number below is on the wire. Never renumber, never reuse a retired number.
 */
import type { Address } from '../base/address.js';
import type { LogIndex, Term } from '../base/units.js';
import type { NodeId } from '../identity/node-id.js';
import type { Entry, SnapshotMeta } from './log-types.js';

interface Header {
  from: NodeId;
  fromAddress: Address;
  term: Term;
}

export type RaftMessage =
  /**
   * RequestVote (§5.2, §5.4.1) or, with `preVote`, "would you vote for me in `term`?" (thesis
   * §9.6, `term` is the proposed one). `transfer`: the election follows a TimeoutNow, so voters
   * set their leader lease aside (thesis §3.10).
   */
  | (Header & {
      type: 'raft-vote-request';
      lastIndex: LogIndex;
      lastTerm: Term;
      preVote: boolean;
      transfer: boolean;
    })
  | (Header & { type: 'raft-vote-response'; preVote: boolean; granted: boolean })
  /** AppendEntries (§5.3): `entries` start at prevIndex + 1 (indexes are implied on the wire). */
  | (Header & {
      type: 'raft-append';
      prevIndex: LogIndex;
      prevTerm: Term;
      commit: LogIndex;
      entries: Entry[];
    })
  /**
   * Success: the follower's log matches the leader's up to `index`, durably. Reject: it has no
   * entry `index` (the append's prevIndex) with the leader's term there; `hintIndex`/`hintTerm`
   * name its last entry that may match (etcd's fast backtracking: the leader skips a whole term
   * per round trip).
   */
  | (Header & {
      type: 'raft-append-response';
      reject: boolean;
      index: LogIndex;
      hintIndex: LogIndex;
      hintTerm: Term;
    })
  /** The leader's heartbeat: its commit (at most the follower's match) and its read round. */
  | (Header & { type: 'raft-heartbeat'; commit: LogIndex; readSeq: number })
  | (Header & { type: 'raft-heartbeat-response'; readSeq: number })
  /** InstallSnapshot (§7), one chunk of `totalBytes` at `offset`; the last one completes it. */
  | (Header & {
      type: 'raft-snapshot';
      meta: SnapshotMeta;
      totalBytes: number;
      offset: number;
      data: Uint8Array;
    })
  /**
   * The follower has the snapshot at `index` up to `offset` bytes (the next chunk it wants);
   * `reject`: refused (larger than it accepts). An installed snapshot is acked as an append
   * response once durable.
   */
  | (Header & {
      type: 'raft-snapshot-response';
      index: LogIndex;
      offset: number;
      reject: boolean;
    })
  /** Leadership transfer (thesis §3.10): start an election now. */
  | (Header & { type: 'raft-timeout-now' })
  /** A follower's ReadIndex request (thesis §6.4), answered by the leader. */
  | (Header & { type: 'raft-read-index'; requestId: number })
  | (Header & {
      type: 'raft-read-index-response';
      requestId: number;
      index: LogIndex;
      ok: boolean;
    });

// APPEND ONLY: message type numbers are on the wire, one space shared with the other protocols
// (membership 1..7 and 16, election 8..14, 15 is the compressed wrapper).
export const RAFT_TYPE_NUMBERS = {
  'raft-vote-request': 20,
  'raft-vote-response': 21,
  'raft-append': 22,
  'raft-append-response': 23,
  'raft-heartbeat': 24,
  'raft-heartbeat-response': 25,
  'raft-snapshot': 26,
  'raft-snapshot-response': 27,
  'raft-timeout-now': 28,
  'raft-read-index': 29,
  'raft-read-index-response': 30,
} as const satisfies Record<RaftMessage['type'], number>;

/** Type numbers set aside for Raft (20..39): later Raft messages take the next free one here. */
export const RAFT_TYPE_NUMBER_RANGE = { first: 20, last: 39 } as const;
