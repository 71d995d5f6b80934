/**
 * Per-replica rules of the registry core, checked after every step in tests and the simulator
 * (cluster-wide rules, convergence and withdrawal, are the cluster checkers' in
 * test/crdt/registry-cluster.test.ts). `checkTransition`: our own (epoch, seq) and our HLC never
 * go back, or a peer could keep an older version of our rows as the newest.
 */
import { compareHlc } from '../hlc.js';
import { compareVersion, tombstoneCovers } from './partition.js';
import type { RegistryState, RegistryTypes } from './types.js';
import { rowId } from './types.js';

export function checkInvariants(state: RegistryState): string[] {
  const broken: string[] = [];
  const config = state.config;
  const self = state.partitions.get(state.selfId);
  if (self === undefined) broken.push('own partition is missing');
  else if (compareHlc(state.clock.last, self.epoch) < 0) broken.push('HLC is behind our own epoch');
  if (state.partitions.size > config.partitionsMax) broken.push('partitions exceed partitionsMax');
  if (state.tombstones.size > config.tombstonesMax) broken.push('tombstones exceed tombstonesMax');
  if (state.queue.size > config.deltaQueueMax) broken.push('delta queue exceeds deltaQueueMax');
  if (state.pulledAtMs.size > config.partitionsMax) broken.push('pull marks exceed partitionsMax');
  if (state.tombstones.has(state.selfId)) broken.push('a tombstone of ourselves is kept');
  if (state.live.has(state.selfId)) broken.push('self is in the live view');
  for (const p of state.partitions.values()) {
    if (p.rows.size > config.rowsPerNodeMax)
      broken.push(`partition of ${p.owner} exceeds rowsPerNodeMax`);
    for (const [id, row] of p.rows) {
      if (row.seq > p.seq) broken.push(`row ${row.key} of ${p.owner} is after its partition's seq`);
      if (id !== rowId(row.table, row.key))
        broken.push(`row ${row.key} of ${p.owner} is filed under another id`);
    }
    // Only our own partition waits unsigned (until it is next sent): every other came signed.
    if (p.owner !== state.selfId && p.signature === undefined)
      broken.push(`partition of ${p.owner} is held unsigned`);
    const t = state.tombstones.get(p.owner);
    if (t !== undefined && tombstoneCovers(t.tombstone, p.epoch, p.seq))
      broken.push(`partition of ${p.owner} is kept under its tombstone`);
  }
  for (const [owner, q] of state.queue)
    if (q.owner !== owner) broken.push(`queued delta of ${q.owner} filed under ${owner}`);
  return broken;
}

export function checkTransition(before: RegistryTypes['snapshot'], after: RegistryState): string[] {
  const broken: string[] = [];
  const self = after.partitions.get(after.selfId);
  if (self !== undefined && compareVersion(self.epoch, self.seq, before.epoch, before.seq) < 0)
    broken.push('own (epoch, seq) went back');
  if (compareHlc(after.clock.last, before.clock) < 0) broken.push('HLC went back');
  return broken;
}

export function snapshot(state: RegistryState): RegistryTypes['snapshot'] {
  const self = state.partitions.get(state.selfId);
  return {
    epoch: self?.epoch ?? { wallMs: 0, logical: 0 },
    seq: self?.seq ?? 0,
    clock: state.clock.last,
  };
}
