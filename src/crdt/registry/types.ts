/**
 * The replicated registry's vocabulary (docs/design/data-plane.md, "Registry replication"): the
 * process table and the service registry as one LWW map keyed by (key, node), where every row is
 * written only by its node (its owner). Each owner's rows travel as one *partition* stamped
 * (epoch, seq): `epoch` is the owner's hybrid-logical-clock time when it started publishing (a
 * restart or a refutation takes a new, larger one), `seq` counts its writes within the epoch.
 * Partitions of one owner are totally ordered by (epoch, seq), so the full-state join keeps the
 * larger; a *delta* is a delta-interval (Almeida, Shoker, Baquero 2018, §6): the rows written in
 * (fromSeq, toSeq] of one epoch, applied only by a replica already at fromSeq (the causal
 * delta-merging condition, Algorithm 2), otherwise the replica pulls the owner's whole partition.
 * A removal needs no tombstone: a replica past its seq has deleted the row, and the full-state
 * join replaces whole partitions. A departed owner's partition becomes a *tombstone* (owner,
 * epoch, seq) that blocks its older partitions until every live member has seen it.
 */
import type { Address } from '../../base/address.js';
import type { SendEffect, TickInput } from '../../base/protocol.js';
import type { Millis } from '../../base/time.js';
import type { NodeId } from '../../identity/node-id.js';
import type { PublicKey, Signature } from '../../identity/signed.js';
import type { Hlc, HlcClock } from '../hlc.js';
import type { OverlayMap } from '../overlay-map.js';
import type { RegistryConfig } from './config.js';
import type { RegistrySecurity } from './signing.js';

/** The two tables. APPEND ONLY on the wire (`TABLE_NUMBERS` in codec.ts). */
export type TableName = 'service' | 'process';

/** A service instance as its node advertises it (keyed by `name`). */
export interface ServiceValue {
  readonly address: string;
  readonly tags: readonly string[];
  /** Weighted round-robin share among a name's live instances; 0: listed but never resolved. */
  readonly weight: number;
}

/** A process (an agent of some type) as its node advertises it (keyed by `pid`). */
export interface ProcessValue {
  readonly type: string;
  readonly capabilities: readonly string[];
  readonly status: string;
  /** Non-negative; kept to millionths (LOAD_SCALE on the wire). */
  readonly load: number;
}

export type Row =
  | {
      readonly table: 'service';
      readonly key: string;
      readonly seq: number;
      readonly stamp: Hlc;
      readonly value: ServiceValue;
    }
  | {
      readonly table: 'process';
      readonly key: string;
      readonly seq: number;
      readonly stamp: Hlc;
      readonly value: ProcessValue;
    };

/** The row's key within its owner's partition. */
export function rowId(table: TableName, key: string): string {
  return `${table}\u0000${key}`;
}

/**
 * One owner's rows at (epoch, seq), with the owner's signature of that version (signing.ts).
 * Only our own partition is ever unsigned: it is signed when first sent after a write.
 */
export interface Partition {
  readonly owner: NodeId;
  epoch: Hlc;
  seq: number;
  rows: Map<string, Row>;
  signature: Signature | undefined;
}

/** A row removed at `seq` (in a delta only: a partition simply lacks it). */
export interface Removal {
  readonly table: TableName;
  readonly key: string;
  readonly seq: number;
}

/** The writes of one owner in (fromSeq, toSeq] of one epoch (a delta-interval, §6). */
export interface Delta {
  readonly owner: NodeId;
  readonly epoch: Hlc;
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly upserts: readonly Row[];
  readonly removals: readonly Removal[];
  /** The owner's signature of the version (epoch, toSeq) a replica holds once it applied the delta. */
  readonly signature: Signature;
}

/** A delta as the owner queues it before its version is signed (its own writes, a restamp). */
export type UnsignedDelta = Omit<Delta, 'signature'> & {
  readonly signature: Signature | undefined;
};

/** A departed owner's partition, withdrawn: blocks its partitions up to (epoch, seq). */
export interface Tombstone {
  readonly owner: NodeId;
  readonly epoch: Hlc;
  readonly seq: number;
}

/**
 * One line of a summary: the version of one owner's partition a replica holds. Tombstones are
 * not listed: a replica sends one only to a peer whose summary shows a partition it covers, and a
 * peer whose summary shows none (or a newer one) has seen it, as far as collection goes.
 */
export interface SummaryEntry {
  readonly owner: NodeId;
  readonly epoch: Hlc;
  readonly seq: number;
}

/** The data plane's messages (type numbers 40-43, codec.ts). */
export type RegistryMessage =
  | { type: 'data-gossip'; from: NodeId; deltas: Delta[] }
  | { type: 'data-digest'; from: NodeId; reply: boolean; digest: string }
  | { type: 'data-summary'; from: NodeId; partial: boolean; entries: SummaryEntry[] }
  | {
      type: 'data-state';
      from: NodeId;
      reply: boolean;
      partitions: Partition[];
      tombstones: Tombstone[];
      want: NodeId[];
    };

/** A member as membership reports it (the view inputs). */
export interface ViewMember {
  readonly id: NodeId;
  readonly address: Address;
  readonly state: 'joining' | 'alive' | 'suspect' | 'dead' | 'left';
  /**
   * The key the member signed its membership record with: its partitions must verify against
   * it. Absent when membership no longer holds the member (reaped): then it counts as dead.
   */
  readonly publicKey?: PublicKey | undefined;
}

