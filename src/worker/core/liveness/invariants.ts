/**
 * Per-node rules of the liveness tracker, checked after every step in tests and the simulator.
 * The full walk is O(workers); above FULL_CHECK_WORKERS_MAX only the O(1) counts are compared
 * (the simulator runs thousands of workers and steps the leader on every heartbeat).
 */
import type { LivenessState } from './types.js';

export const FULL_CHECK_WORKERS_MAX = 256;

export function checkInvariants(state: LivenessState): string[] {
  const broken: string[] = [];
  if (!state.leading && state.deadlines.size > 0)
    broken.push(`${state.deadlines.size} deadlines kept while not leading`);
  if (state.live < 0 || state.live > state.workers.size)
    broken.push(`live count ${state.live} outside 0..${state.workers.size}`);
  if (state.workers.size > FULL_CHECK_WORKERS_MAX) return broken;
  let live = 0;
  let withDeadline = 0;
  for (const w of state.workers.values()) {
    const isLive = w.status === 'registered' || w.status === 'drained';
    if (isLive) live++;
    if (w.deadlineMs === undefined) {
      if (state.leading && isLive && w.markAskedMs === undefined)
        broken.push(`live worker ${w.id} has no deadline on the leader`);
      continue;
    }
    withDeadline++;
    if (!isLive) broken.push(`worker ${w.id} is ${w.status} but has a deadline`);
    if (!state.deadlines.has([w.deadlineMs, w.id]))
      broken.push(`worker ${w.id}'s deadline ${w.deadlineMs} is not in the index`);
    // Equal after a renewal; later only for a mark asked again after a refusal.
    if (w.deadlineMs < w.renewedMs + w.ttlMs + state.config.heartbeatGraceMs)
      broken.push(`worker ${w.id}'s deadline ${w.deadlineMs} is before renewed + ttl + grace`);
  }
  if (live !== state.live) broken.push(`live count ${state.live}, but ${live} workers are live`);
  if (withDeadline !== state.deadlines.size)
    broken.push(`${state.deadlines.size} deadlines indexed for ${withDeadline} workers`);
  return broken;
}

export function snapshot(state: LivenessState): { term: number; leading: boolean } {
  return { term: state.term, leading: state.leading };
}

export function checkTransition(before: { term: number }, after: LivenessState): string[] {
  return after.term < before.term ? [`term went back from ${before.term} to ${after.term}`] : [];
}
