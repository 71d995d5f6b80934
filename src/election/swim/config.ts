/**
 * `swim` leader configuration (docs/design/election.md, "swim"): the one place its defaults
 * live, and the one function (`swimLeaderConfig`) that derives the stabilization window from
 * the membership profile, shared by production and the simulator.
 */
import { ShoalError } from '../../base/errors.js';

export interface SwimLeaderConfig {
  /** The live set must be unchanged this long before a new claim, ms. @defaultValue `stabilizationMsFor`: 2 × probeIntervalMs */
  stabilizationMs: number;
  /** Only a view with a majority of the cluster has a leader (`isEligible`). @defaultValue false */
  requireQuorum: boolean;
  /** With requireQuorum, the least cluster size for the quorum (at least 2; set it to the cluster's size); without, the cold-start gate (`isEligible`). @defaultValue 1 */
  minClusterSize: number;
  /**
   * Derived, not set (`swimLeaderConfig`): with requireQuorum, a claimant keeps its claim only
   * while a majority answered one of its lease pings this recently, ms. = stabilizationMs.
   */
  leaseMs: number;
  /** Derived, not set: how often a claimant (or a node about to claim) pings every member, ms. = probeIntervalMs / 4. */
  leaseIntervalMs: number;
}

export interface SwimLeaderSettings {
  stabilizationMs?: number | undefined;
  requireQuorum?: boolean | undefined;
  minClusterSize?: number | undefined;
}

export const SWIM_LEADER_DEFAULTS = { requireQuorum: false, minClusterSize: 1 } as const;

/**
 * Two probe intervals: a member that crashed is suspected within one probe period of someone's
 * probe, so a live set unchanged for two has likely settled (fewer claims that a death at once
 * revokes).
 */
export function stabilizationMsFor(probeIntervalMs: number): number {
  return 2 * probeIntervalMs;
}

export function swimLeaderConfig(
  settings: SwimLeaderSettings,
  probeIntervalMs: number,
): SwimLeaderConfig {
  const stabilizationMs = settings.stabilizationMs ?? stabilizationMsFor(probeIntervalMs);
  const config: SwimLeaderConfig = {
    stabilizationMs,
    requireQuorum: settings.requireQuorum ?? SWIM_LEADER_DEFAULTS.requireQuorum,
    minClusterSize: settings.minClusterSize ?? SWIM_LEADER_DEFAULTS.minClusterSize,
    // The lease must end before a successor can claim: the majority first lets its suspicion of
    // this claimant run out (suspicion-min after its first failed probe), then waits out a
    // stable window of stabilizationMs. A lease of stabilizationMs, checked every quarter
    // probe interval, ends sooner (docs/design/election.md, "swim", bug 5).
    leaseMs: stabilizationMs,
    leaseIntervalMs: Math.max(1, Math.floor(probeIntervalMs / 4)),
  };
  for (const name of ['stabilizationMs', 'minClusterSize'] as const) {
    const value = config[name];
    if (!Number.isSafeInteger(value) || value < 1)
      throw new ShoalError(
        'ERR_INVALID_CONFIG',
        `invalid swim leader config: ${name} (${String(value)}) must be a positive integer`,
      );
  }
  if (config.requireQuorum && config.minClusterSize < 2)
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `invalid swim leader config: requireQuorum (true) needs minClusterSize (${config.minClusterSize}) of at least 2, ` +
        'set it to the cluster size: with 1, a node that boots or restarts alone is its own majority and leads beside the real cluster',
    );
  return config;
}
