/**
 * Cluster-size scaling formulas from memberlist (util.go): how many times an update is
 * retransmitted (SWIM §4.1, infection-style dissemination needs O(log N) rounds) and how the
 * push-pull period grows with N so the full-state exchange load per node stays bounded.
 */

/** `retransmitMult * ceil(log10(n + 1))`: sends of each update before it leaves the queue. */
export function retransmitLimit(retransmitMult: number, memberCount: number): number {
  return retransmitMult * Math.ceil(Math.log10(memberCount + 1));
}

/** Members up to which the push-pull interval is not scaled (memberlist's pushPullScaleThreshold). */
export const PUSH_PULL_SCALE_THRESHOLD = 32;

/** `intervalMs * (ceil(log2(n) - log2(32)) + 1)` beyond 32 members, `intervalMs` up to 32. */
export function pushPullIntervalScaledMs(intervalMs: number, memberCount: number): number {
  if (memberCount <= PUSH_PULL_SCALE_THRESHOLD) return intervalMs;
  const multiplier = Math.ceil(Math.log2(memberCount) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1;
  return multiplier * intervalMs;
}
