/**
 * Which configuration is in force, kept in step with the log (thesis §4.1: "a server always uses
 * the latest configuration in its log, regardless of whether the entry is committed"). A
 * configuration entry takes effect when it is appended, and a truncation that removes it brings
 * back the one before; a snapshot records the configuration at its index, so compaction never
 * loses it. Before any configuration is in the log or a snapshot, the bootstrap one (the `peers`
 * list) is in force.
 */
import type { Address } from '../base/address.js';
import { logIndex, type LogIndex } from '../base/units.js';
import {
  bootstrapConfiguration,
  decodeConfiguration,
  memberAt,
  replicaAddresses,
  type Configuration,
} from './configuration.js';
import type { Entry, SnapshotMeta } from './log-types.js';
import { newProgress } from './progress.js';
import { lastIndex } from './log.js';
import type { Turn } from './turn.js';
import type { MembershipState, RaftState } from './types.js';

/** The membership of a node booting with `snapshot` and `entries` (or neither: the bootstrap list). */
export function initMembership(
  peers: readonly Address[],
  snapshot: SnapshotMeta | undefined,
  entries: readonly Entry[],
): MembershipState {
  const snapshotConfig =
    snapshot === undefined ? bootstrapConfiguration(peers) : decodeConfiguration(snapshot.config);
  const history = entries
    .filter((e) => e.kind === 'config')
    .map((e) => ({ index: e.index, config: decodeConfiguration(e.data) }));
  const last = history[history.length - 1];
  return {
    config: last?.config ?? snapshotConfig,
    index: last?.index ?? snapshot?.index ?? logIndex(0),
    snapshotConfig,
    history,
  };
}

/** Appended entries that hold configurations take effect at once (thesis §4.1). */
export function noteEntries(turn: Turn, entries: readonly Entry[]): void {
  const { membership } = turn.state;
  let changed = false;
  for (const entry of entries) {
    if (entry.kind !== 'config') continue;
    const config = decodeConfiguration(entry.data);
    membership.history.push({ index: entry.index, config });
    membership.config = config;
    membership.index = entry.index;
    changed = true;
  }
  if (changed) onConfigChanged(turn);
}

/** The log is replaced from `from` on: configurations held there are gone. */
export function truncateMembership(turn: Turn, from: LogIndex): void {
  const { membership } = turn.state;
  if (!membership.history.some((h) => h.index >= from)) return;
  membership.history = membership.history.filter((h) => h.index < from);
  const last = membership.history[membership.history.length - 1];
  membership.config = last?.config ?? membership.snapshotConfig;
  membership.index = last?.index ?? logIndex(Math.min(membership.index, from - 1));
  onConfigChanged(turn);
}

/** The configuration in force at `index` (at most the last index). */
export function configAt(state: RaftState, index: number): Configuration {
  let config = state.membership.snapshotConfig;
  for (const h of state.membership.history) if (h.index <= index) config = h.config;
  return config;
}

/** The log was compacted up to `index`: the snapshot now records the configuration there. */
export function compactMembership(state: RaftState, index: LogIndex): void {
  const { membership } = state;
  membership.snapshotConfig = configAt(state, index);
  membership.history = membership.history.filter((h) => h.index > index);
}

/** A leader's snapshot replaced the log: its configuration is the one in force. */
export function installMembership(turn: Turn, meta: SnapshotMeta): void {
  const config = decodeConfiguration(meta.config);
  turn.state.membership = { config, index: meta.index, snapshotConfig: config, history: [] };
  onConfigChanged(turn);
}

/**
 * A new configuration is in force: pinned slots speak through their pinned NodeId only, slots
 * that left are forgotten, and a leader tracks progress for exactly the members it replicates to.
 */
export function onConfigChanged(turn: Turn): void {
  const { state } = turn;
  const { config } = state.membership;
  for (const address of [...state.idAt.keys()]) {
    const member = memberAt(config, address);
    if (member === undefined) state.idAt.delete(address);
    else if (member.id !== undefined) state.idAt.set(address, member.id);
  }
  for (const address of replicaAddresses(config)) {
    const id = memberAt(config, address)?.id;
    if (id !== undefined && address !== state.selfAddress) state.idAt.set(address, id);
  }
  const leader = state.leaderState;
  if (leader === undefined) return;
  const wanted = new Set(
    replicaAddresses(config)
      .filter((a) => a !== state.selfAddress)
      .map((a) => state.idAt.get(a))
      .filter((id) => id !== undefined),
  );
  for (const id of [...leader.progress.keys()]) if (!wanted.has(id)) leader.progress.delete(id);
  for (const id of wanted)
    if (!leader.progress.has(id))
      leader.progress.set(id, newProgress(logIndex(lastIndex(state.log) + 1)));
}