/** A local write: advertise (upsert) or withdraw one of our rows. */
export type LocalOp =
  | { op: 'advertise-service'; name: string; value: ServiceValue }
  | { op: 'advertise-process'; pid: string; value: ProcessValue }
  | { op: 'withdraw'; table: TableName; key: string };

export type RegistryInput =
  | TickInput
  | { kind: 'local'; now: Millis; write: LocalOp }
  /**
   * The whole view: every member membership holds (an owner absent from it counts as dead). The
   * array is handed over: never changed afterwards (cores given the same one share its tables).
   */
  | { kind: 'view'; now: Millis; members: readonly ViewMember[] }
  /** Changes to the view: these members' new states, `removed` no longer held, the rest as before. */
  | {
      kind: 'members';
      now: Millis;
      members: readonly ViewMember[];
      removed: readonly NodeId[];
    }
  | { kind: 'receive'; now: Millis; from: Address; message: RegistryMessage }
  /** Deltas that arrived by another carrier (piggybacked on membership gossip): `decodeDeltaPayload`. */
  | { kind: 'deltas'; now: Millis; from: Address; deltas: Delta[] };

/** A row of some owner appeared, changed or went away (the feed of `watch`). */
export interface RowChange {
  readonly kind: 'changed';
  readonly table: TableName;
  readonly key: string;
  readonly node: NodeId;
  readonly before: Row | undefined;
  readonly after: Row | undefined;
}

/** A gossip round's deltas for another carrier (`gossipCarrier: 'piggyback'`): `encodeDeltaPayload` bytes. */
export interface Piggyback {
  readonly kind: 'piggyback';
  readonly payload: Uint8Array;
  readonly deltas: number;
}

export type RegistryEffect = SendEffect<RegistryMessage> | RowChange | Piggyback;

export const REGISTRY_COUNTER_NAMES = [
  'localWrites',
  'localRefused',
  'deltasApplied',
  'deltasStale',
  'deltasGap',
  'deltasRefused',
  'partitionsMerged',
  'partitionsRefused',
  'partitionsTruncated',
  'withdrawn',
  'tombstonesCollected',
  'tombstonesEvicted',
  'restamps',
  'digestsEqual',
  'digestsDiffer',
  'gossipSent',
  'deltaQueueEvicted',
  'strangerMessages',
  'signaturesMade',
  'signaturesChecked',
  'signaturesInvalid',
  'unverifiable',
  'tombstonesIgnored',
  'departedRefused',
] as const;
export type RegistryCounter = (typeof REGISTRY_COUNTER_NAMES)[number];

import type { QueuedDelta } from './queue.js';

export interface RegistryState {
  config: RegistryConfig;
  selfId: NodeId;
  /** wall-clock ms = now + wallOffsetMs (measured once at boot: a monotonic wall clock). */
  wallOffsetMs: number;
  clock: HlcClock;
  /**
   * Our own partition (always present) and every other owner's we hold. An OverlayMap: replicas
   * may share a base of partitions they hold alike (partitions are never changed in place, except
   * our own, which is always in our overlay); docs/design/data-plane.md, "Compact replica state".
   */
  partitions: OverlayMap<NodeId, Partition>;
  /** Withdrawn owners, with the members known to have seen each tombstone. */
  tombstones: Map<NodeId, { tombstone: Tombstone; seenBy: Set<NodeId>; atMs: Millis }>;
  /**
   * The live view: alive and suspect members (not self), by id. Over a base shared by every
   * replica given the same `view` input (self deleted in each replica's overlay).
   */
  live: OverlayMap<NodeId, Address>;
  /** Every member of the view (any state, self excluded), by id: states and keys. Shared as `live`. */
  members: OverlayMap<NodeId, ViewMember>;
  security: RegistrySecurity;
  /** False until the first `view` input: nothing is withdrawn or collected on an unknown view. */
  viewSeen: boolean;
  /** Departed owners whose partition we still hold, and when it is withdrawn. */
  withdrawAtMs: Map<NodeId, Millis>;
  /** Deltas to gossip, one per owner (consecutive intervals merged). */
  queue: Map<NodeId, QueuedDelta>;
  /** Owners we asked a whole partition of, and when (one pull per owner per pull interval). */
  pulledAtMs: Map<NodeId, Millis>;
  nextGossipMs: Millis;
  /** Eager pushes left until the next gossip round refills them to `eagerPushesMax`. */
  eagerPushesLeft: number;
  nextPushPullMs: Millis;
  lastNowMs: Millis;
  counters: Record<RegistryCounter, number>;
}

/** What `init` needs (no persisted part: the registry is soft state, republished after a restart). */
export interface RegistryInit {
  config: RegistryConfig;
  selfId: NodeId;
  /** wall-clock ms minus monotonic ms at boot (Date.now() - clock.now()); the simulator skews it per node. */
  wallOffsetMs: number;
  /** Signs our partitions and verifies everyone else's (signing.ts). */
  security: RegistrySecurity;
}

export interface RegistryTypes {
  config: RegistryInit;
  persisted: undefined;
  state: RegistryState;
  input: RegistryInput;
  effect: RegistryEffect;
  record: never;
  snapshot: { epoch: Hlc; seq: number; clock: Hlc };
  message: RegistryMessage;
}
