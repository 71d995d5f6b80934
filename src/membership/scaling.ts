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

/**
 * `2 * tickMs * retransmitLimit(retransmitMult, n)`, tickMs = `gossipIntervalMs` (or
 * `probeIntervalMs` with gossip disabled): when a joiner runs its first
 * periodic push-pull, brought forward from a full interval (`onPushPull`, join reply). A joiner
 * only learns what its contact knew at the join; a member whose alive rumor had already died
 * out before the joiner was known to the gossipers (the contact had not heard of it yet, or the
 * epidemic's tail missed the joiner) would stay unknown to it until the periodic push-pull,
 * 30–90 s later. By twice the rumor lifetime (each infected node sends an update
 * `retransmitLimit` times, `gossipFanout` per tick, over a few generations) the join-time
 * rumors have settled, so one exchange with a random member fills the gaps.
 */
export function joinSyncDelayMs(
  tickMs: number,
  retransmitMult: number,
  memberCount: number,
): number {
  return 2 * tickMs * retransmitLimit(retransmitMult, memberCount);
}
