/**
 * Time bounds the swim scenarios hold the membership protocol to, computed from its config with
 * the core's own formula functions (suspicion.ts, scaling.ts), so a config change moves the
 * bound with it.
 *
 * - Detection (SWIM §4.3 time-bounded completeness + Lifeguard §IV-B): every live observer runs
 *   its own randomized round-robin walk over its members, so it probes a crashed member within
 *   `2 * (n - 1)` protocol periods of the crash (worst case: probed first in one walk, last in
 *   the next). Periods stretch by Lifeguard awareness (score + 1, up to awarenessMultiplierMax):
 *   with several members down at once a chosen helper may be down too, its nack never comes and
 *   the score rises, so the worst case uses the full multiplier. The failed probe ends one
 *   (scaled) period later; then the suspicion runs at most `suspicionTimeoutMaxMs`. No
 *   dissemination term is needed: an observer that hears the suspicion earlier only finishes
 *   sooner, and one that hears nothing detects by itself within this bound.
 * - Dissemination (SWIM §4.1): an infected member sends an update `retransmitLimit` times, up to
 *   `gossipFanout` per gossip tick, so one generation of the epidemic takes
 *   `ceil(limit / fanout)` ticks and `ceil(log2 n) + 2` generations reach everyone with high
 *   probability (the + 2 covers the tail). A bound for the liveness phase, not a safety one.
 * - Heal (memberlist's reconnect + push-pull): after a partition heals, each side learns of the
 *   other through a reconnect push-pull (within `reconnectIntervalMs`) or a periodic push-pull
 *   (within the scaled push-pull interval, whichever comes first; the bound adds both to stay
 *   safe); the merge turns the other side's stale `dead` records into suspicions that the accused
 *   refute, which takes a dissemination round each way, and any suspicion that was not refuted in
 *   time runs out after `suspicionTimeoutMaxMs` and is undone by the next reconnect.
 */
import type { MembershipConfig } from '../../membership/config.js';
import { pushPullIntervalScaledMs, retransmitLimit } from '../../membership/scaling.js';
import { suspicionTimeoutMaxMs, suspicionTimeoutMinMs } from '../../membership/suspicion.js';

/** The longest suspicion a cluster of `n` members runs (no confirmations). */
export function suspicionMaxMsFor(config: MembershipConfig, n: number): number {
  return suspicionTimeoutMaxMs(
    config.suspicionMaxTimeoutMult,
    suspicionTimeoutMinMs(config.suspicionMult, n, config.probeIntervalMs),
  );
}

/** Time for one update to reach every member by gossip, with high probability (see the module comment). */
export function disseminationBoundMs(config: MembershipConfig, n: number): number {
  const limit = retransmitLimit(config.retransmitMult, n);
  const generations = Math.ceil(Math.log2(Math.max(2, n))) + 2;
  const interval = config.gossipIntervalMs > 0 ? config.gossipIntervalMs : config.probeIntervalMs;
  return generations * Math.ceil(limit / config.gossipFanout) * interval;
}

/** Worst case from a crash until one live observer holds the crashed member dead. */
export function crashDetectionBoundMs(config: MembershipConfig, n: number): number {
  return isolationBoundMs(config, n) + suspicionMaxMsFor(config, n);
}

/**
 * Worst case from a node's isolation until it holds every peer at least suspect: its own walk
 * probes each within `2 * (n - 1)` (scaled) periods and a failed probe ends one period later.
 * A `requireQuorum` view counts only alive members, so a follower cut off from its majority
 * drops its leader within this bound, without waiting out the suspicion timeout that
 * `crashDetectionBoundMs` adds (issue 11, bug 5; a claimant lets go sooner, by its lease).
 */
export function isolationBoundMs(config: MembershipConfig, n: number): number {
  const periodMaxMs = config.probeIntervalMs * config.awarenessMultiplierMax;
  return (2 * Math.max(1, n - 1) + 1) * periodMaxMs;
}

/** From a heal until every live member sees the same live set again. */
export function healBoundMs(config: MembershipConfig, n: number): number {
  const reconnectMs = config.reconnectIntervalMs > 0 ? config.reconnectIntervalMs : 0;
  const pushPullMs =
    config.pushPullIntervalMs > 0 ? pushPullIntervalScaledMs(config.pushPullIntervalMs, n) : 0;
  return (
    reconnectMs + pushPullMs + suspicionMaxMsFor(config, n) + 2 * disseminationBoundMs(config, n)
  );
}
